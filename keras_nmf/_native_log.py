"""Silences TensorFlow's native start-up noise on hosts without a GPU, and nothing else.

Importing TensorFlow and listing its GPUs writes, from C++ and before any log
level applies (``TF_CPP_MIN_LOG_LEVEL`` cannot reach it), a pre-init absl
warning and "Could not find cuda drivers" twice, a CPU-feature note, on
CPU hosts an error line "failed call to cuInit", and, where TensorFlow turns on
its oneDNN kernels (on by default on recent x86 CPUs, e.g. with AVX-512 or AMX),
the notice "oneDNN custom operations are on ..." twice. This module captures the
process's stderr (file descriptor 2) while that happens, drops exactly those
lines, and writes everything else back, so real errors are never hidden.
"""

import contextlib
import os
import re
import sys
import tempfile

from keras_nmf.errors import MissingExtraError

#: The start-up lines dropped; anything else captured is written back to stderr.
NOISE = re.compile(
    r"(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|^[IWE]\d{4} .*(cudart_stub\.cc|cpu_feature_guard\.cc|cuda_platform\.cc|cuda_executor\.cc|cuda_diagnostics)"
    r"|^[IWE]\d{4} .*\] oneDNN custom operations are on\."
    r"|^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)"
)


#: Keras's backends; each is also the name of the keras_nmf extra that installs it.
BACKENDS = ("tensorflow", "jax", "torch")
#: What ``pip install`` installs for each backend (the package's extras of the same names).
_PIP_NAMES = {"tensorflow": "tensorflow", "jax": '"jax[cpu]"', "torch": "torch"}


def _backend_source():
    """Where Keras took its backend from: the environment, keras.json, or its default."""
    if os.environ.get("KERAS_BACKEND"):
        return f"KERAS_BACKEND={os.environ['KERAS_BACKEND']}"
    config = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
    if os.path.exists(config):
        return f"set in {config}"
    return "Keras's default, as KERAS_BACKEND is not set"


def drop_noise(text):
    return "".join(line for line in text.splitlines(keepends=True) if not NOISE.search(line))


@contextlib.contextmanager
def quiet_native_startup():
    """Captures fd 2 for the block; on exit writes back all but the known start-up noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr (e.g. some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = drop_noise(capture.read().decode(errors="replace"))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def import_keras_quietly():
    """Imports Keras, and TensorFlow where it is Keras's backend, with TensorFlow's start-up noise filtered.

    ``import keras_nmf`` does this; the backend stays Keras's choice.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with quiet_native_startup():
        try:
            import keras
        except ModuleNotFoundError as error:
            missing = (error.name or "").split(".")[0]
            if missing not in BACKENDS:
                raise
            raise MissingExtraError(
                f"Keras's backend is {missing}, which is not installed here ({_backend_source()}). Choose an "
                f"installed backend with KERAS_BACKEND=jax, tensorflow or torch, or install this one: pip install "
                f"{_PIP_NAMES[missing]} (keras_nmf's {missing} extra).",
                name=missing,
            ) from None

        if keras.backend.backend() == "tensorflow":
            import_tensorflow_quietly()
    return keras


def import_tensorflow_quietly():
    """Imports TensorFlow and probes its GPUs with the start-up noise filtered; returns the module.

    For the TensorFlow-only features (``tf.distribute``, tfds) under any backend.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    with quiet_native_startup():
        import tensorflow

        tensorflow.config.list_physical_devices("GPU")  # CUDA's probe, once, while its noise is filtered
    return tensorflow
