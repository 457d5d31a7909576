"""Every difference between Keras's backends, in one place: one module per backend, selected once.

``keras.ops`` is the common language of this package; what it has no word
for lives here, with the same small set of functions in
:mod:`~keras_nmf.backend.tensorflow_backend`, :mod:`~keras_nmf.backend.jax_backend`
and :mod:`~keras_nmf.backend.torch_backend`:

* ``vjp``, ``map_chunks``, ``is_concrete``, ``graph_assertion``, ``after_counting``,
  ``float64_available``, ``tracing_for_export``: what the NMF ops need (the adjoint of a linear map for
  eq. 19's backward, a map that traces its body once, whether a check can
  raise now or in a compiled step, a counter update inside a backward, float64,
  whether an exporter that reads neither custom gradients nor while loops is tracing:
  :func:`custom_gradient` and the ``tolerance`` loop ask it).
* ``gradients``: the gradient of a loss with respect to tensors and variables
  (the gradient-fidelity experiment and tests).
* ``compile_call``, ``compile_function``, ``block_until_ready``: a model's
  forward pass or a function compiled once, and timing that waits for the device.
* ``start_devices_quietly``, ``patch_multiworker_build``: a device context started without native start-up
  noise, and the workaround of Keras's multi-worker defects (TensorFlow; nothing elsewhere). Every ``keras.src``
  import of the package is in these modules.
* ``gpu_compute_capability``, ``tf32_enabled``, ``set_tf32``,
  ``determinism_enabled``, ``set_determinism``: the process-wide numeric switches.
* ``DEFAULT_JIT``, ``COMPILES_WITH_DETERMINISM``, ``COUNTS_IN_BACKWARD``, ``DISTRIBUTE_STRATEGIES``,
  ``DETERMINISM_ADVICE``: what the backend compiles by default and what it supports;
  ``SHARED_DEVICE_ENVIRONMENT``: what processes that share one GPU need set before they start.

Only the active backend's module is imported, so the package imports on a
host that has one backend installed.
"""

import importlib

import keras

#: The backends this package runs on.
BACKENDS = ("tensorflow", "jax", "torch")

NAME = keras.backend.backend()
if NAME not in BACKENDS:
    raise ImportError(f"keras_nmf runs on the {', '.join(BACKENDS)} backends, not {NAME!r}: set KERAS_BACKEND.")
_active = importlib.import_module(f"keras_nmf.backend.{NAME}_backend")

vjp = _active.vjp
map_chunks = _active.map_chunks
is_concrete = _active.is_concrete
after_counting = _active.after_counting
float64_available = _active.float64_available
tracing_for_export = _active.tracing_for_export
graph_assertion = _active.graph_assertion
gradients = _active.gradients
compile_call = _active.compile_call
compile_function = _active.compile_function
block_until_ready = _active.block_until_ready
start_devices_quietly = _active.start_devices_quietly
patch_multiworker_build = _active.patch_multiworker_build
gpu_compute_capability = _active.gpu_compute_capability
tf32_enabled = _active.tf32_enabled
set_tf32 = _active.set_tf32
determinism_enabled = _active.determinism_enabled
set_determinism = _active.set_determinism
DEFAULT_JIT = _active.DEFAULT_JIT
COMPILES_WITH_DETERMINISM = _active.COMPILES_WITH_DETERMINISM
COUNTS_IN_BACKWARD = _active.COUNTS_IN_BACKWARD
DISTRIBUTE_STRATEGIES = _active.DISTRIBUTE_STRATEGIES
DETERMINISM_ADVICE = _active.DETERMINISM_ADVICE
SHARED_DEVICE_ENVIRONMENT = _active.SHARED_DEVICE_ENVIRONMENT


def name():
    """The active Keras backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return NAME


def custom_gradient(fn):
    """``keras.ops.custom_gradient(fn)``, or ``fn``'s forward value alone while PyTorch's ONNX exporter traces.

    That exporter cannot write a custom autograd Function, and an exported graph has no backward: the
    forward is the same arithmetic either way (docs/deploy.md).
    """
    if tracing_for_export():
        return lambda *args: fn(*args)[0]
    return keras.ops.custom_gradient(fn)
