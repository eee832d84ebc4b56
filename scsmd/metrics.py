"""Clustering scores against reference labels: ARI, NMI and Hungarian-matched accuracy (no torch)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def hungarian_accuracy(truth: Sequence, predicted: Sequence) -> float:
    """Accuracy after matching predicted clusters to labels one-to-one so that matches are maximal."""
    table = pd.crosstab(pd.Series(np.asarray(predicted)), pd.Series(np.asarray(truth))).to_numpy()
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
