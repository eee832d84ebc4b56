"""Embed cells chunk by chunk with a frozen bundle: panel transform -> encoder -> centroids and label head."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from scsmd.bundle import ONNX, ONNX_FP16, ONNX_INT8, TORCHSCRIPT, Bundle
from scsmd.config import EmbedConfig, to_dict
from scsmd.errors import ScsmdError
from scsmd.infer.assign import assign_clusters
from scsmd.infer.encoder import OnnxEncoder, TorchScriptEncoder
from scsmd.infer.label_head import LabelHead
from scsmd.infer.prefetch import prefetch
from scsmd.infer.timing import StageTimer
from scsmd.panel import PanelMatch, logexpr_panel, match_panel, to_inputs

log = logging.getLogger(__name__)

PREFETCH_DEPTH = 2  # chunks read and normalized ahead of the encoder
STAGES = ("read", "normalize", "encode", "assign")
RESULT_COLUMNS = ("scsmd_cluster", "scsmd_confidence", "scsmd_distance", "scsmd_novel", "scsmd_label",
                  "scsmd_label_confidence")  # the obs columns an embedding writes (labels only from a labelled bundle)
UMAP_KEY = "X_scsmd_umap"  # obsm: the latent's UMAP, drawn by `scsmd plot` and `train --plot`
NEIGHBORS_KEY = "scsmd_neighbors"  # uns, and obsp's NEIGHBORS_KEY_distances / _connectivities: that UMAP's graph
DERIVED = {"obsm": (UMAP_KEY,), "uns": (NEIGHBORS_KEY,),
           "obsp": (f"{NEIGHBORS_KEY}_distances", f"{NEIGHBORS_KEY}_connectivities")}  # stale once the latent changes


@dataclass
class EmbedResult:
    """Per-cell results of a frozen-model embedding, plus how it ran."""

    obs_names: list[str]
    latent: np.ndarray  # (n, latent_dim) float32
    clusters: np.ndarray  # (n,) int64
    confidence: np.ndarray  # (n,) float32
    distance: np.ndarray  # (n,) float32
    novel: np.ndarray  # (n,) bool: below the label head's min_confidence, or without a head beyond its cluster's radius
    labels: np.ndarray | None  # (n,) the label head's names, None when the bundle has no head
    label_confidence: np.ndarray | None  # (n,) float32, the head's probability of that name
    backend: str
    provider: str
    precision: str
    match: PanelMatch
    params: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (read and normalize overlap encode)

    def obs(self, bundle: Bundle) -> pd.DataFrame:
        """The obs columns: scsmd_cluster (categorical), confidence, distance, novel; with labels, scsmd_label from the
        label head (and its confidence) or else each cluster's majority label. Novel cells keep their label."""
        categories = [str(k) for k in range(bundle.n_clusters)]
        frame = pd.DataFrame({
            "scsmd_cluster": pd.Categorical(self.clusters.astype(str), categories=categories),
            "scsmd_confidence": self.confidence,
            "scsmd_distance": self.distance,
            "scsmd_novel": self.novel,
        }, index=pd.Index(self.obs_names))
        head, labels = bundle.label_head, bundle.cluster_labels
        if head is not None:
            frame["scsmd_label"] = pd.Categorical(self.labels, categories=list(head.classes))
            frame["scsmd_label_confidence"] = self.label_confidence
        elif labels is not None:
            frame["scsmd_label"] = pd.Categorical(np.asarray(labels, dtype=object)[self.clusters],
                                                  categories=sorted(set(labels)))
        return frame

    def uns(self, bundle: Bundle) -> dict:
        """uns['scsmd']: bundle, backend, provider, gene overlap, parameters and seconds per stage."""
        return {"model": bundle.name, "backend": self.backend, "provider": self.provider, "precision": self.precision,
                "gene_overlap": self.match.overlap, "n_missing_genes": len(self.match.missing),
                "missing_genes": self.match.missing[:20], "params": self.params, "timings": self.timings}


# each reduced precision: its encoder file and the device it is made for
REDUCED_ENCODERS = {"int8": (ONNX_INT8, "cpu"), "fp16": (ONNX_FP16, "cuda")}


def _reduced_missing(bundle: Bundle, precision: str) -> ScsmdError:
    """Why a bundle has no int8 / fp16 model, and what to do."""
    record = bundle.manifest.get("exports", {}).get(precision)
    why = f"its export check failed: {record['reason']}" if record else "it was exported without one"
    return ScsmdError(f"bundle {bundle.path} has no {precision} model ({why}); use --precision auto or fp32, "
                      "or re-run `scsmd export` with a newer scsmd")


