import dataclasses

import numpy as np
import pytest
import torch

from conftest import synthetic_counts
import scsmd
from scsmd.config import ModelConfig, PreprocessConfig, TrainConfig, preset
from scsmd.errors import ScsmdError
from scsmd.train.losses import student_t_memberships
from scsmd.train.preprocess import select_panel, training_data
from scsmd.train.partition import final_clusters, smoothed_latent
from scsmd.train.trainer import adam, exact_kernels, input_neighbors, shuffled_batches, train_model

FAST = preset("reference", batch_size=60, pretrain_epochs=1, fuzzy_epochs=1, cellnet_epochs=1)


def test_panel_and_tensors(counts):
    config = PreprocessConfig(n_genes=500, dense_genes=0)
    panel = select_panel(counts, config)
    assert len(panel) == 500 and panel == [g for g in counts.var_names if g in set(panel)]  # input order
    data = training_data(counts, panel, config)
    assert data.inputs.shape == (240, 784) and data.counts.shape == (240, 500)
    assert torch.all(data.inputs[:, 500:] == 0)  # zero padding after the panel
    assert torch.isclose(data.size_factors.median(), torch.tensor(1.0), atol=0.02)


def test_seurat_v3_ranking_widens_a_singular_loess_span_and_says_so(counts, monkeypatch, caplog):
    import scanpy as sc

    from scsmd.train import preprocess
    ranking = sc.pp.highly_variable_genes
    spans = []

    def singular_below(limit):
        def rank(adata, span=0.3, **kwargs):
            spans.append(span)
            if span < limit:
                raise ValueError("b'There are other near singularities as well. 0.01561'")
            return ranking(adata, span=span, **kwargs)
        return rank

    monkeypatch.setattr(preprocess.sc.pp, "highly_variable_genes", singular_below(0.5))
    panel = select_panel(counts, PreprocessConfig())  # one ranking for the image's genes and the dense ones
    assert len(panel) > 784 and spans == [0.3, 0.6]
    assert caplog.text.count("ranked at span 0.6") == 1
    monkeypatch.setattr(preprocess.sc.pp, "highly_variable_genes", singular_below(2.0))
    with pytest.raises(ScsmdError, match="--hvg-flavor seurat"):
        select_panel(counts, PreprocessConfig(dense_genes=0))


GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, GPU])])
def test_same_seed_same_model_on_one_device(counts, device):
    data = training_data(counts, select_panel(counts, PreprocessConfig()), PreprocessConfig())
    config = dataclasses.replace(FAST, device=device)
    runs = [train_model(data, ModelConfig(n_clusters=3), config) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].latent, runs[1].latent)
    np.testing.assert_array_equal(runs[0].labels, runs[1].labels)
    assert [r["stage"] for r in runs[0].history] == ["pretrain", "fuzzy", "cellnet"] and runs[0].device == device
    other = train_model(data, ModelConfig(n_clusters=3), dataclasses.replace(config, seed=1))
    assert not np.array_equal(other.latent, runs[0].latent)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, GPU])])
def test_adam_is_fused_on_cuda_only_and_steps_like_the_plain_one(device):
    layer = torch.nn.Linear(6, 3).to(device)
    twin = torch.nn.Linear(6, 3).to(device)
    twin.load_state_dict(layer.state_dict())
    fused, plain = adam(layer.parameters(), torch.device(device), lr=0.1, amsgrad=True), \
        torch.optim.Adam(twin.parameters(), lr=0.1, amsgrad=True)
    assert fused.defaults["fused"] == (device == "cuda")
    x = torch.randn(8, 6, device=device)
    for _ in range(3):
        for model, optimizer in ((layer, fused), (twin, plain)):
            optimizer.zero_grad()
            model(x).pow(2).sum().backward()
            optimizer.step()
    torch.testing.assert_close(layer.weight, twin.weight, rtol=1e-5, atol=1e-6)  # the CPU's are bit-identical
    if device == "cpu":
        assert torch.equal(layer.weight, twin.weight)


