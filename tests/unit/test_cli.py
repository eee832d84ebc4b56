import subprocess
import sys

import pytest

from conftest import synthetic_counts


def scsmd(*args, cwd):
    return subprocess.run([sys.executable, "-m", "scsmd", *map(str, args)], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    adata = synthetic_counts()
    adata.obs["batch"] = "b1"  # one value: nothing to score or name clusters by
    adata.write_h5ad(folder / "cells.h5ad")
    (folder / "damaged.h5ad").write_bytes(b"not an hdf5 file")
    return folder


@pytest.mark.parametrize("args, message", [
    (["train", "missing.h5ad", "-k", "3"], "input not found"),
    (["train", "cells.h5ad", "-k", "1"], "--n-clusters"),
    (["train", "cells.h5ad", "-k", "3", "--label-key", "nope"], "label key 'nope'"),
    (["train", "cells.h5ad", "-k", "3", "--label-key", "batch"], "holds 1 distinct label(s)"),
    (["train", "damaged.h5ad", "-k", "3"], "cannot read"),
    (["train", "cells.h5ad", "-k", "3", "--device", "tpu"], "device"),
    (["train", "cells.h5ad", "-k", "3", "--contrast-weight", "-1"], "contrast_weight must be >= 0"),
    (["train", "cells.h5ad", "-k", "3", "--dec-contrast-weight", "-1"], "dec_contrast_weight >= 0"),
    (["train", "cells.h5ad", "-k", "3", "--dense-members", "0"], "dense_members >= 1"),
    (["train", "cells.h5ad", "-k", "3", "--partition", "ward"], "final_partition must be lloyd, average or mixture"),
    (["train", "cells.h5ad", "-k", "3", "--layer", "counts"], "no layer 'counts'"),
    (["train", "cells.h5ad", "-k", "3", "--resolution", "2"], "give one of the two"),
    (["train", "cells.h5ad", "--resolution", "0"], "leiden_resolution must be > 0"),
    (["train", "cells.h5ad", "-k", "3", "-o", "models/cells"], "in the bundle's folder"),
    (["train", "cells.h5ad", "-k", "3", "-o", "models/cells/cells.h5ad"], "in the bundle's folder"),
    (["train", "cells.h5ad", "-k", "3", "-o", ".", "--force"], "is a folder"),
    (["embed", "cells.h5ad", "--model", "models/none", "-o", ".", "--force"], "is a folder"),
    (["train", "cells.h5ad", "-k", "3", "--models-dir", "damaged.h5ad"], "damaged.h5ad is a file"),
    (["train", "cells.h5ad", "-k", "3", "-o", "damaged.h5ad/out.h5ad"], "damaged.h5ad is a file"),
    (["embed", "cells.h5ad", "--model", "models/none", "--layer", "counts"], "not a model bundle"),
    (["embed", "cells.h5ad", "--model", "models/none"], "not a model bundle"),
    (["evaluate", "cells.h5ad", "--label-key", "cell_type"], "cluster key"),
    (["evaluate", "cells.h5ad", "--label-key", "cell_type", "--plot", "labels.jpg"], "ending in .png, .pdf, .svg"),
    (["plot", "missing.h5ad"], "input not found"),
    (["plot", "cells.h5ad", "-o", "umap.png"], "no obsm['X_scsmd']"),
    (["plot", "cells.h5ad", "-o", "umap.jpg"], "ending in .png, .pdf, .svg"),
    (["plot", ".", "-o", "training.png"], "not a model bundle"),
])
def test_user_errors_are_one_line_exit_2_and_write_nothing(cells, args, message):
    before = set(cells.rglob("*"))
    result = scsmd(*args, cwd=cells)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert set(cells.rglob("*")) == before


def test_usage_error_is_exit_2(cells):
    assert scsmd("train", cwd=cells).returncode == 2


def test_preprocess_writes_panel_counts_and_reference_csv(cells):
    result = scsmd("preprocess", "cells.h5ad", "-o", "pre.h5ad", "--n-genes", 300, "--dense-genes", 0, "--csv", "pre.csv",
                   cwd=cells)
    assert result.returncode == 0, result.stderr
    import anndata as ad
    import numpy as np
    import pandas as pd

    out = ad.read_h5ad(cells / "pre.h5ad")
    assert out.shape == (240, 300) and out.var["scsmd_panel"].all()
    assert out.uns["scsmd_preprocess"]["params"]["n_genes"] == 300
    assert out.uns["scsmd_preprocess"]["params"]["hvg_flavor"] == "seurat_v3"  # the ranking recorded
    library = out.obs["library_size"].to_numpy()
    expected = np.log1p(out.layers["counts"].toarray() / library[:, None] * 1e4)
    np.testing.assert_allclose(out.X, expected, rtol=1e-5)
    table = pd.read_csv(cells / "pre.csv", index_col=0)
    assert table.shape == (240, 300) and list(table.columns) == list(out.var_names)
    again = scsmd("preprocess", "cells.h5ad", "-o", "pre.h5ad", cwd=cells)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_the_two_flavors_select_different_panels(counts):
    from scsmd.config import PreprocessConfig
    from scsmd.train.preprocess import select_panel

    on_log = select_panel(counts, PreprocessConfig(n_genes=200, dense_genes=0, hvg_flavor="seurat"))
    on_counts = select_panel(counts, PreprocessConfig(n_genes=200, dense_genes=0, hvg_flavor="seurat_v3"))
    assert len(on_counts) == len(on_log) == 200 and on_counts != on_log


def test_embed_refuses_bad_inputs_without_writing(tiny_bundle, tmp_path):
    import anndata as ad
    import numpy as np

    folder, trained = tiny_bundle
    renamed = trained.copy()
    renamed.var_names = [f"other{i}" for i in range(renamed.n_vars)]
    renamed.write_h5ad(tmp_path / "renamed.h5ad")
    negative = trained.copy()
    negative.X.data[0] = -1
    negative.write_h5ad(tmp_path / "negative.h5ad")
    ad.AnnData(np.zeros((0, 3), np.float32)).write_h5ad(tmp_path / "empty.h5ad")
    (tmp_path / "damaged.h5ad").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    for name, message in (("renamed", "none of the model"), ("negative", "negative"), ("empty", "no cells"),
                          ("damaged", "cannot read")):
        result = scsmd("embed", f"{name}.h5ad", "--model", folder, "-o", "out.h5ad", cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert not (tmp_path / "out.h5ad").exists()


def test_existing_bundle_refused_before_training(cells):
    (cells / "models" / "cells").mkdir(parents=True)
    result = scsmd("train", "cells.h5ad", "-k", "3", cwd=cells)
    assert result.returncode == 2 and "already exists" in result.stderr and "--force" in result.stderr
    forced = scsmd("train", "cells.h5ad", "-k", "3", "--force", cwd=cells)  # a folder that is no bundle: never replaced
    assert forced.returncode == 2 and "is not a model bundle" in forced.stderr and "pretrain" not in forced.stderr
    assert list((cells / "models" / "cells").iterdir()) == []


def test_evaluate_draws_each_label_s_cells_per_cluster_and_keeps_an_existing_figure(tmp_path):
    adata = synthetic_counts()
    adata.obs["scsmd_cluster"] = adata.obs["cell_type"].cat.codes.astype(str)  # the labels, renamed
    adata.write_h5ad(tmp_path / "clustered.h5ad")
    args = ["evaluate", "clustered.h5ad", "--label-key", "cell_type", "--plot", "labels.png"]
    result = scsmd(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ARI 1.0000" in result.stdout and "labels.png" in result.stdout
    figure = (tmp_path / "labels.png").read_bytes()
    assert figure.startswith(b"\x89PNG")
    again = scsmd(*args, cwd=tmp_path)
    assert again.returncode == 2 and "choose another --plot or pass --force" in again.stderr
    assert (tmp_path / "labels.png").read_bytes() == figure
    assert scsmd(*args, "--force", cwd=tmp_path).returncode == 0


def test_every_output_of_a_training_run_is_refused_before_training(cells, tmp_path):
    (tmp_path / "cells.h5ad").symlink_to(cells / "cells.h5ad")
    (tmp_path / "cells_uspace.csv").write_text("kept")
    result = scsmd("train", "cells.h5ad", "-k", "3", cwd=tmp_path)
    assert result.returncode == 2 and "cells_uspace.csv already exists" in result.stderr, result.stderr
    assert not (tmp_path / "models").exists() and (tmp_path / "cells_uspace.csv").read_text() == "kept"


def test_train_flags_reach_the_configs(cells, monkeypatch):
    from typer.testing import CliRunner

    from scsmd import cli
    seen = {}
    monkeypatch.setattr(cli, "_train_and_write", lambda adata, **kwargs: seen.update(kwargs))
    monkeypatch.chdir(cells)
    for flags, bf16, members, partition in ((["--bf16", "--dense-members", "1", "--partition", "average"], True, 1,
                                             "average"), ([], False, 2, "mixture")):
        result = CliRunner().invoke(cli.app, ["train", "cells.h5ad", "-k", "3", *flags])
        assert result.exit_code == 0, result.output
        assert seen["train_config"].pretrain_bf16 is bf16 and seen["model_config"].dense_members == members
        assert seen["train_config"].final_partition == partition
