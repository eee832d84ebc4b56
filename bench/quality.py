"""Clustering quality of scsmd beside KMeans-on-PCA and Leiden (K clusters) on every shared data set and the demo's.

    python bench/quality.py [--data-dir ../shared/data] [--seeds 0 1 2] [--presets default reference]
                            [--set FIELD=VALUE ...] [--n-genes N] [--hvg-flavor F] [--scale | --no-scale]
                            [--dense-genes G] [--dense-members M] [--dense-weight W] [--latent-dim D]
                            [--likelihood nb|zinb] [--no-baselines] [--auto-k] [--subsample N] [--per-type N]
                            [--reads] [--save-runs DIR] [--out bench/results/quality.json]

Public API only. ARI / NMI / ACC per data set, mean over seeds, with wall times; for scsmd also the ARI of the
latent's nearest true-type means (what a partition of that latent could reach) and the mean ARI of its clustering
over five KMeans random states (one draw moves worm's ARI by up to 0.19). `--set` changes TrainConfig fields of
every preset run (an ablation row), e.g. `--set pretrain_nb_weight=0 --presets default`; `--n-genes`, `--hvg-flavor`
and `--scale` change each preset's panel, `--dense-genes` its dense branch (0: none), `--dense-members`,
`--dense-weight`, `--latent-dim` and `--likelihood` its network. Baselines: KMeans-PCA and Leiden on the issue's
panel (784 seurat genes of log data), KMeans-PCA on 2000 such genes, and KMeans-PCA on the default panel scaled
(scanpy's usual seurat_v3 -> scale -> PCA). Beside the shared sets runs scanpy's bundled 700-cell PBMC sample (the
demo's, its 10 `bulk_labels`; `pbmc68k_demo_700`), a set no default was chosen on. `--auto-k` gives no method the
true K: scsmd estimates it (Leiden on its pretrained latent), and the baseline is scanpy's tutorial pipeline (2000
seurat genes, scaled, 50 PCs, 15-NN graph, Leiden at resolution 1, scanpy's default, and 0.5, scsmd's); each row
then reports the K it used. `--subsample N` scores every method on N cells of each set drawn at random (the same
cells for every seed and method; K: the types among them), for the small data sets many published benchmarks are.
`--per-type N` draws at most N cells of each type instead (random state 0): small sets whose types are about equally
large, as the classic small benchmarks' are, rather than a large set's rare types shrunk to a cell or two. The labels
only choose the cells scored; no method sees them. `--reads` turns each set's UMI counts into counts of reads, as
full-length protocols without UMIs (Smart-seq2) give: every molecule amplified (`scsmd.datasets.as_read_counts`), so
each method meets counts 10-100x larger and noisier than the UMI counts it was chosen on. `--save-runs DIR` keeps
each scsmd run's final latent, the last stage's clusters and centroids and the true types (DIR/SET_METHOD_seedS.npz),
so that other final partitions can be scored on the same runs without training again (bench/partitions.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from functools import partial
from pathlib import Path
from typing import Iterable

import anndata as ad
import numpy as np
import scanpy as sc
from sklearn.cluster import KMeans

import scsmd
from scsmd.atomic import atomic_path
from scsmd.config import ModelConfig, PreprocessConfig, TrainConfig, model_preset, preprocess_preset, preset
from scsmd.datasets import as_read_counts, pbmc68k_counts
from scsmd.infer.assign import squared_distances
from scsmd.io import read_counts
from scsmd.metrics import score_clusters
from scsmd.train.partition import kmeans_centroids

LABEL_KEY = "cell_type"
BASELINE_PANEL = PreprocessConfig(n_genes=784, hvg_flavor="seurat", scale=False, dense_genes=0)  # the 784 HVGs
WIDE_PANEL = dataclasses.replace(BASELINE_PANEL, dense_genes=2000)  # scanpy's usual 2000 HVGs of log data
DEMO_NAME = "pbmc68k_demo_700"
SCALED_PANEL = PreprocessConfig(hvg_flavor="seurat_v3")  # scanpy's recipe's genes, for KMeans-PCA on scaled ones
LEIDEN_SCANPY = {"leiden_scanpy_r1": 1.0, "leiden_scanpy_r0.5": 0.5}  # K unknown: the baselines' resolutions


def kmeans_pca(logexpr, n_clusters: int, seed: int) -> np.ndarray:
    """KMeans (10 starts) on the top 50 principal components."""
    sc.pp.pca(logexpr, n_comps=min(50, logexpr.n_vars - 1), random_state=seed)
    return KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(logexpr.obsm["X_pca"])


def kmeans_pca_wide(counts, n_clusters: int, seed: int) -> np.ndarray:
    """KMeans-PCA on scanpy's usual 2000 seurat genes of log data, unscaled: a wider panel than the issue's."""
    return kmeans_pca(scsmd.preprocess(counts, config=WIDE_PANEL, copy=True), n_clusters, seed)


def kmeans_pca_scaled(counts, n_clusters: int, seed: int) -> np.ndarray:
    """KMeans-PCA on the seurat_v3 panel (scsmd's default on UMIs) with each gene scaled (sc.pp.scale, max 10): the
    scanpy recipe."""
    logexpr = scsmd.preprocess(counts, config=SCALED_PANEL, copy=True)
    sc.pp.scale(logexpr, max_value=SCALED_PANEL.scale_max)
    return kmeans_pca(logexpr, n_clusters, seed)


COUNT_BASELINES = {"kmeans_pca_2000": kmeans_pca_wide, "kmeans_pca_scaled": kmeans_pca_scaled}  # each its own panel


def leiden_k(logexpr, n_clusters: int, seed: int) -> np.ndarray:
    """Leiden on the PCA kNN graph, resolution bisected until it gives K clusters (or the closest found)."""
    sc.pp.neighbors(logexpr, n_neighbors=15, random_state=seed)
    low, high, best = 0.01, 5.0, None
    for _ in range(25):
        resolution = (low + high) / 2
        sc.tl.leiden(logexpr, resolution=resolution, flavor="igraph", n_iterations=2, random_state=seed)
        labels = logexpr.obs["leiden"].to_numpy()
        n_found = len(np.unique(labels))
        if best is None or abs(n_found - n_clusters) < abs(best[0] - n_clusters):
            best = (n_found, labels)
        if n_found == n_clusters:
            break
        low, high = (resolution, high) if n_found < n_clusters else (low, resolution)
    return best[1]


def leiden_scanpy(counts, seed: int, resolutions: Iterable[float]) -> list[np.ndarray]:
    """scanpy's tutorial clustering when K is unknown, at each resolution: 2000 seurat genes of log data, scaled, 50
    PCs, the 15-NN graph, Leiden."""
    logexpr = counts.copy()
    sc.pp.filter_genes(logexpr, min_cells=3)
    sc.pp.normalize_total(logexpr, target_sum=1e4)
    sc.pp.log1p(logexpr)
    sc.pp.highly_variable_genes(logexpr, n_top_genes=2000, subset=True)
    sc.pp.scale(logexpr, max_value=10)
    sc.pp.pca(logexpr, n_comps=50, random_state=seed)
    sc.pp.neighbors(logexpr, n_neighbors=15, random_state=seed)
    partitions = []
    for resolution in resolutions:
        sc.tl.leiden(logexpr, resolution=resolution, flavor="igraph", n_iterations=2, random_state=seed)
        partitions.append(logexpr.obs["leiden"].to_numpy())
    return partitions


def demo_counts() -> ad.AnnData:
    """scanpy's bundled 700-cell PBMC sample (the demo's) with its `bulk_labels` as the cell types: a set no default
    was chosen on."""
    counts = pbmc68k_counts()
    counts.obs[LABEL_KEY] = counts.obs["bulk_labels"]
    return counts


def subsample(counts: ad.AnnData, n_cells: int | None = None, per_type: int | None = None) -> ad.AnnData:
    """`n_cells` of the set's cells drawn at random, or at most `per_type` of each type (random state 0, so every run
    sees the same), or all of them."""
    rng = np.random.default_rng(0)
    if per_type is not None:
        types = counts.obs[LABEL_KEY].astype(str).to_numpy()
        keep = np.concatenate([rng.permutation(np.flatnonzero(types == t))[:per_type] for t in np.unique(types)])
    elif n_cells is not None and n_cells < counts.n_obs:
        keep = rng.choice(counts.n_obs, n_cells, replace=False)
    else:
        return counts
    sample = counts[np.sort(keep)].copy()
    sample.obs[LABEL_KEY] = sample.obs[LABEL_KEY].astype(str)  # K: the types drawn, not the set's
    return sample


def run_dataset(name: str, counts: ad.AnnData, seeds: list[int],
                configs: dict[str, tuple[PreprocessConfig, ModelConfig, TrainConfig]], baselines: bool,
                auto_k: bool = False, save_dir: Path | None = None) -> dict:
    """Scores of every method on one data set, per seed; each scsmd run reads its own panel. With `auto_k` no
    method is told K: scsmd estimates it, and scanpy's tutorial Leiden is the baseline. With `save_dir`, each scsmd
    run's final step inputs are saved there (`save_run`)."""
    n_clusters = counts.obs[LABEL_KEY].nunique()
    truth = counts.obs[LABEL_KEY].to_numpy()
    k_given_baselines, k_free_baselines = baselines and not auto_k, baselines and auto_k
    fits = {"kmeans_pca": kmeans_pca, "leiden": leiden_k} if k_given_baselines else {}
    count_fits = COUNT_BASELINES if k_given_baselines else {}
    rows: dict[str, list] = {name: [] for name in [*fits, *count_fits,
                                                   *(LEIDEN_SCANPY if k_free_baselines else []), *configs]}
    for seed in seeds:
        if k_free_baselines:
            start = time.perf_counter()
            partitions = leiden_scanpy(counts, seed, LEIDEN_SCANPY.values())
            seconds = time.perf_counter() - start  # the graph's and every resolution's
            for method, labels in zip(LEIDEN_SCANPY, partitions):
                rows[method].append({**score_clusters(truth, labels), "seconds": seconds, "k": len(np.unique(labels))})
        if fits:
            start = time.perf_counter()
            logexpr = scsmd.preprocess(counts, config=BASELINE_PANEL, copy=True)
            preprocess_s = time.perf_counter() - start
        for method, fit in fits.items():
            start = time.perf_counter()
            labels = fit(logexpr, n_clusters, seed)
            rows[method].append({**score_clusters(truth, labels), "seconds": preprocess_s + time.perf_counter() - start})
        for method, fit in count_fits.items():
            start = time.perf_counter()
            labels = fit(counts, n_clusters, seed)
            rows[method].append({**score_clusters(truth, labels), "seconds": time.perf_counter() - start})
        for method, (panel, model_config, config) in configs.items():
            adata = counts.copy()
            start = time.perf_counter()
            run_config = dataclasses.replace(config, seed=seed)
            result = scsmd.train(adata, n_clusters=None if auto_k else n_clusters, preprocess_config=panel,
                                 model_config=model_config, train_config=run_config)
            seconds = time.perf_counter() - start
            if save_dir is not None:
                save_run(save_dir / f"{name}_{method}_seed{seed}.npz".replace(" ", "_"), result, truth, run_config)
            latent, scores, k = adata.obsm["X_scsmd"], scsmd.evaluate(adata, label_key=LABEL_KEY), adata.uns["scsmd"]["n_clusters"]
            rows[method].append({**scores, "seconds": seconds, "k": k, "type_means_ari": type_means_ari(latent, truth),
                                 "block_type_means_ari": block_type_means_ari(latent, truth, result.model.config),
                                 "kmeans_draws_ari": kmeans_draws_ari(latent, truth, k, config, seed)})
        print(f"  {name} seed {seed}: " + ", ".join(f"{m} {r[-1]['ari']:.3f}" for m, r in rows.items()), flush=True)
    return {"n_cells": counts.n_obs, "n_clusters": n_clusters, "runs": rows}


