"""Fit the label head after clustering, on the reference's labels; the clustering never sees a label."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from scsmd.infer.label_head import LabelHead, scale_features


def fit_label_head(logexpr: np.ndarray, latent: np.ndarray, labels: np.ndarray, genes: Sequence[str],
                   c: float) -> LabelHead:
    """Logistic regression (inverse regularization `c`; CellTypist's default is 1) on the scaled [genes, latent]."""
    stacked = np.hstack([logexpr, latent], dtype=np.float64)
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-8
    classifier = LogisticRegression(C=c, max_iter=2000)
    classifier.fit(scale_features(stacked, mean, scale), np.asarray(labels).astype(str))
    return LabelHead(tuple(str(k) for k in classifier.classes_), tuple(genes), mean, scale,
                     classifier.coef_.T.astype(np.float64), classifier.intercept_.astype(np.float64))
