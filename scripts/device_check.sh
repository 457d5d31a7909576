#!/usr/bin/env bash
# One prepared check for a GPU machine (about 5-8 minutes on one H100/H200). From the repository root:
#   bash scripts/device_check.sh            # writes device_out/ (or $OUT/ where OUT is set)
# The backend: $KERAS_BACKEND where set, else TensorFlow where it imports, else JAX (a GPU host without
# TensorFlow, such as the lent machine: Keras and what it needs beyond that image come from the wheels in .whl/).
# TensorFlow:
# 1. the GPU-marked tests (pytest -m gpu): CNMF2D outputs and both gradients on the GPU against the float64
#    reference in float32, mixed_float16 and mixed_bfloat16, chunked and whole-batch, and the TF32 measurement;
# 2. bench_backprop per-architecture throughput and step memory, float32 and mixed_bfloat16, and cnn / cnmf_1x1
#    in float32 with TF32 left on (what train.py's true float32 costs);
# 3. one epoch of cnmf_1x1 on ../shared/data/cifar10-jpeg (epoch time, test accuracy).
# JAX (or PyTorch, with KERAS_BACKEND=torch): the same GPU-marked tests; bench_backends (train step of the four
# networks, float32 and mixed_bfloat16, and the cnmf_1x1 step against its iterations' matmuls); one
# CIFAR-10-sized epoch of cnmf_1x1 on random images (no tf.data there; said so in the summary).
# DEVICE_CHECK_QUICK=1 shrinks these benchmarks to a CPU smoke run (cnmf_1x1, float32 only).
# The last line printed is one JSON summary. Without a GPU the GPU parts are skipped and said so.
# PYTHON=path/to/python uses an existing environment instead of creating .venv.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-device_out}
mkdir -p "$OUT"
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1 KERAS_NMF_GPU_REPORT="$OUT/gpu_tests.json"
DATA_DIR=${DATA_DIR:-../shared/data/cifar10-jpeg}
START=$(date +%s)

# The GPU-marked tests on the active backend. $1: Python that prints how many GPUs the backend sees.
# Sets GPU (that number) and TESTS (pytest's last line).
gpu_tests() {
  GPU=$("$PYTHON" -c "$1" 2>/dev/null || echo 0)
  echo "GPUs visible to $KERAS_BACKEND: $GPU"
  rm -f "$KERAS_NMF_GPU_REPORT"
  "$PYTHON" -m pytest -q -m gpu tests/gpu -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.log"
  TESTS=$(tail -n 1 "$OUT/gpu_tests.log")
}

if [ -z "${KERAS_BACKEND:-}" ]; then
  PROBE=${PYTHON:-python3}
  if ! "$PROBE" -c "import tensorflow" >/dev/null 2>&1 && "$PROBE" -c "import jax" >/dev/null 2>&1; then
    KERAS_BACKEND=jax  # a host without TensorFlow (the lent GPU machine)
  else
    KERAS_BACKEND=tensorflow
  fi
fi
export KERAS_BACKEND
echo "Keras backend: $KERAS_BACKEND"

if [ "$KERAS_BACKEND" != tensorflow ]; then
  PYTHON=${PYTHON:-python3}
  SITE=/tmp/keras_nmf_site
  if ! "$PYTHON" -c "import keras" >/dev/null 2>&1 && ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
      || { echo "Installing the carried wheels (.whl/) failed."; exit 1; }
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  fi
  if [ "$KERAS_BACKEND" = torch ]; then
    gpu_tests "import torch; print(torch.cuda.device_count())"
  else
    gpu_tests "import jax; print(sum(d.platform == 'gpu' for d in jax.devices()))"
  fi
  BENCH=()
  if [ "$GPU" -gt 0 ] || [ -n "${DEVICE_CHECK_QUICK:-}" ]; then
    if [ -n "${DEVICE_CHECK_QUICK:-}" ]; then
      SIZES=(--archs cnmf_1x1 --batch 4 --iterations 2 --repeats 2 --epoch-images 40)
      PRECISIONS=(float32)
    else
      SIZES=(--archs cnn cnmf cnn_1x1 cnmf_1x1 --repeats 20 --epoch-images 50000)
      PRECISIONS=(float32 mixed_bfloat16)
    fi
    for precision in "${PRECISIONS[@]}"; do
      timeout 200 "$PYTHON" scripts/bench_backends.py --backends "$KERAS_BACKEND" --precision "$precision" \
        "${SIZES[@]}" --out "$OUT/bench_$precision" | tee "$OUT/bench_$precision.log" && BENCH+=("$precision")
    done
  else
    echo "No GPU: the GPU tests were skipped, and the benchmarks and the epoch need a GPU; nothing was measured."
  fi
  "$PYTHON" - "$OUT" "$GPU" "$TESTS" "$(( $(date +%s) - START ))" "$KERAS_BACKEND" "${BENCH[@]}" <<'PY'