def save_run(path: Path, result, truth: np.ndarray, config: TrainConfig) -> None:
    """What the final partition of a run starts from, its result, and the true types, as one .npz."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, latent=result.latent, head_labels=result.head_labels, head_centroids=result.head_centroids,
                     labels=result.labels, truth=truth.astype(str), seed=config.seed,
                     final_partition=config.final_partition, smoothing_neighbors=result.final_neighbors,
                     final_smoothing_steps=config.final_smoothing_steps, mixture_reg=config.mixture_reg)


def type_means_ari(latent: np.ndarray, truth: np.ndarray) -> float:
    """ARI of each cell's nearest true-type mean on the latent: the partition the latent holds, to set beside the one
    KMeans finds (labels diagnose here; training never sees them)."""
    types = np.unique(truth)
    means = np.stack([latent[truth == t].mean(axis=0) for t in types])
    return score_clusters(truth, types[squared_distances(latent, means).argmin(axis=1)])["ari"]


def block_type_means_ari(latent: np.ndarray, truth: np.ndarray, config: ModelConfig) -> dict[str, float] | None:
    """type_means_ari of the image block and of the dense members' block apart (None without a dense branch): which
    block holds the types, where the joint latent loses them (small or read-count sets: bench/README.md, session 53)."""
    if not config.dense_genes:
        return None
    image, dense = latent[:, :config.latent_dim], latent[:, config.latent_dim:]
    return {"image": type_means_ari(image, truth), "dense": type_means_ari(dense, truth)}


def kmeans_draws_ari(latent: np.ndarray, truth: np.ndarray, n_clusters: int, config: TrainConfig, seed: int,
                     n_draws: int = 5) -> float | None:
    """Mean ARI of KMeans as the default starts it (100 restarts on the smoothed latent) on the final latent over
    `n_draws` random states: how much a partition of this latent hangs on KMeans' draw (on worm, up to 0.19 ARI),
    beside the run's own clusters, which DEC and Lloyd steps refine from one draw (None where later stages cluster)."""
    if config.fuzzy_epochs or config.cellnet_epochs:
        return None
    aris = []
    for draw in range(n_draws):
        centroids, _ = kmeans_centroids(latent, n_clusters, config, seed + 10 * draw)
        aris.append(score_clusters(truth, squared_distances(latent, centroids).argmin(axis=1))["ari"])
    return float(np.mean(aris))


