"""Example data that ships with the dependencies, so the quickstart needs no download."""
from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp


def pbmc68k_counts() -> ad.AnnData:
    """scanpy's bundled 700-cell PBMC sample as raw counts, with its 10 `bulk_labels` in obs.

    The sample keeps log-normalized values (per 10,000) in ``.raw`` and each cell's library size in
    ``obs['n_counts']``, so counts = expm1(raw) * n_counts / 1e4, rounded.
    """
    import scanpy as sc

    source = sc.datasets.pbmc68k_reduced()
    raw = source.raw.to_adata()
    logexpr = sp.csr_matrix(raw.X, dtype=np.float64)
    scale = source.obs["n_counts"].to_numpy(dtype=np.float64) / 1e4
    counts = sp.diags(scale) @ logexpr.expm1()
    counts = sp.csr_matrix(counts)
    counts.data = np.round(counts.data)
    counts.eliminate_zeros()
    return ad.AnnData(counts.astype(np.float32), obs=source.obs[["bulk_labels"]].copy(), var=raw.var[[]].copy())


def as_read_counts(counts: ad.AnnData, seed: int = 0) -> ad.AnnData:
    """Read counts from UMI counts, as full-length protocols without UMIs (Smart-seq2) give: each molecule amplified by
    a Gamma(2) draw of mean 20 times its gene's factor (a lognormal of sd 0.7, mean 1: gene length and PCR bias), then
    sequenced (Poisson); random state `seed`. A check of how a method fares on such counts (bench/README.md)."""
    rng = np.random.default_rng(seed)
    reads = sp.csr_matrix(counts.X, dtype=np.float32, copy=True)
    gene_factor = rng.lognormal(0.0, 0.7, reads.shape[1])
    # an entry's c molecules' Gamma(2) draws summed: one Gamma(2c) draw of the same scale
    amplified = rng.gamma(2.0 * reads.data, 10.0 * (gene_factor / gene_factor.mean())[reads.indices])
    reads.data = rng.poisson(amplified).astype(np.float32)
    reads.eliminate_zeros()
    return ad.AnnData(reads, obs=counts.obs, var=counts.var)
