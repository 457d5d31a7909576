"""``DataError``: in a module of its own, importable without TensorFlow."""


class DataError(ValueError):
    """A data set that cannot be used as given; the message says how to fix it."""
