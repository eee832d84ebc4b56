import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from scsmd.infer.label_head import LabelHead
from scsmd.train.label_head import fit_label_head


def _blobs(n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable Gaussian blobs in a 10-d latent, labels as strings."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5, size=(n_classes, 10))
    labels = rng.integers(0, n_classes, 300)
    return (centres[labels] + rng.normal(size=(300, 10))).astype(np.float32), np.array([f"type{k}" for k in labels])


@pytest.mark.parametrize("hidden", [(), (16,), (8, 8)])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_head_matches_sklearn_and_survives_save_load(tmp_path, hidden, n_classes):
    latent, labels = _blobs(n_classes)
    head = fit_label_head(latent, labels, hidden, seed=0)
    reference = MLPClassifier(hidden_layer_sizes=hidden, alpha=1e-3, max_iter=2000, random_state=0)
    reference.fit((latent - head.mean) / head.scale, labels)
    np.testing.assert_allclose(head.probabilities(latent), reference.predict_proba((latent - head.mean) / head.scale),
                               atol=1e-6)
    head.save(tmp_path / "head.npz")
    loaded = LabelHead.load(tmp_path / "head.npz")
    np.testing.assert_array_equal(loaded.probabilities(latent), head.probabilities(latent))
    names, confidence = loaded.predict(latent)
    assert (names == labels).mean() > 0.95 and loaded.classes == tuple(sorted(set(labels)))
    assert ((confidence >= 1 / n_classes) & (confidence <= 1)).all()
