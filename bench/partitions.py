"""Final partitions scored on saved training runs: the default's last step beside others, without training again.

    python bench/quality.py --datasets SET --seeds 0 1 --presets default --no-baselines --save-runs DIR
    python bench/partitions.py DIR/*.npz [--out bench/results/partitions.json]

Each run file holds what `scsmd train`'s last step starts from (the final latent, the last stage's clusters and
centroids, the smoothing it used) and the true types. Each partition gives every cell the cluster it would give a new
cell there (nearest centroid for `lloyd` and `average_linkage`, as `scsmd embed` assigns; the most probable
component for the mixture); its ARI against the true types is printed per run. `lloyd` recomputes the default and is
checked against the run's own labels. The labels only score: no partition sees them.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

from scsmd.atomic import atomic_path
from scsmd.infer.assign import squared_distances
from scsmd.metrics import score_clusters
from scsmd.train.trainer import cluster_means, final_clusters

REG_COVAR = 1e-4  # added to each variance: a latent block's per-dimension variance is about 0.01-0.05
Partition = Callable[[dict], np.ndarray]  # a run's arrays -> its cells' clusters, as new cells would be assigned


def lloyd_centroids(run: dict) -> np.ndarray:
    """The default's centroids: Lloyd steps from the last stage's clusters on the once-smoothed latent."""
    return final_clusters(run["latent"], run["head_labels"], run["head_centroids"], int(run["seed"]),
                          int(run["smoothing_neighbors"]), int(run["final_smoothing_steps"]))[1]


def lloyd(run: dict) -> np.ndarray:
    """The default: nearest of Lloyd's centroids."""
    return squared_distances(run["latent"], lloyd_centroids(run)).argmin(axis=1)


def average_linkage(run: dict) -> np.ndarray:
    """`--partition average`: nearest of the centroids of an average-linkage agglomeration of the smoothed latent."""
    return final_clusters(run["latent"], run["head_labels"], run["head_centroids"], int(run["seed"]),
                          int(run["smoothing_neighbors"]), int(run["final_smoothing_steps"]), "average")[0]


def diagonal_mixture(run: dict) -> np.ndarray:
    """A Gaussian mixture with diagonal covariances on the raw latent, started from Lloyd's clusters; each cell in
    its most probable component: every cluster its own spread along each latent dimension and its own weight, where
    nearest-centroid gives all clusters one spread."""
    latent, start = run["latent"].astype(np.float64), lloyd(run)
    means = cluster_means(latent, start, run["head_centroids"])
    weights = np.bincount(start, minlength=len(means)) + 1.0
    variances = np.stack([latent[start == k].var(axis=0) if (start == k).sum() > 1 else latent.var(axis=0)
                          for k in range(len(means))]) + REG_COVAR
    gmm = GaussianMixture(len(means), covariance_type="diag", reg_covar=REG_COVAR, means_init=means,
                          weights_init=weights / weights.sum(), precisions_init=1 / variances).fit(latent)
    return gmm.predict(latent)


PARTITIONS: dict[str, Partition] = {"lloyd": lloyd, "average_linkage": average_linkage,
                                    "diagonal_mixture": diagonal_mixture}


def score_run(path: Path) -> dict[str, float]:
    """ARI of every partition on one saved run."""
    with np.load(path) as arrays:
        run = dict(arrays)
    scores = {}
    for name, partition in PARTITIONS.items():
        labels = partition(run)
        if name == "lloyd" and not np.array_equal(labels, run["labels"]):
            raise SystemExit(f"{path}: lloyd does not reproduce the run's labels; was it saved by another version?")
        scores[name] = score_clusters(run["truth"], labels)["ari"]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="Run files saved by bench/quality.py --save-runs.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/partitions.json"))
    args = parser.parse_args()
    results = {path.stem: score_run(path) for path in sorted(args.runs)}
    print("run".ljust(48) + "".join(name.rjust(17) for name in PARTITIONS))
    for run, scores in results.items():
        print(run.ljust(48) + "".join(f"{scores[name]:17.3f}" for name in PARTITIONS))
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
