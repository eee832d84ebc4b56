import numpy as np

from scsmd.metrics import contingency, hungarian_accuracy, labelled, score_clusters


def test_relabelled_perfect_clustering_scores_one():
    truth = np.array(["a", "a", "b", "b", "c"])
    scores = score_clusters(truth, [2, 2, 0, 0, 1])
    assert scores == {"ari": 1.0, "nmi": 1.0, "acc": 1.0}


def test_accuracy_counts_the_best_one_to_one_matching():
    assert hungarian_accuracy(["a", "a", "a", "b"], [0, 0, 1, 1]) == 0.75


def test_contingency_places_each_cluster_under_its_majority_label_larger_first():
    truth = ["a"] * 5 + ["b"] * 4 + ["c"] * 2
    clusters = [1, 1, 1, 4, 4, 0, 0, 2, 4, 3, 3]  # a split over 1 and 4, b over 0 and 2 (and one cell in 4)
    table = contingency(truth, clusters)
    assert list(table.index) == ["a", "b", "c"]
    assert list(table.columns) == [1, 4, 0, 2, 3]
    assert table.loc["b", 4] == 1 and table.to_numpy().sum() == len(truth)
    assert hungarian_accuracy(truth, clusters) == 7 / 11


def test_cells_without_a_label_are_left_out_of_scores_and_table():
    truth = np.array(["a", "a", None, "b", "b", ""], dtype=object)
    clusters = [0, 0, 0, 1, 1, 0]
    assert score_clusters(truth, clusters) == {"ari": 1.0, "nmi": 1.0, "acc": 1.0}  # 'nan' would be a third class
    assert contingency(truth, clusters).to_numpy().sum() == 4
    assert list(labelled(np.array([1.0, np.nan]))) == [True, False]
