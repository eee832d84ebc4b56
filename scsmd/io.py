"""Read count matrices (.h5ad, 10x mtx / h5, .csv, .txt) into AnnData and write results (no scanpy, no torch)."""
from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Iterable, Iterator

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp
from anndata.io import sparse_dataset

from scsmd.atomic import atomic_path
from scsmd.errors import ScsmdError

log = logging.getLogger(__name__)

FORMATS = ".h5ad, a 10x mtx folder, a 10x .h5, .csv or .txt (optionally .gz)"


def _suffix(path: Path) -> str:
    """The format suffix, ignoring a trailing .gz."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def is_h5ad(path: Path) -> bool:
    """An .h5ad file (any case), which h5py can slice lazily; gzipped ones cannot be."""
    return path.is_file() and path.suffix.lower() == ".h5ad"


def _find(folder: Path, *names: str) -> Path:
    """The first of `names` (plain or .gz) in `folder`."""
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.exists():
                return candidate
    raise ScsmdError(f"{folder} is not a 10x mtx folder: no {' or '.join(names)} found; give the folder holding matrix.mtx")


def _read_lines_table(path: Path) -> pd.DataFrame:
    """A headerless tab-separated 10x side file (barcodes, features)."""
    return pd.read_csv(path, sep="\t", header=None, dtype=str)


def _read_10x_mtx(folder: Path) -> ad.AnnData:
    """A Cell Ranger matrix folder: matrix.mtx is genes x cells."""
    matrix = _find(folder, "matrix.mtx")
    barcodes = _read_lines_table(_find(folder, "barcodes.tsv"))
    features = _read_lines_table(_find(folder, "features.tsv", "genes.tsv"))
    with (gzip.open(matrix) if matrix.suffix == ".gz" else open(matrix, "rb")) as handle:
        counts = sp.csr_matrix(scipy.io.mmread(handle).T, dtype=np.float32)
    names = features[1] if features.shape[1] > 1 else features[0]
    var = pd.DataFrame({"gene_ids": features[0].to_numpy()}, index=pd.Index(names.to_numpy(), name=None))
    return ad.AnnData(counts, obs=pd.DataFrame(index=barcodes[0].to_numpy()), var=var)


def _decode(values: np.ndarray) -> np.ndarray:
    """Bytes from HDF5 as str."""
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values])


def _read_10x_h5(path: Path) -> ad.AnnData:
    """A Cell Ranger .h5 (v3 'matrix' group, or v2 with one genome group)."""
    with h5py.File(path, "r") as f:
        if "matrix" in f:
            group, names = f["matrix"], f["matrix/features/name"][:]
            ids = f["matrix/features/id"][:]
        else:
            genomes = [k for k in f.keys() if isinstance(f[k], h5py.Group)]
            if len(genomes) != 1:
                raise ScsmdError(f"{path} is not a 10x .h5 file: expected a 'matrix' group or one genome group, found {list(f.keys())}")
            group = f[genomes[0]]
            names, ids = group["gene_names"][:], group["genes"][:]
        n_genes, n_cells = group["shape"][:]
        counts = sp.csc_matrix((group["data"][:], group["indices"][:], group["indptr"][:]), shape=(n_genes, n_cells))
        barcodes = _decode(group["barcodes"][:])
    var = pd.DataFrame({"gene_ids": _decode(ids)}, index=_decode(names))
    return ad.AnnData(sp.csr_matrix(counts.T, dtype=np.float32), obs=pd.DataFrame(index=barcodes), var=var)


def _read_table(path: Path, transpose: bool) -> ad.AnnData:
    """A dense text table with cell names in the first column and gene names in the header."""
    sep = "," if _suffix(path) == ".csv" else r"\s+"
    table = pd.read_csv(path, sep=sep, index_col=0, engine="python" if sep != "," else "c")
    if table.index.name and pd.api.types.is_numeric_dtype(table.index):
        log.warning("%s: the first column (headed %r) holds numbers and is read as the cell names; if it is a gene, "
                    "write the table with cell names in its first column", path, table.index.name)
    if transpose:
        table = table.T
    values = table.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float32)
    adata = ad.AnnData(sp.csr_matrix(values), obs=pd.DataFrame(index=table.index.astype(str)),
                       var=pd.DataFrame(index=table.columns.astype(str)))
    return adata


def read_counts(path: str | Path, *, transpose: bool = False, layer: str | None = None) -> ad.AnnData:
    """Read a cells x genes count matrix from any supported format into AnnData (the counts as float32 CSR).

    Parameters
    ----------
    path
        An .h5ad file, a 10x mtx folder, a 10x .h5 file, or a .csv / .txt table (plain or gzipped).
    transpose
        The text table is genes x cells (rows are genes).
    layer
        An .h5ad's layer that holds the counts (X, often log-normalized, is then kept as it is).

    Raises
    ------
    ScsmdError
        Missing or unreadable file, unknown format, missing layer, empty matrix, negative or NaN values (values
        that are not integers are allowed here: training and embedding warn of them).
    """
    path = Path(path)
    if not path.exists():
        raise ScsmdError(f"input not found: {path}; check the path")
    suffix = _suffix(path)
    if layer is not None and suffix != ".h5ad":
        raise ScsmdError(f"--layer {layer} needs an .h5ad input, {path} has none; leave out --layer")
    try:
        if path.is_dir():
            adata = _read_10x_mtx(path)
        elif suffix == ".h5ad":
            adata = ad.read_h5ad(path)
        elif suffix == ".h5":
            adata = _read_10x_h5(path)
        elif suffix in (".csv", ".txt", ".tsv"):
            adata = _read_table(path, transpose)
        else:
            raise ScsmdError(f"unknown input format {suffix or '(no suffix)'!r} for {path}; give {FORMATS}")
    except ScsmdError:
        raise
    except (OSError, ValueError, KeyError, EOFError, pd.errors.ParserError) as exc:
        raise ScsmdError(f"cannot read {path} ({type(exc).__name__}: {exc}); is it a valid {suffix or 'input'} file?") from exc
    counts = count_matrix(adata, layer)
    if layer is None:
        adata.X = counts
    else:
        adata.layers[layer] = counts
    adata.var_names_make_unique()
    adata.obs_names_make_unique()
    check_counts(counts, _counts_source(path, layer), warn=False)  # non-integers are warned of where they are used
    return adata


def _no_such_layer(source: str, layer: str, layers: Iterable[str]) -> ScsmdError:
    """The one-line error for a layer the input lacks, naming those it has."""
    return ScsmdError(f"{source} has no layer {layer!r} (its layers: {', '.join(layers) or 'none'}); name one of "
                      "them, or leave out --layer to read the counts from X")


def _counts_source(path: Path, layer: str | None) -> str:
    """Where counts were read, for messages: the file, or a layer of it."""
    return str(path) if layer is None else f"layer {layer!r} of {path}"


def count_matrix(adata: ad.AnnData, layer: str | None = None) -> sp.csr_matrix:
    """The counts scsmd reads, float32 CSR: X, or the layer named (scanpy's and scvi-tools' `layer`)."""
    if layer is None:
        return sp.csr_matrix(adata.X, dtype=np.float32)
    if layer not in adata.layers:
        raise _no_such_layer("the input", layer, adata.layers)
    return sp.csr_matrix(adata.layers[layer], dtype=np.float32)


def check_counts(counts: sp.spmatrix | np.ndarray, source: str, layers: tuple[str, ...] = (), *,
                 warn: bool = True) -> bool:
    """Refuse an empty matrix and negative or NaN values; with `warn`, warn about non-integers (naming the file's
    `layers`, where raw counts often live). Returns whether it warned."""
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        raise ScsmdError(f"{source} holds an empty matrix ({counts.shape[0]} cells x {counts.shape[1]} genes); give a file with cells and genes")
    values = counts.data if sp.issparse(counts) else np.asarray(counts)
    if not np.isfinite(values).all():
        raise ScsmdError(f"{source} holds NaN or infinite values; give raw counts")
    if (values < 0).any():
        raise ScsmdError(f"{source} holds negative values, so it is not a count matrix; give raw counts")
    if warn and values.size and not np.allclose(values[: 100_000], np.round(values[: 100_000])):
        hint = f"; if a layer holds them, name it with --layer (layers here: {', '.join(layers)})" if layers else ""
        log.warning("%s holds non-integer values; scsmd expects raw counts%s", source, hint)
        return True
    return False


def checked_chunks(chunks: Iterable[tuple[np.ndarray, sp.csr_matrix]], source: str, layers: tuple[str, ...] = ()
                   ) -> Iterator[tuple[np.ndarray, sp.csr_matrix]]:
    """`chunks` with each one's counts checked (`check_counts`), warning about non-integers once, not per chunk."""
    warned = False
    for names, block in chunks:
        warned = check_counts(block, source, layers, warn=not warned) or warned
        yield names, block


