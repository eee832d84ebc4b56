"""Embed cells chunk by chunk with a frozen bundle: panel transform -> encoder -> centroid assignment."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scsmd.bundle import ONNX, TORCHSCRIPT, Bundle
from scsmd.config import EmbedConfig
from scsmd.infer.assign import assign_clusters
from scsmd.infer.encoder import OnnxEncoder, TorchScriptEncoder
from scsmd.panel import PanelMatch, logexpr_panel, match_panel, to_image

log = logging.getLogger(__name__)

@dataclass
class EmbedResult:
    """Per-cell results of a frozen-model embedding, plus how it ran."""

    obs_names: list[str]
    latent: np.ndarray  # (n, latent_dim) float32
    clusters: np.ndarray  # (n,) int64
    confidence: np.ndarray  # (n,) float32
    distance: np.ndarray  # (n,) float32
    novel: np.ndarray  # (n,) bool
    backend: str
    provider: str
    match: PanelMatch
    info: dict = field(default_factory=dict)

    def obs(self, bundle: Bundle) -> pd.DataFrame:
        """The obs columns: scsmd_cluster (categorical), confidence, distance, novel; with labels, scsmd_label from the
        label head (and its confidence) or else each cluster's majority label. Novel cells keep their nearest label."""
        categories = [str(k) for k in range(bundle.n_clusters)]
        frame = pd.DataFrame({
            "scsmd_cluster": pd.Categorical(self.clusters.astype(str), categories=categories),
            "scsmd_confidence": self.confidence,
            "scsmd_distance": self.distance,
            "scsmd_novel": self.novel,
        }, index=pd.Index(self.obs_names))
        head, labels = bundle.label_head, bundle.cluster_labels
        if head is not None:
            names, confidence = head.predict(self.latent)
            frame["scsmd_label"] = pd.Categorical(names, categories=list(head.classes))
            frame["scsmd_label_confidence"] = confidence
        elif labels is not None:
            frame["scsmd_label"] = pd.Categorical(np.asarray(labels, dtype=object)[self.clusters],
                                                  categories=sorted(set(labels)))
        return frame

    def uns(self, bundle: Bundle) -> dict:
        """uns['scsmd']: bundle, backend, provider and gene overlap."""
        return {"model": bundle.name, "backend": self.backend, "provider": self.provider,
                "gene_overlap": self.match.overlap, "n_missing_genes": len(self.match.missing),
                "missing_genes": self.match.missing[:20], **self.info}


def open_encoder(bundle: Bundle, config: EmbedConfig) -> OnnxEncoder | TorchScriptEncoder:
    """The bundle's exported encoder for the configured backend and provider."""
    if config.backend == "torchscript":
        return TorchScriptEncoder(bundle.file(TORCHSCRIPT), config.provider)
    return OnnxEncoder(bundle.file(ONNX), config.provider)


def embed_chunks(chunks: Iterable[tuple[Sequence[str], sp.spmatrix]], var_names: Sequence[str], bundle: Bundle,
                 config: EmbedConfig = EmbedConfig(), on_chunk: Callable[[int], None] | None = None) -> EmbedResult:
    """Embed and assign (cell names, counts) chunks; only per-cell results are kept, so memory stays flat."""
    match = match_panel(list(var_names), bundle.panel, min_overlap=config.min_gene_overlap)
    encoder = open_encoder(bundle, config)
    log.info("embedding with %s on %s", config.backend, encoder.provider)
    preprocess = bundle.preprocess
    centroids, fuzzifier, radius = bundle.centroids, bundle.fuzzifier, bundle.novelty_radius
    names: list[str] = []
    latents, assignments = [], []
    for chunk_names, counts in chunks:
        images = to_image(logexpr_panel(counts, match, target_sum=preprocess["target_sum"]), preprocess["image_side"])
        latent = encoder(images)
        latents.append(latent)
        assignments.append(assign_clusters(latent, centroids, fuzzifier, radius))
        names.extend(map(str, chunk_names))
        if on_chunk is not None:
            on_chunk(len(chunk_names))
    return EmbedResult(
        obs_names=names,
        latent=np.concatenate(latents),
        clusters=np.concatenate([a.clusters for a in assignments]),
        confidence=np.concatenate([a.confidence for a in assignments]),
        distance=np.concatenate([a.distance for a in assignments]),
        novel=np.concatenate([a.novel for a in assignments]),
        backend=config.backend, provider=encoder.provider, match=match,
    )