def test_cuda_training_switches_exact_kernels_on_and_back():
    def settings() -> tuple:
        return (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
                torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)

    before = settings()
    torch.backends.cudnn.benchmark = True  # a caller's choice that training overrides and gives back
    with exact_kernels(torch.device("cuda")):
        assert settings() == (True, False, False, False)
    assert torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = before[1]
    assert settings() == before
    with exact_kernels(torch.device("cpu")):
        assert torch.are_deterministic_algorithms_enabled() == before[0]  # a CPU run leaves the settings alone


def _pretrained(counts, device: str, cuda_graphs: bool, **fields):
    """train_model's result after pretraining alone: 240 cells in batches of 70, so each epoch ends on 30 cells."""
    data = training_data(counts, select_panel(counts, PreprocessConfig()), PreprocessConfig())
    config = TrainConfig(batch_size=70, pretrain_epochs=3, device=device, cuda_graphs=cuda_graphs, min_epoch_cells=0,
                         **fields)
    return train_model(data, ModelConfig(n_clusters=3), config)


def test_cuda_graphs_change_nothing_off_cuda(counts):
    plain, graphed = (_pretrained(counts, "cpu", flag) for flag in (False, True))
    np.testing.assert_array_equal(plain.latent, graphed.latent)


def _record_convs(monkeypatch, trait) -> list:
    """`trait(output)` of every convolution run from here on, in order."""
    traits = []
    conv = torch.nn.Conv2d._conv_forward

    def recorded_conv(self, x, weight, bias):
        out = conv(self, x, weight, bias)
        traits.append(trait(out))
        return out

    monkeypatch.setattr(torch.nn.Conv2d, "_conv_forward", recorded_conv)
    return traits


def test_bf16_pretraining_runs_the_convolutions_in_bfloat16_and_the_rest_in_float32(counts, monkeypatch):
    conv_dtypes = _record_convs(monkeypatch, lambda out: out.dtype)
    plain = _pretrained(counts, "cpu", False)
    assert set(conv_dtypes) == {torch.float32}
    conv_dtypes.clear()
    runs = [_pretrained(counts, "cpu", False, pretrain_bf16=True) for _ in range(2)]
    assert set(conv_dtypes) == {torch.bfloat16, torch.float32}  # the steps'; the latent is encoded in float32
    assert runs[0].latent.dtype == np.float32
    np.testing.assert_array_equal(runs[0].latent, runs[1].latent)  # a seed still repeats the run
    losses = [[r["loss"] for r in run.history] for run in (plain, runs[0])]
    assert losses[1][-1] < losses[1][0] and not np.array_equal(plain.latent, runs[0].latent)
    np.testing.assert_allclose(losses[1], losses[0], rtol=0.05)  # bfloat16 rounding, not another loss


def test_channels_last_runs_the_convolutions_nhwc_and_returns_a_plain_model(counts, monkeypatch):
    layouts = _record_convs(monkeypatch, lambda out: out.is_contiguous(memory_format=torch.channels_last)
                            and not out.is_contiguous())
    runs = [_pretrained(counts, "cpu", False, channels_last=True) for _ in range(2)]
    assert layouts and all(layouts)
    np.testing.assert_array_equal(runs[0].latent, runs[1].latent)  # a seed still repeats the run
    assert all(p.is_contiguous() for p in runs[0].model.parameters())  # saved and exported as before
    with torch.no_grad():  # the returned model computes the training latent in the plain layout
        latent = runs[0].model.eval().embedder(training_data(counts, select_panel(counts, PreprocessConfig()),
                                                             PreprocessConfig()).inputs)
    np.testing.assert_allclose(latent.numpy(), runs[0].latent, rtol=1e-4, atol=1e-4)


def test_bf16_without_native_support_warns_that_it_is_slower(counts, monkeypatch, caplog):
    from scsmd.train.trainer import native_bf16
    assert native_bf16(torch.device("cpu")) == (torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    for check in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, check, lambda: False)
    assert not native_bf16(torch.device("cpu"))
    data = training_data(counts, select_panel(counts, PreprocessConfig(dense_genes=0)), PreprocessConfig(dense_genes=0))
    with caplog.at_level("WARNING", logger="scsmd"):
        train_model(data, ModelConfig(n_clusters=3), TrainConfig(batch_size=70, pretrain_epochs=1, pretrain_bf16=True))
    assert any("no native bfloat16" in r.message and "drop --bf16" in r.message for r in caplog.records)


