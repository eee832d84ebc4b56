import json
import os

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scsmd
from scsmd import api
from scsmd.bundle import MANIFEST, ONNX, ONNX_FP16, ONNX_INT8, Bundle
from scsmd.config import EmbedConfig, ExportConfig
from scsmd.errors import ScsmdError
from scsmd.io import read_counts
from scsmd.train import export as export_module


def test_export_recorded_in_manifest(tiny_bundle):
    folder, _ = tiny_bundle
    bundle = Bundle.load(folder)
    for fmt in ("onnx", "torchscript"):
        report = bundle.manifest["exports"][fmt]
        assert report["max_abs_diff"] <= 1e-4 and report["cluster_agreement"] >= 0.99
        assert report["file"] in bundle.manifest["sha256"]
    int8 = bundle.manifest["exports"]["int8"]
    tried = [t["quantized_gates"] for t in int8["tried"]]  # from all 3 gates down to the first that keeps the clusters
    assert tried == [3, 2, 1][:len(tried)] and all(t["cluster_agreement"] < 0.99 for t in int8["tried"][:-1])
    assert tried[-1] == int8["quantized_gates"] if int8["shipped"] else len(tried) == 3
    assert all({"cluster_agreement", "max_abs_diff", "speed_ratio", "label_agreement"} <= set(t) for t in int8["tried"])
    assert bundle.has(ONNX_INT8) == int8["shipped"] == (int8["cluster_agreement"] >= 0.99 if int8["shipped"] else False)
    fp16 = bundle.manifest["exports"]["fp16"]
    assert fp16["checked_on"] == "cpu" and bundle.has(ONNX_FP16) == fp16["shipped"] == (fp16["cluster_agreement"] >= 0.99)


def test_fp16_runs_where_asked_and_auto_keeps_it_for_a_gpu(tiny_bundle, caplog):
    folder, trained = tiny_bundle
    fp32 = scsmd.embed(trained, model=folder, config=EmbedConfig(precision="fp32"), copy=True)
    with caplog.at_level("WARNING"):
        fp16 = scsmd.embed(trained, model=folder, config=EmbedConfig(precision="fp16"), copy=True)
    assert fp16.uns["scsmd"]["precision"] == "fp16" and "fp16 is made for a GPU" in caplog.text
    latent, reference = fp16.obsm["X_scsmd"], fp32.obsm["X_scsmd"]
    assert 0 < np.abs(latent - reference).max() <= 1e-2 * np.abs(reference).max()  # fp16 rounding, not another model
    assert (fp16.obs["scsmd_cluster"] == fp32.obs["scsmd_cluster"]).mean() >= 0.95
    auto = scsmd.embed(trained, model=folder, copy=True)
    assert auto.uns["scsmd"]["precision"] in ("int8", "fp32")  # a CPU never picks fp16 by itself


def test_int8_below_the_agreement_bar_is_not_shipped(tiny_bundle, tmp_path, monkeypatch):
    import shutil

    folder, trained = tiny_bundle
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    original = export_module.parity
    monkeypatch.setattr(export_module, "parity", lambda *a: {**original(*a), "cluster_agreement": 0.9})
    report = scsmd.export(copy, config=ExportConfig(formats=("int8",)))
    bundle = Bundle.load(copy)
    assert not report["int8"]["shipped"] and "90.00%" in report["int8"]["reason"]
    assert not bundle.has(ONNX_INT8) and not (copy / ONNX_INT8).exists()
    assert [t["quantized_gates"] for t in report["int8"]["tried"]] == [3, 2, 1]  # every variant tried before giving up
    assert bundle.manifest["exports"]["int8"]["reason"] == report["int8"]["reason"]
    out = scsmd.embed(trained, model=copy, copy=True)
    assert out.uns["scsmd"]["precision"] == "fp32"
    with pytest.raises(ScsmdError, match="no int8 model .its export check failed: no int8 variant"):
        scsmd.embed(trained, model=copy, config=EmbedConfig(precision="int8"))


