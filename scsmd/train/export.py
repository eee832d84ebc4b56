"""Export the encoder to ONNX and TorchScript, each gated by a parity check against PyTorch on real cells."""
from __future__ import annotations

import logging
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from scsmd.bundle import ONNX, ONNX_FP16, ONNX_INT8, REFERENCE_CELLS, TORCHSCRIPT, Bundle
from scsmd.config import ExportConfig
from scsmd.errors import ScsmdError
from scsmd.infer.assign import assign_clusters
from scsmd.infer.encoder import OnnxEncoder, TorchScriptEncoder
from scsmd.train.bundle_io import load_model_weights
from scsmd.train.quantize import gate_convs, prepare, quantize_nodes
from scsmd.train.simplify import simplify_encoder

log = logging.getLogger(__name__)

SPEED_REPEATS = 3  # a reduced-precision model and fp32 timed alternately on the reference cells, best of these


def export_onnx(encoder: torch.nn.Module, path: Path, opset: int, n_inputs: int) -> None:
    """Write the encoder as ONNX with input `x` (n, n_inputs), output `latent`, dynamic batch axis."""
    example = torch.zeros(2, n_inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(encoder, (example,), str(path), input_names=["x"], output_names=["latent"],
                          dynamic_axes={"x": {0: "n_cells"}, "latent": {0: "n_cells"}}, opset_version=opset,
                          dynamo=False)


def _export_torchscript(encoder: torch.nn.Module, path: Path, n_inputs: int) -> None:
    """Write the encoder as a traced TorchScript module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(encoder, torch.zeros(2, n_inputs)).save(str(path))


def parity(expected: np.ndarray, actual: np.ndarray, centroids: np.ndarray, fuzzifier: float) -> dict[str, float]:
    """Max |latent diff| and the fraction of cells whose nearest centroid is the same."""
    agreement = float((assign_clusters(expected, centroids, fuzzifier).clusters
                       == assign_clusters(actual, centroids, fuzzifier).clusters).mean())
    return {"max_abs_diff": float(np.abs(expected - actual).max()), "cluster_agreement": agreement,
            "n_cells_checked": int(len(expected))}


def check_parity(expected: np.ndarray, actual: np.ndarray, centroids: np.ndarray, fuzzifier: float,
                 config: ExportConfig, what: str) -> dict[str, float]:
    """Shape, then max |diff| <= atol, then nearest-centroid agreement; raise ScsmdError on failure."""
    if expected.shape != actual.shape:
        raise ScsmdError(f"{what} export gives latent shape {actual.shape}, PyTorch {expected.shape}; export not written")
    figures = parity(expected, actual, centroids, fuzzifier)
    max_diff, agreement = figures["max_abs_diff"], figures["cluster_agreement"]
    if max_diff > config.atol or agreement < config.min_agreement:
        raise ScsmdError(f"{what} export fails its check (max |diff| {max_diff:.2e} > {config.atol:.0e} or cluster "
                         f"agreement {agreement:.2%} < {config.min_agreement:.0%}); export not written")
    return figures


def _speed_ratio(fast: OnnxEncoder, slow: OnnxEncoder, cells: np.ndarray) -> float:
    """Throughput of `fast` over `slow` on the same cells, best of alternating runs."""
    best = {id(fast): float("inf"), id(slow): float("inf")}
    for _ in range(SPEED_REPEATS):
        for encoder in (fast, slow):
            start = time.perf_counter()
            encoder(cells)
            best[id(encoder)] = min(best[id(encoder)], time.perf_counter() - start)
    return best[id(slow)] / best[id(fast)]


def _label_agreement(bundle: Bundle, expected: np.ndarray, actual: np.ndarray) -> float | None:
    """Fraction of cells given the same cluster label, where the bundle has labels."""
    if bundle.cluster_labels is None:
        return None
    labels = np.asarray(bundle.cluster_labels, dtype=object)
    clusters = [assign_clusters(latent, bundle.centroids, bundle.fuzzifier).clusters for latent in (expected, actual)]
    return float((labels[clusters[0]] == labels[clusters[1]]).mean())


def export_int8(bundle: Bundle, onnx_path: Path, cells: np.ndarray, folder: Path,
                config: ExportConfig) -> tuple[Path | None, dict[str, Any]]:
    """Quantize the gates of the first k stages, k from all of them down, checking each against fp32, and keep the
    first that agrees: the most int8 work that keeps the clusters, chosen without a timing, so two exports of one
    bundle ship the same file (a one-thread speed ratio moves by 0.2-0.4 between runs).

    Returns the int8 model's path (None when no variant reaches ``config.reduced_min_agreement``) and its report.
    """
    fp32 = OnnxEncoder(onnx_path, provider="cpu", n_threads=1)
    expected = fp32(cells)
    gates = gate_convs(onnx_path)
    prepared = folder / "int8_prepared.onnx"
    prepare(onnx_path, prepared)
    tried, best = [], None
    for k in range(len(gates), 0, -1):
        path = folder / f"int8_{k}.onnx"
        quantize_nodes(prepared, path, cells, [name for gate in gates[:k] for name in gate], config.int8_calibration)
        int8 = OnnxEncoder(path, provider="cpu", n_threads=1)
        actual = int8(cells)
        figures = {"quantized_gates": k, **parity(expected, actual, bundle.centroids, bundle.fuzzifier),
                   "label_agreement": _label_agreement(bundle, expected, actual),
                   "speed_ratio": _speed_ratio(int8, fp32, cells)}
        tried.append(figures)
        if figures["cluster_agreement"] >= config.reduced_min_agreement:
            best = (path, figures)
            break
    common = {"calibration": config.int8_calibration, "min_agreement": config.reduced_min_agreement,
              "threads": 1, "n_gates": len(gates), "tried": tried}
    if best is None:
        top = max((t["cluster_agreement"] for t in tried), default=0.0)
        reason = (f"no int8 variant kept {config.reduced_min_agreement:.0%} of nearest-centroid clusters of fp32 "
                  f"(best {top:.2%}); fp32 stays the CPU model")
        return None, {"shipped": False, "reason": reason, **common}
    return best[0], {"shipped": True, "file": ONNX_INT8, **best[1], **common}


def export_fp16(bundle: Bundle, onnx_path: Path, cells: np.ndarray, folder: Path,
                config: ExportConfig) -> tuple[Path | None, dict[str, Any]]:
    """Cast the encoder's weights and activations to fp16 (its input and output stay fp32) for GPUs; check it against
    fp32 where onnxruntime runs it here (a CPU computes fp16 nodes through casts, so it checks the rounding only).

    Returns the fp16 model's path (None when it keeps fewer than ``config.reduced_min_agreement`` of the fp32
    clusters) and its report.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    path = folder / ONNX_FP16
    onnx.save(convert_float_to_float16(onnx.load(str(onnx_path)), keep_io_types=True), str(path))
    fp32, fp16 = OnnxEncoder(onnx_path), OnnxEncoder(path)
    expected, actual = fp32(cells), fp16(cells)
    figures = {**parity(expected, actual, bundle.centroids, bundle.fuzzifier),
               "label_agreement": _label_agreement(bundle, expected, actual),
               "speed_ratio": _speed_ratio(fp16, fp32, cells), "checked_on": fp16.provider,
               "min_agreement": config.reduced_min_agreement}
    if figures["cluster_agreement"] < config.reduced_min_agreement:
        reason = (f"the fp16 model kept {figures['cluster_agreement']:.2%} of fp32's nearest-centroid clusters, "
                  f"below {config.reduced_min_agreement:.0%}; fp32 stays the GPU model")
        return None, {"shipped": False, "reason": reason, **figures}
    return path, {"shipped": True, "file": ONNX_FP16, **figures}