@pytest.mark.gpu
@GPU
def test_cuda_graphs_replay_the_eager_pretraining(counts, monkeypatch):
    replays = []
    replay = torch.cuda.CUDAGraph.replay
    monkeypatch.setattr(torch.cuda.CUDAGraph, "replay", lambda graph: replays.append(1) or replay(graph))
    eager = _pretrained(counts, "cuda", False)
    assert not replays
    graphed = [_pretrained(counts, "cuda", True) for _ in range(2)]
    assert len(replays) == 2 * (3 * 3 - 3)  # per run: 3 full batches an epoch, the first 3 eager (warm-up)
    np.testing.assert_array_equal(graphed[0].latent, graphed[1].latent)  # a seed still repeats the run
    scale = float(np.abs(eager.latent).max())  # the rate schedule's float32 tensor rounds unlike Python's floats
    np.testing.assert_allclose(graphed[0].latent, eager.latent, rtol=0, atol=1e-4 * scale)
    np.testing.assert_allclose([r["loss"] for r in graphed[0].history], [r["loss"] for r in eager.history], rtol=1e-4)


def test_default_preset_is_one_decreasing_stage(counts):
    data = training_data(counts, select_panel(counts, PreprocessConfig()), PreprocessConfig())
    result = train_model(data, ModelConfig(n_clusters=3), TrainConfig(batch_size=60, pretrain_epochs=3))
    assert [r["stage"] for r in result.history] == ["pretrain"] * 3 and result.history[-1]["loss"] < result.history[0]["loss"]
    assert len(np.unique(result.labels)) == 3  # KMeans on the latent fills every cluster


def test_dec_stage_trains_the_dense_block_alone_and_sharpens_the_clusters(counts):
    panel = select_panel(counts, PreprocessConfig())
    data = training_data(counts, panel, PreprocessConfig())
    model_config = ModelConfig(n_clusters=3, dense_genes=len(panel))
    config = TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=2, dec_epochs=0)
    before = train_model(data, model_config, config)
    after = train_model(data, model_config, dataclasses.replace(config, dec_epochs=10, dec_weight=10.0))
    assert [r["stage"] for r in after.history] == ["pretrain"] + ["dense"] * 2 + ["dec"] * 10
    assert set(after.timings) == {"setup", "neighbors", "encode", "kmeans", "final_clusters"}
    assert min(after.timings.values()) > 0
    image = slice(0, model_config.latent_dim)
    np.testing.assert_array_equal(after.latent[:, image], before.latent[:, image])  # the image block as pretrained
    assert not np.allclose(after.latent[:, image.stop:], before.latent[:, image.stop:])

    def confidence(result) -> float:
        memberships = student_t_memberships(torch.as_tensor(result.latent), torch.as_tensor(result.centroids).float())
        return float(memberships.max(dim=1).values.mean())

    assert confidence(after) > confidence(before) + 0.05  # the memberships moved towards their sharpened target


def test_cosine_dec_schedule_lowers_the_rate_after_each_epoch(counts):
    panel = select_panel(counts, PreprocessConfig())
    data = training_data(counts, panel, PreprocessConfig())
    model_config = ModelConfig(n_clusters=3, dense_genes=len(panel))

    def dense_latent(epochs: int, schedule: str) -> np.ndarray:
        config = TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=1, dec_epochs=epochs, dec_schedule=schedule)
        return train_model(data, model_config, config).latent[:, model_config.latent_dim:]

    np.testing.assert_array_equal(dense_latent(1, "cosine"), dense_latent(1, "constant"))  # epoch 1 at the full rate
    assert not np.array_equal(dense_latent(2, "cosine"), dense_latent(2, "constant"))  # epoch 2 at half of it


