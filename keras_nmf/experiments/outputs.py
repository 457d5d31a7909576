"""Output folders of the experiment scripts: created and checked writable before any work."""

import os
import pathlib
import tempfile

from keras_nmf.errors import OutputLocationError


def prepare_output_dir(path, flag="--out"):
    """Creates ``path`` (and its parents) and checks that files can be written there.

    Called first, so that a mistyped or read-only ``--out`` fails at once
    rather than after hours of training or evaluation.

    Args:
        flag: the command-line flag that named ``path``, for the message.

    Raises:
        PermissionError: naming the folder and the fix.
    """
    folder = pathlib.Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        raise OutputLocationError(
            f"Cannot write to the output folder {folder}: {error.strerror or error}. "
            f"Pass {flag} DIR in a writable place."
        ) from None
    if not os.access(folder, os.W_OK):
        raise OutputLocationError(f"Cannot write to the output folder {folder}. Pass {flag} DIR in a writable place.")
    return folder
