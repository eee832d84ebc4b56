"""K when the user gives none: the communities Leiden finds on the pretrained latent's 15-NN graph (scanpy's
neighbours and Leiden), as scDeepCluster estimates K with Louvain on its pretrained latent."""
from __future__ import annotations

import numpy as np

MIN_CLUSTERS = 2


def estimate_source(resolution: float) -> str:
    """Where an estimated K came from, as logged, printed and kept in the bundle."""
    return f"estimated: Leiden at resolution {resolution:g} on the pretrained latent"


def estimate_n_clusters(latent: np.ndarray, resolution: float, seed: int) -> int:
    """Leiden's community count on the latent's 15-NN graph (`sc.pp.neighbors` + `sc.tl.leiden`), at least 2."""
    import anndata as ad
    import scanpy as sc  # only here: training otherwise needs scanpy for the panel alone

    cells = ad.AnnData(np.zeros((len(latent), 0), dtype=np.float32), obsm={"latent": np.asarray(latent, np.float32)})
    sc.pp.neighbors(cells, use_rep="latent", n_neighbors=min(15, len(latent) - 1), random_state=seed)
    sc.tl.leiden(cells, resolution=resolution, flavor="igraph", n_iterations=2, random_state=seed)
    return max(MIN_CLUSTERS, cells.obs["leiden"].nunique())
