import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scsmd.config import ModelConfig
from scsmd.infer.label_head import LabelHead
from scsmd.train.label_head import fit_label_head, latent_weights


def _cells(n_classes: int, seed: int = 0, n_cells: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-expression of 30 genes, a 10-d latent and string labels; classes differ in a few genes and the latent."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_cells)
    genes = np.log1p(rng.poisson(2.0, size=(n_cells, 30)).astype(np.float64))
    genes[:, :n_classes] += 2.0 * np.eye(n_classes)[labels]
    latent = rng.normal(scale=3, size=(n_classes, 10))[labels] + rng.normal(size=(n_cells, 10))
    return genes.astype(np.float32), latent.astype(np.float32), np.array([f"type{k}" for k in labels])


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_head_matches_sklearn_and_survives_save_load(tmp_path, n_classes, weighted):
    logexpr, latent, labels = _cells(n_classes)
    genes = [f"g{i}" for i in range(logexpr.shape[1])]
    weights = np.r_[np.ones(4), np.full(6, 0.5)] if weighted else None  # as latent_weights: 4 image, 2 x 3 dense
    head = fit_label_head(logexpr, latent, labels, genes, c=1.0, novelty_quantile=0.99, seed=0, weights=weights)
    stacked = np.hstack([logexpr, latent], dtype=np.float64)
    features = np.clip((stacked - stacked.mean(0)) / (stacked.std(0) + 1e-8), -10, 10)
    if weighted:  # the classifier sees the weighted columns; the saved coefficients carry the weights
        features[:, -6:] *= 0.5
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(features, labels)
    probabilities = head.probabilities(head.gene_logits(logexpr), latent)
    np.testing.assert_allclose(probabilities, reference.predict_proba(features), atol=1e-6)
    head.save(tmp_path / "head.npz")
    loaded = LabelHead.load(tmp_path / "head.npz")
    assert loaded.genes == tuple(genes) and loaded.classes == tuple(sorted(set(labels)))
    np.testing.assert_array_equal(loaded.probabilities(loaded.gene_logits(logexpr), latent), probabilities)
    names, confidence = loaded.predict(loaded.gene_logits(logexpr), latent)
    assert (names == labels).mean() > 0.95
    assert ((confidence >= 1 / n_classes) & (confidence <= 1)).all()


def test_head_names_cells_from_genes_when_the_latent_says_nothing():
    logexpr, _, labels = _cells(4)
    noise = np.random.default_rng(1).normal(size=(len(labels), 10)).astype(np.float32)
    head = fit_label_head(logexpr, noise, labels, [f"g{i}" for i in range(30)], c=1.0, novelty_quantile=0.99,
                          seed=0)
    assert (head.predict(head.gene_logits(logexpr), noise)[0] == labels).mean() > 0.9  # the marker genes carry the names


def test_a_head_from_an_older_scsmd_is_refused_with_the_fix(tmp_path):
    from scsmd.errors import ScsmdError

    with open(tmp_path / "head.npz", "wb") as handle:  # sessions 2-3 wrote an MLP on the latent alone
        np.savez(handle, classes=np.array(["a", "b"]), mean=np.zeros(10), scale=np.ones(10),
                 weight_0=np.zeros((10, 1)), bias_0=np.zeros(1))
    with pytest.raises(ScsmdError, match="older scsmd.*retrain the bundle with --label-key"):
        LabelHead.load(tmp_path / "head.npz")
    with open(tmp_path / "head.npz", "wb") as handle:  # session 4 wrote the genes but no novelty threshold
        np.savez(handle, classes=np.array(["a", "b"]), genes=np.array(["g"]), mean=np.zeros(11), scale=np.ones(11),
                 weight=np.zeros((11, 1)), bias=np.zeros(1))
    with pytest.raises(ScsmdError, match="older scsmd.*retrain the bundle with --label-key"):
        LabelHead.load(tmp_path / "head.npz")


def test_min_confidence_keeps_known_cells_and_flags_cells_no_type_fits():
    logexpr, latent, labels = _cells(4, n_cells=600)
    head = fit_label_head(logexpr[:300], latent[:300], labels[:300], [f"g{i}" for i in range(30)], c=1.0,
                          novelty_quantile=0.95, seed=0)
    assert 1 / 4 < head.min_confidence < 1
    _, confidence = head.predict(head.gene_logits(logexpr[300:]), latent[300:])  # cells the threshold never saw
    assert (confidence < head.min_confidence).mean() < 0.15  # about the 5% the quantile allows
    first, second = np.flatnonzero(labels[300:] == "type0")[:20] + 300, np.flatnonzero(labels[300:] == "type1")[:20] + 300
    between = (logexpr[first] + logexpr[second]) / 2, (latent[first] + latent[second]) / 2  # half one type, half another
    _, confidence = head.predict(head.gene_logits(between[0]), between[1])
    assert (confidence < head.min_confidence).mean() > 0.5


def test_a_head_whose_types_are_all_single_cells_but_one_trains_and_flags_nothing():
    logexpr, latent, _ = _cells(2, n_cells=120)
    labels = np.array(["common"] * 119 + ["single"])  # no split leaves both types to learn from
    head = fit_label_head(logexpr, latent, labels, [f"g{i}" for i in range(30)], c=1.0, novelty_quantile=0.99, seed=0)
    assert head.classes == ("common", "single") and head.min_confidence == 0.0
    assert not (head.predict(head.gene_logits(logexpr), latent)[1] < head.min_confidence).any()


def test_latent_weights_count_the_dense_members_as_one():
    two = latent_weights(ModelConfig(latent_dim=20, dense_genes=100, dense_latent_dim=32, dense_members=2))
    np.testing.assert_array_equal(two, np.r_[np.ones(20), np.full(64, 0.5)])
    np.testing.assert_array_equal(latent_weights(ModelConfig(latent_dim=20, dense_genes=0)), np.ones(20))
    assert (latent_weights(ModelConfig(latent_dim=20, dense_genes=100, dense_members=1)) == 1).all()