def test_int8_ships_the_most_gates_that_keep_the_clusters(tiny_bundle, tmp_path, monkeypatch):
    import shutil

    folder, _ = tiny_bundle
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    original, calls = export_module.parity, []

    def three_gates_fail(*args):  # the 3-gate variant moves clusters, the others keep them: how near the 2-gate
        calls.append(True)  # variant of this 1-epoch bundle comes to 99% is the CPU's int8 rounding (98.75% on a Zen 4)
        return {**original(*args), "cluster_agreement": 0.9 if len(calls) == 1 else 1.0}

    monkeypatch.setattr(export_module, "parity", three_gates_fail)
    report = scsmd.export(copy, config=ExportConfig(formats=("int8",)))["int8"]
    assert [t["quantized_gates"] for t in report["tried"]] == [3, 2] and report["quantized_gates"] == 2
    assert report["shipped"] and Bundle.load(copy).has(ONNX_INT8)


@pytest.mark.parametrize("precision, name", [("int8", ONNX_INT8), ("fp16", ONNX_FP16)])
def test_unavailable_precision_is_a_clear_cli_error(tiny_bundle, tmp_path, precision, name):
    import shutil
    import subprocess
    import sys

    folder, trained = tiny_bundle
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["sha256"].pop(name, None)
    del manifest["exports"][precision]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    (copy / name).unlink(missing_ok=True)  # as exported without it
    trained.write_h5ad(tmp_path / "cells.h5ad")
    result = subprocess.run([sys.executable, "-m", "scsmd", "embed", "cells.h5ad", "--model", copy, "-o", "out.h5ad",
                             "--precision", precision], cwd=tmp_path, capture_output=True, text=True)
    message = f"no {precision} model (it was exported without one)"
    assert result.returncode == 2 and "error: " in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out.h5ad").exists()


@pytest.mark.parametrize("backend", ["onnx", "torchscript"])
def test_training_cells_reproduce_training_latent(tiny_bundle, backend):
    folder, trained = tiny_bundle
    config = EmbedConfig(backend=backend, precision="fp32", provider="cpu")  # also where the bundle trained on a GPU
    out = scsmd.embed(trained, model=folder, config=config, copy=True)
    assert np.abs(out.obsm["X_scsmd"] - trained.obsm["X_scsmd"]).max() < 1e-4
    assert (out.obs["scsmd_cluster"] == trained.obs["scsmd_cluster"]).mean() >= 0.99
    assert out.uns["scsmd"]["provider"] == "cpu" and out.uns["scsmd"]["gene_overlap"] == 1.0
    labels_match = (out.obs["scsmd_label"].astype(str) == trained.obs["cell_type"].astype(str)).mean()
    assert labels_match >= 0.9, labels_match  # the label head names the training cells
    assert ((out.obs["scsmd_label_confidence"] > 0) & (out.obs["scsmd_label_confidence"] <= 1)).all()


@pytest.mark.parametrize("scale", [True, False])
def test_new_cells_get_the_training_scaling(tmp_path, scale):
    from conftest import synthetic_counts

    from scsmd.config import PreprocessConfig, TrainConfig

    adata = synthetic_counts(seed=1)
    folder = tmp_path / "bundle"
    panel = PreprocessConfig(n_genes=300, dense_genes=0, scale=scale)
    scsmd.train(adata, n_clusters=3, bundle_dir=folder, preprocess_config=panel,
                train_config=TrainConfig(batch_size=60, pretrain_epochs=1))
    bundle = Bundle.load(folder)
    assert (bundle.scaling is not None) == scale
    if scale:
        assert bundle.scaling.mean.shape == bundle.scaling.std.shape == (300,) and (bundle.scaling.std > 0).all()
    scsmd.export(folder, config=ExportConfig(formats=("onnx",)))
    out = scsmd.embed(adata, model=folder, config=EmbedConfig(precision="fp32", provider="cpu"), copy=True)
    assert np.abs(out.obsm["X_scsmd"] - adata.obsm["X_scsmd"]).max() < 1e-4


def test_copy_and_key_added_semantics(tiny_bundle):
    folder, trained = tiny_bundle
    adata = trained.copy()
    del adata.obsm["X_scsmd"]
    assert scsmd.embed(adata, model=folder, key_added="X_new") is None
    assert "X_new" in adata.obsm and "X_scsmd" not in adata.obsm


