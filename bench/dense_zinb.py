"""scDeepCluster's recipe in scsmd's pipeline: the comparison behind the pbmc record (issue 5).

    python bench/dense_zinb.py [--data-dir ../shared/data] [--datasets ...] [--seeds 0 1 2] [--n-genes 2000]
                               [--epochs 30] [--noise 2.5] [--latent-dim 32] [--out bench/results/dense_zinb.json]

scDeepCluster (Tian et al. 2019) reports pbmc's record (ARI 0.784). Its network differs from scSMD's in two ways:
a fully connected autoencoder (genes -> 256 -> 64 -> 32), trained on the ZINB likelihood of the raw counts alone
(no MSE) with Gaussian noise (sd 2.5) on its standardized input. This trains that network on scsmd's panel and
preprocessing (`seurat_v3` genes, log-normalized, standardized) and clusters its latent as scsmd's default does
(KMeans 100 on the 10-NN x 3 smoothed latent, nearest centroid), so the ARI it prints differs from scsmd's default
only by the network and its loss; `dense_l2` clusters the same latent with each cell's vector scaled to unit length.
`--concat-weights W ...` also trains scsmd's image network alone (`--dense-genes 0`, same seed, public API) and
clusters its latent beside the unit-length dense latent weighted by W (each block divided by its overall sd first):
one row `concat_W` per weight, what scsmd's default (session 16) does inside one model at W = 0.7.
No label is used except to score.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import scsmd
from scsmd.atomic import atomic_path
from scsmd.config import ModelConfig, PreprocessConfig, TrainConfig
from scsmd.infer.assign import squared_distances
from scsmd.io import read_counts
from scsmd.metrics import score_clusters
from scsmd.panel import PanelScaling, logexpr_panel, match_panel, to_inputs
from scsmd.train.model import DenseAutoencoder
from scsmd.train.preprocess import highly_variable_genes, size_factors
from scsmd.train.partition import kmeans_centroids

LABEL_KEY = "cell_type"


def panel_tensors(counts, n_genes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """scsmd's default preprocessing for `n_genes` genes: standardized log panel, raw panel counts, size factors."""
    config = PreprocessConfig(n_genes=min(n_genes, 1024))  # the ranking and scaling; the panel size is ours
    match = match_panel(list(counts.var_names), highly_variable_genes(counts, n_genes, config))
    logexpr = logexpr_panel(counts.X, match, target_sum=config.target_sum)
    scaled = PanelScaling.fit(logexpr, config.scale_max).apply(logexpr, match)
    raw = counts.X[:, match.columns].toarray().astype(np.float32)
    return (torch.from_numpy(to_inputs(scaled)), torch.from_numpy(raw),
            torch.from_numpy(size_factors(counts.X).astype(np.float32)))


def train_latent(x: torch.Tensor, counts: torch.Tensor, sf: torch.Tensor, args: argparse.Namespace, seed: int
                 ) -> np.ndarray:
    """Pretrain the dense ZINB autoencoder as scDeepCluster does (Adam 1e-3 amsgrad, batch 256, noisy input)."""
    torch.manual_seed(seed)
    model = DenseAutoencoder(ModelConfig(dense_genes=counts.shape[1], dense_latent_dim=args.latent_dim))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(x)).split(256):
            noisy = x[batch] + args.noise * torch.randn_like(x[batch])
            loss = model.nll(noisy, counts[batch], sf[batch]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return model.encoder(x).numpy()


def default_clusters(latent: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """scsmd's default clustering of a latent: KMeans 100 on the smoothed latent, nearest raw-latent centroid."""
    centroids, _ = kmeans_centroids(latent, n_clusters, TrainConfig(), random_state=seed)
    return squared_distances(latent, centroids).argmin(axis=1)


def unit_total_sd(latent: np.ndarray) -> np.ndarray:
    """The latent divided by its overall sd (root of the summed per-dimension variances): blocks weigh alike."""
    return latent / np.sqrt(latent.var(axis=0).sum())


def run(path: Path, seed: int, args: argparse.Namespace) -> list[dict]:
    """Train on one data set with one seed; cluster each latent as scsmd's default does; score against the labels."""
    counts = read_counts(path)
    truth = counts.obs[LABEL_KEY].astype(str).to_numpy()
    n_clusters = len(set(truth))
    start = time.perf_counter()
    dense = train_latent(*panel_tensors(counts, args.n_genes), args, seed)
    seconds = time.perf_counter() - start
    dense_l2 = dense / np.linalg.norm(dense, axis=1, keepdims=True).clip(1e-12)
    latents = {"dense": dense, "dense_l2": dense_l2}
    if args.concat_weights:
        conv = scsmd.train(counts, n_clusters=n_clusters, preprocess_config=PreprocessConfig(dense_genes=0),
                           train_config=TrainConfig(seed=seed)).latent  # the image network alone
        latents["scsmd_image_only"] = conv
        for weight in args.concat_weights:
            latents[f"concat_{weight:g}"] = np.hstack([unit_total_sd(conv), weight * unit_total_sd(dense_l2)])
    return [{"dataset": path.stem, "seed": seed, "method": method, "dense_seconds": seconds,
             **score_clusters(truth, default_clusters(latent, n_clusters, seed))} for method, latent in latents.items()]


def main() -> None:
    """Run every data set and seed; print one line per run and latent, the mean ARI of each; write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="*", help="Stems to run (default: every .h5ad).")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--n-genes", type=int, default=2000, help="Panel size (scDeepCluster's pbmc file: 2000).")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--noise", type=float, default=2.5, help="sd of the Gaussian input noise.")
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--concat-weights", nargs="*", type=float, default=[],
                        help="Also train scsmd's image network alone (--dense-genes 0) and cluster [its latent, W x dense] for each W.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/dense_zinb.json"))
    args = parser.parse_args()
    paths = sorted(args.data_dir.glob("*.h5ad"))
    if args.datasets:
        paths = [p for p in paths if p.stem in args.datasets]
    rows = []
    for path in paths:
        for seed in args.seeds:
            for row in run(path, seed, args):
                rows.append(row)
                print(json.dumps(row), flush=True)
    for stem, method in dict.fromkeys((row["dataset"], row["method"]) for row in rows):
        aris = [row["ari"] for row in rows if (row["dataset"], row["method"]) == (stem, method)]
        print(f"{stem} {method}: mean ARI {np.mean(aris):.3f} (sd {np.std(aris):.3f}) over seeds {args.seeds}")
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
