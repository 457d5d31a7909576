"""The examples run and do what they say."""

import importlib.util

from tests.conftest import REPO_ROOT


def _example(name):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cnmf_autoencoder_learns_to_reconstruct():
    before, after = _example("cnmf_autoencoder").main(["--images", "200", "--epochs", "10", "--filters", "8",
                                                       "--iterations", "4"])
    assert after < 0.8 * before  # measured: 0.064 -> 0.037
