"""Where things live: Keras's private modules are read in keras_nmf/backend/ only."""

from tests.conftest import REPO_ROOT


def test_no_private_keras_module_outside_the_backend_package():
    package = REPO_ROOT / "keras_nmf"
    readers = sorted(str(path.relative_to(package)) for path in package.rglob("*.py")
                     if "keras.src" in path.read_text() and path.parent.name != "backend")
    assert not readers, f"keras.src is read outside keras_nmf/backend/: {readers}"