def parse_overrides(pairs: list[str]) -> dict:
    """FIELD=VALUE strings as TrainConfig values, typed like the field's default."""
    defaults = TrainConfig()
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        kind = type(getattr(defaults, name))
        if kind is bool:
            overrides[name] = value.lower() in ("1", "true", "yes")  # bool("False") would be True
        else:
            overrides[name] = tuple(int(v) for v in value.split(",") if v) if kind is tuple else kind(value)
    return overrides


def summarize(results: dict) -> str:
    """A markdown table: mean (sd) ARI, mean NMI and ACC, median seconds per method and data set, and for scsmd the
    ARI of the latent's nearest true-type means (and of each block's, with a dense branch)."""
    lines = ["| data set | K | method | K used | ARI mean (sd) | NMI | ACC | seconds (median) | "
             "latent's type-mean ARI | ARI over 5 KMeans draws |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, entry in results.items():
        for method, runs in entry["runs"].items():
            ari = [r["ari"] for r in runs]
            type_means, draws = (f"{np.mean([r[key] for r in runs]):.3f}" if runs[0].get(key) is not None else "-"
                                 for key in ("type_means_ari", "kmeans_draws_ari"))
            if runs[0].get("block_type_means_ari"):
                type_means += " (" + ", ".join(f"{block} {np.mean([r['block_type_means_ari'][block] for r in runs]):.3f}"
                                               for block in ("image", "dense")) + ")"
            found = "/".join(str(r["k"]) for r in runs) if "k" in runs[0] else "-"
            lines.append(f"| {name} | {entry['n_clusters']} | {method} | {found} | {np.mean(ari):.3f} ({np.std(ari):.3f}) | "
                         f"{np.mean([r['nmi'] for r in runs]):.3f} | {np.mean([r['acc'] for r in runs]):.3f} | "
                         f"{np.median([r['seconds'] for r in runs]):.0f} | {type_means} | {draws} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--datasets", nargs="*",
                        help=f"Names to run: .h5ad stems of --data-dir, or {DEMO_NAME} (default: all of them).")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--presets", nargs="+", default=["default", "reference"], help="Training presets to run.")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="TrainConfig changes (ablation).")
    parser.add_argument("--no-baselines", action="store_true", help="Skip KMeans-PCA and Leiden.")
    parser.add_argument("--n-genes", type=int, default=PreprocessConfig.n_genes, help="scsmd's panel size (ablation).")
    parser.add_argument("--hvg-flavor", help="scsmd's gene ranking (ablation; default: each preset's).")
    parser.add_argument("--scale", action=argparse.BooleanOptionalAction, help="Scale scsmd's panel genes (ablation).")
    parser.add_argument("--dense-genes", type=int, help="scsmd's dense branch genes (ablation; 0: none; each preset's).")
    parser.add_argument("--dense-members", type=int, help="scsmd's dense autoencoders (ablation; each preset's).")
    parser.add_argument("--dense-weight", type=float, help="scsmd's dense latent weight (ablation; each preset's).")
    parser.add_argument("--latent-dim", type=int, help="scsmd's latent size (ablation; default: each preset's).")
    parser.add_argument("--likelihood", choices=["nb", "zinb"], help="scsmd's count likelihood (ablation; each preset's).")
    parser.add_argument("--auto-k", action="store_true", help="Tell no method K: scsmd estimates it (see above).")
    parser.add_argument("--subsample", type=int, metavar="N", help="Score on N random cells of each set (see above).")
    parser.add_argument("--per-type", type=int, metavar="N", help="Score on at most N cells of each type (see above).")
    parser.add_argument("--reads", action="store_true", help="Score on the counts as reads, not UMIs (see above).")
    parser.add_argument("--save-runs", type=Path, metavar="DIR", help="Keep each scsmd run's final step (see above).")
    parser.add_argument("--out", type=Path, default=Path("bench/results/quality.json"))
    args = parser.parse_args()
    if args.subsample is not None and args.per_type is not None:
        parser.error("give --subsample or --per-type, not both")
    overrides = parse_overrides(args.set)
    panel_overrides = {"n_genes": args.n_genes, "hvg_flavor": args.hvg_flavor, "scale": args.scale,
                       "dense_genes": args.dense_genes}
    changed = {**overrides, **{k: v for k, v in panel_overrides.items() if v not in (None, getattr(PreprocessConfig, k))}}
    model_overrides = {"latent_dim": args.latent_dim, "likelihood": args.likelihood, "dense_weight": args.dense_weight,
                       "dense_members": args.dense_members}
    changed.update({k: v for k, v in model_overrides.items() if v is not None})
    suffix = "".join(f" {k}={v}" for k, v in changed.items())
    configs = {f"scsmd_{name}{suffix}": (preprocess_preset(name, **panel_overrides),
                                         model_preset(name, **model_overrides), preset(name, **overrides))
               for name in args.presets}
    loaders = {**{p.stem: partial(read_counts, p) for p in sorted(args.data_dir.glob("*.h5ad"))},
               DEMO_NAME: demo_counts}
    loaders = {name: load for name, load in loaders.items() if not args.datasets or name in args.datasets}
    results = {}
    for name, load in loaders.items():
        counts = subsample(load(), args.subsample, args.per_type)
        results[name] = run_dataset(name, as_read_counts(counts) if args.reads else counts, args.seeds, configs,
                                    not args.no_baselines, args.auto_k, args.save_runs)
        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps(results, indent=1))
    print(summarize(results))


if __name__ == "__main__":
    main()
