"""The variants benchmark: every variant's network takes timed steps, with its overrides, beside the first."""

import pytest

from keras_nmf.benchmarks import variants as benchmark
from keras_nmf.errors import ConfigError
from keras_nmf.experiments.variants import BASE_VARIANT, parse_variant


def test_each_variant_builds_its_own_network_and_is_timed_beside_the_first(monkeypatch):
    from keras_nmf.training import recipe

    built = []

    original = recipe.build_compiled_model

    def recording(config, *args, **kwargs):
        built.append(config.model.iterations)
        return original(config, *args, **kwargs)

    monkeypatch.setattr(recipe, "build_compiled_model", recording)
    rows = benchmark.variant_step_times(
        "cnmf", [BASE_VARIANT, parse_variant("n3:iterations=3")], batch_size=2, repeats=1
    )
    assert built == [20, 3]  # the override reached the network
    assert [(row["variant"], row["overrides"]) for row in rows] == [("base", "as given"), ("n3", "iterations=3")]
    assert rows[0]["ratio"] == 1.0 and all(row["step_ms"] > 0 and row["compile_s"] > 0 for row in rows)
    assert "| n3 | iterations=3 |" in benchmark.markdown_table(rows)


def test_a_refused_variant_stops_before_any_network_is_built(monkeypatch):
    from keras_nmf.training import recipe

    monkeypatch.setattr(recipe, "build_compiled_model", lambda *args, **kwargs: pytest.fail("built a network"))
    with pytest.raises(ConfigError, match="autodiff"):
        benchmark.variant_step_times("cnmf_1x1", [parse_variant("bad:backward=autodiff,tolerance=1e-3")])
