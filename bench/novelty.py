"""Novelty: train on one donor without one cell type, embed the other donor, and score how well scsmd flags the
left-out type there (the deployment case: a frozen reference meets a new batch with a type it never saw).

    python bench/novelty.py [--types beta ductal ...] [--reference mouse2] [--preset default] [--seed 0]
                            [--dense-members M] [--out bench/results/novelty.json]

For each left-out type (`--types`, or the `--left-out` N largest), with the query donor's cells of that type as
positives and its other cells as negatives: ROC AUC of `scsmd_distance` (no labels needed), of distance over the
cluster's novelty radius, and of 1 - `scsmd_label_confidence` (the label head), and the precision / recall of
`scsmd_novel` (with a head: below its min_confidence) and of the radius flag that bundles without labels use.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sklearn.metrics import precision_score, recall_score, roc_auc_score

import scsmd
from scsmd.atomic import atomic_path
from scsmd.config import ExportConfig, model_preset, preprocess_preset, preset
from scsmd.io import read_counts

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASET = "baron_mouse_1886"
LABEL_KEY, DONOR_KEY = "cell_type", "batch"


def leave_one_out(reference, query, cell_type: str, preset_name: str, folder: Path, seed: int = 0,
                  dense_members: int | None = None) -> dict:
    """Train on `reference` without `cell_type` (K = remaining types, with a label head), embed `query`, score."""
    known = reference[(reference.obs[LABEL_KEY] != cell_type).to_numpy()].copy()
    scsmd.train(known, n_clusters=known.obs[LABEL_KEY].nunique(), bundle_dir=folder, label_key=LABEL_KEY,
                preprocess_config=preprocess_preset(preset_name),
                model_config=model_preset(preset_name, dense_members=dense_members),
                train_config=preset(preset_name, seed=seed), overwrite=True)
    scsmd.export(folder, config=ExportConfig(formats=("onnx",)))
    out = scsmd.embed(query, model=folder, copy=True)
    bundle = scsmd.load_model(folder)
    held_out = (query.obs[LABEL_KEY] == cell_type).to_numpy()
    distance = out.obs["scsmd_distance"].to_numpy()
    relative = distance / bundle.novelty_radius[out.obs["scsmd_cluster"].astype(int).to_numpy()]
    unsure = 1 - out.obs["scsmd_label_confidence"].to_numpy()
    flags = {"confidence_flag": out.obs["scsmd_novel"].to_numpy(), "radius_flag": relative > 1}
    scores = {"n_left_out": int(held_out.sum()), "n_query": int(len(held_out)),
              "auc_distance": float(roc_auc_score(held_out, distance)),
              "auc_relative_distance": float(roc_auc_score(held_out, relative)),
              "auc_label_confidence": float(roc_auc_score(held_out, unsure)),
              "min_confidence": bundle.label_head.min_confidence}
    for name, flag in flags.items():  # scsmd_novel, and the flag a bundle without labels would raise
        scores |= {f"{name}_precision": float(precision_score(held_out, flag, zero_division=0)),
                   f"{name}_recall": float(recall_score(held_out, flag)),
                   f"{name}_known": float(flag[~held_out].mean())}
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--left-out", type=int, default=3, help="How many of the largest types to leave out in turn.")
    parser.add_argument("--types", nargs="*", help="Cell types to leave out in turn.")
    parser.add_argument("--reference", default="mouse2", help="The donor to train on; the other one is the query.")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seed", type=int, default=0, help="Training seed of every reference.")
    parser.add_argument("--dense-members", type=int, help="Dense autoencoders (ablation; default: the preset's).")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scsmd_novelty"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/novelty.json"))
    args = parser.parse_args()
    adata = read_counts(DATA_DIR / f"{DATASET}.h5ad")
    is_reference = (adata.obs[DONOR_KEY] == args.reference).to_numpy()
    reference, query = adata[is_reference].copy(), adata[~is_reference].copy()
    types = args.types or reference.obs[LABEL_KEY].value_counts().index[:args.left_out]
    results = {}
    for cell_type in types:
        results[str(cell_type)] = leave_one_out(reference, query, cell_type, args.preset, args.work / "model",
                                                 args.seed, args.dense_members)
        print(cell_type, json.dumps(results[str(cell_type)]), flush=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
