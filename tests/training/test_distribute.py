"""tf.distribute: MirroredStrategy over two logical CPUs, MultiWorkerMirroredStrategy over two local workers.

TensorFlow fixes its logical devices at start-up, so each case runs in a fresh
Python process (pytest's own process has initialised TensorFlow already).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_nmf.training import TrainConfig
from keras_nmf.training.distribute import DistributeError, is_chief, make_strategy
from tests.conftest import REPO_ROOT
from tests.image_folders import make_image_folder
from tests.ports import free_ports

TWO_LOGICAL_CPUS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def _python(code, env=None, timeout=600):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("images"), per_class=(8, 2))


@pytest.mark.slow
def test_mirrored_step_equals_the_single_device_step():
    out = _python(
        TWO_LOGICAL_CPUS
        + """
import json, keras, numpy as np
from keras_nmf.models import build_model
from keras_nmf.training import TrainConfig
from keras_nmf.training.distribute import make_strategy
from keras_nmf.training.recipe import compile_model
from keras_nmf.nmf_arguments import NMFOptions
rng = np.random.default_rng(0)
batch = tf.data.Dataset.from_tensor_slices((rng.random((8, 28, 28, 3), dtype=np.float32), rng.integers(0, 10, 8))).batch(8)
def trained(strategy):
    keras.utils.set_random_seed(1)
    with strategy.scope() if strategy else tf.name_scope("single"):
        model = build_model("cnmf_1x1", nmf_options=NMFOptions(3), nmf_chunk_elements=4096, bn_synchronized=strategy is not None)
        compile_model(model, TrainConfig(), jit=False)
    initial = [w.copy() for w in model.get_weights()]
    model.fit(batch, epochs=1, verbose=0)
    return model, initial
strategy = make_strategy("mirrored")
single, start = trained(None)
mirrored, start_mirrored = trained(strategy)
moved = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), start))
same_start = max(float(np.abs(a - b).max()) for a, b in zip(start, start_mirrored))
diffs = {v.path: float(np.abs(a - b).max()) for v, a, b in zip(single.weights, single.get_weights(), mirrored.get_weights())}
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "moved": moved, "same_start": same_start, "diffs": diffs}))
"""
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report["replicas"] == 2 and report["same_start"] == 0.0 and report["moved"] > 1e-3
    assert any("moving_variance" in path for path in report["diffs"])  # BatchNorm state is compared too
    worst = max(report["diffs"].items(), key=lambda item: item[1])
    assert worst[1] < 1e-4, worst


@pytest.mark.slow
def test_mirrored_fit_runs_end_to_end_and_resumes(image_folder, tmp_path):
    logdir = tmp_path / "run"
    common = f"""
import keras
from keras_nmf.training import TrainConfig, train
config = TrainConfig.of(arch="cnn", distribute="mirrored", data_dir="{image_folder}", logdir="{logdir}",
                        epochs=2, steps_per_epoch=2, batch_size=4, bn_recalibration_batches=1,
                        jit=False, verbose=0)
"""
    # The resume runs in the same process, as after a Ctrl-C in a notebook: a second MirroredStrategy over the same
    # network, which TensorFlow's collectives accept (another network's they do not: compare.py's refusal). Resumes
    # in a fresh process are the kill -9 matrix's (test_faults_kill.py).
    out = _python(
        TWO_LOGICAL_CPUS
        + common
        + f"""
import dataclasses, pathlib
class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt
try:
    train(config, extra_callbacks=[Interrupt()])
except KeyboardInterrupt:
    logdir = pathlib.Path("{logdir}")
    print("interrupted: results", (logdir / "results.json").exists(), "backup", (logdir / "backup").is_dir())
train(config.replace(resume=True))
"""
    )
    assert "interrupted: results False backup True" in out
    results = json.loads((logdir / "results.json").read_text())
    assert results["replicas"] == 2 and results["epochs_run"] == 2 and np.isfinite(results["test_loss"])
    epochs = (logdir / "epochs.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in epochs] == ["1", "2"]


@pytest.mark.slow
def test_multiworker_epoch_on_two_local_workers(image_folder, tmp_path):
    # The cnn arch: the NMF layers under a strategy are the mirrored step's test; a cnn epoch compiles in seconds.
    logdir = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    code = f"""
import sys, keras, numpy as np
from keras_nmf.training import TrainConfig, train
class SaveWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        np.savez("{tmp_path}/weights-" + sys.argv[1] + ".npz", *self.model.get_weights())
config = TrainConfig.of(arch="cnn", distribute="multiworker", data_dir="{image_folder}", logdir="{logdir}",
                        epochs=1, steps_per_epoch=2, batch_size=4, bn_recalibration_batches=1, jit=False, verbose=0)
