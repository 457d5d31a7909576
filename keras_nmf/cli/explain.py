"""What a trained NMF network sees: its parts, images explained, and novelty from reconstruction error.

Examples:
    keras-nmf-explain cnmf_1x1_cifar10 --images cat.png ship.jpg --out explained/
    keras-nmf-explain cnmf_1x1_cifar10 --data-dir ../shared/data/cifar10-jpeg --count 16 --out explained/
    keras-nmf-explain runs/cnmf-20261201-120000 --data-dir ../shared/data/cifar10-jpeg --novelty --out explained/

Writes to --out: parts_<layer>.png per CNMF2D layer (block 1: the columns of W as patches; deeper layers: the image
regions each part explains most), explained_<k>.png (the image, block 1's reconstruction W h folded back, its error
map and dominant parts, the deeper layers' error maps, the top classes), scores.json; with --novelty, novelty.json
(AUROC of each NMF layer's reconstruction error, their combination and the maximum softmax probability, the
in-distribution test images against bundled out-of-distribution sets) and novelty.png (docs/explain.md). For a
run directory the figures also go to its TensorBoard, as images under <run>/explain.
"""

import argparse
import pathlib
import sys

from keras_nmf.commands import load_for_command, report_error
from keras_nmf.errors import KerasNMFError, OutputLocationError
from keras_nmf.experiments.cli import positive_int


def _parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "model",
        help="a preset (a built-in name such as cnmf_1x1_cifar10, or a folder of save_to_preset), a run "
        "directory of keras-nmf-train, or its model.keras",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", nargs="+", metavar="FILE", help="image files to explain")
    source.add_argument("--data-dir", help="an image folder (DIR/test/<class>/*): its test images")
    parser.add_argument(
        "--count",
        type=positive_int,
        default=16,
        help="test images explained from --data-dir (default: 16, evenly over the folder)",
    )
    parser.add_argument("--explained", type=positive_int, default=4, help="images drawn one by one (default: 4)")
    parser.add_argument("--parts", type=positive_int, default=16, help="parts drawn per deeper layer (default: 16)")
    parser.add_argument("--per-part", type=positive_int, default=6, help="regions drawn per part (default: 6)")
    parser.add_argument(
        "--novelty",
        action="store_true",
        help="also the novelty table: every test image of --data-dir against the bundled out-of-distribution sets "
        "(minutes)",
    )
    parser.add_argument(
        "--ood-count", type=positive_int, default=1000, help="images per out-of-distribution set (default: 1000)"
    )
    parser.add_argument("--batch-size", type=positive_int, default=128)
    parser.add_argument("--out", required=True, help="the folder the figures and JSON are written to")
    return parser


def _checked_out(path):
    """The output folder, made now (before any model is loaded), or the reason it cannot be."""
    out = pathlib.Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputLocationError(
            f"Cannot write to --out {out}: {error.strerror}. Pass a folder you can write."
        ) from None
    return out


def main(argv=None):
    args = _parser().parse_args(argv)  # no Keras yet: --help and usage errors return at once
    if args.novelty and not args.data_dir:
        _parser().error("--novelty scores the test images of --data-dir (the in-distribution set): give --data-dir")
    try:
        out = _checked_out(args.out)
    except KerasNMFError as error:
        return report_error(error)
    load_for_command()
    from keras_nmf.explain.loading import load_classifier, read_images, test_images
    from keras_nmf.explain.report import explain_images, figures_to_tensorboard, novelty_report
    from keras_nmf.training.evaluate import is_preset

    try:
        model = load_classifier(args.model)
        if args.images:
            images, names = read_images(args.images, model.image_shape)
        else:
            images, names = test_images(args.data_dir, model.image_shape, args.count)
        explain_images(
            model, images, out, names=names, explained=args.explained, parts=args.parts, per_part=args.per_part
        )
        if args.novelty:
            everything, _ = test_images(args.data_dir, model.image_shape, None)
            novelty_report(model, everything, out, count=args.ood_count, batch_size=args.batch_size)
        run = pathlib.Path(args.model)
        if (run / "config.json").is_file() and not is_preset(args.model):  # a run directory: its TensorBoard too
            figures_to_tensorboard(out, run / "explain")
            print(f"TensorBoard: the figures as images under {run / 'explain'} (tensorboard --logdir {run})")
    except KerasNMFError as error:
        return report_error(error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
