"""Training step of cnn and cnmf_1x1 on TensorFlow and JAX, side by side, against the NMF iterations' matmul floor.

Examples:
    python scripts/bench_backends.py --out bench_out                 # both backends, batch 50, N = 20 (~5 min on 2 CPUs)
    python scripts/bench_backends.py --backends jax --precision mixed_bfloat16

Writes OUT/backends.json and prints a Markdown table; step / matmuls is the
cnmf_1x1 step over the time of its NMF iterations' matmuls alone, measured in
the same process (keras_nmf.benchmarks.backends).
"""

import argparse
import json
import pathlib

from keras_nmf.benchmarks import backends
from keras_nmf.files import atomic_write_text
from keras_nmf.experiments.cli import positive_int


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench_out", help="output directory")
    parser.add_argument("--backends", nargs="+", default=list(backends.DEFAULT_BACKENDS), choices=backends.BACKENDS)
    parser.add_argument(
        "--archs", nargs="+", default=["cnn", "cnmf_1x1"], choices=["cnn", "cnmf", "cnn_1x1", "cnmf_1x1"]
    )
    parser.add_argument("--batch", type=positive_int, default=50)
    parser.add_argument("--iterations", type=positive_int, default=20, help="NMF iterations N (eq. 6)")
    parser.add_argument("--repeats", type=positive_int, default=10)
    parser.add_argument("--precision", default="float32", choices=["float32", "mixed_float16", "mixed_bfloat16"])
    parser.add_argument(
        "--epoch-images",
        type=positive_int,
        default=None,
        help="also time one epoch of cnmf_1x1 (at --iterations) on this many random images (50000: CIFAR-10's size)",
    )
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # before the minutes of measuring, not after
    report = backends.run(
        backends=tuple(args.backends),
        archs=tuple(args.archs),
        batch=args.batch,
        iterations=args.iterations,
        repeats=args.repeats,
        precision=args.precision,
        epoch=None
        if args.epoch_images is None
        else {
            "train_images": args.epoch_images,
            "test_images": max(args.epoch_images // 5, 1),
            "iterations": args.iterations,
        },
    )
    atomic_write_text(out / "backends.json", json.dumps(report, indent=2) + "\n")
    print(backends.table(report))
    for backend, figures in report["backends"].items():
        if "epoch" in figures:
            e = figures["epoch"]
            print(
                f"{backend}: one epoch of {e['arch']} on {e['train_images']} {e['data']}: {e['epoch_s']:.1f} s "
                f"({e['train_images_per_s']:.0f} img/s; first epoch with compilation {e['first_epoch_s']:.1f} s), "
                f"evaluating {e['test_images']}: {e['evaluate_s']:.1f} s"
            )
    print(f"wrote {out / 'backends.json'}")


if __name__ == "__main__":
    main()
