"""The authors' PyTorch networks beside ours: one training step and one epoch each, on this machine's device.

Examples:
    python scripts/bench_reference.py --reference-dir ../shared/reference/deep_nmf --out bench_out
    python scripts/bench_reference.py --reference-dir ../shared/reference/deep_nmf --backends jax \\
        --epoch-images 50000 --out $OUT/reference          # on a GPU host (scripts/gpu_figure5.sh)

cnn and cnmf_1x1 by default (their network built from their cnmf_1x1 config with each
arch's neuron types), batch 50, N = 20, float32 with TF32 off. Needs PyTorch and jsmin (their configs are JSON with comments) beside
Keras. Writes OUT/reference.json and prints a Markdown table (keras_nmf.benchmarks.reference).
"""

import argparse
import json
import sys

from keras_nmf.architectures import ARCHITECTURES
from keras_nmf.benchmarks import backends, reference
from keras_nmf.experiments.cli import positive_int
from keras_nmf.experiments.outputs import prepare_output_dir
from keras_nmf.files import atomic_write_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-dir", required=True, help="the authors' code (holds tools/ and configs/)")
    parser.add_argument("--out", default="bench_out", help="output directory")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["tensorflow", "jax"],
        choices=backends.BACKENDS,
        help="our side's Keras backends (default: tensorflow jax)",
    )
    parser.add_argument("--archs", nargs="+", default=["cnn", "cnmf_1x1"], choices=ARCHITECTURES)
    parser.add_argument("--batch", type=positive_int, default=50)
    parser.add_argument("--repeats", type=positive_int, default=10)
    parser.add_argument(
        "--epoch-images",
        type=positive_int,
        default=None,
        help="also time one epoch on this many random images (50000: CIFAR-10's)",
    )
    args = parser.parse_args(argv)
    try:
        reference.check_reference_dir(args.reference_dir)
        out = prepare_output_dir(args.out)  # before the minutes of measuring, not after
    except (FileNotFoundError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = reference.run(
        args.reference_dir,
        backends=tuple(args.backends),
        archs=tuple(args.archs),
        batch=args.batch,
        repeats=args.repeats,
        epoch_images=args.epoch_images,
    )
    atomic_write_text(out / "reference.json", json.dumps(report, indent=2) + "\n")
    print(reference.table(report))
    print(f"wrote {out / 'reference.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
