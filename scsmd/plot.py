"""Quick-look figures: each training stage's loss by epoch, a UMAP of the scsmd latent coloured by clusters, labels
and novelty, drawn with scanpy as a scanpy user would, and the labels' cells in each cluster."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from scsmd.api import evaluate
from scsmd.atomic import atomic_path
from scsmd.bundle import Bundle
from scsmd.errors import ScsmdError
from scsmd.io import is_h5ad, read_h5ad
from scsmd.infer.embed import NEIGHBORS_KEY, UMAP_KEY
from scsmd.metrics import contingency

COLOR_COLUMNS = ("scsmd_cluster", "scsmd_label", "scsmd_novel")  # coloured by default where present
FORMATS = (".png", ".pdf", ".svg")
MAX_ANNOTATED = 900  # contingency cells up to which each count is written in (30 labels x 30 clusters)


def check_figure_path(path: Path) -> None:
    """Refuse a figure name whose suffix matplotlib would not write, before any work."""
    if path.suffix.lower() not in FORMATS:
        raise ScsmdError(f"cannot write a figure to {path}: give a name ending in {', '.join(FORMATS)}")


def _save(figure, path: Path) -> None:
    """Write `figure` under a temporary name, then rename (no half-written figure), and free it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lower()[1:], dpi=150, bbox_inches="tight")
    plt.close(figure)


def training_figure(history: Sequence[dict]):
    """One panel per stage, its mean loss per cell by epoch: whether each stage settled shows at a glance."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    stages = list(dict.fromkeys(record["stage"] for record in history))
    if not stages:
        raise ScsmdError("the training history is empty: nothing to plot")
    figure = Figure(figsize=(3.2 * len(stages), 2.8), layout="constrained")
    for ax, stage in zip(np.atleast_1d(figure.subplots(1, len(stages))), stages):
        records = [r for r in history if r["stage"] == stage]
        ax.plot([r["epoch"] for r in records], [r["loss"] for r in records], marker=".")
        ax.set(title=f"{stage} ({sum(r['seconds'] for r in records):.0f} s)", xlabel="epoch", ylabel="loss")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


def plot_training(history: Sequence[dict], path: str | Path) -> Path:
    """Write the training losses (a `TrainResult.history`, or a bundle manifest's `history`) to `path`."""
    path = Path(path)
    check_figure_path(path)
    _save(training_figure(history), path)
    return path


def contingency_figure(table: pd.DataFrame, scores: dict[str, float]):
    """Each label's cells spread over the clusters (row fractions, counts written in; `contingency`'s order): where a
    type splits or two types merge shows at a glance, which ARI alone does not say."""
    from matplotlib.figure import Figure

    fractions = table.div(table.sum(axis=1), axis=0).to_numpy()
    n_labels, n_clusters = table.shape
    figure = Figure(figsize=(2.5 + 0.45 * n_clusters, 1.5 + 0.35 * n_labels), layout="constrained")
    ax = figure.subplots()
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(n_clusters), table.columns.astype(str), rotation=90)
    ax.set_yticks(range(n_labels), table.index.astype(str))
    if table.size <= MAX_ANNOTATED:
        for (row, col), count in np.ndenumerate(table.to_numpy()):
            if count:
                ax.text(col, row, count, ha="center", va="center", fontsize=7,
                        color="white" if fractions[row, col] > 0.6 else "black")
    ax.set(xlabel=table.columns.name, ylabel=table.index.name,
           title="  ".join(f"{name.upper()} {value:.3f}" for name, value in scores.items()))
    figure.colorbar(image, ax=ax, label="fraction of the label's cells")
    return figure


def plot_contingency(adata: ad.AnnData, path: str | Path, *, label_key: str, cluster_key: str = "scsmd_cluster",
                     scores: dict[str, float] | None = None) -> Path:
    """Write the cells of each `obs[label_key]` label in each `obs[cluster_key]` cluster, with ARI / NMI / ACC, to
    `path` (with `cluster_key='scsmd_label'`: a label transfer's confusion matrix). `scores`: what `evaluate` gave
    for these columns, if it ran already (at a million cells it takes seconds); else it runs here."""
    path = Path(path)
    check_figure_path(path)
    if scores is None:
        scores = evaluate(adata, label_key=label_key, cluster_key=cluster_key)  # refuses a missing column
    table = contingency(adata.obs[label_key], adata.obs[cluster_key])
    table.index.name, table.columns.name = label_key, cluster_key
    _save(contingency_figure(table, scores), path)
    return path


