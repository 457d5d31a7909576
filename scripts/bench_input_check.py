"""What the NMF layers' input check costs per compiled training step; the last line printed is one JSON object.

    KERAS_BACKEND=jax python scripts/bench_input_check.py            # cnmf_1x1, batch 50
    python scripts/bench_input_check.py --arch cnmf --repeats 20

See keras_nmf/benchmarks/input_check.py for how it is measured.
"""

import argparse
import json

from keras_nmf.benchmarks import input_check


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cnmf_1x1", choices=["cnmf", "cnmf_1x1"])
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    result = input_check.measure(args.arch, args.batch_size, args.repeats)
    print(
        f"{result['backend']} {result['arch']}: {result['step_ms_checked']} ms a step with the check, "
        f"{result['step_ms_unchecked']} ms without: {result['check_ms']} ms ({result['check_percent']} %) for "
        f"{result['nmf_layers']} NMF layers"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