def test_contrast_draws_partners_among_input_neighbours_and_groups_them(counts):
    panel = select_panel(counts, PreprocessConfig())
    data = training_data(counts, panel, PreprocessConfig())
    neighbors = input_neighbors(data.inputs, 10, 50, seed=0, metric="cosine").numpy()
    types = counts.obs["cell_type"].cat.codes.to_numpy()
    assert neighbors.shape == (counts.n_obs, 10) and not (neighbors == np.arange(counts.n_obs)[:, None]).any()
    assert (types[neighbors] == types[:, None]).mean() > 0.9  # the synthetic types are apart on the inputs

    def same_type_gap(contrast_weight: float, dec_contrast_weight: float = 0.0, dec_epochs: int = 0) -> float:
        config = TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=20, dec_epochs=dec_epochs, dec_weight=0.0,
                             contrast_weight=contrast_weight, dec_contrast_weight=dec_contrast_weight)
        latent = train_model(data, ModelConfig(n_clusters=3, dense_genes=len(panel)), config).latent
        dense = torch.nn.functional.normalize(torch.as_tensor(latent[:, ModelConfig().latent_dim:]), dim=1)
        cosine = (dense @ dense.T).numpy()
        same = types[:, None] == types[None]
        return float(cosine[same].mean() - cosine[~same].mean())

    assert same_type_gap(1.0) > same_type_gap(0.0) + 0.3  # neighbours' views pulled together, the batch's apart
    # kept during DEC (KL off here), the term goes on grouping a branch pretrained without it
    assert same_type_gap(0.0, 1.0, dec_epochs=20) > same_type_gap(0.0, 0.0, dec_epochs=20) + 0.3


def test_labels_never_reach_training(counts):
    shuffled = counts.copy()
    shuffled.obs["cell_type"] = np.random.default_rng(0).permutation(counts.obs["cell_type"].to_numpy())
    a = scsmd.train(counts, n_clusters=3, label_key="cell_type", train_config=FAST)
    b = scsmd.train(shuffled, n_clusters=3, label_key="cell_type", train_config=FAST)
    np.testing.assert_array_equal(a.latent, b.latent)
    np.testing.assert_array_equal(a.centroids, b.centroids)
    for key, value in a.model.state_dict().items():
        torch.testing.assert_close(value, b.model.state_dict()[key])


