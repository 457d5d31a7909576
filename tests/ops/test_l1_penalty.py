"""The L1 penalty on h (``l1_penalty``): its update against a NumPy transcription, its backwards against autodiff,
sparser h for a larger penalty, a zero penalty the unpenalised layer, and its refusals, from the flag to the op."""

import keras
import numpy as np
import pytest

from keras_nmf import ops
from keras_nmf.layers import CNMF2D, ConvolutiveNMF2D
from keras_nmf.models import PaperNetwork
from keras_nmf.nmf_arguments import NMFOptions
from keras_nmf.ops import divergences
from keras_nmf.ops.diagnostics import hoyer_sparsity
from keras_nmf.ops.nmf import backward_gradients
from keras_nmf.training.flags import parse_config
from tests import nmf_reference as ref
from tests.backend import float64_supported, to_numpy, value_and_gradients

DTYPE = "float64" if float64_supported() else "float32"
RTOL = 1e-10 if DTYPE == "float64" else 2e-4
#: Penalties of growing effect per divergence: the update's denominator W^T R^(beta-1) is about 1/S for Frobenius
#: and about S for Itakura-Saito (xhat sums to 1 over S entries, each column of W too), and alpha is added to it.
PENALTIES = {"frobenius": [0.0, 0.005, 0.01, 0.02], "itakura_saito": [0.0, 2.0, 8.0, 32.0]}
BETA = {"frobenius": 2.0, "itakura_saito": 0.0}


def _t(array):
    return keras.ops.convert_to_tensor(np.asarray(array, DTYPE))


def _problem(patterns=6, size=12, hidden=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((patterns, size)) ** 2
    w = ref.weights_from_kernel(rng.random((size, hidden)))
    return x, w


def _reference(x, w, iterations, beta, alpha, m):
    """h <- h * W^T(m xhat R^(beta-2)) / (W^T(m R^(beta-1)) + alpha) from h(0) = 1/I, in NumPy."""
    masked = m * x
    x_hat = masked / masked.sum(-1, keepdims=True)
    h = np.full((x.shape[0], w.shape[1]), 1.0 / w.shape[1])
    for _ in range(iterations):
        r = np.maximum(h @ w.T, divergences.R_FLOOR)
        h = h * ((m * x_hat * r ** (beta - 2)) @ w) / ((m * r ** (beta - 1)) @ w + alpha)
    return h


@pytest.mark.parametrize("divergence", list(PENALTIES))
@pytest.mark.parametrize("masked", [False, True])
def test_the_penalised_update_matches_the_numpy_transcription(divergence, masked):
    x, w = _problem()
    m = (np.random.default_rng(1).random(x.shape) > 0.3).astype(np.float64) if masked else np.ones_like(x)
    alpha = PENALTIES[divergence][2]
    options = NMFOptions(iterations=15, divergence=divergence, l1_penalty=alpha)
    h = ops.nmf_iterations(_t(x), _t(w), options, observed=_t(m) if masked else None)
    expected = _reference(x, w, 15, BETA[divergence], alpha, m)
    np.testing.assert_allclose(to_numpy(h), expected, rtol=RTOL, atol=1e-12 if DTYPE == "float64" else 1e-6)


@pytest.mark.parametrize("divergence", list(PENALTIES))
def test_a_larger_penalty_gives_a_smaller_h_and_under_frobenius_a_sparser_one(divergence):
    """|h|_1 falls with alpha, on patterns of a 3x3 RGB patch's size. Under Frobenius Hoyer's sparsity of h rises;
    Itakura-Saito, which depends on xhat / (W h) only, mostly shrinks h's scale: measured, its sparsity falls
    (0.78 -> 0.69 over these penalties; docs/nmf_options.md)."""
    x, w = _problem(patterns=200, size=27, hidden=16, seed=2)
    sparsity, mass = [], []
    for alpha in PENALTIES[divergence]:
        options = NMFOptions(iterations=100, divergence=divergence, l1_penalty=alpha)
        h = ops.nmf_iterations(_t(x), _t(w), options)
        sparsity.append(float(np.mean(to_numpy(hoyer_sparsity(h)))))
        mass.append(float(np.mean(to_numpy(h).sum(-1))))
    assert np.all(np.diff(mass) < 0), mass
    rising = np.diff(sparsity) > 0.01
    assert np.all(rising) if divergence == "frobenius" else not np.any(rising), sparsity


def test_the_penalised_objective_never_rises_over_the_frobenius_updates():
    """The updates are majorisation steps of D_2(xhat | W h) + alpha sum(h), the objective the solvers compare."""
    x, w = _problem(seed=3)
    options = NMFOptions(divergence="frobenius", l1_penalty=PENALTIES["frobenius"][2])
    x_hat, _ = divergences.normalised_patterns(_t(x))
    values = [
        to_numpy(
            divergences.objective(
                x_hat, _t(w), ops.nmf_iterations(_t(x), _t(w), options.replace(iterations=n)), options
            )
        )
        for n in (1, 2, 4, 8, 16, 32)
    ]
    assert np.all(np.diff(values, axis=0) <= 1e-12 + 1e-6 * np.abs(values[0])), values


@pytest.mark.parametrize("divergence", list(PENALTIES))
def test_the_one_step_backward_is_the_gradient_of_one_penalised_update(divergence):
    x, w = _problem(seed=4)
    beta, alpha = BETA[divergence], PENALTIES[divergence][2]
    options = NMFOptions(iterations=10, divergence=divergence, l1_penalty=alpha)
    h = ops.nmf_iterations(_t(x), _t(w), options)
    phi = _t(np.random.default_rng(5).normal(size=h.shape))

    def one_update(x, w):  # g = h * N / (D + alpha) at the final h, written out here
        x_hat = x / keras.ops.sum(x, axis=-1, keepdims=True)
        r = keras.ops.matmul(h, keras.ops.transpose(w))
        numerator = keras.ops.matmul(x_hat * keras.ops.power(r, beta - 2.0), w)
        denominator = keras.ops.matmul(keras.ops.power(r, beta - 1.0), w) + alpha
        return h * numerator / denominator

    _, expected = value_and_gradients(lambda x, w: keras.ops.sum(one_update(x, w) * phi), _t(x), _t(w))
    got = divergences.one_step_gradients(_t(x), _t(w), h, phi, options)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=RTOL * 10, atol=1e-9 * np.abs(to_numpy(b)).max())


