"""scripts/bench_iterations.py: one row per N, the loop above the unroll limit, the unrolled side by side."""

from keras_nmf.benchmarks.iterations import iteration_timings, markdown_table, nmf_module


def test_rows_say_which_side_of_the_switch_ran(monkeypatch):
    monkeypatch.setattr(nmf_module, "UNROLL_LIMIT", 3)  # the same switch at a small N: four unrolled steps, not 51
    n = nmf_module.UNROLL_LIMIT + 1
    rows = iteration_timings(iterations=(2, n), batch_size=2, jit=False, repeats=1, unrolled=(n,), tolerance=0.5)
    assert [(row["iterations"], row["loop"], row["tolerance"]) for row in rows] == [
        (2, False, None),
        (n, True, None),
        (n, False, None),
        (2, False, 0.5),
        (n, True, 0.5),
    ]
    assert all(row["compile_s"] > 0 and row["step_ms"] > 0 for row in rows)
    table = markdown_table(rows)
    assert "| fori_loop |" in table and "| unrolled |" in table and "| while_loop, tolerance 0.5 |" in table