print(train(config, extra_callbacks=[SaveWeights()]))
"""
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", code, str(index)],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert "non-chief worker" in outputs[1] and "non-chief worker" not in outputs[0]
    first, second = (np.load(tmp_path / f"weights-{index}.npz") for index in range(2))
    assert len(first.files) == len(second.files) > 0
    for name in first.files:
        np.testing.assert_array_equal(first[name], second[name])
    written = sorted(path.name for path in logdir.iterdir())
    assert {"config.json", "results.json", "model.keras", "epochs.csv"} <= set(written)
    assert json.loads((logdir / "results.json").read_text())["replicas"] == 2


def test_multiworker_without_tf_config_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DistributeError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}')
    with pytest.raises(DistributeError, match="not a valid cluster description"):
        make_strategy("multiworker")


def test_multiworker_needs_a_shared_logdir():
    from keras_nmf.training.run_dir import RunDir

    with pytest.raises(FileNotFoundError, match="needs --logdir DIR on a filesystem that every worker shares"):
        RunDir.prepare(TrainConfig.of(distribute="multiworker"))


def test_single_device_is_chief_and_xla_defaults_off_under_a_strategy():
    from keras_nmf.training.recipe import default_jit

    assert make_strategy("none") is None and is_chief(None)
    assert default_jit("cnmf_1x1") and not default_jit("cnn")
    assert not default_jit("cnmf_1x1", make_strategy("mirrored"))


def test_watchdog_names_the_workers_that_do_not_answer():
    from keras_nmf.training.cluster_watchdog import did_not_form_message, silent_peers

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    answering = f"127.0.0.1:{listening.getsockname()[1]}"
    own, silent = (f"127.0.0.1:{port}" for port in free_ports(2))
    tf_config = {"cluster": {"chief": [own], "worker": [answering, silent]}, "task": {"type": "chief", "index": 0}}
    try:
        assert silent_peers(tf_config) == [f"worker 1 at {silent}"]
        message = did_not_form_message(tf_config, 30)
    finally:
        listening.close()
    assert "did not form within 30 s (this is chief 0): no answer from worker 1" in message
    assert "--distribute-timeout" in message and "TF_CONFIG" in message


def _watchdog_over_a_sleeper(timeout_s, release):
    from keras_nmf.training.distribute import WATCHDOG_SCRIPT

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    port = free_ports(1)[0]
    env = {
        **os.environ,
        "TF_CONFIG": json.dumps(
            {"cluster": {"worker": ["127.0.0.1:1", f"127.0.0.1:{port}"]}, "task": {"type": "worker", "index": 0}}
        ),
    }
    watchdog = subprocess.Popen(
        [sys.executable, "-I", str(WATCHDOG_SCRIPT), str(sleeper.pid), str(timeout_s)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    if release:
        watchdog.stdin.close()
    watchdog.wait(timeout=30)  # stdin stays open unless released: the cluster never forms
    stderr = watchdog.stderr.read()
    try:
        sleeper_status = sleeper.wait(timeout=1)
    except subprocess.TimeoutExpired:
        sleeper_status = "alive"
        sleeper.kill()
    return watchdog.returncode, stderr, sleeper_status, port


def test_watchdog_leaves_a_worker_whose_cluster_formed_alone():
    returncode, stderr, sleeper_status, _ = _watchdog_over_a_sleeper(timeout_s=30, release=True)
    assert (returncode, stderr, sleeper_status) == (0, "", "alive")


def test_watchdog_stops_a_worker_still_waiting_at_the_deadline():
    returncode, stderr, sleeper_status, port = _watchdog_over_a_sleeper(timeout_s=0.5, release=False)
    assert returncode == 1 and sleeper_status == -9
    assert f"no answer from worker 1 at 127.0.0.1:{port}" in stderr


@pytest.mark.slow
def test_multiworker_with_a_missing_worker_stops_with_a_clear_error():
    ports = free_ports(2)
    tf_config = {"cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]}, "task": {"type": "worker", "index": 1}}
    code = "from keras_nmf.training.distribute import make_strategy\nmake_strategy('multiworker', startup_timeout_s=3)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        env={**os.environ, "TF_CONFIG": json.dumps(tf_config)},
    )
    assert result.returncode == -9, result.stderr[-3000:]
    assert (
        f"the cluster did not form within 3 s (this is worker 1): no answer from worker 0 at 127.0.0.1:{ports[0]}"
        in result.stderr
    )


def test_a_lost_worker_during_training_is_a_resumable_error():
    import tensorflow as tf

    from keras_nmf.training.distribute import lost_worker_is_an_error

    errors, MultiWorkerMirroredStrategy = tf.errors, tf.distribute.MultiWorkerMirroredStrategy

    lost = errors.UnavailableError(
        None,
        None,
        "Graph execution error:\n\nCollective ops is aborted by: "
        "recvmsg:Connection reset by peer\nThe error could be from a previous operation.",
    )
    multiworker = MultiWorkerMirroredStrategy.__new__(MultiWorkerMirroredStrategy)  # type only: no cluster
    with pytest.raises(
        DistributeError,
        match="stopped answering during training \\(Collective ops is aborted by: "
        "recvmsg:Connection reset by peer\\).*\n  python scripts/train.py --resume --logdir RUN",
    ):
        with lost_worker_is_an_error(multiworker, "python scripts/train.py --resume --logdir RUN"):
            raise lost
    with pytest.raises(errors.UnavailableError):  # single-host strategies: TensorFlow's own error
        with lost_worker_is_an_error(None, "unused"):
            raise lost


def test_config_rejects_xla_under_a_strategy_and_a_negative_timeout():
    with pytest.raises(ValueError, match="--jit does not work with --distribute.*keras-team/keras#19005"):
        TrainConfig.of(jit=True, distribute="mirrored")
    with pytest.raises(ValueError, match="--distribute-timeout must be >= 0"):
        TrainConfig.of(distribute="multiworker", distribute_timeout=-1)
    assert TrainConfig.of(jit=False, distribute="mirrored").session.distribute_timeout == 600
