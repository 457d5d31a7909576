"""Convolutive NMF of whole images: the updates of :class:`keras_nmf.layers.ConvolutiveNMF2D`.

Where ``CNMF2D`` solves one NMF problem per patch (eq. 6 on each patch on its own), convolutive NMF (Smaragdis 2004)
explains the whole image x (H, W, C) as the transposed convolution of non-negative feature maps h (H', W', F) with the
non-negative filters W (kh, kw, C/groups, F), each filter summing to 1 (eq. 20). Overlapping patches then compete for
the same pixels. One update, the KL multiplicative update of eq. 3 with a convolution in place of each matmul:

* xhat = x / sum x over (H, W, C), per image,
* R = conv_transpose(h, W), normalised to sum 1 over (H, W, C),
* u = conv(xhat / R, W),
* h <- h * u (eq. 3), or h <- h + eps * h * (u - 1) (eq. 6),
* h <- h / sum h: over (H', W', F) (``normalize="image"``) or over F at each position (``"channels"``).

From h(0) uniform (1 / (H' W' F), or 1 / F per position). With ``"valid"`` padding and ``"image"`` normalisation the
two normalisations are exact identities (R and the updated h already sum to 1), as in eq. 3.

Every function is a pure function of tensors in x's dtype (float32 in the layer; float64 in the reference tests).
Divisions by a zero reconstruction give 0 (divide-no-NaN): a pixel that no filter reaches, or an all-zero image,
contributes nothing.
"""

from keras import ops

from keras_nmf.ops.nmf import UNROLL_LIMIT, until_converged

NORMALIZATIONS = ("image", "channels")


def convolutive_weights(kernel):
    """W = |U| / sum |U| per filter, over (kh, kw, C/groups) (eq. 20); ``kernel``: (kh, kw, C/groups, F)."""
    magnitude = ops.abs(kernel)
    return ops.divide_no_nan(magnitude, ops.sum(magnitude, axis=(0, 1, 2), keepdims=True))


def _grouped(function, inputs, weights, groups):
    """``function(inputs_g, weights_g)`` per group, concatenated on the channels: the inputs' channels and the weights'
    last axis split into ``groups`` consecutive blocks (as a grouped ``Conv2D``'s)."""
    if groups == 1:
        return function(inputs, weights)
    inputs = ops.split(inputs, groups, axis=-1)
    weights = ops.split(weights, groups, axis=-1)
    return ops.concatenate([function(a, b) for a, b in zip(inputs, weights)], axis=-1)


def convolve(images, w, strides, padding, groups):
    """conv(images, W): (B, H, W, C) -> (B, H', W', F), grouped."""
    return _grouped(lambda x, k: ops.conv(x, k, strides=strides, padding=padding), images, w, groups)


def transposed_convolve(h, w, strides, padding, groups, image_shape):
    """conv_transpose(h, W): (B, H', W', F) -> (B, H, W, C), the adjoint of :func:`convolve`, grouped (for the image
    sizes that :func:`check_rebuilds_input` accepts)."""
    # conv_transpose's kernel is (kh, kw, out channels, in channels): W is (kh, kw, C/groups, F/groups) already.
    rebuilt = _grouped(lambda maps, k: ops.conv_transpose(maps, k, strides=strides, padding=padding), h, w, groups)
    if tuple(rebuilt.shape[1:3]) != tuple(image_shape[:2]):
        raise ValueError(
            f"The transposed convolution rebuilds images of {tuple(rebuilt.shape[1:3])} pixels, not "
            f"{tuple(image_shape[:2])} (check_rebuilds_input says why)."
        )
    return rebuilt


def output_size(size, kernel, stride, padding):
    """The feature maps' side for an image side: ``Conv2D``'s rule."""
    return (size - kernel) // stride + 1 if padding == "valid" else -(-size // stride)


def check_rebuilds_input(image_shape, kernel_size, strides, padding):
    """Refuses an image size that the transposed convolution cannot rebuild pixel for pixel: ``"valid"`` needs
    (H' - 1) s + k = H (else the last rows and columns are seen by no filter), ``"same"`` needs H divisible by s.

    Raises:
        ValueError: naming the sizes and the fix.
    """
    for axis, (size, kernel, stride) in enumerate(zip(image_shape[:2], kernel_size, strides)):
        if size is None:
            continue
        maps = output_size(size, kernel, stride, padding)
        rebuilt = (maps - 1) * stride + kernel if padding == "valid" else maps * stride
        side = "height" if axis == 0 else "width"
        if maps < 1:
            raise ValueError(
                f"ConvolutiveNMF2D's kernel_size={tuple(kernel_size)} does not fit an image {side} of {size} with "
                f"padding={padding!r}: use a kernel of at most {size} (or padding='same'), or a larger input."
            )
        if rebuilt != size:
            raise ValueError(
                f"ConvolutiveNMF2D explains every pixel of the image, but with kernel_size={tuple(kernel_size)}, "
                f"strides={tuple(strides)} and padding={padding!r} the transposed convolution rebuilds an image "
                f"{side} of {max(rebuilt, 0)} from {maps} positions, not {size}. Choose a stride that divides "
                f"{size - kernel if padding == 'valid' else size}, or crop the input."
            )