def test_chunked_embed_equals_one_shot_in_cell_order(tiny_bundle, tmp_path):
    folder, trained = tiny_bundle
    shuffled = trained[np.random.default_rng(0).permutation(trained.n_obs)].copy()
    shuffled.write_h5ad(tmp_path / "q.h5ad")
    api.embed_file(tmp_path / "q.h5ad", tmp_path / "a.h5ad", model=folder, config=EmbedConfig(chunk_size=7))
    api.embed_file(tmp_path / "q.h5ad", tmp_path / "b.h5ad", model=folder, config=EmbedConfig(chunk_size=10_000))
    small, whole = ad.read_h5ad(tmp_path / "a.h5ad"), ad.read_h5ad(tmp_path / "b.h5ad")
    assert list(small.obs_names) == list(shuffled.obs_names)
    np.testing.assert_array_equal(small.obsm["X_scsmd"], whole.obsm["X_scsmd"])
    assert (small.obs["scsmd_cluster"] == whole.obs["scsmd_cluster"]).all()
    np.testing.assert_array_equal(small.X.toarray(), shuffled.X.toarray())  # the input's cells kept
    assert "cell_type" in small.obs and "scsmd_label" in small.obs and small.uns["scsmd"]["model"] == "tiny"
    assert small.uns["scsmd"]["n_cells"] == shuffled.n_obs
    timings = small.uns["scsmd"]["timings"]
    assert set(timings) == {"read", "normalize", "encode", "assign", "write", "wall"} and timings["wall"] > 0
    assert small.uns["scsmd"]["params"]["chunk_size"] == 7


def test_embedding_an_output_again_replaces_its_results(tiny_bundle, tmp_path):
    folder, trained = tiny_bundle
    trained.write_h5ad(tmp_path / "q.h5ad")
    api.embed_file(tmp_path / "q.h5ad", tmp_path / "once.h5ad", model=folder, config=EmbedConfig(chunk_size=5))
    api.embed_file(tmp_path / "once.h5ad", tmp_path / "twice.h5ad", model=folder, config=EmbedConfig(chunk_size=5))
    once, twice = ad.read_h5ad(tmp_path / "once.h5ad"), ad.read_h5ad(tmp_path / "twice.h5ad")
    assert list(twice.obs.columns) == list(once.obs.columns)  # replaced, not doubled
    pd.testing.assert_frame_equal(twice.obs, once.obs)
    np.testing.assert_array_equal(twice.obsm["X_scsmd"], once.obsm["X_scsmd"])


def test_results_only_file_holds_names_and_results_but_no_counts(tiny_bundle, tmp_path):
    folder, trained = tiny_bundle
    trained.write_h5ad(tmp_path / "q.h5ad")
    api.embed_file(tmp_path / "q.h5ad", tmp_path / "r.h5ad", model=folder, config=EmbedConfig(chunk_size=6),
                   results_only=True)
    results = ad.read_h5ad(tmp_path / "r.h5ad")
    assert results.X is None and results.n_vars == 0
    assert list(results.obs_names) == list(trained.obs_names)
    assert "cell_type" not in results.obs and results.obs["scsmd_cluster"].dtype == "category"
    assert results.obsm["X_scsmd"].shape == (trained.n_obs, trained.obsm["X_scsmd"].shape[1])


def test_encoder_threads_are_set_from_the_config(tiny_bundle):
    from scsmd.infer.embed import open_encoder

    folder, _ = tiny_bundle
    pooled, _ = open_encoder(Bundle.load(folder), EmbedConfig(n_threads=3, precision="fp32"))
    single, _ = open_encoder(Bundle.load(folder), EmbedConfig(n_threads=1, precision="fp32"))
    assert pooled.session.get_session_options().intra_op_num_threads == 1 and pooled.pool._max_workers == 3
    assert single.pool is None and EmbedConfig().n_threads == len(os.sched_getaffinity(0))
    cells = np.random.default_rng(0).standard_normal((300, single.session.get_inputs()[0].shape[1]), np.float32)
    np.testing.assert_array_equal(pooled(cells), single(cells))  # five batches side by side, in order


def test_missing_genes_zeroed_and_reported_then_refused(tiny_bundle):
    folder, trained = tiny_bundle
    panel = Bundle.load(folder).panel
    partial = trained[:, [g for g in trained.var_names if g not in set(panel[:100])]].copy()
    out = scsmd.embed(partial, model=folder, copy=True)
    assert out.uns["scsmd"]["n_missing_genes"] == 100 and out.uns["scsmd"]["missing_genes"][0] == panel[0]
    with pytest.raises(ScsmdError, match="minimum overlap"):
        scsmd.embed(partial, model=folder, config=EmbedConfig(min_gene_overlap=0.95))


