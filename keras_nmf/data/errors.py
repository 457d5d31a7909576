"""``DataError`` (defined in :mod:`keras_nmf.errors`), where the data modules and their users import it."""

from keras_nmf.errors import DataError  # noqa: F401
