"""Where things live: Keras's private modules are read in keras_nmf/backend/ only."""

from tests.conftest import REPO_ROOT


def test_no_private_keras_module_outside_the_backend_package():
    package = REPO_ROOT / "keras_nmf"
    readers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "keras.src" in path.read_text() and path.parent.name != "backend"
    )
    assert not readers, f"keras.src is read outside keras_nmf/backend/: {readers}"


#: The rooms below training: the ops, the layers built on them, the networks, the data, and the backend shims.
LOWER_ROOMS = ("ops", "layers", "models", "data", "backend")
#: The rooms that use them: training and what drives it.
UPPER_ROOMS = ("training", "experiments", "tuning", "cli", "benchmarks")


def _imported_modules(path):
    import ast

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_no_lower_room_imports_training_or_what_drives_it():
    package = REPO_ROOT / "keras_nmf"
    upward = sorted(
        f"{path.relative_to(package)} imports {module}"
        for room in LOWER_ROOMS
        for path in (package / room).rglob("*.py")
        for module in _imported_modules(path)
        if any(module == f"keras_nmf.{upper}" or module.startswith(f"keras_nmf.{upper}.") for upper in UPPER_ROOMS)
    )
    assert not upward, f"imports that run back up: {upward}"
