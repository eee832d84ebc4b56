import numpy as np

from scsmd.metrics import hungarian_accuracy, score_clusters


def test_relabelled_perfect_clustering_scores_one():
    truth = np.array(["a", "a", "b", "b", "c"])
    scores = score_clusters(truth, [2, 2, 0, 0, 1])
    assert scores == {"ari": 1.0, "nmi": 1.0, "acc": 1.0}


def test_accuracy_counts_the_best_one_to_one_matching():
    assert hungarian_accuracy(["a", "a", "a", "b"], [0, 0, 1, 1]) == 0.75
