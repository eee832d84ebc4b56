"""Label transfer across donors: scsmd_label of a frozen bundle beside kNN on PCA, logistic regression and ingest.

    python bench/transfer.py [--preset default] [--out bench/results/transfer.json]

baron_mouse has two donors (obs['batch']): train on one (labels name clusters after training), embed the other,
both ways. Accuracy and macro-F1 against the published labels; each split's confusion matrix of scsmd_label is drawn
to WORK/REFERENCE_DONOR/confusion.png.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scanpy as sc
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.neighbors import KNeighborsClassifier

import scsmd
from scsmd.atomic import atomic_path
from scsmd.config import model_preset, preprocess_preset, preset
from scsmd.io import read_counts

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "baron_mouse_1886.h5ad"
LABEL_KEY = "cell_type"


def log_normalized(reference, query, n_genes: int = 2000):
    """2000 HVGs of the reference, log-normalized per 10,000, applied to both."""
    ref, qry = reference.copy(), query.copy()
    for a in (ref, qry):
        sc.pp.normalize_total(a, target_sum=1e4)
        sc.pp.log1p(a)
    sc.pp.highly_variable_genes(ref, n_top_genes=n_genes)
    genes = ref.var_names[ref.var["highly_variable"]]
    return ref[:, genes].copy(), qry[:, genes].copy()


def baselines(reference, query) -> dict[str, np.ndarray]:
    """Predicted query labels of kNN on the reference PCA, logistic regression (C 0.1) on scaled genes, and ingest."""
    ref, qry = log_normalized(reference, query)
    sc.pp.pca(ref, n_comps=50)
    loadings, mean = ref.varm["PCs"], np.asarray(ref.X.mean(0)).ravel()
    qry_pca = (qry.X.toarray() - mean) @ loadings
    knn = KNeighborsClassifier(n_neighbors=15).fit(ref.obsm["X_pca"], ref.obs[LABEL_KEY])
    scaled_ref, scaled_qry = ref.X.toarray(), qry.X.toarray()
    mu, sd = scaled_ref.mean(0), scaled_ref.std(0) + 1e-8
    logreg = LogisticRegression(C=0.1, max_iter=1000).fit(np.clip((scaled_ref - mu) / sd, -10, 10), ref.obs[LABEL_KEY])
    sc.pp.neighbors(ref)
    ingest_query = qry.copy()
    sc.tl.ingest(ingest_query, ref, obs=LABEL_KEY, embedding_method="pca")
    return {"knn_pca": knn.predict(qry_pca),
            "logistic_regression": logreg.predict(np.clip((scaled_qry - mu) / sd, -10, 10)),
            "ingest": ingest_query.obs[LABEL_KEY].astype(str).to_numpy()}


def scsmd_labels(reference, query, preset_name: str, folder: Path) -> np.ndarray:
    """Train a preset on the reference with the label key, embed the query, read scsmd_label (and draw it against the
    query's labels: folder/confusion.png)."""
    n_clusters = reference.obs[LABEL_KEY].nunique()
    scsmd.train(reference, n_clusters=n_clusters, bundle_dir=folder, label_key=LABEL_KEY,
                preprocess_config=preprocess_preset(preset_name), model_config=model_preset(preset_name),
                train_config=preset(preset_name), overwrite=True)
    scsmd.export(folder, config=scsmd.config.ExportConfig(formats=("onnx",)))
    out = scsmd.embed(query, model=folder, copy=True)
    scsmd.plot_contingency(out, folder / "confusion.png", label_key=LABEL_KEY, cluster_key="scsmd_label")
    return out.obs["scsmd_label"].astype(str).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="default", help="scsmd training preset.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/scsmd_transfer"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/transfer.json"))
    args = parser.parse_args()
    adata = read_counts(DATA)
    results = {}
    for ref_donor, query_donor in (("mouse2", "mouse1"), ("mouse1", "mouse2")):
        reference = adata[adata.obs["batch"] == ref_donor].copy()
        query = adata[adata.obs["batch"] == query_donor].copy()
        truth = query.obs[LABEL_KEY].astype(str).to_numpy()
        start = time.perf_counter()
        predictions = {"scsmd": scsmd_labels(reference, query, args.preset, args.work / ref_donor)}
        seconds = {"scsmd": time.perf_counter() - start}
        predictions.update(baselines(reference, query))
        split = f"{ref_donor} -> {query_donor}"
        results[split] = {name: {"accuracy": float(accuracy_score(truth, p)),
                                 "macro_f1": float(f1_score(truth, p, average="macro", zero_division=0))}
                          for name, p in predictions.items()}
        results[split]["scsmd"]["seconds"] = seconds["scsmd"]
        print(split, json.dumps(results[split]), flush=True)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
