"""Embedding speed and streaming memory of the frozen-model path, and CellTypist beside it.

    python bench/embed.py [--model models/NAME] [--cells 8192] [--large 1000000] [--out bench/results/embed.json]

1. Encoder throughput (cells/s) of torch eager, TorchScript and onnxruntime (fp32 as exported before and after the
   exact 1x1 rewrites, and the bundle's int8 model; TorchScript on CUDA, onnxruntime CUDA fp32 and fp16 where they
   work) at several batch sizes, interleaved in one run and reported as medians and ratios to eager.
2. Peak RSS of `scsmd embed --results-only` streaming a small and a large .h5ad built from real cells
   (baron_mouse repeated), each in a fresh process, with whole-process cells/s and the time split.
3. CellTypist (needs `pip install '.[bench]'`): trained on donor mouse2, annotating donor mouse1 repeated to
   --small cells, whole process from .h5ad to .h5ad, beside `scsmd embed` of the same file.
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
import h5py
import numpy as np
import pandas as pd
import torch

import scsmd
from scsmd.atomic import atomic_path
from scsmd.bundle import ONNX, ONNX_FP16, ONNX_INT8, TORCHSCRIPT, Bundle
from scsmd.config import TrainConfig, usable_cores
from scsmd.infer.encoder import OnnxEncoder, TorchScriptEncoder
from scsmd.io import h5ad_shape, read_counts
from scsmd.train.bundle_io import load_model_weights
from scsmd.train.export import export_onnx

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "baron_mouse_1886.h5ad"
BATCH_SIZES = (64, 256, 1024, 4096)


def quick_bundle(folder: Path) -> Path:
    """A bundle of the default's network trained one epoch per stage on baron_mouse, exported (its speed is the
    network's; its clusters do not matter here)."""
    adata = read_counts(DATA)
    bundle_dir = folder / "bench_bundle"
    scsmd.train(adata, n_clusters=13, bundle_dir=bundle_dir,
                train_config=TrainConfig(pretrain_epochs=1, dense_epochs=1, dec_epochs=1), overwrite=True)
    scsmd.export(bundle_dir)
    return bundle_dir


def encoders(bundle: Bundle) -> dict:
    """Name -> callable mapping (n, n_inputs) float32 encoder inputs to latents."""
    network = load_model_weights(bundle)
    model, n_inputs = network.embedder.eval(), network.config.n_inputs

    def eager(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(images)).numpy()

    plain = Path(tempfile.mkdtemp()) / "encoder_plain.onnx"  # as exported before the exact 1x1 rewrites
    export_onnx(model, plain, opset=17, n_inputs=n_inputs)
    threads = usable_cores()
    scripted = TorchScriptEncoder(bundle.file(TORCHSCRIPT), "cpu", threads)

    def torchscript(images: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return scripted.module(torch.from_numpy(images)).numpy()

    def session(encoder: OnnxEncoder):
        return lambda images: encoder.session.run(["latent"], {"x": images})[0]

    found = {"torch_eager": eager, "torchscript": torchscript,
             "onnxruntime_cpu_plain": session(OnnxEncoder(plain, "cpu", threads)),
             "onnxruntime_cpu": session(OnnxEncoder(bundle.file(ONNX), "cpu", threads))}
    if bundle.has(ONNX_INT8):
        found["onnxruntime_cpu_int8"] = session(OnnxEncoder(bundle.file(ONNX_INT8), "cpu", threads))
    if torch.cuda.is_available():
        found["torchscript_cuda"] = TorchScriptEncoder(bundle.file(TORCHSCRIPT), "cuda")
    gpu = OnnxEncoder(bundle.file(ONNX), "auto")
    if gpu.provider == "cuda":
        found["onnxruntime_cuda"] = session(gpu)
        if bundle.has(ONNX_FP16):
            found["onnxruntime_cuda_fp16"] = session(OnnxEncoder(bundle.file(ONNX_FP16), "cuda"))
    return found


def throughput(bundle: Bundle, n_cells: int, repeats: int) -> dict:
    """Median cells/s per encoder and batch size, the encoders interleaved within each repeat."""
    cells = np.load(bundle.file("reference_cells.npy"))
    images = np.ascontiguousarray(np.resize(cells, (n_cells, cells.shape[1])), dtype=np.float32)
    runners = encoders(bundle)
    timings: dict[str, dict[int, list[float]]] = {name: {b: [] for b in BATCH_SIZES} for name in runners}
    for run in runners.values():  # warm-up
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


def write_large_h5ad(path: Path, n_cells: int, donor: str | None = None) -> None:
    """Real baron_mouse cells (of one donor, or all) repeated to n_cells, appended block by block so memory stays flat."""
    from anndata.io import sparse_dataset, write_elem

    base = read_counts(DATA)
    if donor is not None:
        base = base[ad.read_h5ad(DATA, backed="r").obs["batch"].to_numpy() == donor].copy()
    first = min(base.n_obs, n_cells)
    ad.AnnData(base.X[:first], var=base.var).write_h5ad(path)
    with h5py.File(path, "r+") as f:
        matrix = sparse_dataset(f["X"])
        for start in range(first, n_cells, base.n_obs):
            matrix.append(base.X[:min(base.n_obs, n_cells - start)])
        write_elem(f, "obs", pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]))


