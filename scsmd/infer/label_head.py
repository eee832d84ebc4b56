"""The label head: a small classifier on the frozen latent that names new cells (numpy only at inference)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import softmax


@dataclass(frozen=True)
class LabelHead:
    """Standardize the latent, then dense layers with ReLU between them, softmax over `classes`."""

    classes: tuple[str, ...]
    mean: np.ndarray  # (latent_dim,)
    scale: np.ndarray  # (latent_dim,)
    weights: tuple[np.ndarray, ...]  # layer i: (fan_in, fan_out)
    biases: tuple[np.ndarray, ...]

    def probabilities(self, latent: np.ndarray) -> np.ndarray:
        """(n, n_classes) class probabilities of each cell."""
        hidden = (latent.astype(np.float64) - self.mean) / self.scale
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            hidden = hidden @ weight + bias
            if i < len(self.weights) - 1:
                hidden = np.maximum(hidden, 0.0)
        if hidden.shape[1] == 1:  # a binary classifier's single logit is class 1 against class 0
            hidden = np.concatenate([np.zeros_like(hidden), hidden], axis=1)
        return softmax(hidden, axis=1)

    def predict(self, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each cell's most probable label and that probability."""
        probs = self.probabilities(latent)
        best = probs.argmax(axis=1)
        return np.asarray(self.classes, dtype=object)[best], probs[np.arange(len(best)), best].astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the head as an .npz (no pickle)."""
        layers = {f"weight_{i}": w for i, w in enumerate(self.weights)} | {f"bias_{i}": b for i, b in enumerate(self.biases)}
        with open(path, "wb") as handle:
            np.savez(handle, classes=np.asarray(self.classes, dtype=str), mean=self.mean, scale=self.scale, **layers)

    @classmethod
    def load(cls, path: Path) -> "LabelHead":
        """Read a head written by `save`."""
        with np.load(path, allow_pickle=False) as f:
            n_layers = sum(1 for key in f.files if key.startswith("weight_"))
            return cls(tuple(str(c) for c in f["classes"]), f["mean"], f["scale"],
                       tuple(f[f"weight_{i}"] for i in range(n_layers)), tuple(f[f"bias_{i}"] for i in range(n_layers)))
