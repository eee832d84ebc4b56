"""The one per-cell transform shared by training and inference: counts -> log-normalized panel -> encoder input
(a 28x28 image, and the dense branch's genes past it)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from scsmd.errors import ScsmdError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PanelMatch:
    """Where each panel gene sits in the input's columns (-1: missing)."""

    columns: np.ndarray  # (n_panel,) int64
    panel: tuple[str, ...]

    @property
    def n_found(self) -> int:
        """Panel genes present in the input."""
        return int((self.columns >= 0).sum())

    @property
    def overlap(self) -> float:
        """Fraction of the panel present in the input."""
        return self.n_found / len(self.panel)

    @property
    def missing(self) -> list[str]:
        """Panel genes absent from the input, in panel order."""
        return [g for g, c in zip(self.panel, self.columns) if c < 0]


def match_panel(var_names: Sequence[str], panel: Sequence[str], *, min_overlap: float = 0.0) -> PanelMatch:
    """Match genes to the panel by name, never by position; refuse an overlap below `min_overlap`."""
    position: dict[str, int] = {}
    repeated: set[str] = set()
    for i, name in enumerate(var_names):  # a repeated name keeps its first column, as var_names_make_unique does
        if name in position:
            repeated.add(name)
        else:
            position[name] = i
    columns = np.array([position.get(g, -1) for g in panel], dtype=np.int64)
    match = PanelMatch(columns, tuple(panel))
    repeated_in_panel = [g for g in panel if g in repeated]
    if repeated_in_panel:
        log.warning("%d panel genes name more than one input column; each one's first column is used (first: %s)",
                    len(repeated_in_panel), ", ".join(repeated_in_panel[:5]))
    if match.n_found == 0:
        raise ScsmdError(f"none of the model's {len(panel)} panel genes (e.g. {', '.join(panel[:3])}) is in the input; "
                         "check that gene names use the same convention (symbols vs ids)")
    if match.overlap < min_overlap:
        raise ScsmdError(f"only {match.n_found} of {len(panel)} panel genes ({match.overlap:.0%}) are in the input, below the "
                         f"minimum overlap {min_overlap:.0%}; check gene names or lower --min-gene-overlap")
    if match.missing:
        log.warning("%d of %d panel genes are missing and set to zero (first: %s)", len(match.missing), len(panel),
                    ", ".join(match.missing[:5]))
    return match


def library_sizes(counts: sp.spmatrix | np.ndarray) -> np.ndarray:
    """Total counts per cell over all of its genes (float64)."""
    return np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()


def logexpr_panel(counts: sp.spmatrix | np.ndarray, match: PanelMatch, *, target_sum: float = 1e4) -> np.ndarray:
    """log1p(counts / library * target_sum) of the panel genes, missing genes and empty cells zero; (n, n_panel) float32."""
    counts = sp.csr_matrix(counts)
    library = library_sizes(counts)
    scale = np.divide(target_sum, library, out=np.zeros(counts.shape[0]), where=library > 0)
    present = match.columns >= 0
    sub = counts[:, match.columns[present]]  # zeros stay sparse until the end
    values = np.log1p(sub.data.astype(np.float64) * np.repeat(scale, np.diff(sub.indptr))).astype(np.float32)
    in_panel = np.flatnonzero(present)[sub.indices]  # each found gene's column in the panel
    return sp.csr_matrix((values, in_panel, sub.indptr), shape=(counts.shape[0], len(match.panel))).toarray()


@dataclass(frozen=True)
class PanelScaling:
    """Per-gene standardization of the log panel with the training cells' mean and sd (sc.pp.scale, clipped)."""

    mean: np.ndarray  # (n_panel,) float32
    std: np.ndarray  # (n_panel,) float32, 1 where a gene was constant
    max_value: float

    @classmethod
    def fit(cls, logexpr: np.ndarray, max_value: float) -> "PanelScaling":
        """Mean and sd (ddof 1, as scanpy) of each gene over the training cells."""
        values = logexpr.astype(np.float64)
        std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(values.shape[1])
        return cls(values.mean(axis=0).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32), max_value)

    def apply(self, logexpr: np.ndarray, match: PanelMatch) -> np.ndarray:
        """(x - mean) / sd clipped to +-max_value; a gene missing from the input sits at its training mean (0)."""
        scaled = np.clip((logexpr - self.mean) / self.std, -self.max_value, self.max_value).astype(np.float32)
        scaled[:, match.columns < 0] = 0.0
        return scaled


def to_inputs(logexpr: np.ndarray, side: int = 28) -> np.ndarray:
    """The encoder's flat input: the first side * side panel genes row by row form the image (zero-padded when the
    panel is shorter), the genes past them follow for the dense branch; (n, max(side * side, n_genes)) float32."""
    n_cells, n_genes = logexpr.shape
    inputs = np.zeros((n_cells, max(side * side, n_genes)), dtype=np.float32)
    inputs[:, :n_genes] = logexpr
    return inputs
