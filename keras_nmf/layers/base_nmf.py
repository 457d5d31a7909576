"""Shared constructor, validation and math of the NMF layers."""

import dataclasses
import numbers
import warnings

import keras

from keras_nmf import backend, ops
from keras_nmf.nmf_arguments import NMF_OPTION_NAMES, NMFOptions
from keras_nmf.ops import diagnostics


@dataclasses.dataclass
class NMFFactorization:
    """One NMF layer's factorisation of its input, pattern by pattern (``layer.factorize``).

    Attributes:
        patterns: ([G,] P, S) the raw input patterns (patches for ``CNMF2D``).
        weights: ([G,] S, I) the NMF weights W (eq. 20).
        h: ([G,] P, I) the activations h(N) (eq. 6).
        h_previous: each pattern's h one update before ``h`` (h(N-1), or h(k-1) where a tolerance stopped it at k).
        iterations_used: int32 ([G,] P), the updates each pattern used (N without a tolerance).
        observed: None, or the patterns' mask (1 observed, 0 missing).
    """

    patterns: object
    weights: object
    h: object
    h_previous: object = None
    iterations_used: object = None
    observed: object = None

    @property
    def reconstruction(self):
        """W h per pattern, ([G,] P, S): the layer's reconstruction of its L1-normalised input."""
        return diagnostics.reconstruction(self.weights, self.h)

    def reconstruction_error(self):
        """``|xhat - W h|_1`` per pattern over the observed entries, ([G,] P)."""
        return diagnostics.reconstruction_error(self.patterns, self.weights, self.h, self.observed)

    def residual(self):
        """``|h(N) - h(N-1)|_1`` per pattern."""
        return diagnostics.fixed_point_residual(self.h, self.h_previous)

    def sparsity(self):
        """Hoyer sparsity of h per pattern, ([G,] P)."""
        return diagnostics.hoyer_sparsity(self.h)