def test_repeated_gene_names_embed_alike_in_memory_read_and_streamed(tiny_bundle, tmp_path):
    folder, trained = tiny_bundle
    cells = trained.copy()
    names = list(cells.var_names)
    names[3] = names[2]  # two panel genes under one name: the first column is used on every path
    cells.var_names = names
    cells.write_h5ad(tmp_path / "repeated.h5ad")
    api.embed_file(tmp_path / "repeated.h5ad", tmp_path / "out.h5ad", model=folder)
    streamed = ad.read_h5ad(tmp_path / "out.h5ad").obsm["X_scsmd"]
    in_memory = scsmd.embed(cells, model=folder, copy=True).obsm["X_scsmd"]
    read = scsmd.embed(read_counts(tmp_path / "repeated.h5ad"), model=folder, copy=True).obsm["X_scsmd"]
    np.testing.assert_array_equal(in_memory, streamed)
    np.testing.assert_array_equal(read, streamed)


def test_embedding_with_another_model_drops_the_first_model_s_results(tiny_bundle, tmp_path):
    from scsmd.config import PreprocessConfig, TrainConfig
    from scsmd.plot import UMAP_KEY, umap

    folder, trained = tiny_bundle
    unlabelled = tmp_path / "unlabelled"
    scsmd.train(trained.copy(), n_clusters=2, bundle_dir=unlabelled, preprocess_config=PreprocessConfig(dense_genes=0),
                train_config=TrainConfig(batch_size=60, pretrain_epochs=1))
    scsmd.export(unlabelled, config=ExportConfig(formats=("onnx",)))
    first = scsmd.embed(trained, model=folder, copy=True)
    umap(first)  # what `scsmd plot` keeps beside the results
    first.write_h5ad(tmp_path / "first.h5ad")
    api.embed_file(tmp_path / "first.h5ad", tmp_path / "second.h5ad", model=unlabelled)
    in_memory = scsmd.embed(first, model=unlabelled, copy=True)
    for second in (ad.read_h5ad(tmp_path / "second.h5ad"), in_memory):
        assert "scsmd_label" not in second.obs and "scsmd_label_confidence" not in second.obs  # the first model's
        assert UMAP_KEY not in second.obsm and "scsmd_neighbors" not in second.uns and not len(second.obsp)
        assert second.obs["scsmd_cluster"].cat.categories.tolist() == ["0", "1"]
        assert list(second.obs.columns).count("scsmd_cluster") == 1 and "cell_type" in second.obs


def test_embed_refuses_negative_counts_from_the_api_too(tiny_bundle):
    folder, trained = tiny_bundle
    cells = trained.copy()
    cells.X.data[0] = -1.0
    with pytest.raises(ScsmdError, match="X holds negative values"):
        scsmd.embed(cells, model=folder)


def test_failed_export_check_writes_nothing(tiny_bundle, tmp_path):
    folder, _ = tiny_bundle
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / ONNX).unlink()
    manifest = json.loads((copy / MANIFEST).read_text())
    del manifest["sha256"][ONNX]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    before = (copy / MANIFEST).read_text()
    with pytest.raises(ScsmdError, match="fails its check"):
        export_module.export_bundle(Bundle.load(copy), ExportConfig(formats=("onnx",), atol=-1.0))
    assert not (copy / ONNX).exists() and (copy / MANIFEST).read_text() == before


def test_cuda_provider_without_gpu_is_a_clear_error(tiny_bundle):
    from scsmd.infer.encoder import OnnxEncoder

    folder, trained = tiny_bundle
    if OnnxEncoder(folder / ONNX, "auto").provider == "cuda":
        pytest.skip("a CUDA GPU works here")
    with pytest.raises(ScsmdError, match="provider cuda"):
        scsmd.embed(trained, model=folder, config=EmbedConfig(provider="cuda"), copy=True)


def test_a_1024_gene_bundle_embeds_its_own_clusters(tmp_path):
    from conftest import synthetic_counts
    from scsmd.config import PreprocessConfig, TrainConfig

    adata = synthetic_counts()  # 900 genes: more than 784, so the panel is laid out on the 32x32 image, zero-padded
    folder = tmp_path / "wide"
    scsmd.train(adata, n_clusters=3, bundle_dir=folder, preprocess_config=PreprocessConfig(n_genes=1024),
                train_config=TrainConfig(batch_size=60, pretrain_epochs=1))
    scsmd.export(folder, config=ExportConfig(formats=("onnx",)))
    manifest = Bundle.load(folder).manifest
    assert manifest["preprocess"]["image_side"] == 32 and manifest["model"]["image_side"] == 32
    assert manifest["exports"]["onnx"]["max_abs_diff"] <= 1e-4
    out = scsmd.embed(adata, model=folder, copy=True)
    assert (out.obs["scsmd_cluster"].astype(int).to_numpy() == adata.obs["scsmd_cluster"].astype(int).to_numpy()).all()


