"""The authors' networks beside ours (keras_nmf/benchmarks/reference.py): same networks, figures for both sides."""

import json

import pytest

from keras_nmf.benchmarks import reference
from tests.conftest import load_script


def test_a_folder_that_is_not_their_code_is_refused_naming_what_is_missing(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=r"tools/make_network\.py.*missing.*shared/reference/deep_nmf"):
        reference.check_reference_dir(tmp_path)
    script = load_script("scripts/bench_reference.py")
    assert script.main(["--reference-dir", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "is not a copy of the authors' code" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_their_network_and_ours_are_the_same_size_and_both_are_timed(reference_code, tmp_path, capsys):
    script = load_script("scripts/bench_reference.py")
    assert (
        script.main(
            [
                "--reference-dir",
                str(reference_code),
                "--out",
                str(tmp_path),
                "--backends",
                "tensorflow",
                "--archs",
                "cnn",
                "--batch",
                "4",
                "--repeats",
                "1",
                "--epoch-images",
                "8",
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "reference.json").read_text())
    theirs, ours = sorted(report["results"], key=lambda r: r["side"] != "theirs")
    assert theirs["framework"].startswith("PyTorch") and ours["framework"] == "keras_nmf on tensorflow"
    assert theirs["parameters"] == ours["parameters"] == 153_056  # their cnn is our cnn
    for side in (theirs, ours):
        assert side["train_step_ms"] > 0 and side["epoch_images"] == 8 and side["epoch_s"] > 0
    assert report["ratios"][0]["step_speedup"] == pytest.approx(
        ours["train_images_per_s"] / theirs["train_images_per_s"]
    )
    assert "| cnn | theirs: PyTorch" in capsys.readouterr().out
