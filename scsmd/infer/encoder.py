"""Run an exported encoder: onnxruntime (CUDA when it works, else CPU) or TorchScript (needs torch)."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np

from scsmd.config import usable_cores
from scsmd.errors import ScsmdError

log = logging.getLogger(__name__)

Provider = Literal["auto", "cuda", "cpu"]
CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
CPU_BATCH = 64  # cells per encoder call on a CPU: fastest in bench/README.md (64-4096), and activations stay small


def _in_batches(run, cells: np.ndarray, provider: str, pool: ThreadPoolExecutor | None = None) -> np.ndarray:
    """Apply `run` to consecutive slices of `cells` on a CPU (over `pool`'s threads when given), so peak activation
    memory does not grow with the chunk; a GPU takes the whole chunk at once."""
    cells = np.ascontiguousarray(cells, dtype=np.float32)
    batch = CPU_BATCH if provider == "cpu" else len(cells)
    slices = [cells[i:i + batch] for i in range(0, len(cells), batch)]
    return np.concatenate(list(pool.map(run, slices)) if pool else [run(x) for x in slices])


class OnnxEncoder:
    """An onnxruntime session over encoder.onnx; `provider` says which one really runs. On a CPU each of
    `n_threads` threads runs whole batches through the one-thread session: at 64-cell batches that is 1.2x the
    cells/s of one call at a time on two intra-op threads (bench/README.md, session 37)."""

    def __init__(self, path: str | Path, provider: Provider = "auto", n_threads: int | None = None):
        import onnxruntime as ort

        listed = CUDA in ort.get_available_providers()  # onnxruntime-gpu lists it even where no GPU works
        wanted = [CUDA, CPU] if provider in ("auto", "cuda") and listed else [CPU]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a CPU runs batches side by side instead; a GPU takes the whole chunk
        options.inter_op_num_threads = 1
        ort.set_default_logger_severity(4)  # a CUDA provider that fails to load on a CPU machine is not an error here
        try:
            self.session = ort.InferenceSession(str(path), options, providers=wanted)
        finally:
            ort.set_default_logger_severity(2)
        running = self.session.get_providers()
        if provider == "cuda" and CUDA not in running:
            raise ScsmdError("--provider cuda was asked for but onnxruntime's CUDA provider does not run here "
                             "(no GPU or no CUDA libraries); use --provider auto or cpu")
        self.provider = "cuda" if CUDA in running else "cpu"
        self.fell_back = provider == "auto" and listed and self.provider == "cpu"  # a GPU build, no working GPU
        n_threads = n_threads or usable_cores()  # deliberate: the reader thread shares the cores
        self.pool = ThreadPoolExecutor(n_threads) if self.provider == "cpu" and n_threads > 1 else None

    def __call__(self, cells: np.ndarray) -> np.ndarray:
        """(n, n_inputs) float32 -> (n, latent_dim) float32."""
        return _in_batches(lambda x: self.session.run(["latent"], {"x": x})[0], cells, self.provider, self.pool)


class TorchScriptEncoder:
    """A TorchScript encoder.ts; the one backend that imports torch."""

    def __init__(self, path: str | Path, provider: Provider = "auto", n_threads: int | None = None):
        try:
            import torch
        except ImportError as exc:
            raise ScsmdError("--backend torchscript needs torch, which is not installed; use --backend onnx") from exc
        if provider == "cuda" and not torch.cuda.is_available():
            raise ScsmdError("--provider cuda was asked for but torch sees no CUDA GPU; use --provider auto or cpu")
        self._torch = torch
        torch.set_num_threads(n_threads or usable_cores())
        self.device = torch.device("cuda" if provider != "cpu" and torch.cuda.is_available() else "cpu")
        self.module = torch.jit.load(str(path), map_location=self.device).eval()
        self.provider = self.device.type
        self.fell_back = provider == "auto" and torch.backends.cuda.is_built() and self.provider == "cpu"

    def __call__(self, cells: np.ndarray) -> np.ndarray:
        """(n, n_inputs) float32 -> (n, latent_dim) float32."""
        with self._torch.no_grad():
            return _in_batches(lambda x: self.module(self._torch.from_numpy(x).to(self.device)).cpu().numpy(), cells,
                               self.provider)