def test_a_dense_branch_bundle_exports_and_embeds_its_own_latent(tmp_path):
    from conftest import synthetic_counts
    from scsmd.config import ModelConfig, PreprocessConfig, TrainConfig
    from scsmd.train.preprocess import select_panel

    adata = synthetic_counts()  # 900 genes, 831 past the filter: a 784-gene image and 47 more for the dense branch
    folder = tmp_path / "dense"
    result = scsmd.train(adata, n_clusters=3, bundle_dir=folder, preprocess_config=PreprocessConfig(dense_genes=880),
                         model_config=ModelConfig(dense_members=2),  # the default, named: two autoencoders in one encoder
                         train_config=TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=2, dec_epochs=2,
                                                  device="cpu"))  # the exports' agreement, not the devices'
    assert [r["stage"] for r in result.history] == ["pretrain", "dense", "dense", "dec", "dec"]
    scsmd.export(folder, config=ExportConfig(formats=("onnx", "torchscript")))
    bundle = Bundle.load(folder)
    assert list(bundle.manifest["timings_s"]) == ["imports", "panel", "pretrain", "dense", "dec", "setup", "neighbors",
                                                  "encode", "kmeans", "final_clusters"]
    timings = dict(adata.uns["scsmd"]["timings"])
    assert timings.pop("bundle") > 0 and bundle.manifest["timings_s"] == timings  # the bundle's own write comes after
    assert len(bundle.panel) == bundle.preprocess["n_inputs"] == 831 and bundle.manifest["latent_dim"] == 20 + 2 * 32
    assert bundle.panel[:784] == select_panel(adata, PreprocessConfig(dense_genes=0))  # the image's genes come first
    assert adata.obsm["X_scsmd"].shape == (240, 84)
    for backend in ("onnx", "torchscript"):
        out = scsmd.embed(adata, model=folder, config=EmbedConfig(backend=backend, precision="fp32"), copy=True)
        assert np.abs(out.obsm["X_scsmd"] - adata.obsm["X_scsmd"]).max() < 1e-5 * np.abs(adata.obsm["X_scsmd"]).max()
        assert (out.obs["scsmd_cluster"] == adata.obs["scsmd_cluster"]).all()


def test_a_format_4_checkpoint_with_one_dense_autoencoder_still_loads(tmp_path, counts):
    import torch

    from scsmd.bundle import REFERENCE_CELLS, WEIGHTS
    from scsmd.config import ModelConfig, PreprocessConfig, TrainConfig
    from scsmd.train.bundle_io import load_model_weights

    folder = tmp_path / "one"
    result = scsmd.train(counts, n_clusters=3, bundle_dir=folder, preprocess_config=PreprocessConfig(dense_genes=850),
                         model_config=ModelConfig(dense_members=1),  # the format-4 layout
                         train_config=TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=1))
    checkpoint = torch.load(folder / WEIGHTS, weights_only=True)
    del checkpoint["model_config"]["dense_members"]  # as format 4 wrote it: one autoencoder, its weights under dense.
    checkpoint["state_dict"] = {k.replace("dense.0.", "dense."): v for k, v in checkpoint["state_dict"].items()}
    torch.save(checkpoint, tmp_path / "old.pt")
    Bundle.load(folder).add_files({WEIGHTS: tmp_path / "old.pt"}, {})
    bundle = Bundle.load(folder)
    model = load_model_weights(bundle)
    assert model.config.dense_members == 1
    inputs = torch.from_numpy(np.load(bundle.file(REFERENCE_CELLS)))
    with torch.no_grad():
        np.testing.assert_array_equal(model.embedder(inputs).numpy(), result.model.eval().embedder(inputs).numpy())