import json, pathlib, sys
out, gpus, tests, seconds, backend = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
summary = {"backend": backend, "gpus": gpus, "gpu_tests": tests, "seconds": seconds}
report = out / "gpu_tests.json"
if report.exists():
    summary["gpu_errors"] = json.loads(report.read_text())
for precision in sys.argv[6:]:
    figures = json.loads((out / f"bench_{precision}" / "backends.json").read_text())["backends"][backend]
    summary["versions"] = figures["versions"]
    summary[f"train_{precision}"] = {
        r["arch"]: {"step_ms": round(r["train_step_ms"], 2), "images_per_s": round(r["train_images_per_s"], 1),
                    **({"step_vs_iteration_matmuls": round(r["step_vs_iteration_matmuls"], 2)}
                       if "step_vs_iteration_matmuls" in r else {})}
        for r in figures["results"]}
    if "epoch" in figures:
        summary[f"cnmf_1x1_epoch_{precision}"] = {k: (round(v, 2) if isinstance(v, float) else v)
                                                  for k, v in figures["epoch"].items()}
print(json.dumps(summary))
PY
  exit 0
fi

if [ -z "${PYTHON:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && [ ! -f .venv/.installed-gpu ]; then
    python3 -m venv .venv && .venv/bin/python -m pip install --quiet -e ".[dev,gpu]" && touch .venv/.installed-gpu .venv/.installed
  else
    make --quiet .venv/.installed
  fi
  PYTHON=.venv/bin/python
fi

gpu_tests "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"

BENCH=()
EPOCH="{}"
if [ "$GPU" -gt 0 ]; then
  for precision in float32 mixed_bfloat16; do
    timeout 240 "$PYTHON" scripts/bench_backprop.py --no-figure1 --repeats 10 --precision "$precision" \
      --out "$OUT/bench_$precision" | tee "$OUT/bench_$precision.log" && BENCH+=("$precision")
  done
  timeout 150 "$PYTHON" scripts/bench_backprop.py --no-figure1 --repeats 10 --precision float32 --tf32 \
    --archs cnn cnmf_1x1 --out "$OUT/bench_float32_tf32" | tee "$OUT/bench_float32_tf32.log" \
    && BENCH+=("float32_tf32")
  if [ -d "$DATA_DIR/train" ]; then
    rm -rf "$OUT/epoch"
    timeout 300 "$PYTHON" scripts/train.py --arch cnmf_1x1 --epochs 1 --data-dir "$DATA_DIR" --logdir "$OUT/epoch" \
      --verbose 2 | tee "$OUT/epoch.log"
    [ -f "$OUT/epoch/results.json" ] && EPOCH=$(cat "$OUT/epoch/results.json")
  else
    echo "No CIFAR-10 folder at $DATA_DIR: the one-epoch run is skipped."
  fi
else
  echo "No GPU: the GPU tests were skipped, and the benchmarks and the epoch need a GPU; nothing was measured."
fi

"$PYTHON" - "$OUT" "$GPU" "$TESTS" "$(( $(date +%s) - START ))" "$EPOCH" "${BENCH[@]}" <<'PY'
import json, pathlib, sys
out, gpus, tests, seconds, epoch = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
summary = {"gpus": gpus, "gpu_tests": tests, "seconds": seconds}
report = out / "gpu_tests.json"
if report.exists():
    summary["gpu_errors"] = json.loads(report.read_text())
for precision in sys.argv[6:]:
    bench = json.loads((out / f"bench_{precision}" / "backprop.json").read_text())
    summary[f"images_per_s_{precision}"] = {
        arch: {"train": round(r["train_images_per_s"], 1), "inference": round(r["inference_images_per_s"], 1),
               "step_peak_mib": round(r["peak_train_memory_mib"], 1)}
        for arch, r in bench["architectures"].items()}
if epoch:
    summary["cnmf_1x1_epoch"] = {"seconds": round(epoch["train_seconds"], 1), "test_accuracy": epoch["test_accuracy"],
                                 "precision": epoch["precision"], "jit_compile": epoch["jit_compile"]}
print(json.dumps(summary))
PY
