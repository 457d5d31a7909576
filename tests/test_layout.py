"""Where things live: Keras's private modules are read in keras_nmf/backend/ only."""

import ast
import sys

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


def _keyed_on_a_network_name(tree, names):
    """The lines of ``tree`` that branch on a network's name: an equality test with one, a dict keyed by them, or a
    prefix or suffix test of a name. (Whether a name is among some (``in``) is a lookup, not a property.)"""

    def is_name(node):
        return isinstance(node, ast.Constant) and node.value in names

    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Compare)
            and all(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops)
            and any(is_name(part) for part in [node.left, *node.comparators])
        ):
            yield node.lineno
        elif isinstance(node, ast.Dict) and sum(is_name(key) for key in node.keys if key is not None) >= 2:
            yield node.lineno
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("startswith", "endswith")
            and any(isinstance(arg, ast.Constant) and arg.value in ("cnn", "cnmf", "_1x1") for arg in node.args)
        ):
            yield node.lineno


def test_no_code_outside_the_network_specs_keys_on_a_networks_name():
    from keras_nmf.architectures import ARCHITECTURES

    package = REPO_ROOT / "keras_nmf"
    keyed = sorted(
        f"{path.relative_to(package)}:{line}"
        for path in package.rglob("*.py")
        if path.name != "architectures.py"
        for line in _keyed_on_a_network_name(ast.parse(path.read_text()), set(ARCHITECTURES))
    )
    assert not keyed, f"code that branches on a network's name instead of its NetworkSpec: {keyed}"
    # The check finds what it looks for.
    assert list(
        _keyed_on_a_network_name(
            ast.parse('jit = {"cnn": 0, "cnmf": 1}[arch] or arch == "cnn_1x1"'), set(ARCHITECTURES)
        )
    ) == [1, 1]


def _imports_inside_functions(tree):
    """The top-level module names that ``tree``'s functions import, with their lines."""
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    yield from ((alias.name.split(".")[0], node.lineno) for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    yield node.module.split(".")[0], node.lineno


def test_no_function_imports_the_standard_library_or_numpy():
    """An import inside a function defers what is not always there or is slow to load: a backend, an extra, or a
    module of this package that loads Keras (a command parses its flags first). The standard library and NumPy,
    always there and quick, are imported at the top of the module. (Which package modules a function may defer is
    not checked here: that depends on whether they load Keras.)"""
    package = REPO_ROOT / "keras_nmf"
    always_there = set(sys.stdlib_module_names) | {"numpy"}
    deferred = sorted(
        f"{path.relative_to(package)}:{line} imports {module}"
        for path in package.rglob("*.py")
        for module, line in _imports_inside_functions(ast.parse(path.read_text()))
        if module in always_there
    )
    assert not deferred, f"imports inside functions of modules that are always there: {deferred}"
    assert list(_imports_inside_functions(ast.parse("def f():\n    import numpy as np\n    import os.path"))) == [
        ("numpy", 2),
        ("os", 3),
    ]
