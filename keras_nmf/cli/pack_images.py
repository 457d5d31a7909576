"""Packs an image folder into one file that ``--data-dir`` reads like the folder (keras_nmf/data/image_pack.py).

Examples:
    keras-nmf-pack-images ../shared/data/cifar10-jpeg device_data/cifar10-jpeg.npz
    keras-nmf-train --arch cnmf_1x1 --data-dir device_data/cifar10-jpeg.npz

The images are stored as their files' own bytes (JPEG stays JPEG), so training on the
pack decodes exactly the arrays of the folder. The pack is written atomically.
"""

import argparse
import sys

from keras_nmf.commands import report_error
from keras_nmf.errors import KerasNMFError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="the image folder: FOLDER/train/<class>/*, FOLDER/test/<class>/*")
    parser.add_argument("pack", help="the pack file to write (FILE.npz)")
    args = parser.parse_args(argv)  # before the data package (and Keras) loads: --help returns at once
    from keras_nmf.data.image_pack import pack_image_folder

    try:
        counts = pack_image_folder(args.folder, args.pack)
    except KerasNMFError as error:
        return report_error(error)
    print(
        f"wrote {args.pack}: {counts['train']} train and {counts['test']} test images, "
        f"{counts['bytes'] / 2**20:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
