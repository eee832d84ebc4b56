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
