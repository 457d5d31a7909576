"""The examples run and do what they say."""

from tests.conftest import load_script


def _example(name):
    return load_script(f"examples/{name}.py")


def test_the_cnmf_autoencoder_learns_to_reconstruct():
    before, after = _example("cnmf_autoencoder").main(
        ["--images", "200", "--epochs", "10", "--filters", "8", "--iterations", "4"]
    )
    assert after < 0.8 * before  # measured: 0.064 -> 0.037
