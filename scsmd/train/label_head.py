"""Fit the label head after clustering, on the reference's labels; the clustering never sees a label."""
from __future__ import annotations

import logging
import warnings
from typing import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from scsmd.config import ModelConfig
from scsmd.infer.label_head import LabelHead, scale_features

CONFIDENCE_FOLDS = 5  # folds of the out-of-fold probabilities that set the head's novelty threshold

log = logging.getLogger(__name__)


def out_of_fold_confidence(features: np.ndarray, labels: np.ndarray, classifier: LogisticRegression,
                           seed: int) -> np.ndarray | None:
    """Each reference cell's top probability from a head that never saw it: what a known cell scores at embed time
    (a head's confidence on its own training cells is near one). None when no split leaves two types to learn from."""
    n_folds = min(CONFIDENCE_FOLDS, int(np.sort(np.unique(labels, return_counts=True)[1])[-2]))
    if n_folds < 2:  # every type but one has a single cell: some fold would train on one type alone
        return None
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a type with fewer cells than folds is missing from some folds: allowed
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        warnings.filterwarnings("ignore", message="Number of classes in training fold", category=RuntimeWarning)
        probabilities = cross_val_predict(classifier, features, labels, cv=folds, method="predict_proba")
    return probabilities.max(axis=1)


def latent_weights(config: ModelConfig) -> np.ndarray:
    """Each latent column's weight in the head: 1 for the image block, 1 / m for each of m dense members' columns.
    The members are m draws of one encoding; at full weight the L2-regularized head leans on them m times over and
    grows surer of cell types it never saw (two members: novelty AUC of delta 0.885 -> 0.919; bench/README.md)."""
    if not config.dense_genes:
        return np.ones(config.latent_dim)
    dense = np.full(config.dense_members * config.dense_latent_dim, 1 / config.dense_members)
    return np.concatenate([np.ones(config.latent_dim), dense])


def fit_label_head(logexpr: np.ndarray, latent: np.ndarray, labels: np.ndarray, genes: Sequence[str], c: float, *,
                   novelty_quantile: float, seed: int, weights: np.ndarray | None = None) -> LabelHead:
    """Logistic regression (inverse regularization `c`; CellTypist's default is 1) on the scaled [genes, latent], the
    latent's columns times `weights` (latent_weights; folded into the saved coefficients); cells it is less sure of
    than (1 - novelty_quantile) of the reference's own cells, scored out of fold, are novel."""
    stacked = np.hstack([logexpr, latent], dtype=np.float64)
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-8
    columns = np.concatenate([np.ones(logexpr.shape[1]), np.ones(latent.shape[1]) if weights is None else weights])
    features, labels = scale_features(stacked, mean, scale) * columns, np.asarray(labels).astype(str)
    classifier = LogisticRegression(C=c, max_iter=2000)
    confidence = out_of_fold_confidence(features, labels, classifier, seed)
    if confidence is None:
        log.warning("every label but one has a single cell, too few to set the label head's novelty threshold; "
                    "scsmd_novel will flag no cell")
    min_confidence = 0.0 if confidence is None else float(np.quantile(confidence, 1 - novelty_quantile))
    classifier.fit(features, labels)
    return LabelHead(tuple(str(k) for k in classifier.classes_), tuple(genes), mean, scale,
                     classifier.coef_.T * columns[:, None], classifier.intercept_.astype(np.float64), min_confidence)
