"""The CPU emulation of TF32 in keras_nmf.benchmarks.tf32 and scripts/bench_tf32.py."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_nmf.benchmarks import tf32
from keras_nmf.ops import NMFOptions, nmf_iterations
from tests.conftest import load_script


def test_rounding_keeps_ten_mantissa_bits():
    exact = np.array([1.0, 0.75, 1 + 2**-10, -3.5, 2.0**-30], np.float32)  # representable in TF32
    np.testing.assert_array_equal(tf32.round_mantissa(exact).numpy(), exact)
    x = np.random.default_rng(0).random(10_000).astype(np.float32) + 1e-3
    for rounding, bound in (("nearest", 2.0**-11), ("truncate", 2.0**-10)):
        rounded = tf32.round_mantissa(x, rounding=rounding).numpy()
        relative = np.abs(rounded - x) / x
        assert relative.max() <= bound and relative.max() > bound / 2
    assert tf32.round_mantissa(np.float32(1 + 2**-11 + 2**-20)).numpy() == np.float32(1 + 2**-10)  # carries up
    assert tf32.round_mantissa(np.float32(2 - 2**-12)).numpy() == 2.0  # carry into the exponent
    with pytest.raises(ValueError, match="Unknown rounding 'up'"):
        tf32.round_mantissa(x, rounding="up")


def test_float64_iterations_are_the_reference():
    rng = np.random.default_rng(0)
    x, w = rng.random((40, 12)), tf32.random_nmf_weights(12, 5)
    h64 = nmf_iterations(tf.constant(x), tf.constant(w), NMFOptions(iterations=10))
    assert h64.dtype == tf.float64
    np.testing.assert_allclose(h64.numpy().sum(axis=-1), 1.0, rtol=1e-12)


def test_tf32_error_lies_between_float32_and_the_bfloat16_input():
    rng = np.random.default_rng(1)
    errors = tf32.iteration_errors(rng.random((500, 75)), tf32.random_nmf_weights(75, 32), iterations=20)
    assert set(errors) == {"float32", "tf32", "tf32_truncate", "bfloat16_input", "float16_input"}
    assert errors["float32"]["l1_max"] < 1e-5
    assert 10 * errors["float32"]["l1_median"] < errors["tf32"]["l1_median"] < errors["bfloat16_input"]["l1_median"]


def test_bench_tf32_script_writes_its_table(tmp_path, capsys):
    # In this process: the emulation rounds in its own ops and sets nothing process-wide.
    load_script("scripts/bench_tf32.py").main(["--images", "0", "--iterations", "2", "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["source"] == "random pixels" and len(report["rows"]) == 2 * 5
    assert "| block2 (S=800, I=64) | 2 | tf32 |" in (tmp_path / "tf32.md").read_text()
