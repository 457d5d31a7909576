"""Compile and step time of a CNMF2D training step at N = 20, 100, 1000 (unrolled vs one loop).

Examples:
    python scripts/bench_iterations.py                       # N = 20, 100, 1000, XLA on
    python scripts/bench_iterations.py --iterations 20 60 --no-jit
    python scripts/bench_iterations.py --iterations 20 200 --unrolled --tolerance 0.01   # the while loop too

Up to keras_nmf.ops.nmf.UNROLL_LIMIT iterations the updates are unrolled; above
it they run as one keras.ops.fori_loop, so compile time does not grow with N.
Prints a Markdown table and a JSON line (keras_nmf/benchmarks/iterations.py).
"""

import argparse
import json

from keras_nmf.benchmarks.iterations import iteration_timings, markdown_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, nargs="+", default=[20, 100, 1000], help="the N to time")
    parser.add_argument(
        "--unrolled",
        type=int,
        nargs="*",
        default=[100],
        help="N also timed with the updates unrolled (the other side of the switch)",
    )
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per N (after the first)")
    parser.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True, help="XLA-compile the step")
    parser.add_argument("--tolerance", type=float, help="also time every N with this CNMF2D tolerance (a while loop)")
    args = parser.parse_args(argv)
    if args.tolerance is not None and not args.tolerance > 0:
        parser.error(f"--tolerance must be > 0. Received: {args.tolerance}")
    rows = iteration_timings(
        args.iterations, args.batch_size, args.jit, args.repeats, unrolled=args.unrolled, tolerance=args.tolerance
    )
    print(markdown_table(rows))
    print(json.dumps({"jit": args.jit, "batch_size": args.batch_size, "tolerance": args.tolerance, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
