#!/usr/bin/env bash
# Here, before a visit to the lent H200 (DESIGN.md, accelerator notes): download into .whl/ the
# packages its image lacks, as cp312 manylinux wheels (promise has none: built here, pure Python).
# The scripts beside this one install them there. .whl/ is ignored by git (.git/info/exclude) and travels with `carry=[".whl"]` (~11 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude || echo /.whl/ >>.git/info/exclude
platforms=""
for tag in manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 manylinux_2_31 manylinux_2_34 manylinux_2_35; do
  platforms+=" --platform ${tag}_x86_64"
done
packages=(  # the project's pins the image lacks, then their dependencies it lacks
  ml_collections==1.1.0 tensorflow-datasets==4.9.10 tensorboardX==2.6.5 grain==0.2.18
  importlib_resources==7.1.0 array-record dm-tree immutabledict simple-parsing docstring-parser
  tensorflow-metadata googleapis-common-protos termcolor toml portpicker
)
for package in "${packages[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    $platforms -d .whl "$package"
done
python3 -m pip wheel -q --no-deps -w .whl promise
ls .whl