def _normalised(values, axis):
    return ops.divide_no_nan(values, ops.sum(values, axis=axis, keepdims=True))


def h_axes(normalize):
    """The axes over which h sums to 1: the whole map, or the features at each position."""
    return (1, 2, 3) if normalize == "image" else (-1,)


def uniform_h(batch_shape, normalize, dtype):
    """h(0): 1 / (H' W' F) everywhere (``"image"``) or 1 / F (``"channels"``); ``batch_shape``: (B, H', W', F)."""
    size = batch_shape[1] * batch_shape[2] * batch_shape[3] if normalize == "image" else batch_shape[3]
    return ops.full(batch_shape, 1.0 / size, dtype)


def reconstruction(h, w, strides, padding, groups, image_shape):
    """R = conv_transpose(h, W), normalised to sum 1 over each image's (H, W, C)."""
    return _normalised(transposed_convolve(h, w, strides, padding, groups, image_shape), (1, 2, 3))


def update(x_hat, w, h, strides, padding, groups, normalize, epsilon=None):
    """One update of every image's h (module docstring); ``x_hat``: the images, each summing to 1."""
    rebuilt = reconstruction(h, w, strides, padding, groups, tuple(x_hat.shape[1:3]))
    factor = convolve(ops.divide_no_nan(x_hat, rebuilt), w, strides, padding, groups)
    h = h * factor if epsilon is None else h + epsilon * h * (factor - 1.0)
    return _normalised(h, h_axes(normalize))


def iterate(x, w, h, iterations, strides, padding, groups, normalize, epsilon=None, tolerance=None, with_history=False):
    """``iterations`` updates from ``h``; ``x``: the raw non-negative images (normalised here).

    With a ``tolerance`` each image stops at its first update k that changes its h by less than ``tolerance`` (L1,
    per unit of h's mass: over the whole map for ``"image"``, averaged over the positions for ``"channels"``), inside
    one ``keras.ops.while_loop`` (:func:`keras_nmf.ops.nmf.until_converged`, as the patch layers' patterns stop);
    ``iterations`` is then the maximum. Above :data:`~keras_nmf.ops.nmf.UNROLL_LIMIT` fixed updates they run as one
    ``keras.ops.fori_loop``.

    Returns:
        h(N); with ``with_history``, ``(h, the updates each image used (B,) int32, h one update before)``.
    """
    x_hat = _normalised(x, (1, 2, 3))

    def step(h):
        return update(x_hat, w, h, strides, padding, groups, normalize, epsilon)

    if tolerance is not None:
        return _until_converged(step, h, iterations, tolerance, normalize, with_history)
    if iterations - 1 > UNROLL_LIMIT:
        previous = ops.fori_loop(0, iterations - 1, lambda _, h: step(h), h)
    else:
        previous = h
        for _ in range(iterations - 1):
            previous = step(previous)
    h = step(previous)
    return (h, ops.full((ops.shape(h)[0],), iterations, "int32"), previous) if with_history else h


def _until_converged(step, h, iterations, tolerance, normalize, with_history):
    """:func:`keras_nmf.ops.nmf.until_converged` on each image's h, flattened and scaled to unit mass."""
    maps = tuple(h.shape[1:])
    mass = 1.0 if normalize == "image" else float(maps[0] * maps[1])

    def flat(maps_h):
        return ops.reshape(maps_h, (-1, maps[0] * maps[1] * maps[2])) / mass

    def unflat(flat_h):
        return ops.reshape(flat_h * mass, (-1,) + maps)

    converged, counts, previous = until_converged(
        lambda f: flat(step(unflat(f))), flat(step(h)), iterations, tolerance, flat(h)
    )
    return (unflat(converged), counts, unflat(previous)) if with_history else unflat(converged)


def one_step(x, w, h_final, strides, padding, groups, normalize):
    """h(N) whose gradient is that of one plain update (eq. 3) at the final h held fixed, as eqs. 18-19 are for the
    patch layers: h + (g - stop(g)) with g = update(x, W; stop(h)). Its value is h(N) exactly (g - g = 0); its
    gradient with respect to x and W is g's; nothing of the N iterations is kept for the backward pass."""
    h_final = ops.stop_gradient(h_final)
    g = update(_normalised(x, (1, 2, 3)), w, h_final, strides, padding, groups, normalize)
    return h_final + (g - ops.stop_gradient(g))
