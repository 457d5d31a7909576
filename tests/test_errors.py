"""One error root: every error class of the package derives from KerasNMFError; the commands catch that root only."""

import importlib
import re

import pytest

from keras_nmf.errors import KerasNMFError
from tests.conftest import REPO_ROOT

ERROR_CLASS = re.compile(r"^class (\w+(?:Error|Exception))\(", re.MULTILINE)


def _error_classes():
    for path in sorted((REPO_ROOT / "keras_nmf").rglob("*.py")):
        for name in ERROR_CLASS.findall(path.read_text()):
            module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            yield module, name


@pytest.mark.parametrize("module, name", list(_error_classes()), ids=lambda value: str(value))
def test_every_error_class_derives_from_the_root(module, name):
    if module.startswith("keras_nmf.tuning"):
        pytest.importorskip("keras_tuner")
    assert issubclass(getattr(importlib.import_module(module), name), KerasNMFError)


def test_a_bug_in_a_command_keeps_its_traceback(tmp_path, monkeypatch):
    """A plain ValueError is not a usage error: compare does not print it as one."""
    from keras_nmf.cli import compare
    from keras_nmf.experiments import summary

    def broken(out):
        raise ValueError("a bug")

    monkeypatch.setattr(summary, "write_summary", broken)
    with pytest.raises(ValueError, match="a bug"):
        compare.main(["--out", str(tmp_path), "--summary-only"])