@pytest.mark.skipif(not float64_supported(), reason="the converged comparison needs float64")
def test_the_implicit_backward_equals_autodiff_through_the_converged_penalised_iterations():
    x, w = _problem(patterns=4, size=8, hidden=3, seed=5)  # converges in 300 updates; half of h at 0
    options = NMFOptions(iterations=300, divergence="frobenius", l1_penalty=0.01, implicit_dtype="float64")
    x, w = _t(x), _t(w)
    phi = _t(np.random.default_rng(7).normal(size=(4, 3)))
    h = ops.nmf_iterations(x, w, options)
    assert np.max(np.abs(to_numpy(ops.nmf_iterations(x, w, options.replace(iterations=301)) - h))) < 1e-12
    _, autodiff = value_and_gradients(lambda x, w: keras.ops.sum(ops.nmf_iterations(x, w, options) * phi), x, w)
    implicit = backward_gradients(x, w, h, phi, options.replace(backward="implicit"))
    one_step = backward_gradients(x, w, h, phi, options)
    for got, approximate, expected in zip(implicit, one_step, autodiff):
        got, approximate, expected = to_numpy(got), to_numpy(approximate), to_numpy(expected)
        assert np.linalg.norm(got - expected) < 1e-6 * np.linalg.norm(expected)
        assert np.linalg.norm(approximate - expected) > 1e-2 * np.linalg.norm(expected)  # a gradient of its own


def test_a_zero_penalty_is_the_unpenalised_layer_and_the_penalty_is_saved_with_the_layer():
    images = np.random.default_rng(8).random((2, 6, 6, 3)).astype("float32")
    plain = CNMF2D(4, 3, iterations=5, divergence="frobenius")
    zero = CNMF2D(4, 3, iterations=5, divergence="frobenius", l1_penalty=0.0)
    penalised = CNMF2D(4, 3, iterations=5, divergence="frobenius", l1_penalty=0.05)
    for layer in (plain, zero, penalised):
        layer.build(images.shape)
        layer.kernel.assign(np.random.default_rng(9).random(layer.kernel.shape))
    np.testing.assert_array_equal(to_numpy(zero(images)), to_numpy(plain(images)))
    assert np.all(to_numpy(penalised(images)).sum(-1) < to_numpy(plain(images)).sum(-1))
    assert CNMF2D.from_config(penalised.get_config()).l1_penalty == 0.05


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), True, "0.1"])
def test_a_penalty_outside_its_domain_is_refused_naming_it(value):
    with pytest.raises(ValueError, match=r"`l1_penalty` .* finite float >= 0"):
        NMFOptions(divergence="frobenius", l1_penalty=value)


def test_kl_and_the_convolutive_layer_refuse_a_penalty_with_the_reason():
    with pytest.raises(ValueError, match=r"renormalises h to unit sum .*frobenius"):
        CNMF2D(4, 3, l1_penalty=0.1)
    with pytest.raises(ValueError, match=r"ConvolutiveNMF2D takes `divergence` at its default"):
        ConvolutiveNMF2D(4, 3, divergence="frobenius", l1_penalty=0.1)


def test_the_flag_reaches_every_nmf_layer_or_is_refused_with_the_reason(capsys):
    config, given = parse_config(["--arch", "cnmf", "--divergence", "frobenius", "--l1-penalty", "0.05"])
    network = PaperNetwork("cnmf", nmf_options=config.model.nmf_options())
    assert "l1_penalty" in given
    assert [layer.l1_penalty for layer in network.layers if isinstance(layer, CNMF2D)] == [0.05] * 4
    with pytest.raises(SystemExit) as raised:
        parse_config(["--arch", "cnmf", "--l1-penalty", "0.05"])
    assert raised.value.code == 2 and "renormalises h to unit sum" in capsys.readouterr().err
