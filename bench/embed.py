"""Embedding speed and streaming memory of the frozen-model path.

    python bench/embed.py [--model models/NAME] [--cells 8192] [--large 200000] [--out bench/results/embed.json]

1. Encoder throughput (cells/s) of torch eager, TorchScript and onnxruntime (CPU; CUDA where it works) at several
   batch sizes, interleaved in one run and reported as medians and ratios to eager.
2. Peak RSS of `scsmd embed --results-only` streaming a small and a large .h5ad built from real cells
   (baron_mouse repeated), each in a fresh process, with whole-process cells/s.
Without --model, a bundle is trained for one epoch per stage on baron_mouse (speed does not depend on weights).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch

import scsmd
from scsmd.atomic import atomic_path
from scsmd.bundle import ONNX, TORCHSCRIPT, Bundle
from scsmd.config import TrainConfig
from scsmd.infer.encoder import OnnxEncoder, TorchScriptEncoder
from scsmd.io import read_counts
from scsmd.train.bundle_io import load_model_weights
from scsmd.train.export import export_onnx

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "baron_mouse_1886.h5ad"
BATCH_SIZES = (64, 256, 1024, 4096)


def quick_bundle(folder: Path) -> Path:
    """A bundle trained one epoch per stage on baron_mouse, exported."""
    adata = read_counts(DATA)
    bundle_dir = folder / "bench_bundle"
    scsmd.train(adata, n_clusters=13, bundle_dir=bundle_dir,
                train_config=TrainConfig(pretrain_epochs=1, fuzzy_epochs=1, cellnet_epochs=1))
    scsmd.export(bundle_dir)
    return bundle_dir


def encoders(bundle: Bundle) -> dict:
    """Name -> callable mapping (n, 1, 28, 28) float32 to latents."""
    model = load_model_weights(bundle).encoder.eval()

    def eager(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(images)).numpy()

    plain = Path(tempfile.mkdtemp()) / "encoder_plain.onnx"  # as exported before the exact 1x1 rewrites
    export_onnx(model, plain, opset=17, side=28)
    found = {"torch_eager": eager, "torchscript": TorchScriptEncoder(bundle.file(TORCHSCRIPT), "cpu"),
             "onnxruntime_cpu_plain": OnnxEncoder(plain, "cpu"),
             "onnxruntime_cpu": OnnxEncoder(bundle.file(ONNX), "cpu")}
    gpu = OnnxEncoder(bundle.file(ONNX), "auto")
    if gpu.provider == "cuda":
        found["onnxruntime_cuda"] = gpu
    return found


def throughput(bundle: Bundle, n_cells: int, repeats: int) -> dict:
    """Median cells/s per encoder and batch size, the encoders interleaved within each repeat."""
    cells = np.load(bundle.file("reference_cells.npy")).reshape(-1, 1, 28, 28)
    images = np.ascontiguousarray(np.resize(cells, (n_cells, 1, 28, 28)), dtype=np.float32)
    runners = encoders(bundle)
    timings: dict[str, dict[int, list[float]]] = {name: {b: [] for b in BATCH_SIZES} for name in runners}
    for name, run in runners.items():  # warm-up
        run(images[:BATCH_SIZES[-1]])
    for _ in range(repeats):
        for batch in BATCH_SIZES:
            for name, run in runners.items():
                start = time.perf_counter()
                for i in range(0, n_cells, batch):
                    run(images[i:i + batch])
                timings[name][batch].append(n_cells / (time.perf_counter() - start))
    table = {name: {str(b): statistics.median(v) for b, v in per.items()} for name, per in timings.items()}
    ratios = {name: {b: table[name][b] / table["torch_eager"][b] for b in table[name]} for name in table}
    return {"cells_per_s": table, "ratio_to_eager": ratios}


def write_large_h5ad(path: Path, n_cells: int) -> None:
    """Real baron_mouse cells repeated to n_cells, in CSR, with unique names."""
    base = read_counts(DATA)
    reps = -(-n_cells // base.n_obs)
    X = sp.vstack([base.X] * reps, format="csr")[:n_cells]
    names = [f"c{i}" for i in range(n_cells)]
    ad.AnnData(X, obs={"cell": names}, var=base.var).write_h5ad(path)


def streamed_embed(path: Path, bundle_dir: Path, out: Path) -> dict:
    """Peak RSS and whole-process cells/s of one `scsmd embed --results-only` in a fresh process."""
    n_cells = ad.read_h5ad(path, backed="r").n_obs
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "scsmd", "-q", "embed", str(path), "--model", str(bundle_dir),
                             "-o", str(out), "--results-only", "--force"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"scsmd embed failed on {path}")
    return {"n_cells": n_cells, "peak_rss_mb": usage.ru_maxrss / 1024, "seconds": seconds, "cells_per_s": n_cells / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="An exported bundle (default: train a quick one).")
    parser.add_argument("--cells", type=int, default=8192, help="Cells per throughput measurement.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "scsmd_bench")
    parser.add_argument("--out", type=Path, default=Path("bench/results/embed.json"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bundle_dir = args.model or quick_bundle(args.work)
    bundle = Bundle.load(bundle_dir)
    report = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "torch_threads": torch.get_num_threads(), "throughput": throughput(bundle, args.cells, args.repeats)}
    print(json.dumps(report["throughput"], indent=1), flush=True)
    streams = {}
    for n in (args.small, args.large):
        path = args.work / f"cells_{n}.h5ad"
        if not path.exists():
            write_large_h5ad(path, n)
        streams[str(n)] = streamed_embed(path, bundle_dir, args.work / f"out_{n}.h5ad")
        print(n, streams[str(n)], flush=True)
    report["streaming"] = streams
    report["streaming"]["rss_ratio_large_to_small"] = streams[str(args.large)]["peak_rss_mb"] / streams[str(args.small)]["peak_rss_mb"]
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    print(json.dumps(report["streaming"], indent=1))


if __name__ == "__main__":
    main()
