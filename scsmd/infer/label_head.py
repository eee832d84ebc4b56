"""The label head: CellTypist's model (logistic regression on scaled log-normalized genes) with the frozen latent
beside the genes, so that new cells are named from both (numpy only at inference)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import softmax

from scsmd.errors import ScsmdError

CLIP = 10.0  # scaled features are clipped to +-CLIP, as scanpy's and CellTypist's scaling do


def scale_features(values: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(values - mean) / scale clipped to +-CLIP, in one float64 copy (a chunk's genes are the head's largest array)."""
    scaled = np.array(values, dtype=np.float64)
    scaled -= mean
    scaled /= scale
    return np.clip(scaled, -CLIP, CLIP, out=scaled)


@dataclass(frozen=True)
class LabelHead:
    """Standardize [head genes, latent] with the reference's mean and sd, clip, then a softmax-linear layer; the genes'
    logits and the latent's are summed, so the genes' part runs on the reader thread."""

    classes: tuple[str, ...]
    genes: tuple[str, ...]  # the reference's highly variable genes the head reads, log-normalized
    mean: np.ndarray  # (n_genes + latent_dim,)
    scale: np.ndarray  # (n_genes + latent_dim,)
    weight: np.ndarray  # (n_genes + latent_dim, n_classes), or one column for two classes
    bias: np.ndarray  # (n_classes,) or (1,)
    min_confidence: float  # a top probability below this marks a cell novel: no known type fits it

    def gene_logits(self, logexpr: np.ndarray) -> np.ndarray:
        """The genes' share of the logits, (n, n_logits): computable before the latent, beside the encoder."""
        n_genes = len(self.genes)
        return scale_features(logexpr, self.mean[:n_genes], self.scale[:n_genes]) @ self.weight[:n_genes]

    def probabilities(self, gene_logits: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """(n, n_classes) class probabilities of each cell from its genes' logits and its latent."""
        n_genes = len(self.genes)
        logits = gene_logits + scale_features(latent, self.mean[n_genes:], self.scale[n_genes:]) @ self.weight[n_genes:]
        logits += self.bias
        if logits.shape[1] == 1:  # a binary classifier's single logit is class 1 against class 0
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)
        return softmax(logits, axis=1)

    def predict(self, gene_logits: np.ndarray, latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each cell's most probable label and that probability."""
        probs = self.probabilities(gene_logits, latent)
        best = probs.argmax(axis=1)
        return np.asarray(self.classes, dtype=object)[best], probs[np.arange(len(best)), best].astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the head as an .npz (no pickle)."""
        with open(path, "wb") as handle:
            np.savez(handle, classes=np.asarray(self.classes, dtype=str), genes=np.asarray(self.genes, dtype=str),
                     mean=self.mean, scale=self.scale, weight=self.weight, bias=self.bias,
                     min_confidence=self.min_confidence)

    @classmethod
    def load(cls, path: Path) -> "LabelHead":
        """Read a head written by `save`."""
        with np.load(path, allow_pickle=False) as f:
            if not {"genes", "min_confidence"} <= set(f.files):
                raise ScsmdError(f"{path} is a label head from an older scsmd (without its gene list or novelty "
                                 "threshold); retrain the bundle with --label-key")
            return cls(tuple(str(c) for c in f["classes"]), tuple(str(g) for g in f["genes"]), f["mean"], f["scale"],
                       f["weight"], f["bias"], float(f["min_confidence"]))
