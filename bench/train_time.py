"""Whole-process time and peak memory of `scsmd train`, and whether its seed repeats the run on this device.

    python bench/train_time.py [--data ../shared/data/pbmc_10x_4271.h5ad] [--runs 3] [--label-key cell_type]
                               [--device auto] [--out bench/results/train_time.json]

Each run is a fresh process, `python -m scsmd train DATA -k K --label-key KEY --device D --seed 0`, measured from
outside (wall seconds and the child's peak RSS, bench/embed.py's wrapper), with the pretraining seconds its bundle
records. K is the number of labels, as in the issue. The runs' latents must be identical (one seed, one device).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
from embed import measured

from scsmd.atomic import atomic_path
from scsmd.bundle import Bundle

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pbmc_10x_4271.h5ad"


def timed_run(data: Path, n_cells: int, n_clusters: int, label_key: str, device: str, work: Path, name: str) -> dict:
    """One `scsmd train` process: its figures, the stage seconds from the bundle, and the latent it wrote."""
    out = work / f"{name}.h5ad"
    command = [sys.executable, "-m", "scsmd", "-q", "train", str(data), "-k", str(n_clusters), "--label-key", label_key,
               "--device", device, "--models-dir", str(work), "--name", name, "-o", str(out), "--force"]
    figures = measured(command, n_cells)
    manifest = Bundle.load(work / name).manifest
    stages: dict[str, float] = {}
    for record in manifest["history"]:
        stages[record["stage"]] = stages.get(record["stage"], 0.0) + record["seconds"]
    cells = ad.read_h5ad(out)
    return {**figures, "device": manifest["device"], "stage_seconds": stages,
            "ari": cells.uns["scsmd"]["metrics"]["ari"], "latent": cells.obsm["X_scsmd"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label-key", default="cell_type", help="Names clusters and gives K; never trains.")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("bench/results/train_time.json"))
    args = parser.parse_args()
    obs = ad.read_h5ad(args.data, backed="r").obs
    n_clusters = obs[args.label_key].nunique()
    with tempfile.TemporaryDirectory() as work:
        runs = [timed_run(args.data, len(obs), n_clusters, args.label_key, args.device, Path(work), f"run{i}")
                for i in range(args.runs)]
    latents = [run.pop("latent") for run in runs]
    walls = [run["seconds"] for run in runs]
    report = {"data": args.data.name, "n_clusters": n_clusters, "runs": runs,
              "wall_s": {"min": min(walls), "median": statistics.median(walls), "max": max(walls)},
              "max_latent_diff_between_runs": max(float(np.abs(latent - latents[0]).max()) for latent in latents)}
    print(json.dumps(report, indent=1))
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