# each reduced format: its file and its exporter, checked against the fp32 ONNX
REDUCED_EXPORTERS = {"int8": (ONNX_INT8, export_int8), "fp16": (ONNX_FP16, export_fp16)}


def export_bundle(bundle: Bundle, config: ExportConfig = ExportConfig()) -> dict[str, Any]:
    """Export the bundle's encoder in each format, check it on the bundle's reference cells, then add it."""
    model = load_model_weights(bundle)
    encoder, n_inputs = model.embedder, model.config.n_inputs
    cells = np.load(bundle.file(REFERENCE_CELLS), allow_pickle=False)
    with torch.no_grad():
        expected = encoder(torch.from_numpy(cells)).numpy()
    report: dict[str, Any] = dict(bundle.manifest.get("exports", {}))
    files: dict[str, Path] = {}
    remove: list[str] = []
    with tempfile.TemporaryDirectory(dir=bundle.path.parent) as tmp:
        for fmt in (f for f in config.formats if f in ("onnx", "torchscript")):
            if fmt == "onnx":
                path = Path(tmp) / ONNX
                simplified, n_pointwise = simplify_encoder(encoder, n_inputs)
                export_onnx(simplified, path, config.opset, n_inputs)
                actual = OnnxEncoder(path, provider="cpu")(cells)
            else:
                path = Path(tmp) / TORCHSCRIPT
                _export_torchscript(encoder, path, n_inputs)
                actual = TorchScriptEncoder(path, provider="cpu")(cells)
            figures = check_parity(expected, actual, bundle.centroids, bundle.fuzzifier, config, fmt)
            extra = {"opset": config.opset, "centre_tap_convs_as_1x1": n_pointwise} if fmt == "onnx" else {}
            report[fmt] = {"file": path.name, **extra, **figures}
            files[path.name] = path
            log.info("%s export: max |diff| %.1e, cluster agreement %.2f%% on %d cells", fmt,
                     figures["max_abs_diff"], 100 * figures["cluster_agreement"], figures["n_cells_checked"])
        for fmt in (f for f in config.formats if f in REDUCED_EXPORTERS):
            name, export_reduced = REDUCED_EXPORTERS[fmt]
            source = files[ONNX] if ONNX in files else bundle.file(ONNX)
            path, report[fmt] = export_reduced(bundle, source, cells, Path(tmp), config)
            if path is None:
                remove.append(name)
                log.warning("%s model not shipped: %s", fmt, report[fmt]["reason"])
            else:
                files[name] = path
                log.info("%s export: cluster agreement %.2f%% with fp32, %.2fx its speed on %s", fmt,
                         100 * report[fmt]["cluster_agreement"], report[fmt]["speed_ratio"],
                         report[fmt].get("checked_on", "one CPU thread"))
        bundle.add_files(files, {"exports": report}, tuple(remove))
    return report
