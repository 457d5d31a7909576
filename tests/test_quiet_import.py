"""Importing the package prints nothing: TensorFlow's native start-up noise is filtered, real errors are not."""

import os
import subprocess
import sys

from keras_nmf._native_log import drop_noise
from tests.backend import tensorflow_only


def test_only_the_known_start_up_lines_are_dropped():
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795883444.204832    2896 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
        "E0000 00:00:1795883448.372431    2896 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
        "I0000 00:00:1796000000.000000    2896 port.cc:153] oneDNN custom operations are on. You may see slightly "
        "different numerical results due to floating-point round-off errors from different computation orders. "
        "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
    )
    real = "Traceback (most recent call last):\nValueError: something real\n"
    assert drop_noise(noise + real) == real


def test_an_import_and_a_runs_start_write_nothing_and_register_everything():
    """``import keras_nmf`` from a user's script loads and registers the package's objects and writes nothing; nor does
    what train() does before its first TensorFlow op (the strategy, the seed): on the TensorFlow backend (the device
    context starts inside the filter) and on JAX beside an installed TensorFlow (Keras imports it to seed tf.data).
    One fresh process per backend: each import of TensorFlow costs seconds of the suite."""
    script = (
        "import sys\n"
        "sys.argv = ['my_script.py']\n"  # a user's script: not one of the package's commands, which defer loading
        "import keras_nmf\nimport keras\n"
        "assert keras.saving.get_registered_object('keras_nmf>PaperAugmentation') is not None, 'not registered'\n"
        "from keras_nmf.training.distribute import make_strategy\n"
        "from keras_nmf.training.recipe import process_settings\n"
        "make_strategy('none')\n"
        "with process_settings(seed=3):\n"
        "    keras.ops.convert_to_numpy(keras.ops.ones(2) + 1)\n"
    )
    for backend in ("tensorflow", "jax"):
        # oneDNN on, whatever this CPU's default: TensorFlow then prints its "oneDNN custom operations" notice on any
        # x86 CPU, so the filter is exercised here and not only on CPUs where TensorFlow turns oneDNN on itself.
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_ENABLE_ONEDNN_OPTS": "1"}
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), (backend, result.stderr[-2000:])


def test_a_missing_backend_names_keras_backend_and_the_extra():
    script = "import sys; sys.modules['tensorflow'] = None; import keras_nmf"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1
    assert (
        "Keras's backend is tensorflow, which is not installed here (KERAS_BACKEND=tensorflow). Choose an "
        "installed backend with KERAS_BACKEND=jax, tensorflow or torch, or install this one: pip install "
        "tensorflow (keras_nmf's tensorflow extra)"
    ) in result.stderr


@tensorflow_only
def test_tensorflows_retracing_warning_is_dropped_for_the_packages_compiled_calls_only():
    import logging

    import tensorflow as tf

    from keras_nmf.backend.tensorflow_backend import _OwnRetracingWarnings

    def record(function):
        return logging.LogRecord(
            "tensorflow",
            logging.WARNING,
            __file__,
            1,
            f"5 out of the last 11 calls to <function {function} at 0x7f> triggered tf.function retracing.",
            None,
            None,
        )

    assert any(isinstance(f, _OwnRetracingWarnings) for f in tf.get_logger().filters)
    assert not _OwnRetracingWarnings().filter(record("compile_call.<locals>.<lambda>"))
    assert _OwnRetracingWarnings().filter(record("my_training_step"))
