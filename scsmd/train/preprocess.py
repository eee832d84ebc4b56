"""Choose the gene panel (scanpy HVGs) and build the training tensors through panel.py's shared transform."""
from __future__ import annotations

import dataclasses
import logging

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp
import torch
from sklearn.decomposition import PCA
from sklearn.utils.sparsefuncs import mean_variance_axis

from scsmd.config import PreprocessConfig, image_side_for
from scsmd.errors import ScsmdError
from scsmd.panel import PanelScaling, library_sizes, logexpr_panel, match_panel, to_inputs
from scsmd.train.trainer import TrainData

log = logging.getLogger(__name__)


def ranked_genes(counts: ad.AnnData, n_genes: int, config: PreprocessConfig) -> list[str]:
    """Genes in >= min_cells cells, then the top `n_genes` highly variable ones, the most variable first: each ranking
    orders the genes alike whatever `n_genes` is, so one ranking gives the image's top genes and the dense ones."""
    flavor = chosen_flavor(counts, config) if config.hvg_flavor == "auto" else config.hvg_flavor
    # a copy of every array: scanpy sorts a matrix's column indices in place, which would scramble the caller's
    # counts through indices shared with a float32 view of them
    adata = ad.AnnData(sp.csr_matrix(counts.X, dtype=np.float32, copy=True), obs=counts.obs[[]], var=counts.var[[]])
    adata.obs["library"] = library_sizes(adata.X)
    sc.pp.filter_genes(adata, min_cells=config.min_cells)
    n_top = min(n_genes, adata.n_vars)
    if flavor == "seurat_v3":
        order = np.argsort(seurat_v3_rank(adata, n_top), kind="stable")
    elif flavor == "seurat":
        order = np.argsort(seurat_rank(lognormalized(adata, config.target_sum), n_top), kind="stable")
    else:
        order = seurat_v3_pca_order(adata, n_top, config)
    return list(adata.var_names[order[:n_top]])


READS_RANK_DEPTH = 4000  # seurat_v3_pca: how far down each ranking a gene's place counts (further: as if there)


def seurat_v3_pca_order(adata: ad.AnnData, n_top: int, config: PreprocessConfig) -> np.ndarray:
    """The image's `config.n_genes` genes by both places: seurat_v3's and the principal share's of all genes; then the
    rest by seurat_v3's and the share the image's own components hold. The share of all genes ranks low genes that
    vary within a type (baron's beta cells), which the dense branch then splits types by; the image's components
    carry its types, not that (bench/README.md, sessions 48-49)."""
    depth = min(adata.n_vars, max(READS_RANK_DEPTH, n_top))
    by_variance = np.minimum(seurat_v3_rank(adata, depth), depth)
    genes = standardized(lognormalized(adata, config.target_sum).X)
    image = by_both_places(by_variance, principal_share(genes, config.ranking_pcs), depth)[:config.n_genes]
    rest = by_both_places(by_variance, principal_share(genes, config.ranking_pcs, basis=image), depth)
    return np.concatenate([image, rest[~np.isin(rest, image)]])


def by_both_places(by_variance: np.ndarray, share: np.ndarray, depth: int) -> np.ndarray:
    """Genes by the sum of their seurat_v3 place (`by_variance`, counted to `depth`: further, as if there) and their
    place by `share` (counted alike), ties by seurat_v3's: a gene must rank high by both to lead."""
    return np.lexsort((by_variance, by_variance + np.minimum(rank_of(-share), depth)))


def rank_of(score: np.ndarray) -> np.ndarray:
    """Each entry's place when `score` is sorted ascending (0 the lowest; ties in input order)."""
    rank = np.empty(len(score))
    rank[np.argsort(score, kind="stable")] = np.arange(len(score))
    return rank


def seurat_v3_rank(adata: ad.AnnData, n_top: int) -> np.ndarray:
    """Each gene's place in scanpy's seurat_v3 ranking of the raw counts (0 the most variable, inf past `n_top`)."""
    seurat_v3_genes(adata, n_top)
    return np.nan_to_num(adata.var["highly_variable_rank"].to_numpy(dtype=float), nan=np.inf)