def _index_name(group: h5py.Group, path: Path) -> str:
    """The name of a dataframe group's index dataset (anndata >= 0.7 files)."""
    if "_index" not in group.attrs:
        raise ScsmdError(f"{path} uses an old .h5ad layout without an obs/var index; re-save it with a recent anndata "
                         "(adata = anndata.read_h5ad(path); adata.write_h5ad(path))")
    return group.attrs["_index"]


def h5ad_names(f: h5py.File, axis: str, path: Path) -> h5py.Dataset:
    """The obs or var names dataset of an open .h5ad, read lazily."""
    return f[axis][_index_name(f[axis], path)]


def read_h5ad(path: str | Path, backed: bool = False) -> ad.AnnData:
    """An .h5ad as it is (results live in obs and obsm), X on disk if `backed`; a damaged file is a one-line error."""
    try:
        return ad.read_h5ad(path, backed="r" if backed else None)
    except OSError as exc:
        raise ScsmdError(f"cannot read {path} ({exc}); is it a valid .h5ad?") from exc


def open_h5ad(path: Path) -> h5py.File:
    """An .h5ad opened with h5py for reading; a damaged or truncated file is a one-line error."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ScsmdError(f"cannot read {path} ({exc}); is it a valid .h5ad?") from exc
    if "obs" not in f or "var" not in f:
        f.close()
        raise ScsmdError(f"{path} is not an AnnData .h5ad (no obs or var group); write it with anndata")
    return f


def h5ad_shape(path: str | Path) -> tuple[int, list[str]]:
    """Number of cells and the gene names of an .h5ad, without loading X or obs."""
    path = Path(path)
    with open_h5ad(path) as f:
        return len(h5ad_names(f, "obs", path)), list(h5ad_names(f, "var", path).asstr()[:])


def _h5ad_counts(f: h5py.File, path: Path, layer: str | None) -> h5py.Dataset | h5py.Group:
    """An open .h5ad's count matrix on disk: X, or the layer named."""
    if layer is None:
        if "X" not in f:
            raise ScsmdError(f"{path} has no X matrix; put the raw counts in X or name their layer with --layer")
        return f["X"]
    layers = list(f["layers"]) if "layers" in f else []
    if layer not in layers:
        raise _no_such_layer(str(path), layer, layers)
    return f["layers"][layer]


def iter_row_chunks(path: str | Path, chunk_size: int, *, layer: str | None = None
                    ) -> Iterator[tuple[np.ndarray, sp.csr_matrix]]:
    """Yield (cell names, counts CSR) chunks of an .h5ad sliced on disk (its counts, X or `layer`, and its names),
    so memory stays flat; each chunk's counts are checked."""
    path = Path(path)
    with open_h5ad(path) as f:
        stored = _h5ad_counts(f, path, layer)
        names = h5ad_names(f, "obs", path).asstr()
        matrix = sparse_dataset(stored) if isinstance(stored, h5py.Group) else stored
        bounds = [(start, min(start + chunk_size, len(names))) for start in range(0, len(names), chunk_size)]
        chunks = ((names[start:stop], sp.csr_matrix(matrix[start:stop], dtype=np.float32)) for start, stop in bounds)
        yield from checked_chunks(chunks, _counts_source(path, layer), tuple(f["layers"]) if "layers" in f else ())


def write_h5ad(adata: ad.AnnData, path: str | Path) -> None:
    """Write an .h5ad atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