class BaseNMF(keras.layers.Layer):
    """Holds the arguments and math shared by the NMF layers: ``NMFDense``, ``CNMF2D`` and ``ConvolutiveNMF2D``.

    The NMF options are one :class:`keras_nmf.NMFOptions`, ``layer.options``, given as keyword arguments of its
    fields' names, checked once in ``__init__`` and passed whole to the ops; ``layer.iterations``,
    ``layer.backward`` ... read it. A subclass names the options it cannot honour, and why, in
    :attr:`UNSUPPORTED_OPTIONS`: they are refused away from their defaults.

    Subclasses create ``self.kernel`` (the free kernel U, eq. 20) in ``build``,
    give their patterns (``_patterns_and_weights``, ``_observed_patterns``) and
    return :meth:`_outputs` from ``call``.
    """

    #: ``{option: reason}``: the options this layer takes at their defaults only.
    UNSUPPORTED_OPTIONS = {}

    def __init__(self, kernel_initializer=None, check_inputs=True, return_reconstruction=False, **kwargs):
        # The NMF options (:class:`keras_nmf.NMFOptions`: their names, defaults and checks live there), taken from
        # the keyword arguments; the rest go to keras.layers.Layer. Unsupported: the options a subclass cannot honour.
        options = NMFOptions.pop_from(kwargs)
        for name, reason in self.UNSUPPORTED_OPTIONS.items():
            default, value = NMFOptions().to_config()[name], getattr(options, name)
            if value != default:
                raise ValueError(
                    f"{type(self).__name__} takes `{name}` at its default {default!r} only: {reason}. "
                    f"Received: {name}={value!r}"
                )
        super().__init__(**kwargs)
        self.options = options
        if options.implicit_dtype == "float64" and not backend.float64_available():
            raise ValueError(
                "`implicit_dtype='float64'` needs float64 arithmetic, which Keras gives on TensorFlow, and on JAX with "
                "JAX_ENABLE_X64=1 (set it before starting Python); on PyTorch Keras computes float64 in float32. "
                "Use implicit_dtype='float32' here."
            )
        for name, value in (("check_inputs", check_inputs), ("return_reconstruction", return_reconstruction)):
            if not isinstance(value, (bool, numbers.Integral)):
                raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
        self.return_reconstruction = bool(return_reconstruction)
        self.h0_kernel = None
        self._fallback_count = None
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomUniform(minval=0.0, maxval=1.0)
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
            # int64 where the backend computes in 64 bits. Made on every backend, so that saved weights load on any
            # of them, and counted where a backward can assign it (implicit_fallbacks).
            self._fallback_count = self.add_weight(
                name="implicit_fallbacks",
                shape=(),
                initializer="zeros",
                trainable=False,
                dtype="int64" if backend.float64_available() else "int32",
            )

    def _add_h0_kernel(self, units):
        """With ``h0="trainable"``: the free vector v of the learned h(0) = |v| / sum |v| (per group for grouped
        layers), the reparametrisation of eq. 20; ones, so training starts from the uniform h(0) = 1/I."""
        if self.h0 == "trainable":
            self.h0_kernel = self.add_weight(
                name="h0_kernel", shape=(units,), initializer="ones", trainable=True, autocast=False
            )

    def _prepare_initial_h(self, initial_h, x, h_shape, training):
        """h(0) in the layer's output layout (float32), or None for h(0) = 1/I: the call's ``initial_h`` (checked),
        else the learned one (``h0="trainable"``: |v| at every position). The ops scale each pattern's to unit sum."""
        if initial_h is None:
            if self.h0_kernel is None:
                return None
            shape = (keras.ops.shape(x)[0],) + tuple(h_shape[1:])
            return keras.ops.broadcast_to(keras.ops.abs(self.h0_kernel.value), shape)
        shape, expected = tuple(initial_h.shape), tuple(h_shape)
        if len(shape) != len(expected) or any(
            a is not None and b is not None and a != b for a, b in zip(shape, expected)
        ):
            raise ValueError(
                f"Layer '{self.name}': `initial_h` must have the shape of the layer's output h for this "
                f"input, {expected}. Received: initial_h.shape={shape}"
            )
        initial_h = keras.ops.cast(initial_h, "float32")
        if self.check_inputs:
            initial_h = ops.check_initial_h(initial_h, self.name, bool(training))
        return initial_h

    def _warn_if_dead(self):
        """Warns when the initial kernel is constant: every W column equal (or W = 0), so the layer cannot learn."""
        try:
            kernel = keras.ops.convert_to_numpy(self.kernel.value)
        except Exception:  # a symbolic variable (built inside a traced function): nothing to read
            return
        if kernel.size > 1 and float(kernel.max()) == float(kernel.min()):
            what = (
                "all zero: W = 0 and the layer outputs 0 with a zero gradient"
                if not kernel.any()
                else "constant: every column of W is the same, h stays at 1/I and every filter gets the same gradient"
            )
            warnings.warn(
                f"Layer '{self.name}': the initial kernel from "
                f"kernel_initializer={type(self.kernel_initializer).__name__} is {what}, so this NMF layer is dead. "
                f"Use a random non-negative initializer (the default, Uniform(0, 1)).",
                stacklevel=3,
            )

    def _empty_batch(self, x, output_shape):
        """The output of an empty batch (static batch size 0), in the compute dtype: zeros, connected to the input
        and the kernel, whose gradients are then zero (a replica of a distributed step can receive no images)."""
        link = 0.0 * (keras.ops.sum(self.kernel.value) + keras.ops.sum(keras.ops.cast(x, "float32")))
        h = keras.ops.zeros((0,) + tuple(output_shape[1:]), "float32") + link
        return self._outputs(h, lambda: keras.ops.zeros((0,) + tuple(x.shape[1:]), "float32") + link)

    def _prepare_input(self, inputs, training):
        """Casts to float32 and checks x >= 0 and finite (in compiled JAX steps, training steps only)."""
        x = keras.ops.cast(inputs, "float32")
        if self.check_inputs:
            x = ops.check_non_negative_finite(x, self.name, bool(training))
        return x

    def _prepare_observed(self, observed, x, training):
        """The mask as float32 in x's shape (broadcast, e.g. over channels), or None."""
        if observed is None:
            return None
        shape, target = tuple(observed.shape), tuple(x.shape)
        compatible = len(shape) == len(target) and all(
            a in (1, b) or a is None or b is None for a, b in zip(shape, target)
        )
        if not compatible:
            raise ValueError(
                f"Layer '{self.name}': `observed` must have the input's shape {target} or broadcast to "
                f"it (e.g. one channel); 1 marks an observed entry, 0 a missing one. Received: "
                f"observed.shape={shape}"
            )
        observed = keras.ops.cast(observed, "float32")
        if self.check_inputs:
            observed = ops.check_mask(observed, self.name, bool(training))
        return keras.ops.broadcast_to(observed, keras.ops.shape(x))

    @property
    def implicit_fallbacks(self):
        """With ``backward="implicit"``: the variable counting the patterns whose fixed-point system was singular or
        ill-conditioned, which kept the one-step gradient (every backward pass adds to it). None with another
        backward, and on JAX, whose stateless backward cannot count (``keras_nmf.backend.COUNTS_IN_BACKWARD``)."""
        return self._fallback_count if backend.COUNTS_IN_BACKWARD else None

    def variant(self, input_shape, **changes):
        """A built copy of this layer with ``changes`` to its constructor arguments and this layer's kernel values
        (other weights, such as a fallback counter or a learned h(0), start afresh): settings compared on one W."""
        copy = self.__class__.from_config({**self.get_config(), **changes})
        copy.build(tuple(input_shape))
        copy.kernel.assign(self.kernel)
        return copy

    def _fallback_counter(self):
        counter = self.implicit_fallbacks
        return counter.value if counter is not None else None

    def factorize(self, inputs, observed=None, initial_h=None):
        """The layer's factorisation of ``inputs``: patterns, W, h, h one update before, the updates used (no gradient).

        The output of ``layer(inputs)`` is ``h`` rearranged (per position and
        group for ``CNMF2D``). ``initial_h``: h(0), as for the call.

        Returns:
            :class:`NMFFactorization`.
        """
        x = self._prepare_input(inputs, training=False)
        if not self.built:
            self.build(tuple(x.shape))
        observed = self._prepare_observed(observed, x, training=False)
        start = self._prepare_initial_h(initial_h, x, self._h_shape(tuple(x.shape)), training=False)
        patterns, weights = self._patterns_and_weights(x)
        mask = None if observed is None else self._observed_patterns(observed)
        start = None if start is None else self._h_patterns(start)
        h, counts, previous = ops.nmf_iterations(
            patterns, weights, self.options, mask, with_history=True, initial_h=start
        )
        return NMFFactorization(patterns, weights, h, previous, counts, mask)

    def _patterns_and_weights(self, x):
        """The ([G,] P, S) patterns of a float32 input and the ([G,] S, I) weights (eq. 20)."""
        raise NotImplementedError

    def _observed_patterns(self, observed):
        """The ([G,] P, S) patterns of a float32 mask in the input's shape."""
        raise NotImplementedError

    def _h_shape(self, input_shape):
        """The shape of the output h for ``input_shape``."""
        raise NotImplementedError

    def _h_patterns(self, h):
        """h in the output layout -> ([G,] P, I), the patterns' order."""
        raise NotImplementedError

    def _outputs(self, h, reconstruction):
        """``h`` in the compute dtype, with the reconstruction when ``return_reconstruction`` asks for it."""
        h = keras.ops.cast(h, self.compute_dtype)
        if not self.return_reconstruction:
            return h
        return h, keras.ops.cast(reconstruction(), self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(self.options.to_config())
        config.update(
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            check_inputs=self.check_inputs,
            return_reconstruction=self.return_reconstruction,
        )
        return config


def _read_only_option(name):
    return property(
        lambda layer: getattr(layer.options, name),
        doc=f"``options.{name}`` (:class:`keras_nmf.NMFOptions`), read-only: the options are set once.",
    )


for _name in NMF_OPTION_NAMES:
    setattr(BaseNMF, _name, _read_only_option(_name))
