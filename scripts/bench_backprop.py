"""The paper's Figure 1 and the networks' training throughput.

Examples:
    python scripts/bench_backprop.py --out bench_out          # full run (about 25 minutes on 2 CPU cores)
    python scripts/bench_backprop.py --quick --out /tmp/bench # about a minute: small batch, small N, no XLA

Writes OUT/backprop.json (all figures, machine, versions, method) and
OUT/figure1.png (memory and backward time of cnmf_1x1 relative to cnn, for the
one-step backward and autodiff), and prints a table.
"""

import argparse
import json
import pathlib

from keras_nmf.benchmarks import backprop
from keras_nmf.experiments.cli import positive_int
from keras_nmf.files import atomic_write_text

#: What a run measures: the full run, and the smoke run of --quick (--repeats replaces either's repeats).
FULL = {"iterations": 20, "figure1_iterations": (5, 20, 50), "batch": 50, "repeats": 10}
QUICK = {"iterations": 4, "figure1_iterations": (4,), "batch": 8, "repeats": 3, "jit": False}


def print_table(report):
    print(
        f"{'arch':9} {'params':>8} {'fwd ms':>8} {'bwd ms':>8} {'step ms':>8} {'train img/s':>12} "
        f"{'infer img/s':>12} {'peak MiB':>9}"
    )
    for arch, r in report["architectures"].items():
        print(
            f"{arch:9} {r['parameters']['trainable']:8d} {r['forward_ms']:8.1f} {r['backward_ms']:8.1f} "
            f"{r['train_step_ms']:8.1f} {r['train_images_per_s']:12.1f} {r['inference_images_per_s']:12.1f} "
            f"{r['peak_train_memory_mib']:9.1f}"
        )
    for row in report["architectures"].get("cnmf_1x1", {}).get("nmf_layer_profile", []):
        print(
            f"  {row['layer']:12} P={row['patterns']:6d} S={row['pattern_size']:5d} I={row['filters']:3d} "
            f"forward {row['forward_ms']:7.1f} ms  iterations {row['iteration_gflop']:6.2f} GFLOP "
            f"-> {row['gflops']:6.1f} GFLOP/s; its matmuls alone {row['iteration_matmuls_ms']:7.1f} ms"
        )
    for key, value in report["ratios"].items():
        print(f"{key}: {value:.2f}")
    print(f"{'Figure 1':9} {'N':>3} {'backward/cnn':>13} {'memory/cnn':>11}")
    for e in report["figure1"]:
        print(f"{e['method']:9} {e['iterations']:3d} {e['backward_vs_cnn']:13.2f} {e['memory_vs_cnn']:11.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench_out", help="output directory")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: batch {QUICK['batch']}, N = {QUICK['iterations']}, {QUICK['repeats']} repeats, no XLA",
    )
    parser.add_argument(
        "--archs",
        nargs="+",
        default=["cnn", "cnmf", "cnn_1x1", "cnmf_1x1"],
        choices=["cnn", "cnmf", "cnn_1x1", "cnmf_1x1"],
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        help=f"timed repeats of each figure (default {FULL['repeats']}; {QUICK['repeats']} with --quick)",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        choices=["float32", "mixed_float16", "mixed_bfloat16"],
        help="Keras dtype policy of the networks (the NMF iterations stay float32)",
    )
    parser.add_argument(
        "--tf32",
        action="store_true",
        help="leave TensorFlow's TF32 matmuls on under float32 (GPU; train.py turns them off)",
    )
    parser.add_argument("--no-figure1", action="store_true", help="per-architecture figures only")
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.repeats is not None:
        settings["repeats"] = args.repeats
    if args.no_figure1:
        settings["figure1_iterations"] = ()
    report = backprop.run(archs=tuple(args.archs), precision=args.precision, tf32=args.tf32, **settings)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "backprop.json", json.dumps(report, indent=2) + "\n")
    if report["figure1"]:
        backprop.plot_figure1(report, out / "figure1.png")
    print_table(report)
    print(f"wrote {out / 'backprop.json'}" + (f" and {out / 'figure1.png'}" if report["figure1"] else ""))


if __name__ == "__main__":
    main()
