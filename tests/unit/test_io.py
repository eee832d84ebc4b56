import gzip

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from scsmd.errors import ScsmdError
from scsmd.io import h5ad_shape, iter_row_chunks, read_counts


@pytest.fixture
def table():
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.poisson(2, (6, 4)), index=[f"c{i}" for i in range(6)], columns=["A", "B", "C", "D"])


def assert_same(adata, table):
    assert list(adata.obs_names) == list(table.index)
    assert list(adata.var_names) == list(table.columns)
    np.testing.assert_array_equal(adata.X.toarray(), table.to_numpy())


def test_csv_txt_gz_and_transpose(tmp_path, table):
    table.to_csv(tmp_path / "x.csv")
    table.to_csv(tmp_path / "x.txt", sep=" ")
    with gzip.open(tmp_path / "x.csv.gz", "wt") as f:
        table.to_csv(f)
    table.T.to_csv(tmp_path / "t.txt", sep="\t")
    for name in ("x.csv", "x.txt", "x.csv.gz"):
        assert_same(read_counts(tmp_path / name), table)
    assert_same(read_counts(tmp_path / "t.txt", transpose=True), table)


def test_10x_mtx_folder(tmp_path, table):
    folder = tmp_path / "mtx"
    folder.mkdir()
    with gzip.open(folder / "matrix.mtx.gz", "wb") as f:
        scipy.io.mmwrite(f, sp.coo_matrix(table.to_numpy().T))
    pd.Series(table.index).to_csv(folder / "barcodes.tsv", index=False, header=False)
    pd.DataFrame({"id": [f"ENS{i}" for i in range(4)], "name": table.columns, "kind": "Gene Expression"}).to_csv(
        folder / "features.tsv", sep="\t", index=False, header=False)
    adata = read_counts(folder)
    assert_same(adata, table)
    assert list(adata.var["gene_ids"]) == [f"ENS{i}" for i in range(4)]


def test_10x_h5(tmp_path, table):
    matrix = sp.csc_matrix(table.to_numpy().T)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        g = f.create_group("matrix")
        for key, value in (("data", matrix.data), ("indices", matrix.indices), ("indptr", matrix.indptr),
                           ("shape", np.array(matrix.shape)), ("barcodes", np.array(table.index, dtype="S"))):
            g[key] = value
        g["features/name"] = np.array(table.columns, dtype="S")
        g["features/id"] = np.array([f"ENS{i}" for i in range(4)], dtype="S")
    assert_same(read_counts(tmp_path / "x.h5"), table)


def test_h5ad_and_chunks(tmp_path, counts):
    counts.write_h5ad(tmp_path / "x.h5ad")
    adata = read_counts(tmp_path / "x.h5ad")
    np.testing.assert_array_equal(adata.X.toarray(), counts.X.toarray())
    chunks = list(iter_row_chunks(tmp_path / "x.h5ad", 100))
    assert [len(names) for names, _ in chunks] == [100, 100, 40]
    np.testing.assert_array_equal(sp.vstack([c for _, c in chunks]).toarray(), counts.X.toarray())
    assert list(np.concatenate([names for names, _ in chunks])) == list(counts.obs_names)
    assert h5ad_shape(tmp_path / "x.h5ad") == (counts.n_obs, list(counts.var_names))


