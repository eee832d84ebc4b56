"""Clusters of a latent: KMeans' start on the smoothed latent, and the final partition (Lloyd steps, a Gaussian
mixture's means or average linkage), each as centroids that new cells are assigned to by the nearest one."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from scsmd.config import FinalPartition, TrainConfig
from scsmd.infer.assign import squared_distances


def smoothed_latent(latent: np.ndarray, n_neighbors: int, steps: int) -> np.ndarray:
    """Each cell's latent averaged over its `n_neighbors` nearest cells (itself included), `steps` times: denser groups
    for KMeans to find (0 neighbours or steps: the latent as it is)."""
    n_neighbors = min(n_neighbors, len(latent))
    if n_neighbors <= 1 or steps == 0:
        return latent
    neighbors = NearestNeighbors(n_neighbors=n_neighbors).fit(latent).kneighbors(latent, return_distance=False)
    average = sp.csr_matrix((np.full(neighbors.size, 1.0 / n_neighbors), neighbors.ravel(),
                             np.arange(0, neighbors.size + 1, n_neighbors)), shape=(len(latent), len(latent)))
    for _ in range(steps):
        latent = average @ latent
    return latent


def cluster_means(latent: np.ndarray, labels: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Each cluster's mean latent; a cluster without cells keeps its row of `fallback`."""
    means = fallback.copy()
    for k in np.unique(labels):
        means[k] = latent[labels == k].mean(axis=0)
    return means


def kmeans_centroids(latent: np.ndarray, n_clusters: int, config: TrainConfig, random_state: int
                     ) -> tuple[np.ndarray, bool]:
    """KMeans on the latent, smoothed as `config` says, and whether it was: smoothed, the centroids are its clusters'
    means on the raw latent, the space new cells are embedded in."""
    with threadpool_limits(limits=config.kmeans_threads):
        clustered = smoothed_latent(latent, config.smoothing_neighbors, config.smoothing_steps)
        kmeans = KMeans(n_clusters=n_clusters, n_init=config.kmeans_starts, random_state=random_state).fit(clustered)
    if clustered is latent:
        return kmeans.cluster_centers_, False
    return cluster_means(latent, kmeans.labels_, kmeans.cluster_centers_), True


def lloyd_centroids(latent: np.ndarray, clustered: np.ndarray, head_labels: np.ndarray, fallback: np.ndarray,
                    seed: int, smoothed: bool) -> np.ndarray:
    """Lloyd steps on `clustered` (the latent, `smoothed` or not) from the head's clusters (an empty one starts at
    `fallback`); smoothed, those clusters' means on the raw latent."""
    start = cluster_means(clustered, head_labels, fallback)
    kmeans = KMeans(n_clusters=len(start), init=start, n_init=1, random_state=seed).fit(clustered)
    return cluster_means(latent, kmeans.labels_, fallback) if smoothed else kmeans.cluster_centers_


def linkage_centroids(latent: np.ndarray, clustered: np.ndarray, fallback: np.ndarray, max_cells: int, seed: int
                      ) -> np.ndarray:
    """Average-linkage clusters of `clustered`, as many as `fallback` has rows, and their means on the raw latent; of
    at most `max_cells` cells drawn at random (its memory grows with the square of the cells)."""
    cells = np.arange(len(latent))
    if len(cells) > max_cells:
        cells = np.sort(np.random.default_rng(seed).choice(len(cells), max_cells, replace=False))
    labels = AgglomerativeClustering(n_clusters=len(fallback), linkage="average").fit_predict(clustered[cells])
    return cluster_means(latent[cells], labels, fallback)


def mixture_centroids(latent: np.ndarray, labels: np.ndarray, fallback: np.ndarray, reg: float, seed: int
                      ) -> np.ndarray:
    """The means of a Gaussian mixture with diagonal covariances fitted by EM on the raw latent from `labels`' clusters
    (each component starting at its cluster's mean, per-dimension variance and share; an empty cluster at its row of
    `fallback`), `reg` of the latent's mean variance added to every variance: each cluster its own spread, where
    K-means' objective gives all one."""
    latent = latent.astype(np.float64)
    spread = latent.var(axis=0)  # a cluster of one cell or none starts with the whole latent's
    reg_covar = reg * spread.mean()
    sizes = np.bincount(labels, minlength=len(fallback))
    variances = np.stack([latent[labels == k].var(axis=0) if sizes[k] > 1 else spread
                          for k in range(len(sizes))]) + reg_covar
    mixture = GaussianMixture(len(sizes), covariance_type="diag", reg_covar=reg_covar, init_params="random_from_data",
                              means_init=cluster_means(latent, labels, fallback),
                              weights_init=(sizes + 1) / (sizes + 1).sum(), precisions_init=1 / variances,
                              random_state=seed)
    return mixture.fit(latent).means_


def final_clusters(latent: np.ndarray, head_labels: np.ndarray, fallback: np.ndarray, seed: int, n_neighbors: int = 0,
                   steps: int = 0, partition: FinalPartition = "lloyd", linkage_cells: int = TrainConfig.linkage_cells,
                   mixture_reg: float = TrainConfig.mixture_reg) -> tuple[np.ndarray, np.ndarray]:
    """Centroids and the labels nearest-centroid assignment gives with them (as embed assigns new cells), from the
    latent averaged over each cell's `n_neighbors` nearest cells `steps` times (0: the raw latent): its clusters by
    Lloyd steps from the head's ("lloyd"), those refined by a Gaussian mixture on the raw latent ("mixture", see
    mixture_centroids) or by average linkage of at most `linkage_cells` cells ("average")."""
    smoothed = smoothed_latent(latent, n_neighbors, steps)
    clustered = smoothed.astype(np.float64)
    if partition == "average":
        centroids = linkage_centroids(latent, clustered, fallback, linkage_cells, seed)
    else:
        centroids = lloyd_centroids(latent, clustered, head_labels, fallback, seed, smoothed is not latent)
    if partition == "mixture":
        lloyd_labels = squared_distances(latent, centroids).argmin(axis=1)
        centroids = mixture_centroids(latent, lloyd_labels, fallback, mixture_reg, seed)
    return squared_distances(latent, centroids).argmin(axis=1), centroids
