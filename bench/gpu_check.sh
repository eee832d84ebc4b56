#!/bin/bash
# A GPU session's checks in one device call (at most 9 minutes, its steps' limits; bench/README.md, "The next
# GPU session"):
#   run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu_data"], timeout_s=560)
# .whl holds the wheels the device image lacks (scanpy, anndata, pandas 2.3.3, ...) and .gpu_data a copy of
# ../shared/data/pbmc_10x_4271.h5ad (../shared does not travel; both folders are ignored by git): `bash
# bench/gpu_prep.sh` fills both here first (17 s). Logs and JSON land in $OUT. Each step has its own limit, so one
# that hangs costs only itself.
set -u
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PYTHONPYCACHEPREFIX=/tmp/pyc
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, scanpy, scsmd.cli; print('torch', torch.__version__, torch.cuda.is_available())"  # bytecode

step() {  # step NAME SECONDS COMMAND...: one check, its log in $OUT/NAME.log
    local name=$1 limit=$2; shift 2
    echo "== $name"; local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1; echo "rc $? in $((SECONDS - start)) s"; tail -n 15 "$OUT/$name.log"
}
step pytest 150 python3 -m pytest -q -m gpu -p no:cacheprovider tests/unit
DATA=.gpu_data/pbmc_10x_4271.h5ad
step stage_time 100 python3 bench/stage_time.py --data $DATA --device cuda --epochs 3 --out "$OUT/stage_time.json"
step graphs 120 python3 bench/quality.py --data-dir .gpu_data --datasets pbmc_10x_4271 --seeds 0 --presets default \
    --no-baselines --set cuda_graphs=1 --out "$OUT/quality_graphs.json"
step train_time 170 python3 bench/train_time.py --data $DATA --runs 2 --device cuda --out "$OUT/train_time.json"
