"""SQUAREM and Anderson acceleration (solver="squarem" | "anderson"): the plain updates' fixed point in fewer updates,
non-negative and normalised, each step safeguarded per pattern."""

import keras
import numpy as np
import pytest

from keras_nmf import ops
from keras_nmf.layers import CNMF2D, NMFDense
from keras_nmf.ops.divergences import normalised_patterns, objective
from keras_nmf.nmf_arguments import ACCELERATED_SOLVERS, DIVERGENCES, MAX_ITERATIONS, NMFOptions
from keras_nmf.ops import squarem
from keras_nmf.ops.nmf import _ACCELERATED as DISPATCHED_SOLVERS
from tests import nmf_reference as ref
from tests.backend import compiled_function, to_numpy
from tests.layers.gradients import output_and_gradients


def _problem(seed=0, patterns=64, size=20, hidden=6):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (patterns, size)) ** 3  # sparse-ish patterns: slow plain convergence
    w = ref.weights_from_kernel(rng.uniform(0, 1, (size, hidden)))
    return x, w


def _solve(x, w, solver, tolerance, iterations=MAX_ITERATIONS, divergence="kl", **kwargs):
    """h and each pattern's update count, compiled (TensorFlow runs an eager while loop op by op: 5x the time)."""
    options = NMFOptions(iterations=iterations, tolerance=tolerance, solver=solver, divergence=divergence)
    h, counts, _ = compiled_function(lambda x, w: ops.nmf_iterations(x, w, options, with_history=True, **kwargs))(
        keras.ops.convert_to_tensor(x.astype("float32")), keras.ops.convert_to_tensor(w.astype("float32"))
    )
    return to_numpy(h).astype("float64"), to_numpy(counts)


ACCELERATED = list(ACCELERATED_SOLVERS)


def test_the_ops_run_the_solvers_the_options_accept():
    """The options' table (a leaf module, without Keras) and the ops' dispatch table name the same solvers, and
    SQUAREM's fewest updates is its cycle."""
    assert set(DISPATCHED_SOLVERS) == set(ACCELERATED_SOLVERS)
    assert ACCELERATED_SOLVERS["squarem"][1] == squarem.UPDATES_PER_CYCLE


@pytest.mark.parametrize("solver", ACCELERATED)
def test_an_accelerated_solver_reaches_the_plain_fixed_point_in_fewer_updates(solver):
    x, w = _problem()
    fixed_point = ref.nmf_forward(ref.l1_normalize(x), w, 20_000)  # float64, far past convergence
    plain, plain_counts = _solve(x, w, "mu", 1e-6)
    fast, fast_counts = _solve(x, w, solver, 1e-6)
    assert np.abs(fast - fixed_point).max() < np.abs(plain - fixed_point).max() + 1e-5
    assert np.abs(fast - fixed_point).max() < 2e-3
    assert fast_counts.mean() < plain_counts.mean() / 3  # measured: 5x (SQUAREM), 15x (Anderson)
    assert np.all(fast >= 0) and np.allclose(fast.sum(-1), 1.0, atol=1e-5)
    assert fast_counts.max() <= MAX_ITERATIONS and (solver != "squarem" or np.all(fast_counts % 3 == 0))


@pytest.mark.parametrize("solver", ACCELERATED)
def test_a_pattern_does_not_depend_on_the_rest_of_the_batch(solver):
    """Each pattern's extrapolation (and Anderson's history) is its own, and a stopped pattern is never updated
    again: changing the other patterns of a batch (of the same shape) changes neither its h nor its count."""
    x, w = _problem(seed=6, patterns=32)
    others = x.copy()
    others[5:] = np.random.default_rng(7).uniform(0, 1, others[5:].shape) ** 3
    first, first_counts = _solve(x, w, solver, 1e-5)
    second, second_counts = _solve(others, w, solver, 1e-5)
    np.testing.assert_allclose(second[:5], first[:5], atol=1e-7)
    np.testing.assert_array_equal(second_counts[:5], first_counts[:5])
    assert np.any(second_counts[5:] != first_counts[5:])


