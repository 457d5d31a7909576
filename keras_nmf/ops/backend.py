"""The few places where the Keras backends differ and ``keras.ops`` has no common word.

Everything else under :mod:`keras_nmf.ops` is written in ``keras.ops`` alone.
The helpers here are what ``keras.ops`` does not offer: the adjoint of a
function (``vjp``, used to carry eq. 19 back through the patch extraction in the
backward), a map over chunks that traces its body once (``map_chunks``),
whether a tensor is a value that can be read now (``is_concrete``) or a symbol
inside a compiled step (``tf.function``, ``jax.jit``), where a check cannot
raise, a variable update inside a backward (``after_counting``, TensorFlow only)
and whether float64 exists (``float64_available``).

Each backend's framework is imported only when that backend is active, so the
layers import on a JAX- or PyTorch-only host without TensorFlow.
"""

import keras


def name():
    """The active Keras backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    return keras.backend.backend()


def vjp(fn, primal, cotangent):
    """``cotangent^T d fn / d primal`` at ``primal``: the adjoint of ``fn`` applied to ``cotangent``.

    Used on linear maps (patch extraction and group split), inside a custom
    gradient's backward.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(primal)
            output = fn(primal)
        return tape.gradient(output, primal, output_gradients=cotangent)
    if backend == "jax":
        import jax

        _, pullback = jax.vjp(fn, primal)
        return pullback(cotangent)[0]
    if backend == "torch":
        import torch

        with torch.enable_grad():
            leaf = primal.detach().requires_grad_(True)
            return torch.autograd.grad(fn(leaf), leaf, grad_outputs=cotangent)[0]
    raise NotImplementedError(f"keras_nmf supports the tensorflow, jax and torch backends, not {backend!r}.")


def map_chunks(fn, chunks, output_dtypes):
    """``fn`` applied to each slice of ``chunks`` along axis 0, results stacked.

    ``chunks`` is a tensor or a tuple of tensors; ``output_dtypes`` a dtype or a
    tuple of dtypes, one per output. On TensorFlow this is ``tf.map_fn`` with
    that signature: ``keras.ops.map`` would call ``fn`` once more, outside the
    loop, to learn it, which would repeat a side effect in ``fn`` (the implicit
    backward's fallback counter). Elsewhere it is ``keras.ops.map``
    (``lax.map`` on JAX), which traces ``fn`` once.
    """
    if name() == "tensorflow":
        import tensorflow as tf

        # Dtypes alone: tf.map_fn then takes the static shapes from the traced body.
        return tf.map_fn(fn, chunks, fn_output_signature=output_dtypes)
    return keras.ops.map(fn, chunks)


def is_concrete(x):
    """True where ``x``'s value can be read now (eager), False inside a traced step.

    TensorFlow: False inside a ``tf.function`` graph (an assertion op can
    still raise there, see :mod:`keras_nmf.ops.checks`). JAX: False for a
    tracer (``jax.jit``, ``grad``). PyTorch runs eagerly: True.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.executing_eagerly()
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    return True


def after_counting(counter, amount, outputs):
    """``outputs``, computed after ``amount`` is added to the variable ``counter`` (TensorFlow only).

    Inside a TensorFlow gradient the addition is a stateful op that the
    outputs depend on. JAX and PyTorch train through a stateless or autograd
    backward, where a variable cannot be assigned: there the counter is left
    as it is and ``outputs`` are returned unchanged.
    """
    if name() != "tensorflow":
        return outputs
    import tensorflow as tf

    with tf.control_dependencies([counter.assign_add(amount)]):
        return tuple(tf.identity(t) for t in outputs)


def float64_available():
    """Whether ``keras.ops`` computes float64 tensors in float64.

    TensorFlow: always. JAX: only with ``JAX_ENABLE_X64=1`` (else it computes
    in float32). PyTorch: no; Keras's dtype promotion turns 64-bit results into
    32-bit ones on every backend but TensorFlow (``BIT64_TO_BIT32_DTYPE`` in
    ``keras.src.backend.common.dtypes``), so a float64 matmul there is a float32 one.
    """
    backend = name()
    if backend == "torch":
        return False
    if backend != "jax":
        return True
    import jax

    return bool(jax.config.jax_enable_x64)
