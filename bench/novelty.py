"""Novelty: leave one cell type out of training, embed every cell, and score how well scsmd flags the left-out type.

    python bench/novelty.py [--dataset baron_mouse_1886] [--types beta ductal ...] [--preset default]
                            [--out bench/results/novelty.json]

For each left-out type (`--types`, or the `--left-out` N largest): ROC AUC of `scsmd_distance` and of distance over the cluster's
novelty radius, and the precision / recall of `scsmd_novel`, with the left-out cells as positives.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_score, recall_score, roc_auc_score

import scsmd
from scsmd.atomic import atomic_path
from scsmd.config import ExportConfig, preset
from scsmd.io import read_counts

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
LABEL_KEY = "cell_type"


def leave_one_out(adata, cell_type: str, train_config, folder: Path) -> dict:
    """Train without `cell_type` (K = remaining types), embed all cells, score the flag and the distances."""
    held_out = (adata.obs[LABEL_KEY] == cell_type).to_numpy()
    reference = adata[~held_out].copy()
    scsmd.train(reference, n_clusters=reference.obs[LABEL_KEY].nunique(), bundle_dir=folder, train_config=train_config,
                overwrite=True)
    scsmd.export(folder, config=ExportConfig(formats=("onnx",)))
    out = scsmd.embed(adata, model=folder, copy=True)
    bundle = scsmd.load_model(folder)
    distance = out.obs["scsmd_distance"].to_numpy()
    relative = distance / bundle.novelty_radius[out.obs["scsmd_cluster"].astype(int).to_numpy()]
    novel = out.obs["scsmd_novel"].to_numpy()
    return {"n_left_out": int(held_out.sum()), "auc_distance": float(roc_auc_score(held_out, distance)),
            "auc_relative_distance": float(roc_auc_score(held_out, relative)),
            "flag_precision": float(precision_score(held_out, novel, zero_division=0)),
            "flag_recall": float(recall_score(held_out, novel)),
            "flagged_known": float(novel[~held_out].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="baron_mouse_1886")
    parser.add_argument("--left-out", type=int, default=3, help="How many of the largest types to leave out in turn.")
    parser.add_argument("--types", nargs="*", help="Cell types to leave out in turn.")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scsmd_novelty"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/novelty.json"))
    args = parser.parse_args()
    adata = read_counts(DATA_DIR / f"{args.dataset}.h5ad")
    types = args.types or adata.obs[LABEL_KEY].value_counts().index[:args.left_out]
    results = {}
    for cell_type in types:
        results[str(cell_type)] = leave_one_out(adata, cell_type, preset(args.preset), args.work / "model")
        print(cell_type, json.dumps(results[str(cell_type)]), flush=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
