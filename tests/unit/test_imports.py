import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'scanpy', 'sklearn'):
            raise ImportError('blocked ' + name)
sys.meta_path.insert(0, Block())
"""


def test_inference_path_imports_no_torch_scanpy_or_sklearn():
    heavy = "{'torch', 'scanpy', 'sklearn'}"  # scikit-learn alone took ~0.9 s of the CLI's start
    code = "import sys, scsmd, scsmd.cli, scsmd.api, scsmd.infer.embed, scsmd.bundle, scsmd.io, scsmd.metrics; " \
           f"assert not {heavy} & set(sys.modules), sorted({heavy} & set(sys.modules))"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_embed_runs_with_torch_and_scanpy_unimportable(tiny_bundle, tmp_path):
    folder, adata = tiny_bundle
    adata.write_h5ad(tmp_path / "cells.h5ad")
    code = BLOCK + f"""
import scsmd.api as api
summary = api.embed_file({str(tmp_path / 'cells.h5ad')!r}, {str(tmp_path / 'out.h5ad')!r}, model={str(folder)!r})
assert summary["n_cells"] == {adata.n_obs}
"""
    subprocess.run([sys.executable, "-c", code], check=True)
