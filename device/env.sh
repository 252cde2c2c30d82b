# Sourced by device/benchmark.sh and device/sweep.sh, from the repository's root: installs the
# wheels of device/wheels.sh (carried in .whl/) unless this Python already has the project's
# packages (as here), and sets the environment every device run uses; PYTHON (default python3)
# is the interpreter.
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import ml_collections, tensorflow_datasets, grain, tensorboardX" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
# JAX takes half the GPU's memory, PyTorch's rows the rest
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.5
# The offline data sets (../shared/data beside a checkout) travel as .shared/data, carried; the
# configs read them at ../shared/data
if [ -d .shared/data ] && [ ! -e ../shared/data ]; then
  mkdir -p ../shared && ln -s "$PWD/.shared/data" ../shared/data
fi
OUT=${OUT:-runs/device}
mkdir -p "$OUT"
