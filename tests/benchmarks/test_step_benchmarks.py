"""The step benchmarks at a tiny size: bench_backends' step, forward and floor, and the step profile's tables."""

import keras
import pytest

from keras_nmf.benchmarks import backends, step_profile

HLO = """HloModule jit_train_step

%fused_computation.1 (param_0: f32[8,3], param_1: f32[3,2]) -> f32[8,2] {
  %param_0 = f32[8,3]{1,0} parameter(0)
  %param_1 = f32[3,2]{1,0} parameter(1)
  ROOT %dot.1 = f32[8,2]{1,0} dot(%param_0, %param_1), lhs_contracting_dims={1}, rhs_contracting_dims={0}, metadata={op_name="jit(train_step)/jvp(block1_cnmf)/while/body/dot_general"}
}

%fused_computation.2 (param_0.1: f32[8,3], param_1.1: f32[8,3]) -> f32[8,3] {
  %param_0.1 = f32[8,3]{1,0} parameter(0)
  %param_1.1 = f32[8,3]{1,0} parameter(1)
  ROOT %divide.1 = f32[8,3]{1,0} divide(%param_0.1, %param_1.1), metadata={op_name="jit(train_step)/transpose(jvp(block2_cnmf))/div"}
}

ENTRY %main (p0: f32[8,3], p1: f32[3,2]) -> f32[8,2] {
  %p0 = f32[8,3]{1,0} parameter(0)
  %p1 = f32[3,2]{1,0} parameter(1)
  %divide_fusion = f32[8,3]{1,0} fusion(%p0, %p0), kind=kLoop, calls=%fused_computation.2
  %while.3 = f32[8,2]{1,0} while(%p0), condition=%c, body=%b
  ROOT %ynn_fusion.1 = f32[8,2]{1,0} fusion(%divide_fusion, %p1), kind=kCustom, calls=%fused_computation.1
}
"""


def test_thunk_events_are_classed_by_their_hlo():
    events = [("ynn_fusion.1", 3000.0), ("divide_fusion", 1000.0), ("while.3", 5000.0), ("ThunkExecutor", 9.0)]
    rows = step_profile.profile_rows(HLO, events, steps=2)
    assert rows == [
        {"direction": "forward", "layer": "block1_cnmf", "kind": "matmul", "ms": 1.5},
        {"direction": "backward", "layer": "block2_cnmf", "kind": "elementwise", "ms": 0.5},
    ]
    table = step_profile.summary_table({"jax": rows}, ("direction",))
    assert "| forward | 1.5 |" in table and "| all | 2.0 |" in table


@pytest.mark.slow
def test_the_step_profile_of_a_tiny_step_accounts_for_the_nmf_layers(tmp_path):
    backend = keras.backend.backend()
    if backend not in step_profile.STEP_MODULE:
        pytest.skip(f"XLA's step profile is TensorFlow's and JAX's, not {backend}'s")
    rows = step_profile.run(backend, str(tmp_path), batch=2, iterations=2, steps=1)
    found = {(row["direction"], row["layer"], row["kind"]) for row in rows}
    assert ("forward", "block1_cnmf", "matmul") in found
    assert any(direction == "backward" for direction, _, _ in found)
    assert all(row["ms"] > 0 for row in rows)


@pytest.mark.slow
def test_bench_backends_reports_the_step_the_forward_and_their_ratios_to_the_floor():
    backend = keras.backend.backend()
    report = backends.run(
        backends=(backend,), archs=("cnmf_1x1",), progress=lambda *_: None, batch=2, iterations=2, repeats=1
    )
    figures = report["backends"][backend]["results"][0]
    assert figures["forward_ms"] > 0 and figures["train_step_ms"] > 0
    assert figures["forward_vs_iteration_matmuls"] == pytest.approx(
        figures["forward_ms"] / figures["iteration_matmuls_ms"]
    )
    assert "| forward / matmuls |" in backends.table(report).splitlines()[0]


def test_small_groups_are_summed_into_one_line():
    rows = {
        "jax": [
            {"direction": "forward", "ms": 5.0},
            {"direction": "backward", "ms": 0.25},
            {"direction": "optimizer", "ms": 0.5},
        ]
    }
    table = step_profile.summary_table(rows, ("direction",), min_ms=1.0)
    assert "| forward | 5.0 |" in table and "| the rest (each under 1 ms) | 0.8 |" in table
    assert "| all | 5.8 |" in table
