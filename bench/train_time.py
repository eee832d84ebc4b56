"""Whole-process time and peak memory of `scsmd train`, and whether its seed repeats the run on this device.

    python bench/train_time.py [--data ../shared/data/pbmc_10x_4271.h5ad] [--runs 3] [--label-key cell_type]
                               [--label-head] [--device auto] [--out bench/results/train_time.json]

Each run is a fresh process, `python -m scsmd train DATA -k K --device D` (the issue's command; with --label-head,
`--label-key KEY` too, which fits the label head), measured from outside (wall seconds and the child's peak RSS,
bench/embed.py's wrapper), with the seconds its output records per stage and per step between the epochs (the rest:
the interpreter, the CLI's imports, reading and writing). K is the number of labels, as in the issue, which also
score the clusters. The runs' latents must be identical (one seed, one device).
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
import pandas as pd
from embed import measured

from scsmd.atomic import atomic_path
from scsmd.bundle import Bundle
from scsmd.metrics import score_clusters

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pbmc_10x_4271.h5ad"


def timed_run(data: Path, labels: pd.Series, label_head: bool, device: str, work: Path, name: str) -> dict:
    """One `scsmd train` process: its figures, the seconds per stage and step its bundle records, and its latent."""
    out = work / f"{name}.h5ad"
    command = [sys.executable, "-m", "scsmd", "-q", "train", str(data), "-k", str(labels.nunique()),
               "--device", device, "--models-dir", str(work), "--name", name, "-o", str(out), "--force"]
    if label_head:
        command += ["--label-key", str(labels.name)]
    figures = measured(command, len(labels))
    manifest = Bundle.load(work / name).manifest
    cells = ad.read_h5ad(out)
    split = dict(cells.uns["scsmd"]["timings"])
    rest = figures["seconds"] - sum(split.values())  # the interpreter, the CLI's imports, reading and writing
    print(f"{name}: {figures['seconds']:.1f} s wall, {rest:.1f} s outside the library, {split}", file=sys.stderr,
          flush=True)
    return {**figures, "device": manifest["device"], "split_s": split, "rest_s": rest,
            "ari": score_clusters(labels, cells.obs["scsmd_cluster"].astype(int).to_numpy())["ari"],
            "latent": cells.obsm["X_scsmd"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--label-key", default="cell_type", help="Gives K and scores the clusters; never trains.")
    parser.add_argument("--label-head", action="store_true", help="Pass --label-key to train: fit the label head too.")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("bench/results/train_time.json"))
    args = parser.parse_args()
    labels = ad.read_h5ad(args.data, backed="r").obs[args.label_key]
    with tempfile.TemporaryDirectory() as work:
        runs = [timed_run(args.data, labels, args.label_head, args.device, Path(work), f"run{i}")
                for i in range(args.runs)]
    latents = [run.pop("latent") for run in runs]
    walls = [run["seconds"] for run in runs]
    report = {"data": args.data.name, "n_clusters": labels.nunique(), "label_head": args.label_head, "runs": runs,
              "wall_s": {"min": min(walls), "median": statistics.median(walls), "max": max(walls)},
              "max_latent_diff_between_runs": max(float(np.abs(latent - latents[0]).max()) for latent in latents)}
    print(json.dumps(report, indent=1))
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
