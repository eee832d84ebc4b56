import subprocess
import sys

import pytest

from conftest import synthetic_counts


def scsmd(*args, cwd):
    return subprocess.run([sys.executable, "-m", "scsmd", *map(str, args)], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    synthetic_counts().write_h5ad(folder / "cells.h5ad")
    return folder


@pytest.mark.parametrize("args, message", [
    (["train", "missing.h5ad", "-k", "3"], "input not found"),
    (["train", "cells.h5ad", "-k", "1"], "--n-clusters"),
    (["train", "cells.h5ad", "-k", "3", "--label-key", "nope"], "label key 'nope'"),
    (["train", "cells.h5ad", "-k", "3", "--batch-size", "500"], "batch size"),
    (["train", "cells.h5ad", "-k", "3", "--device", "tpu"], "device"),
    (["embed", "cells.h5ad", "--model", "models/none"], "not a model bundle"),
    (["evaluate", "cells.h5ad", "--label-key", "cell_type"], "cluster key"),
])
def test_user_errors_are_one_line_exit_2_and_write_nothing(cells, args, message):
    before = set(cells.rglob("*"))
    result = scsmd(*args, cwd=cells)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr
    assert set(cells.rglob("*")) == before


def test_usage_error_is_exit_2(cells):
    assert scsmd("train", cwd=cells).returncode == 2
