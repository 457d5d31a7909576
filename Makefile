# Quick start: `make train` (the paper's cnmf_1x1 network on CIFAR-10) and `make test`.
# Both create the project-local virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Offline machines: train on the image-folder copy of CIFAR-10 beside the project when present.
DATA_DIR ?= $(wildcard ../shared/data/cifar10-jpeg)
TRAIN_ARGS ?=
# The backend-agnostic layers, ops, networks and the training stack's backend rules, tested again on JAX and PyTorch
# (docs/backends.md).
BACKEND_TESTS := tests/layers tests/ops tests/models tests/test_losses.py tests/test_optimizers.py \
  tests/test_export.py tests/training/test_backend_rules.py
# PyTorch's CPU build (about 190 MB), taken from the machine's local wheel folder where it has one: PyPI has only the
# CUDA build (several GB), so where this exact file is missing the install fails fast and the PyTorch runs are skipped.
TORCH_CPU ?= torch==2.13.0+cpu

# A second environment without TensorFlow (what a JAX user installs): the backend tests, the data path, the user
# paths (train, TensorBoard, evaluate), DataParallel and the GPU check's JAX path run there on JAX.
JAX_VENV := .venv-jax
JAX_PY := $(JAX_VENV)/bin/python
NO_TF_TESTS := $(BACKEND_TESTS) tests/data tests/training/test_tensorboard.py tests/training/test_train_anywhere.py \
  tests/training/test_data_parallel.py tests/gpu/test_device_check_script.py tests/experiments/test_grid_processes.py \
  tests/gpu/test_gpu_figure5_script.py

.PHONY: train test lint test-other-backends test-fast bench clean

# $(call venv,VENV): a virtual environment with uv (from PyPI) where it installs. $(call install,VENV,REQUIREMENTS):
# with uv where the environment has it, else with pip. uv is the faster: .venv in 72 s instead of 147 s on the
# 2-core reference machine, both caches cold. uv reads no pip configuration, so the machine's wheel folder
# (PIP_FIND_LINKS: where PyTorch's CPU build lies) is passed on.
EXTRAS := tensorflow,jax,tuning,plots,export,reference,explain,dev
# plots: compare.py's report, which the TensorFlow-free suite builds (tests/experiments/test_grid_processes.py).
JAX_EXTRAS := jax,plots,dev
UV_FLAGS = --quiet $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
# Python's bytecode caches are written on first import (Python's default, which some machines turn off with
# PYTHONDONTWRITEBYTECODE=1: every process then compiles TensorFlow's and Keras's modules again, 14 s instead of
# 6.5 s for `import keras, tensorflow`). Compiling every installed module up front instead (uv --compile-bytecode)
# took 33 s of the install on the reference machine, for modules that mostly are never imported.
export PYTHONDONTWRITEBYTECODE :=
venv = $(PYTHON) -m venv $(1) \
  && { $(1)/bin/python -m pip install --quiet --upgrade pip uv || echo "uv does not install here: pip installs $(1)."; }
install = $(1)/bin/uv pip install --python $(1)/bin/python $(UV_FLAGS) $(2) \
  || $(1)/bin/python -m pip install --quiet $(2)

$(VENV)/.installed: pyproject.toml
	$(call venv,$(VENV))
	$(call install,$(VENV),-e ".[$(EXTRAS)]")
	$(call install,$(VENV),"$(TORCH_CPU)") \
	  || echo "PyTorch's CPU build ($(TORCH_CPU)) is not installable here: the PyTorch tests will be skipped."
	touch $@

$(JAX_VENV)/.installed: pyproject.toml
	$(call venv,$(JAX_VENV))
	$(call install,$(JAX_VENV),-e ".[$(JAX_EXTRAS)]")
	@if $(JAX_PY) -c "import tensorflow" 2>/dev/null; then echo "$(JAX_VENV) has TensorFlow: it must not"; exit 1; fi
	touch $@

train: $(VENV)/.installed
	$(PY) scripts/train.py --arch cnmf_1x1 $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(TRAIN_ARGS)

# The TensorFlow suite's pytest workers, each test file whole on one (module fixtures such as a trained run
# happen once): two, handed the files in the order tests/conftest.py sorts them (the longest first), not in xdist's
# default order (the most tests first: --no-loadscope-reorder). The other backends' suites run beside it in one
# process each: they are shorter, and stretched over more of the TensorFlow suite's time they fill the cores it
# leaves idle towards its end instead of competing with its start (clean-clone make test with the CIFAR-10 copy
# beside it, on the 2-core reference machine, one run each: 549 s and 1,051 CPU-seconds with one JAX process,
# 581 s and 1,047 with two JAX workers; 629 s and 1,215 with three TensorFlow workers).
PARALLEL := -n 2 --dist loadfile --no-loadscope-reorder

# The other backends' part (the TensorFlow-free environment's install and suite, the PyTorch suite, then the
# comparison of the three backends) runs beside the TensorFlow suite and prints its log after it: the two cores stay
# busy while one suite waits for its subprocesses. The comparison is a test of every backend, so it runs in that
# part and not in the TensorFlow suite, which is the longer of the two (clean-clone make test with the CIFAR-10 copy
# beside it, one run each: 549 s with it in the TensorFlow suite, 513 s in the other part; the saved model's load on
# every backend moved there too took 531 s). (Through SUBMAKE, so that `make -n test` runs nothing.)
SUBMAKE = $(MAKE)
OTHERS_LOG := test-other-backends.log
CROSS_BACKEND_TESTS := tests/test_cross_backend.py
test: $(VENV)/.installed lint
	@$(SUBMAKE) --no-print-directory test-other-backends > $(OTHERS_LOG) 2>&1 & others=$$!; \
	  $(PY) -m pytest -q $(PARALLEL) --ignore=$(CROSS_BACKEND_TESTS); suite=$$?; \
	  wait $$others; others=$$?; \
	  echo "--- JAX (without TensorFlow), PyTorch and the three backends compared ($(OTHERS_LOG)):"; cat $(OTHERS_LOG); \
	  [ $$suite -eq 0 ] && [ $$others -eq 0 ]

# (Their own pytest cache: two pytest sessions at once must not write one cache file.)
OTHERS_PYTEST := -m pytest -q -o cache_dir=.pytest_cache/other-backends
# PyTorch with one OpenMP thread: beside the TensorFlow suite's two workers a second thread waits more than it works
# (its suite alone on the reference machine: 94 CPU-s with two threads, 64 with one, in the same wall time).
test-other-backends: $(VENV)/.installed $(JAX_VENV)/.installed
	KERAS_BACKEND=jax $(JAX_PY) $(OTHERS_PYTEST) $(NO_TF_TESTS)
	@if $(PY) -c "import torch" 2>/dev/null; then OMP_NUM_THREADS=1 KERAS_BACKEND=torch $(PY) $(OTHERS_PYTEST) $(BACKEND_TESTS); \
	  else echo "PyTorch is not installed: the PyTorch run of $(BACKEND_TESTS) is skipped."; fi
	$(PY) $(OTHERS_PYTEST) $(CROSS_BACKEND_TESTS)

# The formatter's layout and the linter's checks (pyproject.toml's [tool.ruff]): seconds, before the suites.
lint: $(VENV)/.installed
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/ruff check --quiet .

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q $(PARALLEL) -m "not slow"

bench: $(VENV)/.installed
	$(PY) scripts/bench_layer.py

clean:
	rm -rf $(VENV) $(JAX_VENV) $(OTHERS_LOG) build *.egg-info .pytest_cache
