"""Times the paper's block-2 CNMF2D layer; the last line printed is one JSON object.

    python scripts/bench_layer.py            # XLA and plain graph, N = 20
    python scripts/bench_layer.py --repeats 30 --iterations 50

Figures are medians after warm-up: forward_ms, backward_approx_ms (eqs. 18-19),
backward_autodiff_ms (through all N iterations), nmf_gflops (the iterations
alone) and matmul_gflops (this machine's float32 matmul rate).
"""

import argparse
import json

from keras_nmf.benchmarks import layer_benchmark


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    results = {}
    for jit in (False, True):
        results["xla" if jit else "graph"] = layer_benchmark.run(
            batch=args.batch, iterations=args.iterations, jit=jit, repeats=args.repeats
        )
    print(
        f"{'mode':6} {'forward':>9} {'bwd approx':>11} {'bwd autodiff':>13} {'NMF GFLOP/s':>12} {'matmul GFLOP/s':>15}"
    )
    for mode, r in results.items():
        print(
            f"{mode:6} {r['forward_ms']:7.1f}ms {r['backward_approx_ms']:9.1f}ms "
            f"{r['backward_autodiff_ms']:11.1f}ms {r['nmf_gflops']:12.1f} {r['matmul_gflops']:15.1f}"
        )
    best = min(results, key=lambda m: results[m]["forward_backward_approx_ms"])
    summary = dict(results[best], mode=best, all_modes=results)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
