import json
import shutil

import pytest

from scsmd.bundle import FORMAT_VERSION, MANIFEST, Bundle, write_bundle
from scsmd.errors import ScsmdError


def make(target, **kwargs):
    manifest = {"panel": ["a", "b"], "n_clusters": 2, "centroids": [[0.0], [1.0]], "fuzzifier": 1.5}
    return write_bundle(target, manifest, lambda folder: (folder / "model.pt").write_bytes(b"weights"), **kwargs)


def test_write_then_load(tmp_path):
    make(tmp_path / "m")
    bundle = Bundle.load(tmp_path / "m")
    assert bundle.panel == ["a", "b"] and bundle.manifest["format_version"] == FORMAT_VERSION
    assert set(bundle.manifest["sha256"]) == {"model.pt"}
    assert "n_clusters=2" in repr(bundle) and "[a .. b]" in repr(bundle)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_existing_target_refused_unless_overwrite(tmp_path):
    make(tmp_path / "m")
    with pytest.raises(ScsmdError, match="already exists"):
        make(tmp_path / "m")
    make(tmp_path / "m", overwrite=True)


def test_tampered_missing_and_newer_bundles_refused(tmp_path):
    make(tmp_path / "m")
    shutil.copytree(tmp_path / "m", tmp_path / "gone")
    (tmp_path / "m" / "model.pt").write_bytes(b"evil")
    with pytest.raises(ScsmdError, match="sha256"):
        Bundle.load(tmp_path / "m")
    (tmp_path / "gone" / "model.pt").unlink()
    with pytest.raises(ScsmdError, match="missing model.pt"):
        Bundle.load(tmp_path / "gone")
    make(tmp_path / "new")
    manifest = json.loads((tmp_path / "new" / MANIFEST).read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "new" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ScsmdError, match="newer"):
        Bundle.load(tmp_path / "new")
    manifest["format_version"] = 3  # an encoder that took images
    (tmp_path / "new" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ScsmdError, match="takes an image.*train the model again"):
        Bundle.load(tmp_path / "new")
    with pytest.raises(ScsmdError, match="not a model bundle"):
        Bundle.load(tmp_path)


def test_an_unlisted_file_is_refused_and_adding_files_never_signs_a_changed_one(tmp_path):
    bundle = make(tmp_path / "m")
    (tmp_path / "m" / "extra.bin").write_bytes(b"stray")
    with pytest.raises(ScsmdError, match=r"does not list \(extra.bin\)"):
        Bundle.load(tmp_path / "m")
    with pytest.raises(ScsmdError, match="does not list"):  # an export would have signed it
        bundle.add_files({}, {})
    (tmp_path / "m" / "extra.bin").unlink()
    (tmp_path / "new.onnx").write_bytes(b"encoder")
    bundle.add_files({"encoder.onnx": tmp_path / "new.onnx"}, {"exports": {"onnx": {}}})
    assert set(Bundle.load(tmp_path / "m").manifest["sha256"]) == {"model.pt", "encoder.onnx"}
    (tmp_path / "m" / "model.pt").write_bytes(b"changed after loading")
    with pytest.raises(ScsmdError, match="model.pt does not match"):
        bundle.add_files({"encoder.onnx": tmp_path / "new.onnx"}, {})
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
