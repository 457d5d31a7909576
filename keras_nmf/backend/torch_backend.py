"""The PyTorch backend's side of :mod:`keras_nmf.backend`."""

import keras
import numpy as np
import torch

#: Steps run eagerly (Keras's default here: its ``jit_compile`` is ``torch.compile``, which took minutes per
#: layer on this project's CPU).
DEFAULT_JIT = False
COMPILES_WITH_DETERMINISM = True
COUNTS_IN_BACKWARD = True
#: The --distribute choices this backend runs.
DISTRIBUTE_STRATEGIES = ()
#: Environment for processes that share one GPU: none needed (PyTorch's caching allocator grows on demand).
SHARED_DEVICE_ENVIRONMENT = {}
DETERMINISM_ADVICE = (
    "torch.use_deterministic_algorithms, with CUBLAS_WORKSPACE_CONFIG set before CUDA starts, "
    "is not wired into this project"
)


def vjp(fn, primal, cotangent):
    with torch.enable_grad():
        leaf = primal.detach().requires_grad_(True)
        return torch.autograd.grad(fn(leaf), leaf, grad_outputs=cotangent)[0]


def map_chunks(fn, chunks, output_dtypes):
    return keras.ops.map(fn, chunks)


def is_concrete(x):
    return True


def after_counting(counter, amount, outputs):
    """Adds ``amount`` to the counter in place: autograd runs the backward as Python, once per backward pass."""
    with torch.no_grad():
        counter.add_(amount.to(counter.dtype))
    return outputs


def graph_assertion(x, condition, message, statistics, error, training):
    return x  # a compiled step here cannot raise; eager inputs are checked where they are read


def tracing_for_export():
    # torch.onnx.export traces the model (TorchScript, or torch.export with dynamo=True).
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def float64_available():
    # Keras's dtype promotion turns 64-bit results into 32-bit ones on every backend but TensorFlow
    # (BIT64_TO_BIT32_DTYPE in keras.src.backend.common.dtypes): a float64 matmul here is a float32 one.
    return False


def _leaf(value):
    return keras.ops.convert_to_tensor(value).detach().clone().requires_grad_(True)


def gradients(loss_fn, tensors, variables=()):
    leaves = [_leaf(t) for t in tensors]
    targets = leaves + [v.value for v in variables]
    with torch.enable_grad():
        grads = torch.autograd.grad(loss_fn(*leaves), targets, allow_unused=True)
    return [
        np.zeros(tuple(t.shape), np.float32) if g is None else g.detach().cpu().numpy() for t, g in zip(targets, grads)
    ]


def compile_call(model, training):
    def eager_call(images):
        with torch.no_grad():  # nothing here is differentiated: no autograd graph kept
            return model(images, training=training)

    return eager_call


def compile_function(fn, jit=True):
    return fn


def block_until_ready(result):
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def gpu_compute_capability():
    return torch.cuda.get_device_capability(0) if torch.cuda.is_available() else None


def tf32_enabled():
    return torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32


def set_tf32(enabled):
    # Matmuls and cuDNN convolutions have separate switches on PyTorch (convolutions default to TF32).
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def determinism_enabled():
    return False


def set_determinism(enabled):
    if enabled:
        raise ValueError("Op determinism is a TensorFlow switch; the torch backend has none to turn on.")


def start_devices_quietly():
    pass  # no native start-up noise to filter


def patch_multiworker_build(model, strategy):
    return lambda: None  # multi-worker training is TensorFlow's (tf.distribute)
