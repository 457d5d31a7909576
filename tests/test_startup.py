"""tests/startup/sitecustomize.py: test processes leave out the listed imports, and only those."""

import importlib.util
import pathlib
import re

import pytest

from tests.startup import sitecustomize


def _find_spec_from(importer, name):
    """The refuser's answer to ``import name`` written in the module named ``importer``."""
    namespace = {"__name__": importer, "finder": sitecustomize.UnusedImportRefuser(), "name": name}
    exec("spec = finder.find_spec(name)", namespace)
    return namespace["spec"]


def test_a_listed_importer_is_refused_its_library_and_every_other_import_is_left_to_python():
    message = "jax is left out of test processes when tensorflow.lite.python.util imports it"
    with pytest.raises(ImportError, match=re.escape(message)):
        _find_spec_from("tensorflow.lite.python.util", "jax")
    assert _find_spec_from("keras_nmf.ops.backend", "jax") is None  # the package's own imports: Python finds them
    assert _find_spec_from("tensorflow.lite.python.util", "numpy") is None
    # Only a top-level name is listed: ``import matplotlib.pyplot`` is refused at its first step, ``matplotlib``.
    assert _find_spec_from("keras.src.visualization.plot_image_gallery", "matplotlib.pyplot") is None


@pytest.mark.parametrize(
    "library, importer",
    [(library, importer) for library, importers in sitecustomize.DEFERRED.items() for importer in sorted(importers)],
)
def test_each_listed_importer_exists_and_imports_its_library(library, importer):
    """A new TensorFlow or Keras that moves one of these imports fails here, not silently slows the suite."""
    package = importer.split(".")[0]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed here")
    spec = importlib.util.find_spec(importer)
    assert spec is not None, f"{importer} no longer exists"
    source = pathlib.Path(spec.origin).read_text()
    assert re.search(rf"^\s*(import|from) {library}\b", source, re.MULTILINE), f"{importer} imports no {library}"