# Runs the command in a child of a small interpreter: a child forked from this big process would report
# this process's memory as its own peak.
MEASURE = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def measured(command: list[str], n_cells: int) -> dict:
    """Peak RSS and whole-process cells/s of one command in a fresh process."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak_kb = int(result.stdout.split()[-1])
    return {"n_cells": n_cells, "peak_rss_mb": peak_kb / 1024, "seconds": seconds, "cells_per_s": n_cells / seconds}


def streamed_embed(path: Path, bundle_dir: Path, out: Path, precision: str = "auto", backend: str = "onnx") -> dict:
    """`scsmd embed --results-only` measured in a fresh process, with the time split it records."""
    command = [sys.executable, "-m", "scsmd", "-q", "embed", str(path), "--model", str(bundle_dir), "-o", str(out),
               "--results-only", "--force", "--precision", precision, "--backend", backend]
    figures = measured(command, h5ad_shape(path)[0])
    uns = ad.read_h5ad(out, backed="r").uns["scsmd"]
    return {**figures, "precision": uns["precision"], "timings_s": dict(uns["timings"])}


CELLTYPIST_ANNOTATE = """
import sys, anndata as ad, scanpy as sc, celltypist
cells = ad.read_h5ad(sys.argv[1])
sc.pp.normalize_total(cells, target_sum=1e4)
sc.pp.log1p(cells)
result = celltypist.annotate(cells, model=sys.argv[2])
ad.AnnData(obs=result.predicted_labels).write_h5ad(sys.argv[3])
"""


def celltypist_model(work: Path) -> Path:
    """A CellTypist model trained on donor mouse2 (log-normalized to 1e4, SGD), saved at an absolute path."""
    import celltypist
    import scanpy as sc

    cells = ad.read_h5ad(DATA)
    cells = cells[cells.obs["batch"] == "mouse2"].copy()
    sc.pp.normalize_total(cells, target_sum=1e4)
    sc.pp.log1p(cells)
    path = (work / "celltypist_mouse2.pkl").resolve()
    celltypist.train(cells, labels="cell_type", use_SGD=True, n_jobs=1).write(str(path))
    return path


def against_celltypist(work: Path, bundle_dir: Path, n_cells: int) -> dict:
    """CellTypist and scsmd embed, each a whole process from the same .h5ad (mouse1 repeated) to an output .h5ad."""
    path = work / f"mouse1_{n_cells}.h5ad"
    if not path.exists():
        write_large_h5ad(path, n_cells, donor="mouse1")
    model = celltypist_model(work)
    celltypist = measured([sys.executable, "-c", CELLTYPIST_ANNOTATE, str(path), str(model),
                           str(work / "celltypist_out.h5ad")], n_cells)
    scsmd_run = streamed_embed(path, bundle_dir, work / "scsmd_out.h5ad")
    return {"celltypist": celltypist, "scsmd": scsmd_run,
            "throughput_ratio": scsmd_run["cells_per_s"] / celltypist["cells_per_s"],
            "peak_rss_ratio": scsmd_run["peak_rss_mb"] / celltypist["peak_rss_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="An exported bundle (default: train a quick one).")
    parser.add_argument("--cells", type=int, default=8192, help="Cells per throughput measurement.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["throughput", "streaming", "celltypist"])
    parser.add_argument("--backend", choices=["onnx", "torchscript"], default="onnx", help="Streaming runs' backend.")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "scsmd_bench")
    parser.add_argument("--out", type=Path, default=Path("bench/results/embed.json"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bundle_dir = args.model or quick_bundle(args.work)
    bundle = Bundle.load(bundle_dir)
    report = {"machine": f"{platform.processor() or platform.machine()}, {usable_cores()} usable of {os.cpu_count()} cores",
              "torch_threads": torch.get_num_threads()}
    if "throughput" not in args.skip:
        report["throughput"] = throughput(bundle, args.cells, args.repeats)
        print(json.dumps(report["throughput"], indent=1), flush=True)
    if "celltypist" not in args.skip:
        report["celltypist"] = against_celltypist(args.work, bundle_dir, args.small)
        print(json.dumps(report["celltypist"], indent=1), flush=True)
    if "streaming" not in args.skip:
        streams = {}
        for n in (args.small, args.large):
            path = args.work / f"cells_{n}.h5ad"
            if not path.exists():
                write_large_h5ad(path, n)
            streams[str(n)] = streamed_embed(path, bundle_dir, args.work / f"out_{n}.h5ad", backend=args.backend)
            print(n, streams[str(n)], flush=True)
        small, large = streams[str(args.small)], streams[str(args.large)]
        streams["rss_ratio_large_to_small"] = large["peak_rss_mb"] / small["peak_rss_mb"]
        streams["throughput_ratio_large_to_small"] = large["cells_per_s"] / small["cells_per_s"]
        report["streaming"] = streams
        print(json.dumps(streams, indent=1))
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
