"""Shared test set-up: quiet TensorFlow, a fixed seed and a clean dtype policy per test, scripts as modules, and
the order the files are handed out in."""

import importlib.util
import os
import pathlib
import runpy

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests' programs are tiny, so XLA's compile time is most of their time. LLVM at -O0 without its expensive passes
# compiles in about half the time (the JAX suite: 412 -> 231 CPU-seconds), and XLA's CPU code from its classic
# emitters instead of the newer fusion emitters in half again (the JAX suite: 256 -> 126 CPU-seconds, idle machine;
# one cnmf_1x1 gradient compiles in 2.1 s instead of 4.1 s). XLA's HLO passes are the default's; only float32
# rounding moves (one jit-compiled cnmf_1x1 training step at N = 20 against the default flags: predictions within
# 3e-7, weights within 1.4e-5 after the Adam step on TensorFlow, 7e-6 on JAX, as with -O0 alone: 1.4e-5 and 1.1e-5).
# Inherited by the scripts the tests start; benchmarks and training outside pytest keep XLA's defaults.
XLA_TEST_FLAGS = (
    "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true --xla_cpu_use_fusion_emitters=false"
)
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_TEST_FLAGS}".strip()
# Without the imports that TensorFlow and Keras make of JAX, scikit-learn and matplotlib and that no test uses
# (tests/startup/sitecustomize.py): in this process, and through PYTHONPATH in the processes the tests start.
STARTUP_DIR = pathlib.Path(__file__).resolve().parent / "startup"
if str(STARTUP_DIR) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STARTUP_DIR), os.environ.get("PYTHONPATH")]))
runpy.run_path(str(STARTUP_DIR / "sitecustomize.py"))

import keras  # noqa: E402
import pytest  # noqa: E402

TESTS_DIR = pathlib.Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
CIFAR10_JPEG = REPO_ROOT.parent / "shared" / "data" / "cifar10-jpeg"
#: The authors' code (github mahbodnr/deep_nmf), for side-by-side benchmarks only (../shared/reference/README.md).
REFERENCE_CODE = REPO_ROOT.parent / "shared" / "reference" / "deep_nmf"


def load_script(relative_path):
    """A script or example of the repository (no package) as a module, to call its ``main()`` in process."""
    path = REPO_ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Python code that defines ``RunLock`` from keras_nmf/files.py alone (it needs only the standard library and
#: keras_nmf/errors.py, a leaf), without the package (which imports Keras and its backend): a process that only holds
#: or probes a run's lock starts in a tenth of a second instead of about six.
LOAD_RUN_LOCK_ALONE = (
    f"import runpy, sys, types; errors = types.ModuleType('keras_nmf.errors'); "
    f"errors.__dict__.update(runpy.run_path({str(REPO_ROOT / 'keras_nmf/errors.py')!r})); "
    f"sys.modules['keras_nmf.errors'] = errors; "
    f"RunLock = runpy.run_path({str(REPO_ROOT / 'keras_nmf/files.py')!r})['RunLock']; "
)


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def cifar10_jpeg():
    """Path of ../shared/data/cifar10-jpeg; skips the test when it is absent."""
    if not (CIFAR10_JPEG / "train").is_dir():
        pytest.skip(f"CIFAR-10 JPEG folder not found at {CIFAR10_JPEG}")
    return CIFAR10_JPEG


@pytest.fixture
def reference_code():
    """Path of ../shared/reference/deep_nmf, where it and what it needs (PyTorch, jsmin) are here; else skips."""
    if not (REFERENCE_CODE / "tools").is_dir():
        pytest.skip(f"the authors' code not found at {REFERENCE_CODE}")
    pytest.importorskip("torch", reason="the authors' code is PyTorch")
    pytest.importorskip("jsmin", reason="the authors' configs need jsmin (the Makefile installs it)")
    return REFERENCE_CODE


#: The files whose tests take longest (multi-process runs, the cross-backend stages, trainings), longest first, as
#: measured in the suites of `make test`. Collected first, so that pytest-xdist hands them out first and the short
#: files fill the workers at the end, instead of one long file running alone there. (xdist keeps this order only
#: with --no-loadscope-reorder, which the Makefile passes: by default it hands out the files with the most tests
#: first.) Only the order changes; no test depends on it. Measured with ../shared/data/cifar10-jpeg beside the
#: repository, as on CI (the presets' accuracy checks need it).
LONGEST_FIRST = (
    "test_cross_backend.py",
    "training/test_distribute.py",
    "training/test_faults.py",
    "gpu/test_gpu_figure5_script.py",
    "benchmarks/test_backprop_benchmark.py",
    "training/test_saved_model_loads.py",
    "models/test_presets.py",
    "gpu/test_device_check_script.py",
    "benchmarks/test_step_benchmarks.py",
    "training/test_train_script.py",
    "tuning/test_search.py",
    "test_export.py",
    "experiments/test_compare.py",
    "explain/test_command.py",
    "test_quiet_import.py",
    "experiments/test_solvers.py",
    "training/test_faults_kill.py",
    "benchmarks/test_reference_benchmark.py",
    "experiments/test_grid_processes.py",
    "models/test_factory.py",
    "training/test_train_anywhere.py",
    "training/test_data_parallel.py",
    "test_command_startup.py",
    "training/test_branches.py",
    "experiments/test_robustness.py",
    "tuning/test_hypermodel.py",
    "training/test_reliability.py",
    "layers/test_nmf_options.py",
    "ops/test_implicit.py",
    "layers/test_cnmf2d.py",
    "test_examples.py",
    "tuning/test_sweep_tuner.py",
    "benchmarks/test_iterations_benchmark.py",
    "training/test_run_files.py",
    "ops/test_accelerated_solvers.py",
    "experiments/test_records.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}

    def key(item):
        return rank.get(pathlib.Path(os.path.relpath(item.path, TESTS_DIR)).as_posix(), len(rank))

    items.sort(key=key)  # stable: the order within a file and among the rest stays pytest's
