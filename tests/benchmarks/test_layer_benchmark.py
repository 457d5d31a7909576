"""The layer benchmark runs on a tiny problem and reports every figure."""

import math

from keras_nmf.benchmarks import layer_benchmark


def test_reports_all_figures_on_a_tiny_layer():
    figures = layer_benchmark.run(batch=2, input_shape=(6, 6, 4), kernel_size=3, filters=4, iterations=2, repeats=1)
    for key in ("forward_ms", "backward_approx_ms", "backward_autodiff_ms", "nmf_gflops", "matmul_gflops"):
        assert math.isfinite(figures[key]), key
    assert figures["nmf_gflops"] > 0 and figures["matmul_gflops"] > 0
