"""keras-nmf-explain on a trained preset: its figures, scores and novelty table, and what it refuses."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_nmf.cli import explain
from keras_nmf.explain import ood
from keras_nmf.explain.figures import draw_novelty
from tests.experiments.test_plots import _check_readable
from tests.image_folders import make_image_folder

pytest.importorskip("sklearn", reason="the explain extra")
pytest.importorskip("skimage", reason="the explain extra")


def test_a_preset_explains_image_files_with_figures_and_scores(tmp_path, capsys):
    files = []
    for k, colour in enumerate([(200, 30, 30), (20, 120, 220), (240, 240, 240)]):
        files.append(tmp_path / f"picture{k}.png")
        pixels = np.random.default_rng(k).integers(0, 60, (40, 48, 3)) + np.array(colour) // 2
        Image.fromarray(pixels.astype("uint8")).save(files[-1])
    out = tmp_path / "out"
    assert explain.main(["cnmf_1x1_cifar10", "--images", *map(str, files), "--explained", "2", "--out", str(out)]) == 0
    written = {path.name for path in out.iterdir()}
    assert written == {f"parts_block{k}_cnmf.png" for k in (1, 2, 3, 4)} | {
        "explained_0.png",
        "explained_1.png",
        "scores.json",
    }
    scores = json.loads((out / "scores.json").read_text())["images"]
    assert [entry["image"] for entry in scores] == ["picture0.png", "picture1.png", "picture2.png"]
    for entry in scores:
        assert len(entry["top_classes"]) == 3 and entry["top_classes"][0]["class"] in ood_free_classes()
        assert set(entry["reconstruction_error"]) == {f"block{k}_cnmf" for k in (1, 2, 3, 4)}
        assert all(0.0 <= value <= 2.0 for value in entry["reconstruction_error"].values())
    assert "picture0.png explained" in capsys.readouterr().out


def ood_free_classes():
    return {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}


def test_the_novelty_table_scores_every_set_against_the_test_folder(tmp_path):
    data = make_image_folder(tmp_path / "data", per_class=(1, 3))
    out = tmp_path / "out"
    code = explain.main(
        [
            "cnmf_1x1_cifar10",
            "--data-dir",
            str(data),
            "--count",
            "2",
            "--novelty",
            "--ood-count",
            "6",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = json.loads((out / "novelty.json").read_text())
    assert table["in_distribution_images"] == 3 * len(list((data / "test").iterdir()))
    sets = [row["set"] for row in table["sets"]]
    assert sets[:4] == ["digits", "photos", "textures", "noise"] and "holes_0.5" in sets
    for row in table["sets"]:
        aurocs = [value for key, value in row.items() if key.startswith("auroc_")]
        assert len(aurocs) == 4 + 1 + 1 and all(0.0 <= value <= 1.0 for value in aurocs)
    assert (out / "novelty.png").stat().st_size > 0


def test_the_novelty_figure_is_readable():
    rng = np.random.default_rng(0)
    figure = draw_novelty(rng.normal(size=200), {"noise": rng.normal(1, 1, 100), "digits": rng.normal(2, 1, 50)}, "z")
    _check_readable(figure)


def test_the_bundled_sets_are_pixel_images_of_the_asked_size():
    sets = ood.out_of_distribution_sets(5, size=32, in_distribution=np.full((5, 32, 32, 3), 128.0))
    for name, images in sets.items():
        assert images.shape == (5, 32, 32, 3) and images.min() >= 0 and images.max() <= 255, name
    assert len({images.tobytes() for images in sets.values()}) == len(sets)  # each set is its own


def test_bad_invocations_are_refused_with_the_reason(tmp_path, capsys):
    with pytest.raises(SystemExit):
        explain.main(["cnmf_1x1_cifar10", "--images", "x.png", "--novelty", "--out", str(tmp_path)])
    assert "--novelty scores the test images of --data-dir" in capsys.readouterr().err
    assert explain.main(["no_such_preset", "--images", "x.png", "--out", str(tmp_path / "o")]) == 2
    assert "neither a preset nor a run directory" in capsys.readouterr().err
    assert explain.main(["cnmf_1x1_cifar10", "--images", str(tmp_path / "missing.png"), "--out", str(tmp_path)]) == 2
    assert "Image file not found" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert explain.main(["cnmf_1x1_cifar10", "--images", "x.png", "--out", str(blocker / "out")]) != 0
    assert "Cannot write to --out" in capsys.readouterr().err


def test_a_run_directory_gets_the_figures_in_its_tensorboard(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from keras_nmf.models import ImageClassifier

    run = tmp_path / "run"
    run.mkdir()
    ImageClassifier.from_preset("cnmf_1x1_cifar10").save(run / "model.keras")
    (run / "config.json").write_text("{}")  # what marks a run directory
    image = tmp_path / "picture.png"
    Image.fromarray(np.full((32, 32, 3), 120, "uint8")).save(image)
    assert explain.main([str(run), "--images", str(image), "--out", str(tmp_path / "out")]) == 0
    assert f"images under {run / 'explain'}" in capsys.readouterr().out
    events = EventAccumulator(str(run / "explain"))
    events.Reload()
    assert set(events.Tags()["images"]) == {f"explain/parts_block{k}_cnmf" for k in (1, 2, 3, 4)} | {
        "explain/explained_0"
    }
