#!/bin/bash
# Fills the two folders bench/gpu_check.sh carries to the device (both ignored by git; ../shared does not travel):
#   .gpu_data/  a copy of ../shared/data/pbmc_10x_4271.h5ad
#   .whl/       wheels for the device's Python 3.12 that its image lacks (scanpy and what it imports)
# Run here, from the repository root, before run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu_data"]).
set -eu
mkdir -p .gpu_data .whl
cp -u ../shared/data/pbmc_10x_4271.h5ad .gpu_data/
for pkg in scanpy==1.11.5 anndata==0.12.19 pandas==2.3.3 legacy-api-wrap natsort==8.4.0 pynndescent==0.5.13 \
    session-info2 umap-learn array-api-compat scikit-misc leidenalg==0.12.0 igraph==1.0.0 texttable==1.7.2 \
    zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1 crc32c; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$pkg"
done
du -sh .whl .gpu_data
