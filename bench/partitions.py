"""Final partitions scored on saved training runs: the default's last step beside others, without training again.

    python bench/quality.py --datasets SET --seeds 0 1 --presets default --no-baselines --save-runs DIR
    python bench/partitions.py DIR/*.npz [--out bench/results/partitions.json]

Each run file holds what `scsmd train`'s last step starts from (the final latent, the last stage's clusters and
centroids, the smoothing it used) and the true types. Each partition is the last step's `--partition`
(`TrainConfig.final_partition`); the run's own is recomputed and checked against its labels. Every cell is given its
nearest centroid's cluster, as `scsmd embed` assigns; the ARI against the true types is printed per run. The labels
only score: no partition sees them.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from scsmd.atomic import atomic_path
from scsmd.config import FINAL_PARTITIONS, TrainConfig
from scsmd.metrics import score_clusters
from scsmd.train.partition import final_clusters

Partition = Callable[[dict], np.ndarray]  # a run's arrays -> its cells' clusters, as new cells would be assigned


def final_partition(kind: str) -> Partition:
    """`scsmd train`'s last step with `--partition kind` (TrainConfig.final_partition) on a saved run."""

    def partition(run: dict) -> np.ndarray:
        return final_clusters(run["latent"], run["head_labels"], run["head_centroids"], int(run["seed"]),
                              int(run["smoothing_neighbors"]), int(run["final_smoothing_steps"]), kind,
                              mixture_reg=float(run.get("mixture_reg", TrainConfig.mixture_reg)))[0]

    return partition


PARTITIONS: dict[str, Partition] = {kind: final_partition(kind) for kind in FINAL_PARTITIONS}


def score_run(path: Path) -> dict[str, float]:
    """ARI of every partition on one saved run."""
    with np.load(path) as arrays:
        run = dict(arrays)
    scores = {}
    for name, partition in PARTITIONS.items():
        labels = partition(run)
        if name == str(run.get("final_partition", "lloyd")) and not np.array_equal(labels, run["labels"]):
            raise SystemExit(f"{path}: {name} does not give the run's labels; was it saved by another version?")
        scores[name] = score_clusters(run["truth"], labels)["ari"]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="Run files saved by bench/quality.py --save-runs.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/partitions.json"))
    args = parser.parse_args()
    results = {f"{path.parent.name}/{path.stem}": score_run(path) for path in sorted(args.runs)}
    print("run".ljust(56) + "".join(name.rjust(17) for name in PARTITIONS))
    for run, scores in results.items():
        print(run.ljust(56) + "".join(f"{scores[name]:17.3f}" for name in PARTITIONS))
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
