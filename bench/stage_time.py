"""Seconds of each part of `scsmd train` on one device, and of the variants that could make the slow parts faster.

    python bench/stage_time.py [--data ../shared/data/pbmc_10x_4271.h5ad] [-k 8] [--device auto] [--epochs 3]
                               [--out bench/results/stage_time.json]

In one process, after the panel and its tensors: seconds per epoch of the image pretraining and of the dense
branch's pretraining as `scsmd train` runs them (exact kernels; on CUDA a fused Adam), with cuDNN free to pick its
fastest (nondeterministic) kernels, with PyTorch's default (unfused) Adam, with the image pretraining's convolutions
in bfloat16 (`TrainConfig.pretrain_bf16`), and on CUDA with its step replayed as a CUDA graph
(`TrainConfig.cuda_graphs`; each variant's last pretraining loss beside its seconds); on CUDA, the GPU kernels that
take longest in one epoch as trained; then KMeans' restarts (`kmeans_centroids`, as training calls it) on the
pretrained latent on all cores, 4 threads and 1 (`TrainConfig.kmeans_threads`). Every variant trains the same
freshly seeded model: comparable within one run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import anndata as ad
import torch

from scsmd.atomic import atomic_path
from scsmd.config import ModelConfig, PreprocessConfig, TrainConfig
from scsmd.train import partition, trainer
from scsmd.train.model import ScSMD
from scsmd.train.preprocess import select_panel, training_data

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pbmc_10x_4271.h5ad"


def timed(work: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of `work()` (with the device's queue drained) and what it returned."""
    start = time.perf_counter()
    out = work()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def stage_epochs(variant: str, device: torch.device, data: trainer.TrainData, model_config: ModelConfig,
                 config: TrainConfig, neighbors: torch.Tensor) -> tuple[dict, ScSMD]:
    """Median seconds per epoch of the image and dense pretraining under one kernel `variant`, the last pretraining
    epoch's loss, and the model."""
    adam = trainer.adam
    if variant == "unfused_adam":
        trainer.adam = lambda params, device, **options: torch.optim.Adam(params, **options)  # the stages call it
    if variant == "free_kernels" and device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    config = dataclasses.replace(config, cuda_graphs=variant == "cuda_graphs", pretrain_bf16=variant == "bfloat16")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = ScSMD(model_config).to(device)
    history: list[dict] = []
    try:
        with nullcontext() if variant == "free_kernels" else trainer.exact_kernels(device):
            trainer.pretrain(model, data, config, generator,
                             trainer._Stage("pretrain", config.pretrain_epochs, history, None))
            trainer.pretrain_dense(model.dense, data, neighbors, config, generator,
                                   trainer._Stage("dense", config.dense_epochs, history, None))
    finally:
        trainer.adam = adam
        torch.backends.cudnn.benchmark = False
    seconds = {name: statistics.median(r["seconds"] for r in history if r["stage"] == name)
               for name in ("pretrain", "dense")}
    seconds["pretrain_loss"] = [r["loss"] for r in history if r["stage"] == "pretrain"][-1]
    return seconds, model


def top_kernels(model: ScSMD, data: trainer.TrainData, config: TrainConfig, device: torch.device) -> list[dict]:
    """The 15 GPU kernels with the most time in one pretraining epoch as trained."""
    from torch.profiler import ProfilerActivity, profile
    generator = torch.Generator().manual_seed(config.seed)
    one_epoch = trainer._Stage("pretrain", 1, [], None)
    with trainer.exact_kernels(device), profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        trainer.pretrain(model, data, TrainConfig(pretrain_epochs=1), generator, one_epoch)
    rows = sorted(prof.key_averages(), key=lambda e: e.device_time_total, reverse=True)[:15]
    return [{"kernel": e.key[:90], "calls": e.count, "gpu_ms": e.device_time_total / 1e3,
             "cpu_ms": e.cpu_time_total / 1e3} for e in rows]


def kmeans_seconds(latent, n_clusters: int, config: TrainConfig) -> dict:
    """Seconds of training's KMeans step (smoothing and all restarts) on all cores, 4 threads and 1 (the default)."""
    out = {}
    for threads in (os.cpu_count(), 4, 1):
        threaded = dataclasses.replace(config, kmeans_threads=threads)
        out[f"threads_{threads}"], _ = timed(lambda: partition.kmeans_centroids(latent, n_clusters, threaded, 0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("-k", "--n-clusters", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=3, help="Epochs of each pretraining per variant.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/stage_time.json"))
    args = parser.parse_args()
    device = trainer.resolve_device(args.device)
    report: dict = {"data": args.data.name, "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
                    "torch": torch.__version__}
    adata = ad.read_h5ad(args.data)
    preprocess = PreprocessConfig()
    report["panel_s"], panel = timed(lambda: select_panel(adata, preprocess))
    report["tensors_s"], data = timed(lambda: training_data(adata, panel, preprocess).to(device))
    model_config = ModelConfig(n_clusters=args.n_clusters, image_side=preprocess.image_side(len(panel)),
                               dense_genes=len(panel))
    config = TrainConfig(pretrain_epochs=args.epochs, dense_epochs=args.epochs)
    report["neighbors_s"], neighbors = timed(lambda: trainer.input_neighbors(
        data.inputs, config.contrast_neighbors, config.contrast_pcs, config.seed, config.contrast_metric))
    report["epoch_s"] = {}
    variants = ("as_trained", "free_kernels", "unfused_adam", "bfloat16")
    variants += ("cuda_graphs",) if device.type == "cuda" else ()
    for variant in variants:
        report["epoch_s"][variant], model = stage_epochs(variant, device, data, model_config, config, neighbors)
        print(variant, report["epoch_s"][variant], flush=True)
    if device.type == "cuda":
        report["top_kernels_one_epoch"] = top_kernels(model, data, config, device)
    latent = trainer.encode(model, data.inputs, encoder=model.encoder).cpu().numpy()
    report["kmeans_s"] = kmeans_seconds(latent, args.n_clusters, TrainConfig())
    print(json.dumps(report, indent=1))
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
