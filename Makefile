# Quick start: `make train` (the paper's cnmf_1x1 network on CIFAR-10) and `make test`.
# Both create the project-local virtual environment .venv on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Offline machines: train on the image-folder copy of CIFAR-10 beside the project when present.
DATA_DIR ?= $(wildcard ../shared/data/cifar10-jpeg)
TRAIN_ARGS ?=
# The backend-agnostic layers, ops and networks, tested again on JAX (docs/backends.md).
JAX_TESTS := tests/layers tests/ops tests/models tests/test_losses.py tests/test_optimizers.py

.PHONY: train test test-fast bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

train: $(VENV)/.installed
	$(PY) scripts/train.py --arch cnmf_1x1 $(if $(DATA_DIR),--data-dir $(DATA_DIR)) $(TRAIN_ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest -q
	KERAS_BACKEND=jax $(PY) -m pytest -q $(JAX_TESTS)

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

bench: $(VENV)/.installed
	$(PY) scripts/bench_layer.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
