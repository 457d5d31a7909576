"""Times ConvolutiveNMF2D against CNMF2D on the paper's blocks 1 and 2; the last line printed is one JSON object.

KERAS_BACKEND=jax python scripts/bench_convolutive.py
python scripts/bench_convolutive.py --iterations 50 --repeats 20
"""

import argparse
import json

from keras_nmf import backend
from keras_nmf.benchmarks import convolutive


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    figures = convolutive.run(batch=args.batch, iterations=args.iterations, repeats=args.repeats)
    print(
        f"{'block':7} {'CNMF2D step':>12} {'convolutive step':>17} {'ratio':>6} {'CNMF2D fwd':>11} "
        f"{'convolutive fwd':>16} {'ratio':>6}"
    )
    for block, row in figures.items():
        print(
            f"{block:7} {row['cnmf2d']['train_step_ms']:10.1f}ms {row['convolutive']['train_step_ms']:15.1f}ms "
            f"{row['ratio_train']:6.2f} {row['cnmf2d']['forward_ms']:9.1f}ms "
            f"{row['convolutive']['forward_ms']:14.1f}ms {row['ratio_forward']:6.2f}"
        )
    print(json.dumps({"backend": backend.NAME, "batch": args.batch, "iterations": args.iterations, "blocks": figures}))


if __name__ == "__main__":
    main()
