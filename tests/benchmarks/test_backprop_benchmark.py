"""bench_backprop --quick writes valid JSON and a PNG (nothing timed is asserted).

The script's main() runs in this process; each configuration it measures runs in a subprocess of its own, as
in a real run (memory figures need a fresh process).
"""

import json

import pytest

from tests.conftest import load_script


def test_quick_mode_writes_json_and_png(tmp_path, capsys):
    # The NMF layers are timed in the figure-1 part.
    # --repeats takes effect in the quick mode too (it used to be ignored there).
    load_script("scripts/bench_backprop.py").main(
        ["--quick", "--repeats", "1", "--archs", "cnn", "--out", str(tmp_path)]
    )
    assert "wrote" in capsys.readouterr().out
    report = json.loads((tmp_path / "backprop.json").read_text())
    assert set(report["architectures"]) == {"cnn"} and report["method"]["repeats"] == 1
    assert {(e["method"], e["iterations"]) for e in report["figure1"]} == {("approx", 4), ("autodiff", 4)}
    for entry in report["architectures"].values():
        assert entry["train_step_ms"] > 0 and entry["peak_train_memory_mib"] > 0
    assert (tmp_path / "figure1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_repeat_count_under_one_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        load_script("scripts/bench_backprop.py").main(["--quick", "--repeats", "0", "--out", str(tmp_path / "out")])
    assert (
        stop.value.code == 2 and "argument --repeats: must be an integer >= 1. Received: 0" in capsys.readouterr().err
    )
    assert not (tmp_path / "out").exists()