def test_final_clusters_are_nearest_centroid(counts):
    result = scsmd.train(counts, n_clusters=3, train_config=FAST)
    d = ((result.latent[:, None, :] - result.centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d.argmin(1), result.labels)
    assert counts.obs["scsmd_cluster"].dtype == "category" and counts.obsm["X_scsmd"].shape == (240, 20 + 2 * 32)


@pytest.mark.parametrize("n_cells, advised", [(240, True), (500, False)])
def test_a_set_under_500_cells_is_advised_to_compare_with_scanpy(n_cells, advised, caplog):
    with caplog.at_level("WARNING"):
        scsmd.train(synthetic_counts(n_cells=n_cells), n_clusters=3, train_config=FAST)
    assert (f"only {n_cells} cells: under 500" in caplog.text) is advised
    assert ("compare them with scanpy's" in caplog.text) is advised


@pytest.mark.parametrize("kwargs, message", [
    ({"n_clusters": 1}, "--n-clusters"),
    ({"n_clusters": 500}, "--n-clusters"),
    ({"n_clusters": 3, "label_key": "nope"}, "label key"),
])
def test_bad_training_requests(counts, kwargs, message):
    with pytest.raises(ScsmdError, match=message):
        scsmd.train(counts, **kwargs)


def test_a_small_set_draws_each_epoch_in_whole_passes_and_a_large_one_in_one(counts):
    data = training_data(counts[:60], select_panel(counts, PreprocessConfig()), PreprocessConfig())
    batches = list(shuffled_batches(data, 100, torch.Generator().manual_seed(0), min_cells=500))
    assert len(batches) == 9  # ceil(500 / 60) passes of one 60-cell batch each
    assert all(torch.equal(batch.sort().values, torch.arange(60)) for batch in batches)
    sizes = [len(b) for b in shuffled_batches(data, 25, torch.Generator().manual_seed(0), min_cells=100)]
    assert sizes == [25, 25, 10, 25, 25]  # a pass, then the next one's batches until 100 cells were drawn
    one_pass, floor_met = (list(shuffled_batches(data, 25, torch.Generator().manual_seed(0), min_cells=cells))
                           for cells in (0, 60))
    assert len(one_pass) == 3 and all(torch.equal(a, b) for a, b in zip(one_pass, floor_met, strict=True))


def test_a_set_smaller_than_a_batch_trains(counts):
    small = counts[:50].copy()
    scsmd.train(small, n_clusters=3, train_config=dataclasses.replace(FAST, min_epoch_cells=200))
    assert small.obs["scsmd_cluster"].nunique() >= 2 and np.isfinite(small.obsm["X_scsmd"]).all()


@pytest.mark.parametrize("damage, message", [
    (lambda a: a.X.data.__setitem__(0, np.nan), "X holds NaN"),
    (lambda a: a.X.data.__setitem__(0, -1.0), "X holds negative values"),
    (lambda a: a.obs.__setitem__("cell_type", "one type"), r"holds 1 distinct label\(s\)"),
])
def test_the_api_refuses_bad_counts_and_labels_before_training(counts, damage, message):
    damage(counts)
    with pytest.raises(ScsmdError, match=message):
        scsmd.train(counts, n_clusters=3, label_key="cell_type", train_config=FAST)


def test_unlabelled_cells_are_left_out_of_naming_scoring_and_the_label_head(counts, tmp_path):
    from scsmd.bundle import Bundle
    from scsmd.metrics import score_clusters

    counts.obs.loc[counts.obs_names[:30], "cell_type"] = np.nan
    scsmd.train(counts, n_clusters=3, bundle_dir=tmp_path / "m", label_key="cell_type", train_config=FAST)
    bundle = Bundle.load(tmp_path / "m")
    assert list(bundle.label_head.classes) == ["type_0", "type_1", "type_2"]  # no 'nan' class
    assert "nan" not in bundle.cluster_labels
    known = counts.obs_names[30:]
    assert counts.uns["scsmd"]["metrics"] == score_clusters(counts.obs.loc[known, "cell_type"].astype(str),
                                                            counts.obs.loc[known, "scsmd_cluster"])


def test_contrastive_neighbours_go_by_angle_so_a_shallow_cell_finds_its_own_direction():
    x = torch.tensor([[1.0, 0.0], [10.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [-10.0, 0.0], [0.0, -1.0]])  # centred
    assert input_neighbors(x, 1, 2, seed=0, metric="cosine")[0, 0] == 1  # its own direction's deep cell, never itself
    assert input_neighbors(x, 1, 2, seed=0, metric="euclidean")[0, 0] in (2, 5)  # another direction's, 1.4 away


def test_the_panel_and_the_label_head_share_one_gene_ranking(counts, tmp_path, monkeypatch):
    from scsmd.bundle import Bundle
    from scsmd.train import preprocess

    config, train_config = PreprocessConfig(n_genes=500, dense_genes=0), dataclasses.replace(FAST, label_head_genes=800)
    head_genes = preprocess.highly_variable_genes(counts, 800, config)
    rankings, ranking = [], preprocess.sc.pp.highly_variable_genes
    counted = lambda *args, **kwargs: rankings.append(kwargs) or ranking(*args, **kwargs)  # noqa: E731
    monkeypatch.setattr(preprocess.sc.pp, "highly_variable_genes", counted)
    scsmd.train(counts, n_clusters=3, bundle_dir=tmp_path / "m", label_key="cell_type", preprocess_config=config,
                train_config=train_config)
    bundle = Bundle.load(tmp_path / "m")
    assert len(rankings) == 1 and len(bundle.panel) == 500  # the head's longer ranking does not widen the panel
    assert bundle.label_head.genes == tuple(head_genes) and bundle.panel == select_panel(counts, config)


def test_repeated_gene_names_are_made_unique_for_the_panel(counts):
    names = list(counts.var_names)
    names[1] = names[0]
    counts.var_names = names
    out = scsmd.preprocess(counts, config=PreprocessConfig(n_genes=800, dense_genes=0), copy=True)
    assert out.var_names.is_unique and "g0-1" in out.var_names  # the panel holds both columns, as read_counts names them
    np.testing.assert_array_equal(out[:, "g0-1"].layers["counts"].toarray(), counts.X[:, [1]].toarray())


def test_smoothing_averages_neighbours_and_keeps_raw_centroids(counts):
    latent = np.array([[0.0], [1.0], [10.0], [11.0]])
    np.testing.assert_allclose(smoothed_latent(latent, 2, 1), [[0.5], [0.5], [10.5], [10.5]])
    assert smoothed_latent(latent, 0, 3) is latent and smoothed_latent(latent, 2, 0) is latent
    data = training_data(counts, select_panel(counts, PreprocessConfig()), PreprocessConfig())
    result = train_model(data, ModelConfig(n_clusters=3),
                         TrainConfig(batch_size=60, pretrain_epochs=2))  # the default smooths: 10 neighbours, 3 steps
    d = ((result.latent[:, None, :] - result.centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d.argmin(1), result.labels)  # centroids live in the raw latent, as embed needs
    assert len(np.unique(result.labels)) == 3
    # the last stage's clusters are kept, and the last step redone from them gives the run's (bench/partitions.py)
    config = TrainConfig()
    labels, centroids = final_clusters(result.latent, result.head_labels, result.head_centroids, config.seed,
                                       config.smoothing_neighbors, config.final_smoothing_steps, config.final_partition)
    np.testing.assert_array_equal(labels, result.labels)
    np.testing.assert_array_equal(centroids, result.centroids)
    assert result.head_agreement == (result.labels == result.head_labels).mean() > 0.5


def test_divergence_is_a_clear_error(counts):
    message = (r"training diverged: the pretrain loss is .* at epoch 1; "
               r"lower that stage's learning rate \(pretrain_lr in TrainConfig\)")
    with pytest.raises(ScsmdError, match=message):
        scsmd.train(counts, n_clusters=3, train_config=dataclasses.replace(FAST, pretrain_lr=1e12))


@pytest.mark.parametrize("group_size", [60, 2100])  # 4 x 2100 cells: past 8192, scanpy's neighbours use pynndescent
def test_leiden_estimate_counts_separated_groups(group_size):
    from scsmd.train.n_clusters import estimate_n_clusters

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 30, (4, 10))
    latent = np.concatenate([centre + rng.normal(0, 1, (group_size, 10)) for centre in centres])
    assert estimate_n_clusters(latent, resolution=1.0, seed=0) == 4
    assert estimate_n_clusters(latent, resolution=0.01, seed=0) >= 2  # never one cluster
    assert estimate_n_clusters(latent, resolution=5.0, seed=0) > 4  # a higher resolution, more clusters


def test_without_k_training_estimates_it_and_records_it_everywhere(counts, tmp_path):
    from scsmd.bundle import Bundle
    from scsmd.train.bundle_io import load_model_weights

    config = TrainConfig(batch_size=60, pretrain_epochs=1, dense_epochs=1, dec_epochs=1)
    result = scsmd.train(counts, bundle_dir=tmp_path / "auto", train_config=config)
    k = counts.uns["scsmd"]["n_clusters"]
    assert k >= 2 and counts.uns["scsmd"]["n_clusters_source"].startswith("estimated: Leiden at resolution 0.5")
    assert result.centroids.shape[0] == k == result.model.config.n_clusters == len(counts.obs["scsmd_cluster"].cat.categories)
    bundle = Bundle.load(tmp_path / "auto")
    assert bundle.n_clusters == k and bundle.manifest["model"]["n_clusters"] == k
    assert load_model_weights(bundle).cluster_head.net[-1].out_features == k  # the bundle's weights rebuild
    again = counts.copy()
    scsmd.train(again, n_clusters=k, train_config=config)
    assert again.uns["scsmd"]["n_clusters_source"] == "given"


def test_reference_preset_without_k_trains_its_cellnet_head_on_the_estimate(counts):
    from scsmd.config import model_preset, preprocess_preset

    result = scsmd.train(counts, preprocess_config=preprocess_preset("reference"), model_config=model_preset("reference"),
                         train_config=FAST)
    k = counts.uns["scsmd"]["n_clusters"]
    assert [r["stage"] for r in result.history] == ["pretrain", "fuzzy", "cellnet"]
    with torch.no_grad():
        assert result.model.eval().cluster_head(torch.as_tensor(result.latent)).shape == (counts.n_obs, k)