def test_the_fuzzy_and_cellnet_stages_train_the_joint_latent(counts):
    import torch

    from scsmd.config import PreprocessConfig, TrainConfig
    from scsmd.train.preprocess import select_panel, training_data

    config = TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=1, dec_epochs=1, fuzzy_epochs=2, cellnet_epochs=2)
    panel_config = PreprocessConfig(dense_genes=850)
    result = scsmd.train(counts, n_clusters=3, preprocess_config=panel_config, train_config=config)
    assert [r["stage"] for r in result.history] == ["pretrain", "dense", "dec"] + ["fuzzy"] * 2 + ["cellnet"] * 2
    assert result.latent.shape == (240, 84) and result.centroids.shape == (3, 84)  # 20 + 2 dense members x 32
    inputs = training_data(counts, select_panel(counts, panel_config), panel_config).inputs
    with torch.no_grad():
        np.testing.assert_allclose(result.model.embedder(inputs).numpy(), result.latent,
                                   atol=1e-5 * np.abs(result.latent).max())  # CUDA-trained: 4.8e-5 at |z| ~ 14


def test_a_gpu_build_without_a_gpu_says_it_falls_back(tiny_bundle, caplog):
    import onnxruntime as ort

    folder, trained = tiny_bundle
    with caplog.at_level("INFO"):
        out = scsmd.embed(trained, model=folder, copy=True)
    cuda_listed = "CUDAExecutionProvider" in ort.get_available_providers()
    if out.uns["scsmd"]["provider"] == "cuda":
        pytest.skip("a GPU runs here: nothing falls back")
    assert ("falling back to the CPU" in caplog.text) == cuda_listed


def test_counts_in_a_layer_train_and_embed_as_counts_in_x(tmp_path):
    from conftest import synthetic_counts
    from scsmd.config import TrainConfig

    config = TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=1, dec_epochs=1, device="cpu")
    plain = synthetic_counts()
    logged = plain.copy()  # as scanpy users keep it: log-normalized X, the counts in a layer
    logged.layers["counts"] = plain.X.copy()
    logged.X = plain.X.log1p()
    for adata, layer, name in ((plain, None, "x"), (logged, "counts", "layer")):
        scsmd.train(adata, n_clusters=3, bundle_dir=tmp_path / name, label_key="cell_type", train_config=config,
                    layer=layer)
    np.testing.assert_array_equal(logged.obsm["X_scsmd"], plain.obsm["X_scsmd"])
    assert Bundle.load(tmp_path / "layer").panel == Bundle.load(tmp_path / "x").panel
    scsmd.export(tmp_path / "layer", config=ExportConfig(formats=("onnx",)))
    for adata, layer in ((plain, None), (logged, "counts")):
        scsmd.embed(adata, model=tmp_path / "layer", config=EmbedConfig(precision="fp32"), layer=layer,
                    key_added="X_new")
    np.testing.assert_array_equal(logged.obsm["X_new"], plain.obsm["X_new"])
    assert (logged.obs["scsmd_label"] == plain.obs["scsmd_label"]).all()
    assert np.abs(logged.X - plain.X.log1p()).max() == 0  # X untouched
    from_layer, from_x = scsmd.preprocess(logged, layer="counts", copy=True), scsmd.preprocess(plain, copy=True)
    assert list(from_layer.var_names) == list(from_x.var_names)
    np.testing.assert_array_equal(from_layer.X, from_x.X)
    assert (from_layer.layers["counts"] != from_x.layers["counts"]).nnz == 0


def test_a_failing_encoder_closes_the_reader_at_once(tiny_bundle, monkeypatch):
    from scsmd.infer import embed as embed_module

    folder, trained = tiny_bundle
    bundle = Bundle.load(folder)
    real, _ = embed_module.open_encoder(bundle, EmbedConfig())
    calls, closed = [], []

    def failing(cells):
        calls.append(len(cells))
        if len(calls) == 2:
            raise RuntimeError("encoder failed")
        return real(cells)

    monkeypatch.setattr(embed_module, "open_encoder", lambda *args: (type("Encoder", (), {
        "__call__": staticmethod(failing), "provider": "cpu", "fell_back": False})(), "fp32"))

    def chunks():  # a file reader: its `finally` closes the file
        try:
            for start in range(0, trained.n_obs, 10):  # 24 chunks: more than the reader may run ahead
                yield trained.obs_names[start:start + 10], trained.X[start:start + 10]
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError, match="encoder failed") as failure:
        list(embed_module.iter_embed(chunks(), list(trained.var_names), bundle))
    assert closed == [True] and failure.traceback  # closed, though the kept exception still holds the reader's frames
