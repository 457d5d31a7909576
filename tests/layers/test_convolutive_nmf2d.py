"""ConvolutiveNMF2D against a float64 NumPy transcription (tests/convolutive_reference.py): the forward updates with
strides, padding, groups and both normalisations, the one-step and autodiff gradients, initial_h, and its
refusals."""

import keras
import numpy as np
import pytest

from keras_nmf.layers import ConvolutiveNMF2D
from tests import convolutive_reference as ref
from tests.backend import outputs_and_weight_gradients, to_numpy
from tests.layers.gradients import CalledWith, output_and_gradients

GEOMETRIES = [  # (image side, kernel, strides, padding, channels, filters, groups)
    pytest.param(6, 3, 1, "valid", 2, 4, 1, id="valid"),
    pytest.param(7, 3, 2, "valid", 2, 4, 1, id="strided"),
    pytest.param(6, 3, 1, "same", 2, 4, 1, id="same"),
    pytest.param(6, 2, 2, "same", 4, 4, 2, id="same-strided-grouped"),
    pytest.param(6, 3, 1, "valid", 4, 6, 2, id="grouped"),
]


def _problem(side, kernel, channels, filters, groups, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((2, side, side, channels)) * 3.0
    u = rng.random((kernel, kernel, channels // groups, filters)) + 0.1
    return x, u


def _built(x, u, **arguments):
    layer = ConvolutiveNMF2D(u.shape[-1], u.shape[:2], **arguments)
    layer.build(x.shape)
    layer.kernel.assign(u.astype("float32"))
    return layer


@pytest.mark.parametrize("side, kernel, strides, padding, channels, filters, groups", GEOMETRIES)
@pytest.mark.parametrize("normalize", ["image", "channels"])
def test_forward_matches_the_transcription(side, kernel, strides, padding, channels, filters, groups, normalize):
    x, u = _problem(side, kernel, channels, filters, groups)
    arguments = dict(strides=strides, padding=padding, groups=groups, normalize=normalize, iterations=8)
    layer = _built(x, u, return_reconstruction=True, **arguments)
    h, rebuilt = (to_numpy(value) for value in layer(x.astype("float32")))
    expected = ref.forward(x, u, 8, (strides, strides), padding, groups, normalize)
    np.testing.assert_allclose(h, expected, rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(
        rebuilt, ref.reconstruction(x, u, expected, (strides, strides), padding, groups), rtol=2e-4, atol=1e-7
    )
    sums = h.sum(axis=(1, 2, 3) if normalize == "image" else 3)
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)


def test_epsilon_is_eq6s_step():
    x, u = _problem(6, 3, 2, 4, 1)
    h = to_numpy(_built(x, u, iterations=6, epsilon=0.4)(x.astype("float32")))
    np.testing.assert_allclose(h, ref.forward(x, u, 6, epsilon=0.4), rtol=2e-4, atol=1e-7)


def test_more_updates_explain_the_image_better():
    """The KL multiplicative update does not raise the divergence: the reconstruction error falls with N."""
    x, u = _problem(8, 3, 3, 8, 1, seed=3)
    errors = [
        float(np.mean(to_numpy(_built(x, u, iterations=n).factorize(x.astype("float32")).reconstruction_error())))
        for n in (1, 5, 40)
    ]
    assert errors[0] > errors[1] > errors[2]


@pytest.mark.parametrize("backward", ["approx", "autodiff"])
@pytest.mark.parametrize(
    "geometry", [dict(), dict(strides=2, groups=2, normalize="channels")], ids=["plain", "grouped"]
)
def test_gradients_match_the_transcription(backward, geometry):
    """approx: the gradient of one update at the final h held fixed; autodiff: through all the updates. Both with
    respect to the raw input and the free kernel U (through eq. 20), by central differences in float64."""
    side = 7 if geometry.get("strides") == 2 else 6
    x, u = _problem(side, 3, 2, 4, geometry.get("groups", 1), seed=1)
    iterations, phi = 4, None
    layer = _built(x, u, iterations=iterations, backward=backward, **geometry)
    strides = (geometry.get("strides", 1),) * 2
    settings = dict(strides=strides, groups=geometry.get("groups", 1), normalize=geometry.get("normalize", "image"))
    h_final = ref.forward(x, u, iterations, **settings)
    phi = np.random.default_rng(2).normal(size=h_final.shape)
    out, grad_x, grad_u = output_and_gradients(layer, x, phi)
    np.testing.assert_allclose(out, h_final, rtol=2e-4, atol=1e-7)

    if backward == "approx":

        def loss(x, u):
            w = ref.weights_from_kernel(u)
            return float(
                np.sum(
                    phi
                    * ref.update(x, w, h_final, settings["strides"], "valid", settings["groups"], settings["normalize"])
                )
            )
    else:

        def loss(x, u):
            return float(np.sum(phi * ref.forward(x, u, iterations, **settings)))

    expected_x, expected_u = ref.numerical_gradients(loss, x, u)
    scale_x, scale_u = np.abs(expected_x).max(), np.abs(expected_u).max()
    np.testing.assert_allclose(grad_x, expected_x, atol=2e-3 * scale_x)
    np.testing.assert_allclose(grad_u, expected_u, atol=2e-3 * scale_u)


def test_approx_differs_from_autodiff_and_keeps_the_forward():
    x, u = _problem(6, 3, 2, 4, 1)
    phi = np.random.default_rng(5).normal(size=(2, 4, 4, 4))
    approx = output_and_gradients(_built(x, u, iterations=5), x, phi)
    autodiff = output_and_gradients(_built(x, u, iterations=5, backward="autodiff"), x, phi)
    np.testing.assert_allclose(approx[0], autodiff[0], rtol=1e-5)
    assert not np.allclose(approx[2], autodiff[2], rtol=1e-2)


@pytest.mark.parametrize("normalize", ["image", "channels"])
def test_initial_h_starts_the_updates(normalize):
    x, u = _problem(6, 3, 2, 4, 1)
    start = np.random.default_rng(7).random((2, 4, 4, 4))
    start[1] = 0.0  # sums to 0: the uniform h(0)
    layer = _built(x, u, iterations=3, normalize=normalize)
    h = to_numpy(layer(x.astype("float32"), initial_h=start.astype("float32")))
    expected = np.concatenate(
        [
            ref.forward(x[:1], u, 3, normalize=normalize, initial_h=start[:1]),
            ref.forward(x[1:], u, 3, normalize=normalize),
        ]
    )
    np.testing.assert_allclose(h, expected, rtol=2e-4, atol=1e-7)
    out, grad_x, _ = output_and_gradients(
        CalledWith(layer, initial_h=start.astype("float32")), x, np.ones_like(expected)
    )
    np.testing.assert_allclose(out, expected, rtol=2e-4, atol=1e-7)
    assert np.isfinite(grad_x).all()


def test_a_trainable_h0_learns_through_autodiff():
    """h0="trainable": h(0) = |v| / sum |v| at every position, differentiated through the updates."""
    x, u = _problem(6, 3, 2, 4, 1)
    layer = _built(x, u, iterations=3, backward="autodiff", h0="trainable", normalize="channels")
    v = np.array([0.5, 1.0, 2.0, 1.5], "float32")
    layer.h0_kernel.assign(v)
    phi = np.random.default_rng(3).normal(size=(2, 4, 4, 4))
    _, (grad_v,) = outputs_and_weight_gradients(
        keras.Sequential([keras.Input(x.shape[1:]), layer]),
        x.astype("float32"),
        lambda out: keras.ops.sum(keras.ops.multiply(out, phi.astype("float32"))),
        [layer.h0_kernel],
    )

    def reference_loss(vector):
        start = np.broadcast_to(np.abs(vector), (2, 4, 4, 4))
        return float((ref.forward(x, u, 3, normalize="channels", initial_h=start) * phi).sum())

    step = 1e-5
    numeric = np.array([(reference_loss(v + step * e) - reference_loss(v - step * e)) / (2 * step) for e in np.eye(4)])
    assert np.abs(numeric).max() > 1e-4
    np.testing.assert_allclose(to_numpy(grad_v), numeric, rtol=2e-2, atol=1e-5)


@pytest.mark.parametrize("normalize", ["image", "channels"])
def test_a_tolerance_stops_each_image_at_its_own_update(normalize):
    """Each image stops at its first update below the tolerance, whatever the others in the batch do."""
    rng = np.random.default_rng(4)
    x = rng.random((3, 6, 6, 2)) * 3.0
    x[1] = np.ones_like(x[1])  # a flat image: explained at once
    u = rng.random((3, 3, 2, 4)) + 0.1
    layer = _built(x, u, iterations=200, tolerance=1e-3, normalize=normalize)
    factorization = layer.factorize(x.astype("float32"))
    expected, counts = ref.forward_to_tolerance(x, u, 200, 1e-3, normalize)
    np.testing.assert_array_equal(to_numpy(factorization.iterations_used), counts)
    assert counts.min() < counts.max() < 200
    np.testing.assert_allclose(to_numpy(factorization.h), expected, rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(to_numpy(layer(x.astype("float32"))), expected, rtol=2e-4, atol=1e-7)
    assert float(np.max(to_numpy(factorization.residual()))) < 1e-3 * (1 if normalize == "image" else 16)


def test_config_round_trip_and_mixed_precision():
    layer = ConvolutiveNMF2D(
        8,
        3,
        strides=2,
        padding="same",
        groups=2,
        normalize="channels",
        iterations=4,
        epsilon=0.5,
        dtype="mixed_float16",
    )
    clone = ConvolutiveNMF2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = np.random.default_rng(0).random((2, 8, 8, 4)).astype("float32")
    out = clone(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16" and clone.kernel.dtype == "float32"
    assert np.isfinite(to_numpy(out)).all()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(backward="implicit"), "does not offer backward='implicit'"),
        (dict(tolerance=1e-3, solver="squarem"), "takes `solver` at its default"),
        (dict(tolerance=1e-3, backward="autodiff"), "tolerance"),
        (dict(divergence="frobenius"), "takes `divergence` at its default"),
        (dict(learning="local"), "takes `learning` at its default"),
        (dict(normalize="pixels"), "`normalize` must be one of"),
        (dict(filters=5, groups=2), "`filters` must be divisible by `groups`"),
        (dict(h0="trainable"), "h0"),
    ],
)
def test_refusals_name_the_argument(arguments, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("`", ".")):
        ConvolutiveNMF2D(**{"filters": 4, "kernel_size": 3, **arguments})


def test_an_image_the_transposed_convolution_cannot_rebuild_is_refused():
    layer = ConvolutiveNMF2D(4, 3, strides=2)
    with pytest.raises(ValueError, match="rebuilds an image height of 7 from 3 positions, not 8"):
        layer.build((None, 8, 8, 3))
    with pytest.raises(ValueError, match=r"kernel_size=\(9, 9\) does not fit an image height of 8.*at most 8"):
        ConvolutiveNMF2D(4, 9).build((None, 8, 8, 3))  # no position at all: no stride can help
    with pytest.raises(ValueError, match="no update for missing entries"):
        _built(*_problem(6, 3, 2, 4, 1)).factorize(np.ones((1, 6, 6, 2), "float32"), observed=np.ones((1, 6, 6, 2)))
