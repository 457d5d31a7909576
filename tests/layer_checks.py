"""``run_layer_test``: the checks every keras_nmf layer must pass (after keras-hub's TestCase)."""

import json

import keras
import numpy as np

from tests.backend import compiled, layer_output_and_gradients, to_numpy


def _non_negative_input(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype("float32")


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape, tmp_path):
    """Config round trips, symbolic and eager calls, jit, fit, .keras reload, mixed precision."""
    x = _non_negative_input(input_shape)

    # Config round trip, plain and through JSON.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key in init_kwargs:
        assert key in config, f"get_config() lacks constructor argument {key!r}"
    rebuilt = layer_cls.from_config(json.loads(json.dumps(config)))
    assert rebuilt.get_config() == config

    # Symbolic call agrees with compute_output_shape and the eager call.
    symbolic = layer_cls(**init_kwargs)(keras.Input(input_shape[1:]))
    assert tuple(symbolic.shape) == (None,) + tuple(expected_output_shape[1:])
    eager = layer(x)
    assert tuple(eager.shape) == tuple(expected_output_shape)
    assert tuple(layer.compute_output_shape(input_shape)) == tuple(expected_output_shape)

    # Functional model: fit one step with XLA, then a .keras round trip.
    inputs = keras.Input(input_shape[1:])
    outputs = layer_cls(**init_kwargs)(inputs)
    model = keras.Model(inputs, outputs)
    # Compiled where Keras compiles well (XLA on TensorFlow and JAX); PyTorch trains eagerly (Keras's torch.compile
    # path is experimental, and compiling takes minutes on a CPU).
    model.compile(optimizer="adam", loss="mse", jit_compile="auto")  # XLA where the backend has it (not PyTorch)
    target = np.random.default_rng(1).random(tuple(expected_output_shape)).astype("float32")
    kernel_before = to_numpy(model.layers[-1].kernel)
    history = model.fit(x, target, epochs=1, batch_size=input_shape[0], verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(kernel_before, to_numpy(model.layers[-1].kernel))
    path = tmp_path / f"{layer_cls.__name__}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))

    # Subclassed model, compiled (tf.function with XLA; jax.jit).
    class Wrapper(keras.Model):
        def __init__(self):
            super().__init__()
            self.inner = layer_cls(**init_kwargs)

        def call(self, inputs):
            return self.inner(inputs)

    wrapped = Wrapper()
    assert np.all(np.isfinite(to_numpy(compiled(wrapped)(x))))

    # Mixed precision: outputs in the compute dtype, weights in float32, finite gradients.
    for policy in ("mixed_float16", "mixed_bfloat16"):
        mixed = layer_cls(**init_kwargs, dtype=policy)
        out, grad_x, grad_u = layer_output_and_gradients(
            mixed,
            keras.ops.cast(x, mixed.compute_dtype),
            lambda out: keras.ops.sum(keras.ops.cast(out, "float32") ** 2),
        )
        assert keras.backend.standardize_dtype(out.dtype) == mixed.compute_dtype, policy
        assert mixed.kernel.dtype == "float32", policy
        for value in (out, grad_x, grad_u):
            assert np.all(np.isfinite(to_numpy(value))), policy