def open_encoder(bundle: Bundle, config: EmbedConfig) -> tuple[OnnxEncoder | TorchScriptEncoder, str]:
    """The bundle's exported encoder for the configured backend, provider and precision, and that precision.

    auto: the bundle's checked reduced-precision model made for the device that runs it (fp16 on a GPU, int8 on a
    CPU), else fp32.
    """
    if config.backend == "torchscript":
        return TorchScriptEncoder(bundle.file(TORCHSCRIPT), config.provider, config.n_threads), "fp32"
    if config.precision in REDUCED_ENCODERS:
        name, device = REDUCED_ENCODERS[config.precision]
        if not bundle.has(name):
            raise _reduced_missing(bundle, config.precision)
        encoder = OnnxEncoder(bundle.file(name), config.provider, config.n_threads)
        if encoder.provider != device:
            log.warning("%s is made for %s; on the %s here it is no faster than fp32 (--precision auto picks per device)",
                        config.precision, "a GPU" if device == "cuda" else "a CPU", encoder.provider.upper())
        return encoder, config.precision
    if config.precision == "auto":
        for precision, (name, device) in REDUCED_ENCODERS.items():
            if bundle.has(name) and config.provider in ("auto", device):
                encoder = OnnxEncoder(bundle.file(name), config.provider, config.n_threads)
                if encoder.provider == device:  # one session: the model's own provider says where it runs
                    return encoder, precision
    return OnnxEncoder(bundle.file(ONNX), config.provider, config.n_threads), "fp32"


def _inputs(chunks: Iterable[tuple[Sequence[str], sp.spmatrix]], match: PanelMatch, head: LabelHead | None,
            head_match: PanelMatch | None, bundle: Bundle,
            timer: StageTimer) -> Iterator[tuple[Sequence[str], np.ndarray, np.ndarray | None]]:
    """(cell names, encoder inputs, the label head's gene logits or None) per chunk, timing reading and normalizing
    apart; this runs on the reader thread, beside the encoder."""
    chunks = iter(chunks)
    target_sum, side, scaling = bundle.preprocess["target_sum"], bundle.preprocess["image_side"], bundle.scaling
    try:
        while True:
            with timer("read"):
                chunk = next(chunks, None)
            if chunk is None:
                return
            names, counts = chunk
            with timer("normalize"):
                logexpr = logexpr_panel(counts, match, target_sum=target_sum)
                inputs = to_inputs(logexpr if scaling is None else scaling.apply(logexpr, match), side)
                gene_logits = None if head is None else head.gene_logits(logexpr_panel(counts, head_match,
                                                                                       target_sum=target_sum))
            yield names, inputs, gene_logits
    finally:  # the reader's cleanup (closing its file) runs now, also when the encoder failed
        getattr(chunks, "close", lambda: None)()


def iter_embed(chunks: Iterable[tuple[Sequence[str], sp.spmatrix]], var_names: Sequence[str], bundle: Bundle,
               config: EmbedConfig = EmbedConfig(), on_chunk: Callable[[int], None] | None = None) -> Iterator[EmbedResult]:
    """Each chunk's results as soon as it is embedded, so a caller can write them and keep nothing.

    A background thread reads and normalizes the next chunks while the encoder runs on this one. Every result
    carries the seconds per stage so far (the last one: the totals).
    """
    start = time.perf_counter()
    match = match_panel(list(var_names), bundle.panel, min_overlap=config.min_gene_overlap)
    encoder, precision = open_encoder(bundle, config)
    fallback = " (a CUDA build without a working GPU: falling back to the CPU)" if encoder.fell_back else ""
    log.info("embedding with %s %s on %s, %d threads%s", config.backend, precision, encoder.provider,
             config.n_threads, fallback)
    centroids, fuzzifier, radius = bundle.centroids, bundle.fuzzifier, bundle.novelty_radius
    head = bundle.label_head
    head_match = None if head is None else match_panel(list(var_names), head.genes, min_overlap=config.min_gene_overlap)
    timer = StageTimer(STAGES)
    inputs = _inputs(chunks, match, head, head_match, bundle, timer)
    for chunk_names, cells, gene_logits in prefetch(inputs, PREFETCH_DEPTH):
        with timer("encode"):
            latent = encoder(cells)
        with timer("assign"):
            # with a head, novelty is its confidence: sharper than the radius across batches (bench/README.md)
            assignment = assign_clusters(latent, centroids, fuzzifier, radius if head is None else None)
            labels, label_confidence, novel = None, None, assignment.novel
            if head is not None:
                labels, label_confidence = head.predict(gene_logits, latent)
                novel = label_confidence < head.min_confidence
        if on_chunk is not None:
            on_chunk(len(chunk_names))
        yield EmbedResult(
            obs_names=[str(name) for name in chunk_names], latent=latent, clusters=assignment.clusters,
            confidence=assignment.confidence, distance=assignment.distance, novel=novel,
            labels=labels, label_confidence=label_confidence, backend=config.backend, provider=encoder.provider,
            precision=precision, match=match, params=to_dict(config),
            timings={**timer.seconds, "wall": time.perf_counter() - start},
        )


def embed_chunks(chunks: Iterable[tuple[Sequence[str], sp.spmatrix]], var_names: Sequence[str], bundle: Bundle,
                 config: EmbedConfig = EmbedConfig(), on_chunk: Callable[[int], None] | None = None) -> EmbedResult:
    """All chunks' results in one, in the cells' order (for data already in memory)."""
    parts = list(iter_embed(chunks, var_names, bundle, config, on_chunk))
    if not parts:
        raise ScsmdError("there are no cells to embed; give data with at least one cell")
    return replace(
        parts[-1], obs_names=[name for part in parts for name in part.obs_names],
        **{key: np.concatenate([getattr(part, key) for part in parts])
           for key in ("latent", "clusters", "confidence", "distance", "novel", "labels", "label_confidence")
           if getattr(parts[-1], key) is not None})
