import numpy as np
import pytest
import scipy.sparse as sp

from scsmd.errors import ScsmdError
from scsmd.panel import PanelScaling, logexpr_panel, match_panel, to_inputs


def test_genes_matched_by_name_not_position():
    counts = sp.csr_matrix(np.array([[1.0, 2.0, 7.0], [0.0, 4.0, 6.0]]))
    match = match_panel(["b", "x", "a"], ["a", "b", "missing"])
    assert list(match.columns) == [2, 0, -1] and match.missing == ["missing"]
    out = logexpr_panel(counts, match, target_sum=100)
    library = np.array([10.0, 10.0])  # over all genes, including the one outside the panel
    expected = np.log1p(np.array([[7.0, 1.0, 0.0], [6.0, 0.0, 0.0]]) / library[:, None] * 100)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_overlap_floor_and_no_overlap():
    with pytest.raises(ScsmdError, match="1 of 3 panel genes"):
        match_panel(["a", "z"], ["a", "b", "c"], min_overlap=0.5)
    with pytest.raises(ScsmdError, match="none of the model"):
        match_panel(["z"], ["a", "b"])


def test_empty_cell_is_zero_not_nan():
    out = logexpr_panel(sp.csr_matrix(np.zeros((1, 2))), match_panel(["a", "b"], ["a", "b"]))
    assert np.all(out == 0)


def test_inputs_pad_the_image_and_keep_the_genes_past_it():
    inputs = to_inputs(np.arange(1, 31, dtype=np.float32).reshape(1, 30), side=28)
    assert inputs.shape == (1, 784)
    image = inputs.reshape(1, 1, 28, 28)  # row by row, as the encoder lays it out
    assert image[0, 0, 0, 27] == 28 and image[0, 0, 1, 1] == 30 and image[0, 0, 1, 2] == 0
    wide = to_inputs(np.arange(1, 1001, dtype=np.float32).reshape(1, 1000), side=28)
    assert wide.shape == (1, 1000) and wide[0, 999] == 1000


def test_sparse_and_dense_inputs_give_the_dense_formula():
    rng = np.random.default_rng(0)
    dense = rng.poisson(0.5, size=(50, 40)).astype(np.float32)
    dense[3] = 0
    genes = [f"g{i}" for i in range(40)]
    match = match_panel(genes, ["g7", "missing", "g0", "g39", "g12"])
    library = dense.sum(axis=1, dtype=np.float64)
    scale = np.divide(1e4, library, out=np.zeros(50), where=library > 0)
    expected = np.zeros((50, 5), dtype=np.float32)
    expected[:, [0, 2, 3, 4]] = np.log1p(dense[:, [7, 0, 39, 12]] * scale[:, None])
    np.testing.assert_array_equal(logexpr_panel(dense, match), expected)
    np.testing.assert_array_equal(logexpr_panel(sp.csr_matrix(dense), match), expected)


def test_scaling_standardizes_clips_and_centres_missing_genes():
    rng = np.random.default_rng(0)
    training = rng.gamma(2.0, 1.0, size=(500, 4)).astype(np.float32)
    training[:, 2] = 3.0  # a constant gene: sd 1, so it scales to 0 rather than dividing by zero
    training[0, 3] = 1000.0  # an outlier beyond max_value sds
    scaling = PanelScaling.fit(training, max_value=5.0)
    full = match_panel(["a", "b", "c", "d"], ["a", "b", "c", "d"])
    scaled = scaling.apply(training, full)
    np.testing.assert_allclose(scaled[:, :2].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled[:, :2].std(axis=0, ddof=1), 1.0, atol=1e-4)
    assert np.all(scaled[:, 2] == 0) and scaled[0, 3] == 5.0 and scaled.min() >= -5.0
    partial = match_panel(["a", "c", "d"], ["a", "b", "c", "d"])  # "b" missing in new cells: at its training mean
    new = logexpr_panel(sp.csr_matrix(rng.poisson(2.0, size=(3, 3)).astype(np.float32)), partial, target_sum=10)
    assert np.all(scaling.apply(new, partial)[:, 1] == 0) and np.any(scaling.apply(new, partial)[:, 0] != 0)


def test_a_repeated_gene_name_keeps_its_first_column(caplog):
    with caplog.at_level("WARNING"):
        match = match_panel(["a", "b", "a"], ["a", "b"])
    assert list(match.columns) == [0, 1]  # the column var_names_make_unique leaves named "a"
    assert "1 panel genes name more than one input column" in caplog.text
