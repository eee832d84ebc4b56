"""Shared fixtures: tiny synthetic NB counts, a trained tiny bundle, and the real data folder."""
from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

DATA_DIR = Path(os.environ.get("SCSMD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def synthetic_counts(n_cells: int = 240, n_genes: int = 900, n_types: int = 3, seed: int = 0) -> ad.AnnData:
    """NB counts of `n_types` cell types, each with its own up-regulated genes; labels in obs['cell_type']."""
    rng = np.random.default_rng(seed)
    types = np.arange(n_cells) % n_types
    base = rng.gamma(0.6, 1.0, n_genes)
    means = np.tile(base, (n_types, 1))
    for t in range(n_types):
        means[t, rng.choice(n_genes, 60, replace=False)] *= 12
    depth = rng.lognormal(0, 0.3, n_cells)[:, None]
    mu = means[types] * depth
    counts = rng.negative_binomial(2, 2 / (2 + mu)).astype(np.float32)
    obs = pd.DataFrame({"cell_type": pd.Categorical([f"type_{t}" for t in types])},
                       index=[f"cell_{i}" for i in range(n_cells)])
    return ad.AnnData(sp.csr_matrix(counts), obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(n_genes)]))


@pytest.fixture
def counts() -> ad.AnnData:
    """A fresh synthetic count matrix per test."""
    return synthetic_counts()


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A bundle trained one epoch per stage on synthetic counts, exported to ONNX and TorchScript."""
    import scsmd
    from scsmd.config import TrainConfig

    folder = tmp_path_factory.mktemp("models") / "tiny"
    adata = synthetic_counts()
    config = TrainConfig(batch_size=60, pretrain_epochs=1, fuzzy_epochs=1, cellnet_epochs=1)
    scsmd.train(adata, n_clusters=3, bundle_dir=folder, label_key="cell_type", train_config=config)
    scsmd.export(folder)
    return folder, adata


def real_data(name: str) -> Path:
    """Path of a shared real data set, skipping the test when the folder is absent."""
    path = DATA_DIR / name
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path
