"""The clusters of a latent: KMeans' start and the final partitions, on latents whose answer is known."""
import numpy as np
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_info

from scsmd.config import TrainConfig
from scsmd.train import partition
from scsmd.train.partition import final_clusters


def test_kmeans_runs_on_at_most_kmeans_threads(monkeypatch):
    seen = []

    class Recording(partition.KMeans):
        def fit(self, *args, **kwargs):
            seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp")
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(partition, "KMeans", Recording)
    latent = np.random.default_rng(0).normal(size=(240, 10))
    partition.kmeans_centroids(latent, 3, TrainConfig(kmeans_threads=1), random_state=0)
    assert seen and max(seen) == 1


def test_final_clusters_run_lloyd_on_the_latent_the_start_was_clustered_on():
    latent = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    head = np.array([0, 0, 0, 1, 1])
    labels, centroids = final_clusters(latent, head, np.zeros((2, 1)), seed=0)
    np.testing.assert_allclose(centroids, [[1.5], [10.0]])  # Lloyd's fixed point on the raw latent
    np.testing.assert_array_equal(labels, [0, 0, 0, 0, 1])
    latent = np.array([[0.0], [0.5], [1.0], [1.7], [3.0], [3.1], [3.2]])
    head = np.array([0, 0, 0, 1, 1, 1, 1])
    labels, centroids = final_clusters(latent, head, np.zeros((2, 1)), seed=0)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1, 1, 1])  # on the raw latent 1.7 stays with 3.0-3.2
    np.testing.assert_allclose(centroids, [[0.5], [2.75]])
    labels, centroids = final_clusters(latent, head, np.zeros((2, 1)), seed=0, n_neighbors=3, steps=1)
    np.testing.assert_array_equal(labels, [0, 0, 0, 0, 1, 1, 1])  # averaged with its neighbours 1.0 and 0.5, it moves
    np.testing.assert_allclose(centroids, [[0.8], [3.1]])  # the smoothed clusters' means on the raw latent


def test_final_clusters_by_average_linkage_keep_a_wide_group_whole_and_a_far_pair_apart():
    # a 7x7 grid of cells and a tight pair 6 above its edge: K-means' objective (and Lloyd from a head that splits
    # the grid) cuts the grid in two; average linkage keeps it whole and gives the pair its cluster
    grid = [[float(x), float(y)] for x in range(-3, 4) for y in range(-3, 4)]
    latent = np.array(grid + [[0.0, 9.0], [0.2, 9.0]])
    head = (latent[:, 1] > 0).astype(int)
    lloyd, _ = final_clusters(latent, head, np.zeros((2, 2)), seed=0)
    assert len(set(lloyd[:49])) == 2
    labels, centroids = final_clusters(latent, head, np.zeros((2, 2)), seed=0, partition="average")
    np.testing.assert_array_equal(labels, [labels[0]] * 49 + [1 - labels[0]] * 2)
    np.testing.assert_allclose(centroids[labels[[0, -1]]], [[0.0, 0.0], [0.1, 9.0]])  # their means on the raw latent
    sampled, centroids = final_clusters(latent, head, np.zeros((2, 2)), seed=0, partition="average", linkage_cells=20)
    d = ((latent[:, None, :] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d.argmin(1), sampled)  # past linkage_cells: a sample's clusters, every cell assigned


def test_final_clusters_by_mixture_give_a_wide_group_and_a_tight_one_their_own_means():
    # a wide group (sd 2) beside a tight one (sd 0.2) 5 away: K-means cuts the wide group's tail off to the tight
    # cluster, pulling both centroids towards each other; the mixture gives each cluster its own spread and mean
    rng = np.random.default_rng(0)
    latent = np.concatenate([rng.normal(0, 2, (400, 2)), rng.normal(0, 0.2, (100, 2)) + [5, 0]])
    truth = np.repeat([0, 1], [400, 100])
    head = (latent[:, 0] > 2.5).astype(int)
    lloyd, lloyd_centroids = final_clusters(latent, head, np.zeros((2, 2)), seed=0)
    assert np.abs(lloyd_centroids - [[0, 0], [5, 0]]).max() > 1
    labels, centroids = final_clusters(latent, head, np.zeros((2, 2)), seed=0, partition="mixture")
    np.testing.assert_allclose(centroids, [[0, 0], [5, 0]], atol=0.2)
    d = ((latent[:, None, :] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(d.argmin(1), labels)  # nearest-centroid, as embed assigns
    assert adjusted_rand_score(truth, labels) > adjusted_rand_score(truth, lloyd) + 0.2