def umap(adata: ad.AnnData, *, use_rep: str = "X_scsmd", key_added: str = UMAP_KEY, n_neighbors: int = 15,
         random_state: int = 0) -> None:
    """UMAP of the latent `obsm[use_rep]` from its own kNN graph (scanpy's neighbors and umap), in `obsm[key_added]`;
    the graph is kept under `uns['scsmd_neighbors']`, apart from any the user built."""
    import scanpy as sc

    if use_rep not in adata.obsm:
        raise ScsmdError(f"no obsm[{use_rep!r}] to plot (obsm: {', '.join(adata.obsm) or 'none'}); "
                         "run scsmd train or scsmd embed on it first, or name the latent with --use-rep")
    sc.pp.neighbors(adata, n_neighbors=min(n_neighbors, adata.n_obs - 1), use_rep=use_rep, key_added=NEIGHBORS_KEY,
                    random_state=random_state)
    sc.tl.umap(adata, neighbors_key=NEIGHBORS_KEY, key_added=key_added, random_state=random_state)


def plot_umap(adata: ad.AnnData, path: str | Path, *, color: Sequence[str] | None = None, use_rep: str = "X_scsmd",
              max_cells: int = 50_000, random_state: int = 0) -> Path:
    """Write a UMAP of the latent coloured by each `color` column (default: scsmd's clusters, labels and novelty
    flags where present) to `path`. The UMAP is computed once and kept in `obsm['X_scsmd_umap']` (again when the one
    kept was drawn from another `use_rep`, as its graph's parameters record); above `max_cells`
    it is computed and drawn for a random subset of that many cells (UMAP's time grows with the cells; the picture's
    message does not), and `adata`, like a backed one, is left as it was."""
    path = Path(path)
    check_figure_path(path)
    color = list(color) if color else [c for c in COLOR_COLUMNS if c in adata.obs]
    missing = [c for c in color if c not in adata.obs]
    if missing:
        raise ScsmdError(f"cannot colour by {', '.join(map(repr, missing))}: not an obs column "
                         f"(obs: {', '.join(map(str, adata.obs.columns)) or 'none'})")
    stored = UMAP_KEY in adata.obsm and adata.uns.get(NEIGHBORS_KEY, {}).get("params", {}).get("use_rep") == use_rep
    if adata.n_obs > max_cells or adata.isbacked:
        adata = _cells_without_genes(adata, max_cells, random_state)
    if not stored:  # none yet, or one drawn from another latent
        umap(adata, use_rep=use_rep, random_state=random_state)
    return _draw(adata, path, color)


def _cells_without_genes(adata: ad.AnnData, max_cells: int, random_state: int) -> ad.AnnData:
    """At most `max_cells` random cells of `adata` in their order, with their obs and obsm only, in memory: a figure
    needs no genes, and a backed file (even a results-only one, with no genes at all) loads just those rows."""
    keep = np.arange(adata.n_obs) if adata.n_obs <= max_cells else \
        np.sort(np.random.default_rng(random_state).choice(adata.n_obs, max_cells, replace=False))
    return ad.AnnData(obs=adata.obs.iloc[keep], obsm={key: np.asarray(value[keep]) for key, value in adata.obsm.items()})


def plot_file(source: str | Path, output: str | Path, *, color: Sequence[str] | None = None,
              use_rep: str = "X_scsmd", max_cells: int = 50_000, random_state: int = 0) -> Path:
    """`scsmd plot`: a model bundle's training losses, or an .h5ad's UMAP of its latent (opened backed: its genes are
    never loaded)."""
    source, output = Path(source), Path(output)
    check_figure_path(output)
    if not source.exists():
        raise ScsmdError(f"input not found: {source}; check the path")
    if source.is_dir():
        return plot_training(Bundle.load(source).manifest["history"], output)
    if not is_h5ad(source):
        raise ScsmdError(f"{source} is neither a model bundle folder nor an .h5ad file; give the output of "
                         "scsmd train or scsmd embed, or a bundle (models/NAME)")
    return plot_umap(read_h5ad(source, backed=True), output, color=color, use_rep=use_rep, max_cells=max_cells,
                     random_state=random_state)


def _draw(adata: ad.AnnData, path: Path, color: list[str]) -> Path:
    """scanpy's embedding plot of the scsmd UMAP, one panel per colour (or one plain panel), written to `path`."""
    import scanpy as sc

    if "scsmd_novel" in color:  # the few flagged cells drawn last, on top of the rest, in every panel
        adata = adata[np.argsort(adata.obs["scsmd_novel"].to_numpy(dtype=bool), kind="stable")]
    figure = sc.pl.embedding(adata, UMAP_KEY, color=color or None, show=False, return_fig=True, ncols=2,
                             title=color or f"scsmd latent, {adata.n_obs} cells")
    if not hasattr(figure, "savefig"):  # no colour: scanpy returns the axes
        figure = figure.figure
    _save(figure, path)
    return path
