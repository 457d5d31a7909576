#!/usr/bin/env bash
# Prepares, on this machine, what scripts/gpu_figure5.sh needs on the lent GPU host (JAX and PyTorch, no TensorFlow,
# no internet, at most 64 MiB carried per call). From the repository root, after `make .venv/.installed`:
#   bash scripts/prepare_gpu_figure5.sh
# Writes, all git-ignored:
#   device_data/cifar10-jpeg.npz   ../shared/data/cifar10-jpeg as one pack (keras-nmf-pack-images; about 55 MiB)
#   device_data/deep_nmf/          a copy of the authors' code (../shared/reference/deep_nmf, their licence inside),
#                                  for the side-by-side timing; delete it after the run
#   device_data/site/jsmin/        jsmin (pure Python), which their configs need
#   .whl/                          Keras and the two packages it needs beyond the GPU image (namex, optree)
# and prints the device call. Fails if what would travel is over 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
DATA_DIR=${DATA_DIR:-../shared/data/cifar10-jpeg}
REFERENCE_DIR=${REFERENCE_DIR:-../shared/reference/deep_nmf}
KERAS_VERSION=$("$PYTHON" -c "import importlib.metadata as m; print(m.version('keras'))")

mkdir -p device_data/site
"$PYTHON" -m keras_nmf.cli.pack_images "$DATA_DIR" device_data/cifar10-jpeg.npz
rm -rf device_data/deep_nmf device_data/site/jsmin
cp -r "$REFERENCE_DIR" device_data/deep_nmf
cp -r "$("$PYTHON" -c "import jsmin, os; print(os.path.dirname(jsmin.__file__))")" device_data/site/jsmin
rm -rf .whl && mkdir .whl
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "keras==$KERAS_VERSION" namex optree

tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
carried_bytes=$(du -cb device_data .whl | tail -n 1 | cut -f1)
total=$(( tree_bytes + carried_bytes ))
echo "to carry: $(( total / 1048576 )) MiB (working tree $(( tree_bytes / 1048576 )), device_data and .whl $(( carried_bytes / 1048576 )))"
if [ "$total" -gt $(( 64 * 1048576 )) ]; then
  echo "That is over the 64 MiB a device call carries."; exit 1
fi
echo 'The device call: run(command="bash scripts/gpu_figure5.sh", carry=[".whl", "device_data"], timeout_s=600)'
