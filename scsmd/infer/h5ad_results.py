"""Write embedding results into an .h5ad on disk chunk by chunk, so a million cells cost no more memory than one chunk."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from anndata.io import write_elem

from scsmd.errors import ScsmdError
from scsmd.infer.embed import DERIVED, RESULT_COLUMNS
from scsmd.io import h5ad_names

ARRAY = {"encoding-type": "array", "encoding-version": "0.2.0"}


def _empty_array(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """An anndata array element of `shape`, allocated on disk only."""
    group.create_dataset(name, shape=shape, dtype=dtype).attrs.update(ARRAY)


def _empty_column(obs: h5py.Group, name: str, like: pd.Series, n_cells: int) -> None:
    """An obs column of n_cells with the dtype (and categories) of `like`."""
    if isinstance(like.dtype, pd.CategoricalDtype):
        codes = np.zeros(n_cells, dtype=like.cat.codes.dtype)  # one byte or two a cell
        write_elem(obs, name, pd.Categorical.from_codes(codes, categories=like.cat.categories))
    else:
        _empty_array(obs, name, (n_cells,), like.dtype)


class H5adResults:
    """Obs columns and an obsm embedding for the n cells of an open .h5ad, filled in cell order, chunk by chunk."""

    def __init__(self, file: h5py.File, n_cells: int, key_added: str) -> None:
        self.file, self.n_cells, self.key_added = file, n_cells, key_added
        self.written = 0

    def _create(self, obs: pd.DataFrame, latent_dim: int) -> None:
        """Drop an earlier embedding's results (and what was drawn from its latent), then add empty columns and an
        embedding shaped like the first chunk's."""
        group = self.file["obs"]
        kept = [str(c) for c in group.attrs.get("column-order", []) if c not in (*RESULT_COLUMNS, *obs.columns)]
        for column in (*RESULT_COLUMNS, *obs.columns):
            if column in group:
                del group[column]
        for axis, keys in DERIVED.items():
            for key in (k for k in keys if axis in self.file and k in self.file[axis]):
                del self.file[axis][key]
        for column, values in obs.items():
            _empty_column(group, column, values, self.n_cells)
        group.attrs["column-order"] = kept + [str(c) for c in obs.columns]
        obsm = self.file.require_group("obsm")
        if not obsm.attrs.get("encoding-type"):
            obsm.attrs.update({"encoding-type": "dict", "encoding-version": "0.1.0"})
        if self.key_added in obsm:
            del obsm[self.key_added]
        _empty_array(obsm, self.key_added, (self.n_cells, latent_dim), np.dtype(np.float32))

    def append(self, obs: pd.DataFrame, latent: np.ndarray) -> None:
        """Write the next chunk's obs columns and embedding."""
        if self.written == 0:
            self._create(obs, latent.shape[1])
        stop = self.written + len(obs)
        for column, values in obs.items():
            if isinstance(values.dtype, pd.CategoricalDtype):
                self.file["obs"][column]["codes"][self.written:stop] = values.cat.codes.to_numpy()
            else:
                self.file["obs"][column][self.written:stop] = values.to_numpy()
        self.file["obsm"][self.key_added][self.written:stop] = latent
        self.written = stop

    def close(self, uns: dict) -> None:
        """Check every cell was written, then store uns['scsmd']."""
        if self.written != self.n_cells:
            raise ScsmdError(f"wrote results for {self.written} of {self.n_cells} cells; the input changed while it was read")
        group = self.file.require_group("uns")
        if "scsmd" in group:
            del group["scsmd"]
        write_elem(group, "scsmd", uns)


def results_skeleton(source: Path, target: Path, chunk_size: int) -> None:
    """An .h5ad with the source's cell names and nothing else, copied in chunks (for --results-only)."""
    from anndata import AnnData

    AnnData(obs=pd.DataFrame(index=pd.Index([], dtype=str))).write_h5ad(target)
    with h5py.File(source, "r") as src, h5py.File(target, "r+") as dst:
        names = h5ad_names(src, "obs", source)
        index = dst["obs"].attrs["_index"]
        attrs = dict(dst["obs"][index].attrs)
        del dst["obs"][index]
        copy = dst["obs"].create_dataset(index, shape=names.shape, dtype=h5py.string_dtype())
        for start in range(0, len(names), chunk_size):
            copy[start:start + chunk_size] = names.asstr()[start:start + chunk_size]
        copy.attrs.update(attrs)
