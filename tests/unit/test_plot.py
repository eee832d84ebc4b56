"""The figures: the training losses per stage, the latent's UMAP (kept apart, subsampled for large files), and the
labels' cells per cluster."""
import anndata as ad
import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from scsmd.errors import ScsmdError
from scsmd.metrics import contingency
from scsmd.plot import (UMAP_KEY, contingency_figure, plot_contingency, plot_file, plot_training, plot_umap,
                        training_figure)


def blobs(n_cells: int, n_blobs: int = 3, seed: int = 0) -> ad.AnnData:
    """A results-like AnnData: a 10-D latent of well-separated blobs, their clusters in obs, no genes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n_cells) % n_blobs
    latent = rng.normal(0, 0.3, (n_cells, 10)) + 4 * np.eye(10)[labels]
    adata = ad.AnnData(np.zeros((n_cells, 0), np.float32), obs=pd.DataFrame(
        {"scsmd_cluster": pd.Categorical(labels.astype(str))}, index=[f"c{i}" for i in range(n_cells)]))
    adata.obsm["X_scsmd"] = latent.astype(np.float32)
    return adata


def colours(path) -> int:
    """Distinct RGB colours in an image file."""
    pixels = matplotlib.image.imread(path)[..., :3].reshape(-1, 3)
    return len(np.unique(np.round(pixels * 255).astype(int), axis=0))


def test_the_training_figure_has_one_panel_per_stage_with_its_losses(tmp_path):
    history = [{"stage": stage, "epoch": e + 1, "loss": 10.0 / (e + 1) + offset, "seconds": 2.0}
               for stage, n, offset in (("pretrain", 5, 0.0), ("dense", 2, 100.0), ("dec", 3, 1.0)) for e in range(n)]
    figure = training_figure(history)
    assert [ax.get_title() for ax in figure.axes] == ["pretrain (10 s)", "dense (4 s)", "dec (6 s)"]
    for ax, stage in zip(figure.axes, ("pretrain", "dense", "dec")):
        line, = ax.get_lines()
        assert list(line.get_ydata()) == [r["loss"] for r in history if r["stage"] == stage]
    assert colours(plot_training(history, tmp_path / "training.png")) > 2
    with pytest.raises(ScsmdError, match="empty"):
        training_figure([])


def test_the_umap_keeps_the_latent_clusters_apart_and_is_kept(tmp_path):
    adata = blobs(300)
    path = plot_umap(adata, tmp_path / "umap.png")
    xy = adata.obsm[UMAP_KEY]
    assert xy.shape == (300, 2) and "scsmd_neighbors" in adata.uns  # its own graph, beside any the user built
    labels = adata.obs["scsmd_cluster"].cat.codes.to_numpy()
    centres = np.stack([xy[labels == k].mean(axis=0) for k in range(3)])
    nearest = ((xy[:, None] - centres[None]) ** 2).sum(-1).argmin(axis=1)
    assert (nearest == labels).mean() == 1.0
    assert colours(path) > 3  # three clusters' colours on white
    first = xy.copy()
    plot_umap(adata, tmp_path / "again.png")  # drawn again from the kept UMAP, not recomputed
    assert np.array_equal(adata.obsm[UMAP_KEY], first)
    adata.obsm["X_other"] = adata.obsm["X_scsmd"][::-1].copy()
    plot_umap(adata, tmp_path / "other.png", use_rep="X_other")  # another latent: its own UMAP
    assert not np.array_equal(adata.obsm[UMAP_KEY], first)
    assert adata.uns["scsmd_neighbors"]["params"]["use_rep"] == "X_other"
    with pytest.raises(ScsmdError, match="cannot colour by 'nope'"):
        plot_umap(adata, tmp_path / "x.png", color=["nope"])
    del adata.obs["scsmd_cluster"]  # a latent without scsmd's columns: one plain panel
    assert colours(plot_umap(adata, tmp_path / "plain.png")) > 1


def test_a_large_file_is_drawn_from_a_subset_and_left_as_it_was(tmp_path):
    source = tmp_path / "results.h5ad"
    blobs(9000).write_h5ad(source)
    path = plot_file(source, tmp_path / "umap.png", max_cells=8400)  # above 8192 cells: pynndescent's path in scanpy
    assert colours(path) > 3
    assert UMAP_KEY not in ad.read_h5ad(source).obsm
    with pytest.raises(ScsmdError, match="neither a model bundle"):
        plot_file(tmp_path / "umap.png", tmp_path / "x.png")
    (tmp_path / "junk.h5ad").write_bytes(b"not hdf5")
    with pytest.raises(ScsmdError, match="is it a valid .h5ad"):
        plot_file(tmp_path / "junk.h5ad", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_a_bundle_plots_its_training_history(tiny_bundle, tmp_path):
    folder, _ = tiny_bundle
    figure_path = plot_file(folder, tmp_path / "training.pdf")
    assert figure_path.read_bytes().startswith(b"%PDF")
    import json
    stages = {r["stage"] for r in json.loads((folder / "manifest.json").read_text())["history"]}
    assert [ax.get_title().split(" ")[0] for ax in training_figure(
        json.loads((folder / "manifest.json").read_text())["history"]).axes] == \
        [s for s in ("pretrain", "dense", "dec", "fuzzy", "cellnet") if s in stages]


def test_novel_cells_are_drawn_on_top(tmp_path, monkeypatch):
    import scsmd.plot

    adata = blobs(300)
    adata.obs["scsmd_novel"] = np.arange(300) % 50 == 7  # six flagged cells among the others
    figures = []
    monkeypatch.setattr(scsmd.plot, "_save", lambda figure, path: figures.append(figure))
    plot_umap(adata, tmp_path / "umap.png", color=["scsmd_novel"])
    drawn = figures[0].axes[0].collections[0].get_offsets()
    novel = adata.obsm[UMAP_KEY][adata.obs["scsmd_novel"].to_numpy()]
    assert np.allclose(np.sort(drawn[-6:], axis=0), np.sort(novel, axis=0))  # the last six points drawn


def test_the_contingency_figure_shows_each_label_s_fractions_with_a_merge_off_the_diagonal(tmp_path):
    labels = np.repeat(["T", "B", "NK"], [60, 30, 10])
    clusters = np.repeat(["2", "0", "0"], [60, 30, 10])  # NK merged into B's cluster
    adata = ad.AnnData(obs=pd.DataFrame({"cell_type": labels, "scsmd_cluster": clusters},
                                        index=[f"c{i}" for i in range(100)]))
    table = contingency(labels, clusters)
    drawn = contingency_figure(table, {"ari": 0.9}).axes[0].images[0].get_array()
    assert drawn.shape == (3, 2)
    np.testing.assert_allclose(drawn, table.div(table.sum(axis=1), axis=0).to_numpy())
    assert drawn[list(table.index).index("NK"), list(table.columns).index("0")] == 1.0
    path = plot_contingency(adata, tmp_path / "contingency.png", label_key="cell_type")
    assert colours(path) > 10
    with pytest.raises(ScsmdError, match="label key 'nope'"):
        plot_contingency(adata, tmp_path / "other.png", label_key="nope")
    with pytest.raises(ScsmdError, match="ending in"):
        plot_contingency(adata, tmp_path / "other.jpg", label_key="cell_type")
    assert not (tmp_path / "other.png").exists()