def seurat_rank(logexpr: ad.AnnData, n_top: int) -> np.ndarray:
    """Each gene's place in scanpy's seurat ranking of log data (normalized dispersion; inf past `n_top`)."""
    sc.pp.highly_variable_genes(logexpr, n_top_genes=n_top, flavor="seurat")
    rank = rank_of(-logexpr.var["dispersions_norm"].to_numpy())
    return np.where(logexpr.var["highly_variable"].to_numpy(), rank, np.inf)


def chosen_flavor(counts: ad.AnnData, config: PreprocessConfig) -> str:
    """`config.hvg_flavor`, "auto" resolved by the counts: seurat_v3 on UMIs, seurat_v3_pca where the median cell
    holds more than `config.read_counts_per_gene` counts a detected gene, as reads do (bench/README.md, session 48);
    seurat_v3 named on such counts warns, for it then takes a gene's reads per molecule for variability (session 47)."""
    if config.hvg_flavor not in ("auto", "seurat_v3"):
        return config.hvg_flavor
    depth = counts_per_detected_gene(counts.X)
    if depth <= config.read_counts_per_gene:
        return "seurat_v3"
    if config.hvg_flavor == "seurat_v3":
        log.warning("%.0f counts per detected gene in the median cell: these look like read counts, where seurat_v3 "
                    "ranks genes partly by their reads per molecule; compare with --hvg-flavor seurat_v3_pca or "
                    "auto, the default (bench/README.md)", depth)
        return "seurat_v3"
    log.info("%.0f counts per detected gene in the median cell (read counts): genes ranked by seurat_v3_pca", depth)
    return "seurat_v3_pca"


def resolved(config: PreprocessConfig, counts: ad.AnnData) -> PreprocessConfig:
    """`config` with the ranking `chosen_flavor` picks for these counts, for the record of what was done."""
    return dataclasses.replace(config, hvg_flavor=chosen_flavor(counts, config))


def counts_per_detected_gene(counts: sp.spmatrix | np.ndarray) -> float:
    """The median cell's counts per gene it detects: 1-5 for UMIs, tens to hundreds for reads or TPM."""
    counts = sp.csr_matrix(counts)
    detected = np.asarray((counts > 0).sum(axis=1)).ravel()
    return float(np.median(library_sizes(counts)[detected > 0] / detected[detected > 0])) if detected.any() else 0.0


def lognormalized(adata: ad.AnnData, target_sum: float) -> ad.AnnData:
    """`adata` with X scaled to `target_sum` counts per cell (of `obs['library']`, all the input's genes), log1p."""
    library = adata.obs["library"].to_numpy()
    scale = np.divide(target_sum, library, out=np.zeros(adata.n_obs), where=library > 0)
    adata.X = sp.csr_matrix(sp.diags(scale) @ adata.X)
    adata.X.data = np.log1p(adata.X.data)
    return adata


def standardized(logexpr: sp.csr_matrix) -> sp.csr_matrix:
    """Each gene's log expression over its sd (not centred, to stay sparse): a gene's reads per molecule mostly shift
    its log values, which this takes out of the share below."""
    sd = np.sqrt(mean_variance_axis(logexpr, axis=0)[1])
    return sp.csr_matrix(logexpr @ sp.diags(np.divide(1.0, sd, out=np.zeros_like(sd), where=sd > 0)))


def principal_share(genes: sp.csr_matrix, n_pcs: int, basis: np.ndarray | None = None) -> np.ndarray:
    """The share of each of the `standardized` genes' variance that the first `n_pcs` principal components of the
    `basis` genes (all of them by default) hold: genes that vary with others (types) score high, lone noise low."""
    spanning = genes if basis is None else genes[:, basis]
    n_pcs = max(1, min(n_pcs, *spanning.shape) - 1)  # arpack needs fewer than either side
    scores = PCA(n_components=n_pcs, svd_solver="arpack", random_state=0).fit_transform(spanning)  # centred
    along = np.asarray(genes.T @ scores)  # each gene's centred values against each component's scores
    return (along**2 / (scores**2).sum(axis=0)).sum(axis=1) / genes.shape[0]


