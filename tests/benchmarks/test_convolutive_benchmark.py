"""The convolutive-layer benchmark times both layers on every block it is given and reports their ratio."""

from keras_nmf.benchmarks import convolutive


def test_both_layers_are_timed_side_by_side():
    figures = convolutive.run(blocks=(("tiny", (8, 8, 3), 3, 4),), batch=4, iterations=2, repeats=1)
    row = figures["tiny"]
    for layer in ("cnmf2d", "convolutive"):
        assert row[layer]["train_step_ms"] > 0 and row[layer]["forward_ms"] > 0
    assert row["ratio_train"] == row["convolutive"]["train_step_ms"] / row["cnmf2d"]["train_step_ms"]
