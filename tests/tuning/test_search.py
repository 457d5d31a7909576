"""tuning/search.py distributed on loopback (a chief and two workers), then the report (tuning/report.py) on it."""

import csv
import os
import subprocess
import sys

import grpc
import pytest

from tests.conftest import REPO_ROOT
from tests.image_folders import make_image_folder
from tests.ports import free_ports
from keras_nmf.cli import report, search

#: The script a user runs (the multi-process test runs it as they would; the other tests call its main()).
SEARCH = str(REPO_ROOT / "tuning" / "search.py")


def _run_chief_and_two_workers(argv):
    port = str(free_ports(1)[0])
    processes = {}
    for tuner_id in ("chief", "tuner0", "tuner1"):
        env = {
            **os.environ,
            "KERASTUNER_TUNER_ID": tuner_id,
            "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": port,
        }
        processes[tuner_id] = subprocess.Popen(
            argv, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    outputs = {}
    try:
        for tuner_id, process in processes.items():
            outputs[tuner_id] = process.communicate(timeout=600)[0]
    finally:
        for process in processes.values():
            process.kill()
    assert all(p.returncode == 0 for p in processes.values()), {k: v[-2000:] for k, v in outputs.items()}
    return outputs


@pytest.mark.slow
def test_chief_and_two_workers_complete_the_grid_restart_trains_nothing_and_the_report_reads_it(
    tmp_path, capsys, monkeypatch
):
    images = make_image_folder(tmp_path / "images", per_class=(8, 2))
    directory = tmp_path / "sweep"
    # The cnn arch: the distributed machinery is the same for every arch, and a cnn trial compiles in seconds.
    flags = [
        "--arch",
        "cnn",
        "--data-dir",
        str(images),
        "--directory",
        str(directory),
        "--widths",
        "1",
        "--conv-groups",
        "1",
        "2",
        "4",
        "8",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "4",
        "--bn-recalibration-batches",
        "1",
        "--no-jit",
        "--verbose",
        "0",
    ]
    _run_chief_and_two_workers([sys.executable, SEARCH, *flags])
    records = sorted(directory.glob("*/trial_*/*.json"))
    before = {path: path.read_bytes() for path in records}

    # Restarted on the finished search: nothing is trained, nothing rewritten. Each role reads the records before it
    # contacts anyone, so each restarts here in process, the chief and then a worker (nobody listens on the port).
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(free_ports(1)[0]))
    again = {}
    for tuner_id in ("chief", "tuner0"):
        monkeypatch.setenv("KERASTUNER_TUNER_ID", tuner_id)
        assert search.main(flags) == 0
        again[tuner_id] = capsys.readouterr().out
    assert sorted(directory.glob("*/trial_*/*.json")) == records, again
    assert {path: path.read_bytes() for path in records} == before
    assert not any("Epoch 1/1" in text for text in again.values()), again
    assert all("is finished: nothing to train" in text for text in again.values()), again

    assert report.main([str(directory)]) == 0
    assert "Pareto front" in capsys.readouterr().out and (directory / "figure6.png").stat().st_size > 0
    with open(directory / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {row["status"] for row in rows} == {"COMPLETED"}
    assert {row["conv_groups"] for row in rows} == {"1", "2", "4", "8"}
    assert {row["worker"] for row in rows} == {"tuner0", "tuner1"}  # both workers trained, the chief none
    for row in rows:
        assert int(row["parameters_total"]) == int(row["parameters_nmf"]) + int(row["parameters_cnn"])
        assert 0.0 <= float(row["test_accuracy"]) <= 1.0 and row["epochs"] == "1"


def test_report_without_a_search_is_a_clear_error(tmp_path, capsys):
    assert report.main([str(tmp_path)]) == 2 and "No KerasTuner search" in capsys.readouterr().err


def test_bad_group_choice_is_a_clear_error(tmp_path, capsys):
    images = make_image_folder(tmp_path / "images", per_class=(4, 1))
    assert search.main(["--data-dir", str(images), "--nmf-groups", "3", "--dry-run"]) == 2
    assert "Received: nmf_groups=3" in capsys.readouterr().err


def test_a_dry_run_lists_each_variant_its_size_and_cost_and_trains_nothing(tmp_path, capsys):
    images = make_image_folder(tmp_path / "images", per_class=(4, 1))
    flags = ["--data-dir", str(images), "--arch", "cnmf_1x1", "--iterations", "2", "--batch-size", "4"]
    variants = ["--widths", "1", "--nmf-groups", "1", "--conv-groups", "1", "2"]
    sweeps = tmp_path / "sweeps"
    assert search.main([*flags, *variants, "--directory", str(sweeps), "--dry-run"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    header = lines.index(next(line for line in lines if line.split()[:3] == ["width", "nmf_g", "conv_g"]))
    rows = [line.split() for line in lines[header + 1 : header + 3]]
    assert [row[:3] for row in rows] == [["1", "1", "1"], ["1", "1", "2"]]
    counts = [[int(value.replace(",", "")) for value in row[3:6]] for row in rows]  # total, NMF, CNN
    assert counts[0][0] > counts[1][0] > 0  # grouped 1x1 convolutions: fewer parameters
    assert all(total == nmf + cnn for total, nmf, cnn in counts)
    assert lines[header + 3].startswith("2 variants: ~") and "min per epoch" in lines[header + 3]
    assert not sweeps.exists()  # nothing trained, no search directory


class _ChiefGone(grpc.RpcError):
    def code(self):
        return grpc.StatusCode.UNAVAILABLE


class _WorkerTuner:
    def search(self, *args, **kwargs):
        raise _ChiefGone()


@pytest.mark.parametrize(
    "finished, status, message",
    [
        (True, 0, "closed the finished search"),
        (False, 1, "lost the chief oracle at 127.0.0.1:8000 (UNAVAILABLE)"),
    ],
)
def test_a_worker_that_loses_the_chief_ends_cleanly_or_says_how_to_resume(
    finished, status, message, monkeypatch, capsys
):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setattr(search, "search_finished", lambda *args: finished)
    assert search.run_search(_WorkerTuner(), "sweep/cnmf_1x1", [], None) == status
    captured = capsys.readouterr()
    assert message in captured.out + captured.err
    if not finished:
        assert "Restart the chief, then this worker" in captured.err


def test_a_directory_that_cannot_hold_the_search_is_refused_before_any_data_loads(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(SystemExit) as exit_info:
        search.parse_args(["--data-dir", str(tmp_path / "no-data"), "--directory", str(a_file)])
    assert exit_info.value.code == 2 and "Pass --directory DIR in a writable place" in capsys.readouterr().err


def test_a_worker_gives_up_on_a_silent_chief_after_the_chief_timeout(monkeypatch):
    """KerasTuner's client would wait an hour per request for a chief that stopped answering."""
    import time

    import grpc
    from keras_tuner.src.distribute import oracle_client

    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(free_ports(1)[0]))  # nothing answers there
    monkeypatch.setattr(oracle_client, "TIMEOUT", oracle_client.TIMEOUT)  # restored after the test
    search.limit_chief_wait(1.5)
    client = oracle_client.OracleClient(oracle=None)
    start = time.perf_counter()
    with pytest.raises(grpc.RpcError) as raised:
        client.get_space()
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 1.0 < time.perf_counter() - start < 30


def test_a_truncated_trial_record_is_named_before_any_data_loads(tmp_path, capsys):
    trial = tmp_path / "sweeps" / "cnn" / "trial_03"
    trial.mkdir(parents=True)
    (trial / "trial.json").write_text('{"trial_id": "03", "hyperparam')
    code = search.main(
        ["--arch", "cnn", "--data-dir", str(tmp_path / "no-data"), "--directory", str(tmp_path / "sweeps")]
    )
    error = capsys.readouterr().err
    assert code == 2 and f"{trial / 'trial.json'} (a KerasTuner trial record) is not valid JSON" in error
    assert f"Delete {trial} to run that trial again" in error and "no-data" not in error


def test_a_worker_without_a_chief_says_whom_it_waits_for_and_gives_up(monkeypatch, capsys):
    port = free_ports(1)[0]  # nothing listens there
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    assert search.wait_for_chief(0.5) == 1
    assert f"the chief oracle at 127.0.0.1:{port} did not answer within 0.5 s" in capsys.readouterr().err
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert search.wait_for_chief(0.5) is None  # the chief waits for nobody
