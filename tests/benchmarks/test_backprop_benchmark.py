"""bench_backprop --quick writes valid JSON and a PNG (nothing timed is asserted)."""

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_quick_mode_writes_json_and_png(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "bench_backprop.py"), "--quick",
         "--archs", "cnn", "--out", str(tmp_path)],  # the NMF layers are timed in the figure-1 part
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "backprop.json").read_text())
    assert set(report["architectures"]) == {"cnn"}
    assert {(e["method"], e["iterations"]) for e in report["figure1"]} == {("approx", 4), ("autodiff", 4)}
    for entry in report["architectures"].values():
        assert entry["train_step_ms"] > 0 and entry["peak_train_memory_mib"] > 0
    assert (tmp_path / "figure1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
