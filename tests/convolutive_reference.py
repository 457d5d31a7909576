"""A float64 NumPy transcription of convolutive NMF (:mod:`keras_nmf.ops.convolutive`), written from its definition:
the convolution as an explicit sum over the kernel taps with TensorFlow's padding convention, the reconstruction as
the scatter of each h entry's filter onto the pixels it covers (the convolution's adjoint), and the gradients by
central differences. No framework code."""

import numpy as np


def _padding(size, kernel, stride, padding):
    """(output side, padding before) for one axis, TensorFlow's convention."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0
    out = -(-size // stride)
    return out, max((out - 1) * stride + kernel - size, 0) // 2


def _taps(image_shape, kernel_shape, strides, padding):
    """Every (tap row, tap column, output rows, output columns, input rows, input columns) inside the image."""
    (height, width), (kh, kw) = image_shape, kernel_shape
    rows, top = _padding(height, kh, strides[0], padding)
    cols, left = _padding(width, kw, strides[1], padding)
    for di in range(kh):
        for dj in range(kw):
            for i in range(rows):
                for j in range(cols):
                    r, c = i * strides[0] + di - top, j * strides[1] + dj - left
                    if 0 <= r < height and 0 <= c < width:
                        yield di, dj, i, j, r, c


def _dense(w, channels, groups):
    """The grouped (kh, kw, C/groups, F) filters as dense (kh, kw, C, F), zero outside each filter's group."""
    kh, kw, per_group, filters = w.shape
    dense = np.zeros((kh, kw, channels, filters))
    block = filters // groups
    for g in range(groups):
        dense[:, :, g * per_group : (g + 1) * per_group, g * block : (g + 1) * block] = w[
            ..., g * block : (g + 1) * block
        ]
    return dense


def output_side(size, kernel, stride, padding):
    return _padding(size, kernel, stride, padding)[0]


def convolve(x, w, strides, padding, groups):
    """(B, H, W, C) -> (B, H', W', F): out[i, j, f] = sum over taps and channels of x[pixel, c] W[tap, c, f]."""
    dense = _dense(w, x.shape[-1], groups)
    rows = output_side(x.shape[1], w.shape[0], strides[0], padding)
    cols = output_side(x.shape[2], w.shape[1], strides[1], padding)
    out = np.zeros((x.shape[0], rows, cols, w.shape[-1]))
    for di, dj, i, j, r, c in _taps(x.shape[1:3], w.shape[:2], strides, padding):
        out[:, i, j, :] += x[:, r, c, :] @ dense[di, dj]
    return out


def transposed_convolve(h, w, strides, padding, groups, image_shape, channels):
    """(B, H', W', F) -> (B, H, W, C): each h entry adds its filter onto the pixels it covers (convolve's adjoint)."""
    dense = _dense(w, channels, groups)
    out = np.zeros((h.shape[0], *image_shape, channels))
    for di, dj, i, j, r, c in _taps(image_shape, w.shape[:2], strides, padding):
        out[:, r, c, :] += h[:, i, j, :] @ dense[di, dj].T
    return out


def weights_from_kernel(kernel):
    """Eq. 20 per filter: |U| / sum |U| over (kh, kw, C/groups)."""
    magnitude = np.abs(kernel)
    return magnitude / magnitude.sum(axis=(0, 1, 2), keepdims=True)


def _normalised(values, axes):
    sums = values.sum(axis=axes, keepdims=True)
    return np.divide(values, sums, out=np.zeros_like(values), where=sums != 0)


def _axes(normalize):
    return (1, 2, 3) if normalize == "image" else (3,)


def uniform_h(x, w, strides, padding, normalize):
    rows = output_side(x.shape[1], w.shape[0], strides[0], padding)
    cols = output_side(x.shape[2], w.shape[1], strides[1], padding)
    size = rows * cols * w.shape[-1] if normalize == "image" else w.shape[-1]
    return np.full((x.shape[0], rows, cols, w.shape[-1]), 1.0 / size)


def update(x, w, h, strides, padding, groups, normalize, epsilon=None):
    """One update of h for the raw images x (module docstring of keras_nmf.ops.convolutive)."""
    x_hat = _normalised(x, (1, 2, 3))
    rebuilt = _normalised(transposed_convolve(h, w, strides, padding, groups, x.shape[1:3], x.shape[-1]), (1, 2, 3))
    ratio = np.divide(x_hat, rebuilt, out=np.zeros_like(x_hat), where=rebuilt != 0)
    factor = convolve(ratio, w, strides, padding, groups)
    h = h * factor if epsilon is None else h + epsilon * h * (factor - 1.0)
    return _normalised(h, _axes(normalize))


def forward(
    x, kernel, iterations, strides=(1, 1), padding="valid", groups=1, normalize="image", epsilon=None, initial_h=None
):
    """h(N) for the raw images x and the free kernel U."""
    w = weights_from_kernel(kernel)
    h = uniform_h(x, w, strides, padding, normalize) if initial_h is None else _normalised(initial_h, _axes(normalize))
    for _ in range(iterations):
        h = update(x, w, h, strides, padding, groups, normalize, epsilon)
    return h


def reconstruction(x, kernel, h, strides=(1, 1), padding="valid", groups=1):
    rebuilt = transposed_convolve(h, weights_from_kernel(kernel), strides, padding, groups, x.shape[1:3], x.shape[-1])
    return _normalised(rebuilt, (1, 2, 3))


def numerical_gradients(loss, x, kernel, step=1e-6):
    """(dloss/dx, dloss/dkernel) by central differences."""
    gradients = []
    for which in (0, 1):
        arrays = [x.copy(), kernel.copy()]
        grad = np.zeros_like(arrays[which])
        for index in np.ndindex(grad.shape):
            original = arrays[which][index]
            arrays[which][index] = original + step
            plus = loss(*arrays)
            arrays[which][index] = original - step
            minus = loss(*arrays)
            arrays[which][index] = original
            grad[index] = (plus - minus) / (2 * step)
        gradients.append(grad)
    return tuple(gradients)


def forward_to_tolerance(x, kernel, iterations, tolerance, normalize="image", **geometry):
    """Each image on its own: updates until one changes its h by less than ``tolerance`` (L1 per unit of mass: the
    whole map's for "image", averaged over positions for "channels"), at most ``iterations``; (h, counts)."""
    w = weights_from_kernel(kernel)
    strides, padding, groups = (
        geometry.get("strides", (1, 1)),
        geometry.get("padding", "valid"),
        geometry.get("groups", 1),
    )
    results, counts = [], []
    for image in x:
        image = image[None]
        h = uniform_h(image, w, strides, padding, normalize)
        mass = 1.0 if normalize == "image" else h.shape[1] * h.shape[2]
        for k in range(1, iterations + 1):
            new = update(image, w, h, strides, padding, groups, normalize)
            change, h = np.abs(new - h).sum() / mass, new
            if change < tolerance:
                break
        results.append(h[0])
        counts.append(k)
    return np.stack(results), np.array(counts)
