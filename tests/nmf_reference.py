"""An independent NumPy (float64) transcription of PAPER.md's equations.

Written from the paper, not from ``keras_nmf.ops``: explicit loops over patch
positions and groups, explicit sums for eqs. 18-19. Used as the ground truth
of the layer tests.
"""

import numpy as np

TINY = 1e-20


def weights_from_kernel(kernel):
    """Eq. 20: W = |U| / sum|U| over all axes but the last."""
    axes = tuple(range(kernel.ndim - 1))
    magnitude = np.abs(kernel)
    return magnitude / magnitude.sum(axis=axes, keepdims=True)


def weights_from_kernel_vjp(kernel, grad_w):
    """Chain dL/dW through eq. 20 to dL/dU."""
    axes = tuple(range(kernel.ndim - 1))
    column_sum = np.abs(kernel).sum(axis=axes, keepdims=True)
    w = np.abs(kernel) / column_sum
    inner = (grad_w * w).sum(axis=axes, keepdims=True)
    return np.sign(kernel) * (grad_w - inner) / column_sum


def l1_normalize(r):
    """x = r / sum(r) per row; 0 for an all-zero row."""
    total = r.sum(axis=-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    return np.where(total > 0, r / safe, 0.0)


def l1_normalize_vjp(r, grad_x):
    """dL/dr for x = r / sum(r); 0 where the row is all zero."""
    total = r.sum(axis=-1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    x = r / safe
    grad_r = (grad_x - (grad_x * x).sum(axis=-1, keepdims=True)) / safe
    return np.where(total > 0, grad_r, 0.0)


def nmf_forward(x, w, iterations, epsilon=None, initial_h=None):
    """Eq. 6 from h(0) = 1/I (or ``initial_h`` scaled to unit sum per pattern), renormalised each step.
    x: (P, S), w: (S, I)."""
    patterns, hidden = x.shape[0], w.shape[1]
    h = np.full((patterns, hidden), 1.0 / hidden)
    if initial_h is not None:
        sums = initial_h.sum(axis=1, keepdims=True)
        h = np.where(sums > 0, initial_h / np.where(sums > 0, sums, 1.0), h)
    for _ in range(iterations):
        reconstruction = np.einsum("sj,pj->ps", w, h)
        u = np.einsum("ps,si->pi", x / (reconstruction + TINY), w)
        if epsilon is None:
            h = h * u
        else:
            h = h + epsilon * h * (u - 1.0)
        h = h / (h.sum(axis=1, keepdims=True) + TINY)
    return h


def nmf_backward(x, w, h, phi):
    """Eqs. 18-19 at the final h, literal forms. Returns (dL/dx, dL/dW)."""
    reconstruction = np.einsum("sj,pj->ps", w, h) + TINY
    grad_x = np.einsum("pi,si,pi->ps", phi, w, h) / reconstruction  # eq. 19
    weighted = np.einsum("sj,pj,pj->ps", w, h, phi)  # sum_j W_sj h_j Phi_j
    grad_w = np.einsum("pi,ps,pi->si", h, x / reconstruction, phi) - np.einsum(
        "pi,ps->si", h, x * weighted / reconstruction**2
    )  # eq. 18: h x / R^2 (Phi R - sum_j W h Phi)
    return grad_x, grad_w


def local_weight_direction(x, w, h):
    """-sum_p h_i x_s / R_s: the gradient that learning='local' hands over."""
    reconstruction = np.einsum("sj,pj->ps", w, h) + TINY
    return -np.einsum("pi,ps->si", h, x / reconstruction)


def dense_forward_backward(inputs, kernel, iterations, epsilon, phi, learning="backprop"):
    """NMFDense: output h and the approx gradients for the raw input and U."""
    x = l1_normalize(inputs)
    w = weights_from_kernel(kernel)
    h = nmf_forward(x, w, iterations, epsilon)
    grad_x, grad_w = nmf_backward(x, w, h, phi)
    if learning == "local":
        grad_w = local_weight_direction(x, w, h)
    return h, l1_normalize_vjp(inputs, grad_x), weights_from_kernel_vjp(kernel, grad_w)


def _same_padding(length, kernel, stride, dilation):
    out = -(-length // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


def conv_forward_backward(
    images,
    kernel,
    strides=(1, 1),
    padding="valid",
    dilation_rate=(1, 1),
    groups=1,
    iterations=20,
    epsilon=None,
    phi=None,
    learning="backprop",
    initial_h=None,
):
    """CNMF2D by explicit loops over positions and groups (``initial_h``: h(0) in the output's shape).

    Returns (output (B, H', W', F), dL/dimages, dL/dU) for the loss
    sum(output * phi) under the one-step backward.
    """
    batch, height, width, channels = images.shape
    kh, kw, _, filters = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation_rate
    if padding == "same":
        pad_h = _same_padding(height, kh, sh, dh)
        pad_w = _same_padding(width, kw, sw, dw)
    else:
        pad_h = pad_w = (0, 0)
    padded = np.pad(images, [(0, 0), pad_h, pad_w, (0, 0)])
    out_h = (padded.shape[1] - (kh - 1) * dh - 1) // sh + 1
    out_w = (padded.shape[2] - (kw - 1) * dw - 1) // sw + 1
    cg, fg = channels // groups, filters // groups
    w_all = weights_from_kernel(kernel)
    output = np.zeros((batch, out_h, out_w, filters))
    grad_padded = np.zeros_like(padded)
    grad_w_all = np.zeros_like(kernel)
    for g in range(groups):
        chans, filts = slice(g * cg, (g + 1) * cg), slice(g * fg, (g + 1) * fg)
        raw, where = [], []
        for b in range(batch):
            for i in range(out_h):
                for j in range(out_w):
                    rows = i * sh + dh * np.arange(kh)
                    cols = j * sw + dw * np.arange(kw)
                    patch = padded[b][np.ix_(rows, cols)][..., chans]
                    raw.append(patch.reshape(-1))
                    where.append((b, i, j, rows, cols))
        raw = np.array(raw)
        x = l1_normalize(raw)
        w = w_all[:, :, :, filts].reshape(-1, fg)
        start = None if initial_h is None else np.array([initial_h[b, i, j, filts] for b, i, j, _, _ in where])
        h = nmf_forward(x, w, iterations, epsilon, start)
        phi_g = np.array([phi[b, i, j, filts] for b, i, j, _, _ in where])
        grad_x, grad_w = nmf_backward(x, w, h, phi_g)
        if learning == "local":
            grad_w = local_weight_direction(x, w, h)
        grad_raw = l1_normalize_vjp(raw, grad_x)
        for p, (b, i, j, rows, cols) in enumerate(where):
            output[b, i, j, filts] = h[p]
            block = grad_raw[p].reshape(kh, kw, cg)
            for a, r in enumerate(rows):
                for c, col in enumerate(cols):
                    grad_padded[b, r, col, chans] += block[a, c]
        grad_w_all[..., filts] = grad_w.reshape(kh, kw, cg, fg)
    grad_images = grad_padded[:, pad_h[0] : pad_h[0] + height, pad_w[0] : pad_w[0] + width, :]
    return output, grad_images, weights_from_kernel_vjp(kernel, grad_w_all)
