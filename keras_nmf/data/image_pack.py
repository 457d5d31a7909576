"""An image-folder tree in one file: the encoded images' own bytes, their labels and names (a *pack*).

A pack is what travels to a machine that cannot see the folder (the lent GPU host
takes one carried tree of at most 64 MiB; CIFAR-10's 60,000 JPEGs are 55 MB of
bytes but 60,000 files). It is an uncompressed NumPy ``.npz`` archive holding, per
split, every file's bytes concatenated (``<split>_bytes``), where each file starts
and ends (``<split>_offsets``, N + 1 entries), its label (``<split>_labels``) and
its path below the split (``<split>_names``, UTF-8 bytes: 1 MB for CIFAR-10, where
NumPy's text arrays would take 4.5), and the class names (``classes``).

The files are stored as they are, not decoded, so a pack gives exactly the arrays
of its folder: :func:`keras_nmf.data.image_folder.load_image_folder` and
:func:`~keras_nmf.data.image_folder.image_folder_shape` accept either, and decode
both with the same Pillow code.
"""

import dataclasses
import io
import pathlib
import zipfile

import numpy as np

from keras_nmf.data.errors import DataError
from keras_nmf.files import atomic_save

#: The file name ending that marks a pack (``data_dir`` names a pack file or an image folder).
PACK_SUFFIX = ".npz"
#: Written into every pack, checked on reading: a pack of another layout is refused, not misread.
PACK_FORMAT = "keras_nmf image pack, version 1"
SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True)
class PackedImage:
    """One encoded image file inside a pack: its bytes, and ``pack:split/class/name`` for messages."""

    name: str
    data: memoryview

    def __str__(self):
        return self.name

    def open(self):
        """The bytes as a binary file for ``PIL.Image.open``."""
        return io.BytesIO(self.data)


def is_image_pack(path):
    """True if ``path`` names a pack file (by its ending) rather than an image folder."""
    return str(path).endswith(PACK_SUFFIX)


def _split_arrays(root, split):
    """The four arrays of one split of the folder ``root`` (listed as the folder loader lists it)."""
    from keras_nmf.data.image_folder import list_image_folder

    paths, labels, classes = list_image_folder(root, split)
    blobs = [pathlib.Path(path).read_bytes() for path in paths]
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(blob) for blob in blobs])
    names = np.array([str(pathlib.Path(path).relative_to(pathlib.Path(root) / split)).encode() for path in paths])
    return {
        f"{split}_bytes": np.frombuffer(b"".join(blobs), np.uint8),
        f"{split}_offsets": offsets,
        f"{split}_labels": labels,
        f"{split}_names": names,
    }, classes


def pack_image_folder(root, pack_path):
    """Writes the folder ``root`` (``root/train/<class>/*``, ``root/test/<class>/*``) as one pack file.

    The write is atomic: a kill or a full disk leaves no partial pack. Returns
    ``{"train": N, "test": M, "bytes": size of the pack}``.

    Raises:
        DataError: ``pack_path`` does not end in ``.npz``, or the folder is not an image folder
            (the folder loader's own checks).
    """
    if not is_image_pack(pack_path):
        raise DataError(f"A pack file's name must end in {PACK_SUFFIX}: got {pack_path}.")
    arrays, classes = _split_arrays(root, "train")
    test_arrays, test_classes = _split_arrays(root, "test")
    if test_classes != classes:
        raise DataError(
            f"The classes of {root}/test ({', '.join(test_classes)}) differ from those of train/ "
            f"({', '.join(classes)})."
        )
    arrays.update(test_arrays, classes=np.array(classes), format=np.array(PACK_FORMAT))
    atomic_save(pathlib.Path(pack_path), lambda temporary: np.savez(temporary, **arrays))
    return {
        "train": len(arrays["train_labels"]),
        "test": len(arrays["test_labels"]),
        "bytes": pathlib.Path(pack_path).stat().st_size,
    }


def _read_pack(pack_path):
    """The pack's arrays, checked; a missing, truncated or foreign file is a :class:`DataError` naming it."""
    repack = f"Make it again with keras-nmf-pack-images IMAGE_FOLDER {pack_path}."
    if not pathlib.Path(pack_path).is_file():
        raise DataError(
            f"Image pack not found: {pack_path}. Pass data_dir=an image folder or a pack file "
            f"(--data-dir), or make the pack with keras-nmf-pack-images IMAGE_FOLDER {pack_path}."
        )
    try:
        with np.load(pack_path, allow_pickle=False) as archive:
            if "format" not in archive.files or str(archive["format"]) != PACK_FORMAT:
                raise DataError(f"{pack_path} is not a keras_nmf image pack ({PACK_FORMAT}). {repack}")
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"Cannot read the image pack {pack_path}: {str(error).splitlines()[0]}. {repack}") from None
    for split in SPLITS:
        offsets, data = arrays.get(f"{split}_offsets"), arrays.get(f"{split}_bytes")
        if offsets is None or data is None or offsets[-1] != data.size or np.any(np.diff(offsets) < 0):
            raise DataError(
                f"The image pack {pack_path} is damaged (its {split} offsets do not match its bytes). {repack}"
            )
    return arrays


def list_image_pack(pack_path, split, class_names=None):
    """The images and integer labels of one split of a pack, like :func:`~keras_nmf.data.image_folder.list_image_folder`.

    Returns:
        (list of :class:`PackedImage`, int64 labels, class names).

    Raises:
        DataError: the pack cannot be read, or its classes differ from ``class_names``.
    """
    arrays = _read_pack(pack_path)
    classes = [str(name) for name in arrays["classes"]]
    if class_names is not None and classes != list(class_names):
        raise DataError(f"The classes of {pack_path} ({', '.join(classes)}) differ from {', '.join(class_names)}.")
    data, offsets = memoryview(arrays[f"{split}_bytes"]), arrays[f"{split}_offsets"]
    images = [
        PackedImage(f"{pack_path}:{split}/{name.decode()}", data[start:end])
        for name, start, end in zip(arrays[f"{split}_names"], offsets[:-1], offsets[1:])
    ]
    return images, arrays[f"{split}_labels"].astype(np.int64), classes