def test_counts_in_a_layer_beside_log_normalized_x(tmp_path, counts, caplog):
    logged = counts.copy()
    logged.layers["counts"] = counts.X.copy()
    logged.X = counts.X.log1p()
    logged.write_h5ad(tmp_path / "x.h5ad")
    with caplog.at_level("WARNING"):
        read_counts(tmp_path / "x.h5ad")  # read as it is: warned of where the counts are used
        assert "non-integer" not in caplog.text
        chunks = list(iter_row_chunks(tmp_path / "x.h5ad", 100))  # X read as counts: warned, with the layer to name
    assert len(chunks) == 3 and caplog.text.count("non-integer") == 1  # once a file, not once a chunk
    assert "--layer (layers here: counts)" in caplog.text
    adata = read_counts(tmp_path / "x.h5ad", layer="counts")
    np.testing.assert_array_equal(adata.layers["counts"].toarray(), counts.X.toarray())
    np.testing.assert_allclose(adata.X.toarray(), logged.X.toarray())  # X kept as it was
    chunks = list(iter_row_chunks(tmp_path / "x.h5ad", 100, layer="counts"))
    np.testing.assert_array_equal(sp.vstack([c for _, c in chunks]).toarray(), counts.X.toarray())
    for read in (lambda: read_counts(tmp_path / "x.h5ad", layer="raw"),
                 lambda: list(iter_row_chunks(tmp_path / "x.h5ad", 100, layer="raw"))):
        with pytest.raises(ScsmdError, match="no layer 'raw' .*its layers: counts"):
            read()
    pd.DataFrame(counts.X.toarray()[:3, :4]).to_csv(tmp_path / "x.csv")
    with pytest.raises(ScsmdError, match="needs an .h5ad input"):
        read_counts(tmp_path / "x.csv", layer="counts")


def test_dense_h5ad_is_streamed_too(tmp_path, counts):
    dense = counts.copy()
    dense.X = counts.X.toarray()
    dense.write_h5ad(tmp_path / "dense.h5ad")
    chunks = list(iter_row_chunks(tmp_path / "dense.h5ad", 64))
    np.testing.assert_array_equal(sp.vstack([c for _, c in chunks]).toarray(), counts.X.toarray())


@pytest.mark.parametrize("damage, message", [("X", "no X matrix"), ("index", "old .h5ad layout")])
def test_h5ad_without_counts_or_index_is_refused(tmp_path, counts, damage, message):
    counts.write_h5ad(tmp_path / "x.h5ad")
    with h5py.File(tmp_path / "x.h5ad", "r+") as f:
        if damage == "X":
            del f["X"]
        else:
            del f["obs"].attrs["_index"]
    with pytest.raises(ScsmdError, match=message):
        list(iter_row_chunks(tmp_path / "x.h5ad", 100))


def test_damaged_h5ad_is_a_one_line_error(tmp_path):
    (tmp_path / "x.h5ad").write_bytes(b"not hdf5")
    for read in (h5ad_shape, lambda path: list(iter_row_chunks(path, 100))):
        with pytest.raises(ScsmdError, match="cannot read .*is it a valid .h5ad"):
            read(tmp_path / "x.h5ad")


def test_table_without_a_cell_name_column_is_warned_of(tmp_path, table, caplog):
    table.to_csv(tmp_path / "named.csv")
    table.to_csv(tmp_path / "unnamed.csv", index=False)  # the first gene would be read as cell names
    with caplog.at_level("WARNING"):
        read_counts(tmp_path / "named.csv")
        assert "cell names" not in caplog.text
        read_counts(tmp_path / "unnamed.csv")
    assert "first column (headed 'A') holds numbers" in caplog.text


@pytest.mark.parametrize("content, message", [
    ("", "cannot read"),
    (",A,B\nc0,1,-2\n", "negative"),
    (",A,B\nc0,1,nan\n", "NaN"),
    (",A,B\n", "empty"),
])
def test_bad_tables(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ScsmdError, match=message):
        read_counts(tmp_path / "bad.csv")


def test_missing_and_unknown(tmp_path):
    with pytest.raises(ScsmdError, match="not found"):
        read_counts(tmp_path / "nope.h5ad")
    (tmp_path / "x.xlsx").write_text("1")
    with pytest.raises(ScsmdError, match="unknown input format"):
        read_counts(tmp_path / "x.xlsx")
    (tmp_path / "broken.h5ad").write_text("not hdf5")
    with pytest.raises(ScsmdError, match="cannot read"):
        read_counts(tmp_path / "broken.h5ad")