@pytest.mark.parametrize("solver", ACCELERATED)
@pytest.mark.parametrize("divergence", list(DIVERGENCES))
def test_a_first_accelerated_step_never_ends_above_two_plain_updates(divergence, solver):
    """The safeguard: SQUAREM's cycle returns F(h') only where it is no worse than h2 = F(F(h)), Anderson steps to its
    extrapolated point only where it is no worse than the plain update's; else each takes the plain path. With three
    updates, either ends no worse than two plain updates."""
    x, w = _problem(seed=1, patterns=200)
    x32, w32 = (keras.ops.convert_to_tensor(a.astype("float32")) for a in (x, w))
    one_cycle, _ = _solve(x, w, solver, 1e-30, iterations=3, divergence=divergence)
    two_plain = to_numpy(ops.nmf_iterations(x32, w32, NMFOptions(iterations=2, divergence=divergence)))
    x_hat, _ = normalised_patterns(x32)
    options = NMFOptions(divergence=divergence)
    after = to_numpy(objective(x_hat, w32, keras.ops.convert_to_tensor(one_cycle.astype("float32")), options))
    before = to_numpy(objective(x_hat, w32, keras.ops.convert_to_tensor(two_plain.astype("float32")), options))
    assert np.all(after <= before + 1e-6 * np.abs(before)) and np.all(one_cycle >= 0)
    assert np.mean(after < before - 1e-7 * np.abs(before)) > 0.5  # and the extrapolation usually helps


@pytest.mark.parametrize("solver", ACCELERATED)
def test_an_accelerated_solver_with_a_mask_and_a_warm_start_converges(solver):
    x, w = _problem(seed=2)
    observed = (np.random.default_rng(3).random(x.shape) > 0.2).astype("float32")
    kwargs = dict(divergence="itakura_saito", observed=keras.ops.convert_to_tensor(observed))
    plain, plain_counts = _solve(x, w, "mu", 1e-6, **kwargs)
    fast, fast_counts = _solve(x, w, solver, 1e-6, **kwargs)
    # Itakura-Saito is not convex in h: a solver may stop at another stationary point. Measured: SQUAREM lands on
    # the plain updates' points; Anderson's divergences are within -0.28 % and +0.13 % of theirs.
    x_hat, _ = normalised_patterns(keras.ops.convert_to_tensor(x.astype("float32")), kwargs["observed"])

    def divergence(h):
        return to_numpy(
            objective(
                x_hat,
                keras.ops.convert_to_tensor(w.astype("float32")),
                keras.ops.convert_to_tensor(h.astype("float32")),
                NMFOptions(divergence="itakura_saito"),
                kwargs["observed"],
            )
        )

    assert np.all(divergence(fast) <= divergence(plain) + 5e-3 * np.abs(divergence(plain)))
    assert solver != "squarem" or np.abs(fast - plain).max() < 5e-2
    assert fast_counts.mean() < plain_counts.mean() and np.all(fast >= 0)
    warm, warm_counts = _solve(
        x, w, solver, 1e-6, initial_h=keras.ops.convert_to_tensor(fast.astype("float32")), **kwargs
    )
    assert warm_counts.mean() < fast_counts.mean()


@pytest.mark.parametrize("solver", ACCELERATED)
@pytest.mark.parametrize("backward", ["approx", "implicit"])
def test_a_layer_with_an_accelerated_solver_trains_and_serialises(solver, backward):
    images = np.random.default_rng(4).uniform(0, 1, (2, 8, 8, 3))
    layer = CNMF2D(4, 3, iterations=300, tolerance=1e-4, solver=solver, backward=backward)
    out, grad_x, grad_u = output_and_gradients(layer, images, np.random.default_rng(5).normal(size=(2, 6, 6, 4)))
    assert np.all(np.isfinite(grad_x)) and np.all(np.isfinite(grad_u)) and np.abs(grad_u).sum() > 0
    assert np.all(out >= 0) and np.allclose(out.sum(-1), 1.0, atol=1e-5)
    assert CNMF2D.from_config(layer.get_config()).options.solver == solver


@pytest.mark.parametrize("solver", ACCELERATED)
def test_an_accelerated_solver_needs_a_tolerance(solver):
    with pytest.raises(ValueError, match=f"solver='{solver}'.*give a tolerance"):
        NMFDense(3, solver=solver)
    with pytest.raises(ValueError, match="`solver` must be one of"):
        NMFDense(3, tolerance=1e-3, solver="daarem")
