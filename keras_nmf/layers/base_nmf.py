"""Shared constructor, validation and math of the NMF layers."""

import dataclasses
import numbers
import warnings

import keras

from keras_nmf import backend, ops
from keras_nmf.ops import diagnostics

#: The largest ``iterations`` (N) a layer accepts. Up to :data:`keras_nmf.ops.UNROLL_LIMIT` the N updates are
#: unrolled; above it they run as one compiled loop, so compile time does not grow with N.
MAX_ITERATIONS = 10_000


@dataclasses.dataclass
class NMFFactorization:
    """One NMF layer's factorisation of its input, pattern by pattern (``layer.factorize``).

    Attributes:
        patterns: ([G,] P, S) the raw input patterns (patches for ``CNMF2D``).
        weights: ([G,] S, I) the NMF weights W (eq. 20).
        h: ([G,] P, I) the activations h(N) (eq. 6).
        h_previous: h(N-1), or None when not asked for.
    """

    patterns: object
    weights: object
    h: object
    h_previous: object = None

    @property
    def reconstruction(self):
        """W h per pattern, ([G,] P, S): the layer's reconstruction of its L1-normalised input."""
        return diagnostics.reconstruction(self.weights, self.h)

    def reconstruction_error(self):
        """``|xhat - W h|_1`` per pattern, ([G,] P)."""
        return diagnostics.reconstruction_error(self.patterns, self.weights, self.h)

    def residual(self):
        """``|h(N) - h(N-1)|_1`` per pattern (needs ``with_previous=True``)."""
        if self.h_previous is None:
            raise ValueError("The fixed-point residual needs h(N-1): call factorize(inputs, with_previous=True).")
        return diagnostics.fixed_point_residual(self.h, self.h_previous)

    def sparsity(self):
        """Hoyer sparsity of h per pattern, ([G,] P)."""
        return diagnostics.hoyer_sparsity(self.h)


def positive_int(value, name, meaning="", maximum=None):
    """``value`` as an ``int`` (Python and NumPy integers alike), or ``ValueError`` naming ``name``."""
    valid = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1
    if not valid or (maximum is not None and value > maximum):
        bound = f"between 1 and {maximum:,}" if maximum is not None else ">= 1"
        raise ValueError(f"`{name}`{meaning} must be an integer {bound}. Received: {name}={value!r}")
    return int(value)


def validate_nmf_arguments(iterations, epsilon, backward, learning, implicit_dtype="float32"):
    """Raises ``ValueError`` for NMF arguments outside their domain."""
    positive_int(iterations, "iterations", " (N, the number of eq. 6 updates)", maximum=MAX_ITERATIONS)
    if epsilon is not None and (not isinstance(epsilon, numbers.Real) or isinstance(epsilon, bool)):
        raise ValueError(
            "`epsilon` (eq. 6's step size) must be None (plain multiplicative update) or a float in (0, 1]. "
            f"Received: epsilon={epsilon!r} of type {type(epsilon).__name__}"
        )
    if epsilon is not None and not (0.0 < float(epsilon) <= 1.0):
        raise ValueError(
            "`epsilon` (eq. 6's step size) must be None (plain multiplicative "
            "update) or a float in (0, 1]; larger steps can make h negative. "
            f"Received: epsilon={epsilon}"
        )
    if backward not in ops.BACKWARD_MODES:
        raise ValueError(
            f"`backward` must be one of {ops.BACKWARD_MODES}. Received: backward={backward!r}"
        )
    if learning not in ops.LEARNING_MODES:
        raise ValueError(
            f"`learning` must be one of {ops.LEARNING_MODES}. Received: learning={learning!r}"
        )
    if implicit_dtype not in ops.IMPLICIT_DTYPES:
        raise ValueError(
            f"`implicit_dtype` must be one of {ops.IMPLICIT_DTYPES}. Received: implicit_dtype={implicit_dtype!r}"
        )
    if implicit_dtype == "float64" and not backend.float64_available():
        raise ValueError(
            "`implicit_dtype='float64'` needs float64 arithmetic, which Keras gives on TensorFlow, and on JAX with "
            "JAX_ENABLE_X64=1 (set it before starting Python); on PyTorch Keras computes float64 in float32. "
            "Use implicit_dtype='float32' here.")
    if learning == "local" and backward != "approx":
        raise ValueError(
            "`learning='local'` replaces the weight gradient of the one-step "
            "backward, so it needs `backward='approx'`. "
            f"Received: backward={backward!r}, learning={learning!r}"
        )


