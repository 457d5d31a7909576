"""Test accuracy of a saved model.

Examples:
    python scripts/evaluate.py runs/cnmf_1x1-20261127-120000/model.keras --data-dir ../shared/data/cifar10-jpeg
    python scripts/evaluate.py model.keras --dataset mnist
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_nmf.data import TFDS_DATASETS, DataError  # noqa: E402
from keras_nmf.training.evaluate import evaluate_saved_model  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a .keras file written by scripts/train.py")
    parser.add_argument("--data-dir", help="image folder DIR/train/<class>/*, DIR/test/<class>/*")
    parser.add_argument("--dataset", default="cifar10", choices=TFDS_DATASETS, help="tfds data set (without --data-dir)")
    parser.add_argument("--tfds-dir", help="tensorflow_datasets data directory")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--limit-test", type=int, help="evaluate only N test images")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.model):
        parser.error(f"model file not found: {args.model}")
    try:
        results = evaluate_saved_model(
            args.model, data_dir=args.data_dir, dataset=args.dataset, tfds_dir=args.tfds_dir,
            batch_size=args.batch_size, limit_test=args.limit_test,
        )
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"test accuracy {results['test_accuracy']:.4f} | test loss {results['test_loss']:.4f} | {results['test_size']} images")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
