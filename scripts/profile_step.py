"""Where a cnmf_1x1 training step's time goes, per op class, layer and direction, on TensorFlow and JAX (XLA).

Examples:
    python scripts/profile_step.py --out bench_out/profile            # both backends (~3 min on 2 CPUs)
    python scripts/profile_step.py --backends jax --arch cnmf --out bench_out/profile

Writes OUT/profile.json (every row) and OUT/profile.md (the tables), and prints the tables
(keras_nmf.benchmarks.step_profile: the profilers' thunk events joined with XLA's optimised HLO).
"""

import argparse
import json
import pathlib

from keras_nmf.benchmarks import step_profile
from keras_nmf.experiments.cli import positive_int
from keras_nmf.files import atomic_write_text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench_out/profile", help="output directory (also the dumps and traces)")
    parser.add_argument(
        "--backends", nargs="+", default=["tensorflow", "jax"], choices=sorted(step_profile.STEP_MODULE)
    )
    parser.add_argument("--arch", default="cnmf_1x1", choices=["cnn", "cnmf", "cnn_1x1", "cnmf_1x1"])
    parser.add_argument("--batch", type=positive_int, default=50)
    parser.add_argument("--iterations", type=positive_int, default=20, help="NMF iterations N (eq. 6)")
    parser.add_argument("--steps", type=positive_int, default=5, help="profiled steps (after 3 warm-up steps)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # before the minutes of measuring, not after
    rows = {
        backend: step_profile.run(backend, str(out), args.arch, args.batch, args.iterations, args.steps)
        for backend in args.backends
    }
    tables = "\n\n".join(
        f"{title}\n\n{step_profile.summary_table(rows, keys, min_ms)}"
        for title, keys, min_ms in (
            ("By direction", ("direction",), 0.0),
            ("By op class", ("kind",), 0.0),
            ("By direction and op class", ("direction", "kind"), 0.0),
            ("By direction, layer and op class", ("direction", "layer", "kind"), 1.0),
        )
    )
    atomic_write_text(out / "profile.json", json.dumps(rows, indent=2) + "\n")
    atomic_write_text(out / "profile.md", tables + "\n")
    print(tables)


if __name__ == "__main__":
    main()
