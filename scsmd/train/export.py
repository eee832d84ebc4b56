"""Export the encoder to ONNX and TorchScript, each gated by a parity check against PyTorch on real cells."""
from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scsmd.bundle import ONNX, REFERENCE_CELLS, TORCHSCRIPT, Bundle
from scsmd.config import ExportConfig
from scsmd.errors import ScsmdError
from scsmd.infer.assign import assign_clusters
from scsmd.infer.encoder import OnnxEncoder, TorchScriptEncoder
from scsmd.train.bundle_io import load_model_weights
from scsmd.train.simplify import simplify_encoder

log = logging.getLogger(__name__)


def export_onnx(encoder: torch.nn.Module, path: Path, opset: int, side: int) -> None:
    """Write the encoder as ONNX with input `x` (n, 1, side, side), output `latent`, dynamic batch axis."""
    example = torch.zeros(2, 1, side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(encoder, (example,), str(path), input_names=["x"], output_names=["latent"],
                          dynamic_axes={"x": {0: "n_cells"}, "latent": {0: "n_cells"}}, opset_version=opset,
                          dynamo=False)


def _export_torchscript(encoder: torch.nn.Module, path: Path, side: int) -> None:
    """Write the encoder as a traced TorchScript module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(encoder, torch.zeros(2, 1, side, side)).save(str(path))


def check_parity(expected: np.ndarray, actual: np.ndarray, centroids: np.ndarray, fuzzifier: float,
                 config: ExportConfig, what: str) -> dict[str, float]:
    """Shape, then max |diff| <= atol, then nearest-centroid agreement; raise ScsmdError on failure."""
    if expected.shape != actual.shape:
        raise ScsmdError(f"{what} export gives latent shape {actual.shape}, PyTorch {expected.shape}; export not written")
    max_diff = float(np.abs(expected - actual).max())
    agreement = float((assign_clusters(expected, centroids, fuzzifier).clusters
                       == assign_clusters(actual, centroids, fuzzifier).clusters).mean())
    if max_diff > config.atol or agreement < config.min_agreement:
        raise ScsmdError(f"{what} export fails its check (max |diff| {max_diff:.2e} > {config.atol:.0e} or cluster "
                         f"agreement {agreement:.2%} < {config.min_agreement:.0%}); export not written")
    return {"max_abs_diff": max_diff, "cluster_agreement": agreement, "n_cells_checked": int(len(expected))}


def export_bundle(bundle: Bundle, config: ExportConfig = ExportConfig()) -> dict[str, Any]:
    """Export the bundle's encoder in each format, check it on the bundle's reference cells, then add it."""
    model = load_model_weights(bundle)
    side = model.config.image_side
    cells = np.load(bundle.file(REFERENCE_CELLS), allow_pickle=False).reshape(-1, 1, side, side)
    with torch.no_grad():
        expected = model.encoder(torch.from_numpy(cells)).numpy()
    report: dict[str, Any] = dict(bundle.manifest.get("exports", {}))
    files: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(dir=bundle.path.parent) as tmp:
        for fmt in config.formats:
            if fmt == "onnx":
                path = Path(tmp) / ONNX
                simplified, n_pointwise = simplify_encoder(model.encoder, side)
                export_onnx(simplified, path, config.opset, side)
                actual = OnnxEncoder(path, provider="cpu")(cells)
            else:
                path = Path(tmp) / TORCHSCRIPT
                _export_torchscript(model.encoder, path, side)
                actual = TorchScriptEncoder(path, provider="cpu")(cells)
            figures = check_parity(expected, actual, bundle.centroids, bundle.fuzzifier, config, fmt)
            extra = {"opset": config.opset, "centre_tap_convs_as_1x1": n_pointwise} if fmt == "onnx" else {}
            report[fmt] = {"file": path.name, **extra, **figures}
            files[path.name] = path
            log.info("%s export: max |diff| %.1e, cluster agreement %.2f%% on %d cells", fmt,
                     figures["max_abs_diff"], 100 * figures["cluster_agreement"], figures["n_cells_checked"])
        bundle.add_files(files, {"exports": report})
    return report
