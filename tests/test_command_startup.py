"""The commands parse their arguments before Keras and a backend are imported, so --help and usage errors come back
at once; `import keras_nmf` anywhere else still loads and registers everything."""

import json
import subprocess
import sys

import pytest

import keras_nmf
from keras_nmf.commands import PARSE_FIRST
from tests.conftest import REPO_ROOT

HEAVY = ("keras", "tensorflow", "jax", "torch")

#: Each command, and a usage error of it.
USAGE_ERRORS = {"train": ["--epoch", "1"], "evaluate": [], "compare": ["--archs", "vgg"], "budget": ["--budgets", "1"],
                "robustness": ["--steps", "1", "--out", "x", "m.keras"], "gradient_fidelity": ["--batch-size", "0"],
                "search": ["--val-split", "0"], "report": [],
                "pack_images": ["one"]}


def _modules_after(command, arguments):
    """The exit code of ``keras-nmf-<command> ARGUMENTS`` and the heavy modules imported by then."""
    program = f"""
import json, sys
sys.argv = ["/env/bin/keras-nmf-{command.replace('_', '-')}"]
from keras_nmf.cli.{command} import main
try:
    code = main({arguments!r})
except SystemExit as stop:
    code = stop.code
print(json.dumps({{"code": code, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})}}))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                            cwd=REPO_ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", PARSE_FIRST)
def test_help_and_a_usage_error_import_no_backend(command):
    if command == "search":
        pytest.importorskip("keras_tuner")  # the sweeps' extra
    for arguments in (["--help"], USAGE_ERRORS[command]):
        outcome = _modules_after(command, arguments)
        assert outcome == {"code": 0 if arguments == ["--help"] else 2, "heavy": []}, (arguments, outcome)


@pytest.mark.parametrize("argv0, command", [
    ("/env/bin/keras-nmf-train", True), ("/env/bin/keras-nmf-pack-images", True),
    (str(REPO_ROOT / "scripts" / "train.py"), True),
    ("train.py", False),  # a user's own script of that name imports the package as usual
    (str(REPO_ROOT / "scripts" / "bench_layer.py"), False), ("-m", False), ("", False), ("-c", False)])
def test_only_the_packages_commands_defer_loading(argv0, command, monkeypatch):
    monkeypatch.setattr(sys, "argv", [argv0])
    assert keras_nmf._a_command_is_starting() is command


def test_a_plain_import_loads_and_registers_everything():
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv = ['my_script.py']; import keras_nmf, keras; "
         "print(keras.saving.get_registered_object('keras_nmf>PaperAugmentation') is not None)"],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.stdout.strip().splitlines()[-1] == "True", result.stderr[-2000:]
