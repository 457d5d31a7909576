"""Times one training step of a paper network under each variant, side by side; the last line printed is JSON.

    KERAS_BACKEND=jax python scripts/bench_variants.py --arch cnmf_1x1 --variant convolutive:nmf_layer=convolutive \
        --variant implicit_squarem:backward=implicit,tolerance=1e-4,solver=squarem,iterations=300

The first row is the network as given (no overrides); each --variant LABEL:FIELD=VALUE[,FIELD=VALUE] is the
comparison's (keras-nmf-compare --variant). keras_nmf/benchmarks/variants.py says what is timed.
"""

import argparse
import json


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="cnmf_1x1")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL:FIELD=VALUE[,FIELD=VALUE]")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant (after the first)")
    args = parser.parse_args(argv)

    from keras_nmf.errors import ConfigError
    from keras_nmf.experiments.variants import BASE_VARIANT, parse_variant

    try:
        variants = [BASE_VARIANT] + [parse_variant(text) for text in args.variant]
    except ConfigError as error:
        parser.error(str(error))

    from keras_nmf import backend
    from keras_nmf.benchmarks.variants import markdown_table, variant_step_times

    try:
        rows = variant_step_times(args.arch, variants, batch_size=args.batch_size, repeats=args.repeats)
    except ConfigError as error:
        parser.error(str(error))
    print(markdown_table(rows))
    print(json.dumps({"backend": backend.NAME, "arch": args.arch, "batch_size": args.batch_size, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
