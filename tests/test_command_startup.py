"""The commands parse their arguments before Keras and a backend are imported, so --help and usage errors come back
at once; `import keras_nmf` anywhere else still loads and registers everything (tested in the fresh process of
tests/test_quiet_import.py, which checks that such an import writes nothing)."""

import json
import subprocess
import sys

import pytest

import keras_nmf
from keras_nmf.commands import PARSE_FIRST
from tests.conftest import REPO_ROOT

HEAVY = ("keras", "tensorflow", "jax", "torch")

#: Each command, and a usage error of it.
USAGE_ERRORS = {
    "train": ["--epoch", "1"],
    "evaluate": [],
    "compare": ["--archs", "vgg"],
    "budget": ["--budgets", "1"],
    "robustness": ["--steps", "1", "--out", "x", "m.keras"],
    "gradient_fidelity": ["--batch-size", "0"],
    "search": ["--val-split", "0"],
    "report": [],
    "pack_images": ["one"],
    "explain": ["cnmf_1x1_cifar10"],
}


def _modules_after(command, arguments):
    """The exit code of ``keras-nmf-<command> ARGUMENTS`` and the heavy modules imported by then."""
    program = f"""
import json, sys
sys.argv = ["/env/bin/keras-nmf-{command.replace("_", "-")}"]
from keras_nmf.cli.{command} import main
try:
    code = main({arguments!r})
except SystemExit as stop:
    code = stop.code
print(json.dumps({{"code": code, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})}}))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", PARSE_FIRST)
def test_help_and_a_usage_error_import_no_backend(command):
    if command == "search":
        pytest.importorskip("keras_tuner")  # the sweeps' extra
    for arguments in (["--help"], USAGE_ERRORS[command]):
        outcome = _modules_after(command, arguments)
        assert outcome == {"code": 0 if arguments == ["--help"] else 2, "heavy": []}, (arguments, outcome)


@pytest.mark.parametrize(
    "argv0, command",
    [
        ("/env/bin/keras-nmf-train", True),
        ("/env/bin/keras-nmf-pack-images", True),
        (str(REPO_ROOT / "scripts" / "train.py"), True),
        ("train.py", False),  # a user's own script of that name imports the package as usual
        (str(REPO_ROOT / "scripts" / "bench_layer.py"), False),
        ("-m", False),
        ("", False),
        ("-c", False),
    ],
)
def test_only_the_packages_commands_defer_loading(argv0, command, monkeypatch):
    monkeypatch.setattr(sys, "argv", [argv0])
    assert keras_nmf._a_command_is_starting() is command


@pytest.mark.parametrize(
    "orig_argv, command",
    [
        (["python", "-m", "keras_nmf.cli.train", "--help"], True),
        (["python", "-m", "keras_nmf.cli.report"], True),
        (["python", "-m", "keras_nmf.cli.bogus"], False),
        (["python", "-m", "pytest"], False),
        (["python", "-m"], False),
    ],
)
def test_python_dash_m_of_a_command_defers_loading_too(orig_argv, command, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["-m"])
    monkeypatch.setattr(sys, "orig_argv", orig_argv)
    assert keras_nmf._a_command_is_starting() is command


@pytest.mark.parametrize("command", ["train", "evaluate", "report"])
def test_python_dash_m_help_imports_no_backend(command):
    """``python -m keras_nmf.cli.<name> --help`` (documented) is as light as the console command."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", f"keras_nmf.cli.{command}", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0 and "usage:" in result.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def _train_refusal(arguments):
    program = f"""
import json, sys
sys.argv = ["/env/bin/keras-nmf-train"]
from keras_nmf.cli.train import main
code = main({arguments!r})
print(json.dumps({{"code": code, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})}}))
"""
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    from tests.image_folders import make_image_folder

    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(3, 2))


@pytest.mark.parametrize(
    "arguments, message",
    [
        (lambda d, f: ["--data-dir", str(f)], "is a file, not a folder"),
        (lambda d, f: ["--data-dir", str(d / "absent")], "Data directory not found"),
        (lambda d, f: ["--data-dir", str(d), "--crop-size", "40"], "A crop size of 40 does not fit"),
        (lambda d, f: ["--data-dir", str(d), "--limit-train", "1000000000"], "is not between 1 and the"),
        (lambda d, f: ["--data-dir", str(d), "--logdir", str(f / "run")], "is a file, not a folder"),
        (lambda d, f: ["--data-dir", str(d), "--logdir", "/proc/keras_nmf_run"], "/proc is not a writable folder"),
    ],
)
def test_checks_that_need_no_backend_come_before_it(small_folder, tmp_path, arguments, message):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    outcome, stderr = _train_refusal(arguments(small_folder, a_file))
    assert outcome == {"code": 2, "heavy": []} and message in stderr, (outcome, stderr[-1000:])


def _run_program(program, **environment):
    import os

    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        env={**os.environ, **environment},
    )
    return result


def test_a_backend_that_is_not_installed_is_one_line_and_exit_2(small_folder, tmp_path):
    program = f"""
import sys
sys.modules["jax"] = None  # as where JAX is not installed
sys.argv = ["/env/bin/keras-nmf-train"]
from keras_nmf.cli.train import main
try:
    main(["--data-dir", {str(small_folder)!r}, "--logdir", {str(tmp_path / "run")!r}])
except SystemExit as stop:
    print("exit", stop.code)
"""
    result = _run_program(program, KERAS_BACKEND="jax")
    assert result.stdout.strip().splitlines()[-1] == "exit 2", result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: Keras's backend is jax, which is not installed here")
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


def test_search_help_works_without_kerastuner_and_a_search_says_what_to_install(tmp_path):
    program = f"""
import importlib.util, sys
found = importlib.util.find_spec
importlib.util.find_spec = lambda name, *rest: None if name == "keras_tuner" else found(name, *rest)
sys.argv = ["/env/bin/keras-nmf-search"]
from keras_nmf.cli.search import main
for arguments in (["--help"], ["--directory", {str(tmp_path)!r}]):
    try:
        code = main(arguments)
    except SystemExit as stop:
        code = stop.code
    print("exit", code)
print("heavy", sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}))
"""
    result = _run_program(program)
    assert [line for line in result.stdout.splitlines() if line.startswith("exit")] == ["exit 0", "exit 2"]
    assert "usage:" in result.stdout and "pip install keras-tuner" in result.stderr
    assert "Traceback" not in result.stderr
    assert "heavy []" in result.stdout  # the missing extra is found before a backend loads
