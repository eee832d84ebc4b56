"""Fit the label head on the frozen latent after clustering; the clustering never sees a label."""
from __future__ import annotations

import numpy as np
from sklearn.neural_network import MLPClassifier

from scsmd.infer.label_head import LabelHead


def fit_label_head(latent: np.ndarray, labels: np.ndarray, hidden: tuple[int, ...], seed: int) -> LabelHead:
    """A ReLU MLP (`hidden` widths; none = logistic regression) from the standardized latent to the labels."""
    mean = latent.mean(axis=0).astype(np.float64)
    scale = latent.std(axis=0).astype(np.float64) + 1e-8
    classifier = MLPClassifier(hidden_layer_sizes=hidden, alpha=1e-3, max_iter=2000, random_state=seed)
    classifier.fit((latent - mean) / scale, np.asarray(labels).astype(str))
    return LabelHead(tuple(str(c) for c in classifier.classes_), mean, scale,
                     tuple(w.astype(np.float64) for w in classifier.coefs_),
                     tuple(b.astype(np.float64) for b in classifier.intercepts_))