class BaseNMF(keras.layers.Layer):
    """Holds the arguments and math shared by ``NMFDense`` and ``CNMF2D``.

    Subclasses create ``self.kernel`` (the free kernel U, eq. 20) in ``build``
    and call :meth:`_infer` on per-group patterns.
    """

    def __init__(
        self,
        iterations=20,
        epsilon=None,
        backward="approx",
        learning="backprop",
        kernel_initializer=None,
        check_inputs=True,
        implicit_dtype="float32",
        **kwargs,
    ):
        super().__init__(**kwargs)
        validate_nmf_arguments(iterations, epsilon, backward, learning, implicit_dtype)
        if not isinstance(check_inputs, (bool, numbers.Integral)):
            raise ValueError(f"`check_inputs` must be True or False. Received: check_inputs={check_inputs!r}")
        self.implicit_dtype = implicit_dtype
        self.implicit_fallbacks = None
        self.iterations = int(iterations)
        self.epsilon = None if epsilon is None else float(epsilon)
        self.backward = backward
        self.learning = learning
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer
            or keras.initializers.RandomUniform(minval=0.0, maxval=1.0)
        )
        self.check_inputs = bool(check_inputs)

    def _add_kernel(self, shape):
        # autocast=False: under mixed precision the kernel is read in float32,
        # so eq. 20 and the iterations never see a float16 W.
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=self.kernel_initializer,
            trainable=True,
            autocast=False,
        )
        self._warn_if_dead()
        if self.backward == "implicit":
            # Patterns whose fixed-point system was singular or ill-conditioned (one-step gradient used instead).
            # int64 where the backend computes in 64 bits (only TensorFlow counts, see
            # keras_nmf.backend.after_counting).
            self.implicit_fallbacks = self.add_weight(
                name="implicit_fallbacks", shape=(), initializer="zeros", trainable=False,
                dtype="int64" if backend.float64_available() else "int32")

    def _warn_if_dead(self):
        """Warns when the initial kernel is constant: every W column equal (or W = 0), so the layer cannot learn."""
        try:
            kernel = keras.ops.convert_to_numpy(self.kernel.value)
        except Exception:  # a symbolic variable (built inside a traced function): nothing to read
            return
        if kernel.size > 1 and float(kernel.max()) == float(kernel.min()):
            what = ("all zero: W = 0 and the layer outputs 0 with a zero gradient" if not kernel.any() else
                    "constant: every column of W is the same, h stays at 1/I and every filter gets the same "
                    "gradient")
            warnings.warn(
                f"Layer '{self.name}': the initial kernel from "
                f"kernel_initializer={type(self.kernel_initializer).__name__} is {what}, so this NMF layer is dead. "
                f"Use a random non-negative initializer (the default, Uniform(0, 1)).", stacklevel=3)

    def _empty_batch(self, x, output_shape):
        """The output of an empty batch (static batch size 0), in the compute dtype: zeros, connected to the input
        and the kernel, whose gradients are then zero (a replica of a distributed step can receive no images)."""
        zeros = keras.ops.zeros((0,) + tuple(output_shape[1:]), "float32")
        connected = zeros + 0.0 * (keras.ops.sum(self.kernel.value) + keras.ops.sum(keras.ops.cast(x, "float32")))
        return keras.ops.cast(connected, self.compute_dtype)

    def _prepare_input(self, inputs):
        """Casts to float32 and checks x >= 0 and finite."""
        x = keras.ops.cast(inputs, "float32")
        if self.check_inputs:
            x = ops.check_non_negative_finite(x, self.name)
        return x

    @property
    def options(self):
        """The layer's NMF options as the ops take them (:class:`keras_nmf.ops.NMFOptions`)."""
        return ops.NMFOptions(self.iterations, self.epsilon, self.backward, self.learning, self.implicit_dtype)

    def _fallback_counter(self):
        return self.implicit_fallbacks.value if self.implicit_fallbacks is not None else None

    def _infer(self, patterns, weights):
        """NMF of ([G,] P, S) patterns (L1-normalised inside) on ([G,] S, I) weights."""
        return ops.nmf(patterns, weights, self.options, self._fallback_counter())

    def factorize(self, inputs, with_previous=False):
        """The layer's factorisation of ``inputs``: patterns, W, h and W h (no gradient).

        ``with_previous=True`` also runs N - 1 iterations, for the fixed-point
        residual. The output of ``layer(inputs)`` is ``h`` rearranged (per
        position and group for ``CNMF2D``).

        Returns:
            :class:`NMFFactorization`.
        """
        x = self._prepare_input(inputs)
        patterns, weights = self._patterns_and_weights(x)
        h = ops.nmf_iterations(patterns, weights, self.iterations, self.epsilon)
        previous = None
        if with_previous:
            previous = (ops.nmf_iterations(patterns, weights, self.iterations - 1, self.epsilon)
                        if self.iterations > 1 else keras.ops.full_like(h, 1.0 / h.shape[-1]))
        return NMFFactorization(patterns, weights, h, previous)

    def _patterns_and_weights(self, x):
        """The ([G,] P, S) patterns of a float32 input and the ([G,] S, I) weights (eq. 20)."""
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "iterations": self.iterations,
                "epsilon": self.epsilon,
                "backward": self.backward,
                "learning": self.learning,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "check_inputs": self.check_inputs,
                "implicit_dtype": self.implicit_dtype,
            }
        )
        return config
