"""Clustering scores against reference labels: ARI, NMI and Hungarian-matched accuracy (no torch)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def contingency(truth: Sequence, predicted: Sequence) -> pd.DataFrame:
    """Cells of each label (rows) in each cluster (columns), each cluster placed under the label most of its cells
    carry (larger clusters first): a type split over clusters shows as one row over several columns, types merged as
    one column over several rows, and a clustering that agrees with the labels as a diagonal."""
    table = pd.crosstab(pd.Series(np.asarray(truth), name="label"), pd.Series(np.asarray(predicted), name="cluster"))
    counts = table.to_numpy()
    return table.iloc[:, np.lexsort((-counts.max(axis=0), counts.argmax(axis=0)))]


def hungarian_accuracy(truth: Sequence, predicted: Sequence) -> float:
    """Accuracy after matching predicted clusters to labels one-to-one so that matches are maximal."""
    table = contingency(truth, predicted).to_numpy()
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / table.sum())


def score_clusters(truth: Sequence, predicted: Sequence) -> dict[str, float]:
    """ARI, NMI and ACC of predicted clusters against true labels."""
    truth, predicted = np.asarray(truth).astype(str), np.asarray(predicted).astype(str)
    return {
        "ari": float(adjusted_rand_score(truth, predicted)),
        "nmi": float(normalized_mutual_info_score(truth, predicted)),
        "acc": hungarian_accuracy(truth, predicted),
    }
