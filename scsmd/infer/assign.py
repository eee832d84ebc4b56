"""Fuzzy memberships, clusters, confidence and novelty from the saved centroids (numpy only)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

QUANTILES = (0.5, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class Assignment:
    """Per-cell results of assigning latents to centroids."""

    clusters: np.ndarray  # (n,) int64, nearest centroid
    confidence: np.ndarray  # (n,) float32, fuzzy membership of that cluster
    distance: np.ndarray  # (n,) float32, Euclidean distance to it
    novel: np.ndarray  # (n,) bool, beyond the cluster's novelty radius


def squared_distances(latent: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """||latent_j - centroid_i||^2 as (n_cells, n_clusters) float64."""
    latent = latent.astype(np.float64)
    d = (latent**2).sum(1)[:, None] - 2 * latent @ centroids.T + (centroids**2).sum(1)[None]
    return np.maximum(d, 0.0)


def _memberships(d2: np.ndarray, fuzzifier: float) -> np.ndarray:
    """Fuzzy c-means memberships proportional to d^(-1/(m-1)) from squared distances, rows summing to one."""
    return softmax(-np.log(d2 + 1e-12) / (fuzzifier - 1), axis=1)


def assign_clusters(latent: np.ndarray, centroids: np.ndarray, fuzzifier: float,
                    novelty_radius: np.ndarray | None = None) -> Assignment:
    """Nearest centroid, its membership as confidence, the distance, and the novelty flag."""
    d2 = squared_distances(latent, centroids)
    clusters = d2.argmin(axis=1)
    probs = _memberships(d2, fuzzifier)
    rows = np.arange(len(clusters))
    distance = np.sqrt(d2[rows, clusters])
    novel = distance > novelty_radius[clusters] if novelty_radius is not None else np.zeros(len(clusters), bool)
    return Assignment(clusters, probs[rows, clusters].astype(np.float32), distance.astype(np.float32), novel)


def distance_quantiles(latent: np.ndarray, clusters: np.ndarray, centroids: np.ndarray,
                       quantiles: tuple[float, ...] = QUANTILES) -> dict[str, list[float]]:
    """Per-cluster quantiles of the training cells' distances to their centroid, keyed by quantile."""
    distance = np.sqrt(squared_distances(latent, centroids)[np.arange(len(clusters)), clusters])
    out: dict[str, list[float]] = {}
    for q in quantiles:
        out[str(q)] = [float(np.quantile(distance[clusters == k], q)) if (clusters == k).any() else 0.0
                       for k in range(len(centroids))]
    return out
