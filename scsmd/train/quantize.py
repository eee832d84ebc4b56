"""Static int8 (QDQ) encoder: only the multi-dilated gates' convolutions, calibrated on the bundle's reference cells.

Quantizing every node moves about 6% of cells to another centroid, and each single node alone already moves
about 1%; the gates hold most of the compute, and those of the first stages are the least sensitive.
"""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Literal

import numpy as np
import onnx

log = logging.getLogger(__name__)

Calibration = Literal["percentile", "minmax", "entropy"]
CALIBRATION_BATCH = 128
GATE_PARTS = ("/branches", "/fuse")  # the ONNX scopes of MultiDilatedGate's convs (model.py attribute names)


def gate_convs(onnx_path: Path) -> list[list[str]]:
    """The Conv node names of each multi-dilated gate, gates in graph order (the first is the largest image)."""
    gates: dict[str, list[str]] = {}
    for node in onnx.load(str(onnx_path)).graph.node:
        part = next((p for p in GATE_PARTS if p in node.name), None)
        if node.op_type == "Conv" and part is not None:
            gates.setdefault(node.name.split(part)[0], []).append(node.name)
    return list(gates.values())


def _reader(cells: np.ndarray):
    """A calibration data reader over (n, n_inputs) cells in equal batches (the remainder is left out:
    onnxruntime's histogram calibrators stack the batches into one array)."""
    from onnxruntime.quantization import CalibrationDataReader

    size = min(CALIBRATION_BATCH, len(cells))

    class Cells(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"x": cells[i:i + size]} for i in range(0, len(cells) - size + 1, size)])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    return Cells()


def prepare(onnx_path: Path, target: Path) -> None:
    """onnxruntime's pre-processing for quantization (shape inference, graph optimization) of the fp32 model: the
    same for every variant, so done once."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with contextlib.redirect_stdout(io.StringIO()):
        quant_pre_process(str(onnx_path), str(target))


def quantize_nodes(prepared: Path, target: Path, cells: np.ndarray, nodes: list[str],
                   calibration: Calibration = "percentile") -> None:
    """Write a QDQ model of the `prepare`d model with `nodes` in int8 (per-channel weights, uint8 activations), the
    rest fp32."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    method = {"percentile": CalibrationMethod.Percentile, "minmax": CalibrationMethod.MinMax,
              "entropy": CalibrationMethod.Entropy}[calibration]
    chatter = io.StringIO()  # onnxruntime's calibrators print progress; stdout carries results only
    with contextlib.redirect_stdout(chatter):
        quantize_static(str(prepared), str(target), _reader(np.ascontiguousarray(cells, dtype=np.float32)),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, nodes_to_quantize=nodes, op_types_to_quantize=["Conv"],
                        calibrate_method=method)
    log.debug("quantization: %s", chatter.getvalue().strip())