def highly_variable_genes(counts: ad.AnnData, n_genes: int, config: PreprocessConfig) -> list[str]:
    """Genes in >= min_cells cells, then the top `n_genes` highly variable ones, in input order."""
    return in_input_order(ranked_genes(counts, n_genes, config), counts)


def in_input_order(genes: list[str], counts: ad.AnnData) -> list[str]:
    """`genes` in the order of the input's columns."""
    column = {gene: i for i, gene in enumerate(counts.var_names)}
    return sorted(genes, key=column.__getitem__)


# seurat_v3's loess of variance on mean: scanpy's span first, then wider ones where few cells leave it singular
LOESS_SPANS = (0.3, 0.6, 1.0)


def seurat_v3_genes(adata: ad.AnnData, n_top: int) -> None:
    """scanpy's seurat_v3 ranking into `adata.var`; its loess fails on some small sets (scanpy issue 1504: "near
    singularities"), where a wider span fits, as Seurat's own warning advises."""
    for span in LOESS_SPANS:
        try:
            sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat_v3", span=span)
        except ValueError as error:  # scikit-misc's loess, singular at this span
            log.debug("seurat_v3 loess at span %s: %s", span, error)
            continue
        if span != LOESS_SPANS[0]:
            log.warning("seurat_v3's loess is singular on these %d cells at span %s; ranked at span %s", adata.n_obs,
                        LOESS_SPANS[0], span)
        return
    raise ScsmdError(f"seurat_v3's gene ranking fails on these {adata.n_obs} cells at every span tried "
                     f"({', '.join(map(str, LOESS_SPANS))}); rank genes with --hvg-flavor seurat")


def select_panel(counts: ad.AnnData, config: PreprocessConfig) -> list[str]:
    """The method's panel: the top `config.n_genes` highly variable genes (fewer when fewer pass the filter), then
    with a dense branch the rest of the top `config.dense_genes`, each part in input order."""
    return panel_from_ranking(ranked_genes(counts, panel_ranks(config), config), counts, config)


def panel_ranks(config: PreprocessConfig) -> int:
    """How many of the ranked genes the panel takes: the image's, or the dense branch's when it reaches further."""
    return max(config.n_genes, config.dense_genes)


def panel_from_ranking(ranked: list[str], counts: ad.AnnData, config: PreprocessConfig) -> list[str]:
    """select_panel's panel from a ranking already made (at least `panel_ranks(config)` long where that many genes
    pass), so that a caller needing more of the ranking ranks once."""
    image, dense = ranked[:config.n_genes], ranked[config.n_genes:panel_ranks(config)]
    image, dense = in_input_order(image, counts), in_input_order(dense, counts)
    if len(image) < config.n_genes:
        log.warning("only %d genes pass the filter; the panel is zero-padded to %d", len(image),
                    image_side_for(len(image)) ** 2)
    return image + dense


def size_factors(counts: sp.spmatrix) -> np.ndarray:
    """Per-cell library size over its median (DCA / scDeepCluster), scaling the NB mean to each cell's depth."""
    library = library_sizes(counts)
    return library / np.median(library[library > 0])


def training_data(counts: ad.AnnData, panel: list[str], config: PreprocessConfig) -> TrainData:
    """Encoder inputs of the log-normalized panel (standardized per gene when `config.scale`), the panel's raw counts
    and the size factors, as tensors, with the scaling the bundle keeps for new cells."""
    match = match_panel(list(counts.var_names), panel)
    logexpr = logexpr_panel(counts.X, match, target_sum=config.target_sum)
    scaling = PanelScaling.fit(logexpr, config.scale_max) if config.scale else None
    if scaling is not None:
        logexpr = scaling.apply(logexpr, match)
    panel_counts = sp.csr_matrix(counts.X)[:, match.columns].toarray().astype(np.float32)
    return TrainData(
        inputs=torch.from_numpy(to_inputs(logexpr, config.image_side(len(panel)))),
        counts=torch.from_numpy(panel_counts),
        size_factors=torch.from_numpy(size_factors(counts.X).astype(np.float32)),
        scaling=scaling,
    )
