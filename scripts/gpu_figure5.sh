#!/usr/bin/env bash
# The paper's Figure 5 on the lent GPU host, in one prepared command (#22): the four networks, seeds 0 and 1, all
# 50,000 training and 10,000 test images with the paper's augmentation and recipe, float32 with TF32 off, the same
# EPOCHS for every run; then the authors' PyTorch networks timed beside ours on the same GPU.
# Here first: bash scripts/prepare_gpu_figure5.sh (the data pack, the wheels, a copy of the authors' code). There:
#   run(command="bash scripts/gpu_figure5.sh", carry=[".whl", "device_data"], timeout_s=600)
# JAX (the host has no TensorFlow), Keras from the carried wheels. PROCESSES runs train at once, each in its own
# process (compare.py --processes: one batch-50 network leaves the GPU mostly idle), in the plan's order, seed 0 first.
# Training stops at TRAIN_SECONDS (Ctrl-C to every run: finished epochs are kept), so the call ends in time;
# every 30 s and at the end OUT gets the report of the finished runs and runs.tar.gz of every run's records
# (keras_nmf/experiments/records.py), so a cut-off call still returns every finished run. OUT gets at most 7 files:
# summary.csv, summary.md, figure5.png, learning_curves.png, runs.tar.gz, reference.json, gpu_figure5.log.
# The last line printed is one JSON summary. Every setting below can be overridden from the environment (the CPU
# rehearsal, tests/gpu/test_gpu_figure5_script.py, shrinks them to seconds).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-device_out}
EPOCHS=${EPOCHS:-20}
ARCHS=${ARCHS:-cnn cnmf cnn_1x1 cnmf_1x1}
SEEDS=${SEEDS:-0 1}
PROCESSES=${PROCESSES:-8}
TRAIN_SECONDS=${TRAIN_SECONDS:-390}
REFERENCE_SECONDS=${REFERENCE_SECONDS:-110}
DATA=${DATA:-device_data/cifar10-jpeg.npz}
REFERENCE=${REFERENCE:-device_data/deep_nmf}
GRID=${GRID:-/tmp/figure5}
# The recipe of the CPU Figure 5 (docs/experiments/schedules): the paper's, but for its schedule: the paper's rates,
# decayed linearly to 0 over the last 20 % of the steps (--schedule wsd), so that both tables are comparable.
RECIPE_FLAGS=${RECIPE_FLAGS:---schedule wsd}
# Flags for every run beyond the recipe: test-set evaluations every 2 epochs (the learning curves keep 10
# points at 20 epochs; the last epoch is always evaluated).
RUN_FLAGS=${RUN_FLAGS:---eval-every 2}
REFERENCE_FLAGS=${REFERENCE_FLAGS:---archs cnn cnmf_1x1 --epoch-images 50000}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_figure5.log") 2>&1
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
START=$(date +%s)

SITE=/tmp/keras_nmf_site
if ! "$PYTHON" -c "import keras" >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
    || { echo "Installing the carried wheels (.whl/) failed: run scripts/prepare_gpu_figure5.sh here first."; exit 1; }
fi
export PYTHONPATH="$SITE:$PWD:$PWD/device_data/site${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import jax, keras; print('JAX', jax.__version__, jax.devices(), '| Keras', keras.__version__)"
[ -f "$DATA" ] || { echo "No data pack at $DATA: run scripts/prepare_gpu_figure5.sh here first."; exit 1; }

records() { "$PYTHON" -m keras_nmf.experiments.records "$GRID" "$OUT" || echo "(the records could not be written)"; }
( while sleep 30; do records; done ) &
SNAPSHOTS=$!
echo "training: archs $ARCHS, seeds $SEEDS, $EPOCHS epochs, $PROCESSES processes, stop at ${TRAIN_SECONDS} s, recipe: the paper's with ${RECIPE_FLAGS:-nothing changed}"
# shellcheck disable=SC2086  # ARCHS, SEEDS and the flag lists are word lists
timeout -k 30 --signal=INT "$TRAIN_SECONDS" "$PYTHON" -m keras_nmf.cli.compare --archs $ARCHS \
  --seeds $SEEDS --out "$GRID" --data-dir "$DATA" --epochs "$EPOCHS" --precision float32 --processes "$PROCESSES" \
  $RECIPE_FLAGS $RUN_FLAGS
GRID_CODE=$?
kill "$SNAPSHOTS" 2>/dev/null; wait "$SNAPSHOTS" 2>/dev/null
records
TRAINED=$(( $(date +%s) - START ))

if [ -f "$REFERENCE/tools/make_network.py" ]; then
  # shellcheck disable=SC2086
  timeout -k 10 "$REFERENCE_SECONDS" "$PYTHON" scripts/bench_reference.py --reference-dir "$REFERENCE" --backends jax \
    $REFERENCE_FLAGS --out "$OUT" || echo "The side-by-side timing failed or ran past ${REFERENCE_SECONDS} s."
else
  echo "No copy of the authors' code at $REFERENCE: the side-by-side timing is skipped."
fi

"$PYTHON" - "$GRID" "$OUT" "$GRID_CODE" "$TRAINED" "$(( $(date +%s) - START ))" <<'PY'
import csv, json, pathlib, sys
grid, out, code, trained, seconds = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), *map(int, sys.argv[3:])
summary = {"grid_exit": code, "train_phase_s": trained, "seconds": seconds,
           "runs_started": len(list(grid.glob("*/config.json"))), "runs_finished": len(list(grid.glob("*/results.json")))}
if (out / "summary.csv").exists():
    with open(out / "summary.csv", newline="") as handle:
        summary["test_accuracy"] = {row["run"]: float(row["test_accuracy"]) for row in csv.DictReader(handle)}
if (out / "reference.json").exists():
    summary["speedup_vs_authors"] = {r["arch"]: round(r["step_speedup"], 2)
                                     for r in json.loads((out / "reference.json").read_text())["ratios"]}
print(json.dumps(summary))
PY
exec >&- 2>&-  # the log's tee sees the end of its input
sleep 1
