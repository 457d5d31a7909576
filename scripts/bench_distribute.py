"""Step time of a network with --distribute mirrored against no strategy, measured side by side.

Examples:
    python scripts/bench_distribute.py                      # cnmf_1x1, 2 logical CPU devices on a CPU host
    python scripts/bench_distribute.py --arch cnn --repeats 20

On a host without GPUs the mirrored replicas are logical CPU devices sharing
the same cores: the ratio is the strategy's overhead. With GPUs, the replicas
are the GPUs. Prints a line per configuration and a JSON line.
"""

import argparse
import json

from keras_nmf.benchmarks import distribute


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cnmf_1x1", choices=["cnn", "cnmf", "cnn_1x1", "cnmf_1x1"])
    parser.add_argument("--batch", type=int, default=50, help="global batch")
    parser.add_argument("--cpu-devices", type=int, default=2, help="logical CPU devices when there is no GPU")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        distribute.split_cpu(args.cpu_devices)
    report = distribute.compare_step_times(args.arch, args.batch, repeats=args.repeats)
    print(
        f"{args.arch}, global batch {args.batch}: no strategy {report['none_ms']:.1f} ms/step | "
        f"mirrored over {report['replicas']} replicas {report['mirrored_ms']:.1f} ms/step | "
        f"ratio {report['mirrored_vs_none']:.2f}"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
