"""The process-wide numeric switches of the active Keras backend, read and set in one place.

Two switches decide what a run's numbers mean, and each backend keeps them
somewhere else:

* float32 matmuls: on Ampere and newer NVIDIA GPUs both TensorFlow
  (``enable_tensor_float_32_execution``) and JAX (``jax_default_matmul_precision``)
  run float32 matmuls as TF32 by default. ``float32`` training turns that off.
* op determinism: TensorFlow's ``enable_op_determinism``. JAX has no switch
  that can be flipped in a running process (XLA reads
  ``--xla_gpu_deterministic_ops`` at start-up; on CPU it is deterministic
  already), so :class:`keras_nmf.training.config.TrainConfig` refuses
  ``--deterministic`` there.

TensorFlow's and JAX's modules are imported only under their backend.
"""

from keras_nmf.ops.backend import name as backend

TENSORFLOW = "tensorflow"
JAX = "jax"


def gpu_compute_capability():
    """(major, minor) of the first GPU the backend sees, or None without one."""
    if backend() == TENSORFLOW:
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            return tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)))
        return None
    if backend() == JAX:
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        if gpus:
            major, _, minor = str(getattr(gpus[0], "compute_capability", "0.0")).partition(".")
            return int(major), int(minor or 0)
        return None
    import torch

    return torch.cuda.get_device_capability(0) if torch.cuda.is_available() else None


def tf32_enabled():
    """Whether float32 matmuls may run as TF32 (the backend's current setting)."""
    if backend() == TENSORFLOW:
        import tensorflow as tf

        return tf.config.experimental.tensor_float_32_execution_enabled()
    if backend() == JAX:
        import jax

        return jax.config.jax_default_matmul_precision not in ("highest", "float32")
    import torch

    return torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32


def set_tf32(enabled):
    """Lets float32 matmuls run as TF32 (True) or keeps them true float32 (False)."""
    if backend() == TENSORFLOW:
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(enabled)
    elif backend() == JAX:
        import jax

        jax.config.update("jax_default_matmul_precision", None if enabled else "highest")
    else:
        import torch

        # Matmuls and cuDNN convolutions have separate switches on PyTorch (convolutions default to TF32).
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


def determinism_enabled():
    if backend() != TENSORFLOW:
        return False
    from tensorflow.python.framework import config as tf_config  # op determinism's getter and switch-off

    return tf_config.is_op_determinism_enabled()


def set_determinism(enabled):
    """TensorFlow's op determinism on or off; elsewhere only ``False`` is accepted (see the module docstring)."""
    if backend() != TENSORFLOW:
        if enabled:
            raise ValueError(f"Op determinism is a TensorFlow switch; the {backend()} backend has none to turn on.")
        return
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    if enabled:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()
