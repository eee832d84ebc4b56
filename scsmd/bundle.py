"""The model bundle: manifest.json with sha256 checksums beside the weights and exports (no torch)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from scsmd.atomic import atomic_dir, atomic_path, file_in_the_way
from scsmd.errors import ScsmdError
from scsmd.infer.label_head import LabelHead
from scsmd.panel import PanelScaling

FORMAT_VERSION = 5  # 2: encoder_int8.onnx; 3: a standardized panel (preprocess gene_mean / gene_std), encoder_fp16.onnx;
# 4: the encoder takes a flat (n, n_inputs) vector, not an image (the dense branch's genes follow the image's);
# 5: model.pt holds `model.dense_members` dense autoencoders (4: one, its weights under `dense.`, still read)
OLDEST_FORMAT = 4
MANIFEST = "manifest.json"
WEIGHTS = "model.pt"
ONNX = "encoder.onnx"
ONNX_INT8 = "encoder_int8.onnx"  # shipped only when it passes its agreement check against fp32
ONNX_FP16 = "encoder_fp16.onnx"  # the GPU's reduced precision, shipped under the same check
TORCHSCRIPT = "encoder.ts"
REFERENCE_CELLS = "reference_cells.npy"  # a sample of training encoder inputs: export checks and calibration
LABEL_HEAD = "label_head.npz"  # the classifier on the head genes and the latent, when trained with labels


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file in the folder but the manifest."""
    return {p.name: sha256(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}


def _verify(path: Path, digests: dict[str, str]) -> None:
    """Refuse a bundle folder whose listed files are missing or changed, or that holds files its manifest does not
    list (hidden temporary files aside)."""
    for name, expected in digests.items():
        file = path / name
        if not file.is_file():
            raise ScsmdError(f"bundle {path} is missing {name}; the bundle is incomplete, train or export it again")
        if sha256(file) != expected:
            raise ScsmdError(f"bundle {path}: {name} does not match its sha256 in the manifest; the file was changed, "
                             "restore it or train again")
    unlisted = sorted(p.name for p in path.iterdir()
                      if p.name not in digests and p.name != MANIFEST and not p.name.startswith("."))
    if unlisted:
        raise ScsmdError(f"bundle {path} holds files its manifest does not list ({', '.join(unlisted)}); remove them, "
                         "or train the bundle again")


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write manifest.json atomically."""
    with atomic_path(folder / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))


class Bundle:
    """A verified model bundle on disk: the manifest's fields as properties."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest

    @classmethod
    def load(cls, path: str | Path) -> "Bundle":
        """Read and verify a bundle: format version, then every file's sha256."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise ScsmdError(f"{path} is not a model bundle: no {MANIFEST}; give a folder written by `scsmd train`")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScsmdError(f"{manifest_path} is not valid JSON ({exc}); the bundle is damaged, train it again") from exc
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ScsmdError(f"{path} has bundle format {version}, newer than this scsmd reads ({FORMAT_VERSION}); upgrade scsmd")
        if version < OLDEST_FORMAT:
            raise ScsmdError(f"{path} has bundle format {version}, whose encoder takes an image; this scsmd's takes a flat "
                             f"vector (format {OLDEST_FORMAT}): train the model again")
        _verify(path, manifest.get("sha256", {}))
        return cls(path, manifest)

    @property
    def name(self) -> str:
        """The bundle's folder name."""
        return self.path.name

    @property
    def panel(self) -> list[str]:
        """Ordered gene names the model was trained on."""
        return list(self.manifest["panel"])

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return int(self.manifest["n_clusters"])

    @property
    def centroids(self) -> np.ndarray:
        """(n_clusters, latent_dim) float64 cluster centres in latent space."""
        return np.asarray(self.manifest["centroids"], dtype=np.float64)

    @property
    def fuzzifier(self) -> float:
        """Fuzzy membership exponent m."""
        return float(self.manifest["fuzzifier"])

    @property
    def novelty_radius(self) -> np.ndarray:
        """(n_clusters,) distance beyond which a cell fits no cluster."""
        return np.asarray(self.manifest["novelty_radius"], dtype=np.float64)

    @property
    def cluster_labels(self) -> list[str] | None:
        """Each cluster's majority reference label, or None without labels."""
        labels = self.manifest.get("cluster_labels")
        return None if labels is None else [entry["label"] for entry in labels]

    @property
    def label_head(self) -> LabelHead | None:
        """The classifier naming cells from their genes and latent, or None when trained without labels."""
        return LabelHead.load(self.path / LABEL_HEAD) if LABEL_HEAD in self.manifest.get("sha256", {}) else None

    @property
    def scaling(self) -> PanelScaling | None:
        """The per-gene standardization of the panel, None for an unscaled panel (older bundles, --no-scale)."""
        preprocess = self.manifest["preprocess"]
        if "gene_mean" not in preprocess:
            return None
        return PanelScaling(np.asarray(preprocess["gene_mean"], dtype=np.float32),
                            np.asarray(preprocess["gene_std"], dtype=np.float32), float(preprocess["scale_max"]))

    @property
    def preprocess(self) -> dict[str, Any]:
        """The preprocessing parameters (target sum, image side, encoder input width, gene ranking, scaling)."""
        return dict(self.manifest["preprocess"])

    def file(self, name: str) -> Path:
        """Path of a bundle file, refusing one the bundle does not list."""
        if not self.has(name):
            hint = "run `scsmd export` first" if name in (ONNX, ONNX_INT8, ONNX_FP16, TORCHSCRIPT) else "train the bundle again"
            raise ScsmdError(f"bundle {self.path} has no {name}; {hint}")
        return self.path / name

    def has(self, name: str) -> bool:
        """Whether the bundle lists the file."""
        return name in self.manifest.get("sha256", {})

    def add_files(self, files: dict[str, Path], updates: dict[str, Any], remove: tuple[str, ...] = ()) -> None:
        """Rebuild the bundle with the new `files`, without `remove`, its manifest (this format) updated, and swap it
        into place whole; the bundle is verified first, so a file changed since loading is never signed."""
        kept = {name: digest for name, digest in self.manifest.get("sha256", {}).items()
                if name not in files and name not in remove}
        _verify(self.path, self.manifest.get("sha256", {}))
        manifest = {**self.manifest, **updates, "format_version": FORMAT_VERSION}
        with atomic_dir(self.path) as tmp:
            for name in kept:
                shutil.copy2(self.path / name, tmp / name)
            for name, source in files.items():
                shutil.copy2(source, tmp / name)
            manifest["sha256"] = {**kept, **{name: sha256(tmp / name) for name in files}}
            _write_manifest(tmp, manifest)
        self.manifest = manifest

    def __repr__(self) -> str:
        panel = self.panel
        return (f"Bundle({self.name!r}, n_clusters={self.n_clusters}, panel={len(panel)} genes "
                f"[{panel[0]} .. {panel[-1]}], labels={'yes' if self.cluster_labels else 'no'})")


def check_writable(target: str | Path, overwrite: bool) -> None:
    """Refuse to replace an existing bundle unless `overwrite`, and a folder that is not a bundle ever."""
    target = Path(target)
    if blocked := file_in_the_way(target):
        raise ScsmdError(f"{blocked} is a file, so the bundle cannot go in {target}; choose another --models-dir")
    if target.exists() and not overwrite:
        raise ScsmdError(f"{target} already exists; choose another --name or pass --force to replace it")
    if target.exists() and not (target / MANIFEST).is_file():
        raise ScsmdError(f"{target} exists and is not a model bundle; refusing to replace it, remove it by hand")


def write_bundle(target: str | Path, manifest: dict[str, Any], write_files: Callable[[Path], None], *,
                 overwrite: bool = False) -> Bundle:
    """Build a bundle in a temporary folder (files, then checksums, then manifest) and rename it into place."""
    target = Path(target)
    check_writable(target, overwrite)
    manifest = {"format_version": FORMAT_VERSION, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                **manifest}
    with atomic_dir(target) as tmp:
        write_files(tmp)
        manifest["sha256"] = _checksums(tmp)
        _write_manifest(tmp, manifest)
    return Bundle(target, manifest)

