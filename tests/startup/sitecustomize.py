"""Test processes leave out the imports of three libraries that TensorFlow and Keras make when they are imported
and that no test uses.

Where JAX, scikit-learn and matplotlib are installed, as in the development environment, ``import tensorflow``
imports all three: JAX for tf.lite's JAX converter and Keras's Orbax checkpoint callback, scikit-learn for Keras's
scikit-learn wrappers, and matplotlib for Keras's image galleries. Leaving them out, ``import tensorflow, keras``
took 3.3 instead of 5.3 CPU-seconds on the 2-core reference machine beside a training on its other core (4.3 instead
of 7.4 with a test suite running beside as well), in each of the test suite's TensorFlow processes. Each of these
imports is wrapped in ``try``/``except ImportError`` in the module that makes it, which then leaves its feature off.
keras_nmf uses none of these features.

Only these importing modules are refused. keras_nmf's own plots, the explain command and the JAX backend import
the same libraries as usual.

Python imports this module at the start of every process whose path holds this folder. tests/conftest.py puts it
on PYTHONPATH, so the scripts and commands that the tests start have it too.
"""

import sys

#: A library, and the modules whose import of it is refused.
DEFERRED = {
    "jax": {"tensorflow.lite.python.util", "keras.src.callbacks.orbax_checkpoint"},
    "sklearn": {"keras.src.wrappers.fixes", "keras.src.wrappers.sklearn_wrapper", "keras.src.wrappers.utils"},
    "matplotlib": {"keras.src.visualization.plot_image_gallery", "keras.src.visualization.plot_bounding_box_gallery"},
}


def _importing_module():
    """The ``__name__`` of the module whose import statement is running (the first frame outside importlib)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
        frame = frame.f_back
    return None if frame is None else frame.f_globals.get("__name__")


class UnusedImportRefuser:
    """A meta-path finder that refuses ``DEFERRED``'s imports from their listed importers and finds nothing else."""

    def find_spec(self, name, path=None, target=None):
        importers = DEFERRED.get(name)
        if importers:  # (only then the frames are looked at: this runs for every import of the process)
            importer = _importing_module()
            if importer in importers:
                raise ImportError(f"{name} is left out of test processes when {importer} imports it")
        return None


# (By its class's name: tests/conftest.py runs this file again in a process that may have imported it already.)
if not any(type(finder).__name__ == UnusedImportRefuser.__name__ for finder in sys.meta_path):
    sys.meta_path.insert(0, UnusedImportRefuser())
