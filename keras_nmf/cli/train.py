"""Trains one of the paper's networks on CIFAR-10 (or MNIST, Fashion-MNIST, an image folder).

Examples:
    keras-nmf-train --arch cnmf_1x1                       # the paper's recipe, tfds CIFAR-10
    keras-nmf-train --arch cnmf_1x1 --data-dir ../shared/data/cifar10-jpeg
    keras-nmf-train --arch cnn --epochs 2 --limit-train 5000 --data-dir DIR
    keras-nmf-train --resume --logdir runs/cnmf_1x1-20261127-120000
    keras-nmf-train --arch cnmf --dataset mnist --width 2 --nmf-groups 4
    tensorboard --logdir runs

Each run directory holds config.json, epochs.csv, TensorBoard logs (scalars and
the first layer's basis images), a backup for --resume, model.keras and
results.json. Ctrl-C keeps the last completed epoch: continue with --resume.
--resume may change the learning rates (--lr, --kxk-lr, applied to the restored
run), --epochs and runtime flags; any other flag that differs from the saved
configuration is an error.
"""

import sys

from keras_nmf.commands import load_for_command, report_error
from keras_nmf.errors import KerasNMFError
from keras_nmf.training.flags import parse_config


def main(argv=None):
    config, given = parse_config(argv, description=__doc__)  # no Keras yet: --help and usage errors return at once
    from keras_nmf.training.preflight import check_before_backend

    try:
        check_before_backend(config)  # paths, crop and subset sizes: named before the backend loads
    except KerasNMFError as error:
        return report_error(error)
    load_for_command()
    from keras_nmf.training.run import train

    try:
        train(config, given=given)
    except KerasNMFError as error:  # exits 3 and 4: train() already printed what survived and how to resume
        return report_error(error)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
