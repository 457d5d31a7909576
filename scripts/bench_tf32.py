"""Do the NMF iterations keep their accuracy under TF32? A CPU emulation against float64.

Examples:
    python scripts/bench_tf32.py                               # CIFAR-10 test patches when present
    python scripts/bench_tf32.py --images 0 --out docs/tf32    # random pixels; writes tf32.md and tf32.json

Rounds every matmul input of the iterations (eq. 6) to TF32's 10-bit mantissa
and compares h(N) with the float64 iterations, beside float32 and the input
rounding of the mixed policies (see keras_nmf/benchmarks/tf32.py). The real
TF32 on a GPU is measured by `pytest -m gpu` (scripts/device_check.sh).
Prints a Markdown table and a JSON line.
"""

import argparse
import json
import pathlib

from keras_nmf.benchmarks import tf32
from keras_nmf.files import atomic_write_text

DEFAULT_DATA = "../shared/data/cifar10-jpeg"  # relative to the repository root, as in the README


def _cifar_images(data_dir, count):
    """``count`` test images spread over the classes, centre-cropped to 28x28, in [0, 1]; None if absent."""
    if not count or not (pathlib.Path(data_dir) / "test").is_dir():
        return None
    from keras_nmf.data.image_folder import decode_images, list_image_folder

    paths, _, _ = list_image_folder(data_dir, "test")
    step = max(1, len(paths) // count)
    return decode_images(paths[::step][:count], (32, 32, 3)).astype("float32")[:, 2:30, 2:30] / 255.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=DEFAULT_DATA, help="image folder with test/<class>/*")
    parser.add_argument("--images", type=int, default=50, help="test images for block 1's patches (0: random)")
    parser.add_argument("--iterations", type=int, nargs="+", default=[5, 20, 50])
    parser.add_argument("--out", help="folder for tf32.md and tf32.json")
    args = parser.parse_args(argv)
    images = _cifar_images(args.data_dir, args.images)
    source = f"{len(images)} CIFAR-10 test images from {args.data_dir}" if images is not None else "random pixels"
    rows = tf32.measure(images, iterations_list=args.iterations)
    table = tf32.format_table(rows)
    print(f"block 1 patterns: {source}\n\n{table}")
    if args.out:
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "tf32.md", f"Block 1 patterns: {source}.\n\n{table}\n")
        atomic_write_text(out / "tf32.json", json.dumps({"source": source, "rows": rows}, indent=2) + "\n")
    print(json.dumps({"source": source, "rows": rows}))


if __name__ == "__main__":
    main()
