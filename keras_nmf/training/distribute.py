"""``tf.distribute`` strategies for ``--distribute`` and who writes the run directory.

* ``none``: TensorFlow's default strategy (one device).
* ``mirrored``: ``MirroredStrategy`` over this host's GPUs (over its logical
  CPUs when it has no GPU, e.g. in tests).
* ``multiworker``: ``MultiWorkerMirroredStrategy`` across hosts described by
  the ``TF_CONFIG`` environment variable; the chief (``chief``, or worker 0
  when the cluster has no chief) writes the run directory, the other workers
  train the same steps and write nothing.

``--batch-size`` is always the global batch, split evenly over the replicas,
so the paper's 50 stays 50 whatever the number of devices.
"""

import contextlib
import json
import os
import pathlib
import subprocess
import sys

from keras_nmf import backend
from keras_nmf._native_log import import_tensorflow_quietly, quiet_native_startup
from keras_nmf.errors import DistributeError
from keras_nmf.run_choices import DEFAULT_STARTUP_TIMEOUT_S, STRATEGIES


_TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
)


WATCHDOG_SCRIPT = pathlib.Path(__file__).with_name("cluster_watchdog.py")


class KerasDataParallel:
    """Keras's own ``keras.distribution.DataParallel`` over this host's devices (JAX), shaped like a strategy.

    The batch is split over the devices and the weights replicated; the
    compiled step is one SPMD program, so BatchNorm statistics and gradients
    are the global batch's. ``scope()`` makes it Keras's distribution for
    everything built and trained inside (``train()`` holds it for the session).
    """

    cluster_resolver = None  # one host: this process is the chief

    def __init__(self):
        import keras

        self.devices = keras.distribution.list_devices()
        self.distribution = keras.distribution.DataParallel(devices=self.devices)

    @property
    def num_replicas_in_sync(self):
        return len(self.devices)

    def scope(self):
        return self.distribution.scope()


def is_tf_strategy(strategy):
    """Whether ``strategy`` is a ``tf.distribute`` strategy (not None, not Keras's own distribution)."""
    return strategy is not None and not isinstance(strategy, KerasDataParallel)


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise DistributeError(
            f"--distribute multiworker needs the TF_CONFIG environment variable on every worker, "
            f"e.g. {_TF_CONFIG_EXAMPLE} (index 1 on the second host)."
        )
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        addresses = cluster[task["type"]]
        addresses[int(task["index"])]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise DistributeError(
            f"TF_CONFIG is not a valid cluster description ({type(error).__name__}: {error}). "
            f"Expected e.g. {_TF_CONFIG_EXAMPLE}. Received: {raw}"
        ) from None
    return config


def make_strategy(name, startup_timeout_s=DEFAULT_STARTUP_TIMEOUT_S):
    """The strategy for ``--distribute NAME``, or None for ``none``.

    Create it before any other TensorFlow work in the process (a
    ``MultiWorkerMirroredStrategy`` must be created at program start).

    Args:
        name: one of :data:`STRATEGIES`.
        startup_timeout_s: ``multiworker`` only: seconds to wait for every
            worker of TF_CONFIG to join (0: forever). TensorFlow itself waits
            forever; past this deadline the process prints which workers do
            not answer and is stopped (see :func:`cluster_startup_deadline`).

    Raises:
        DistributeError: an unknown name, a missing or malformed TF_CONFIG, or
            a cluster that could not be reached.
    """
    if name == "none":
        backend.start_devices_quietly()
        return None
    if name == "data_parallel":
        return KerasDataParallel()
    tf = import_tensorflow_quietly()
    if name == "mirrored":
        with quiet_native_startup():
            devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multiworker":
        config = _check_tf_config()
        try:
            with cluster_startup_deadline(startup_timeout_s):
                return tf.distribute.MultiWorkerMirroredStrategy()
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError) as error:
            raise DistributeError(
                f"MultiWorkerMirroredStrategy could not reach the cluster {config['cluster']} "
                f"({error.message.splitlines()[0]}). Start the same command on every worker listed in TF_CONFIG "
                "and check that the addresses are reachable from each host."
            ) from None
    raise DistributeError(f"Unknown --distribute {name!r}. Valid choices: {', '.join(STRATEGIES)}.")


@contextlib.contextmanager
def cluster_startup_deadline(timeout_s):
    """Bounds the wait for the other workers of TF_CONFIG while the block runs.

    ``MultiWorkerMirroredStrategy()`` waits for every worker with no timeout
    while holding the GIL, so the deadline is kept by a separate process,
    :mod:`keras_nmf.training.cluster_watchdog`: when the block has not
    finished after ``timeout_s`` seconds it prints which workers do not answer
    and how to fix it, and ends this process (SIGKILL: the only signal the
    blocked worker obeys). ``timeout_s`` None or 0 waits forever, like
    TensorFlow.
    """
    if not timeout_s:
        yield
        return
    watchdog = subprocess.Popen(
        [sys.executable, "-I", str(WATCHDOG_SCRIPT), str(os.getpid()), str(timeout_s)], stdin=subprocess.PIPE
    )
    try:
        yield
    finally:
        watchdog.stdin.close()  # releases the watchdog
        watchdog.wait()


@contextlib.contextmanager
def lost_worker_is_an_error(strategy, resume_command):
    """Turns a peer lost during multi-worker training into a :class:`DistributeError`.

    When a worker dies or its host drops off the network, the collectives of
    the others abort with ``UnavailableError`` ("Collective ops is aborted
    by: ... Connection reset by peer") raised from deep inside the train
    step. Under a multi-worker strategy this re-raises it as a
    ``DistributeError`` that says so and gives ``resume_command`` (every
    worker restores the last completed epoch from the chief's backup). Other
    strategies, and other errors, pass through unchanged.
    """
    if not is_tf_strategy(strategy):  # one device, or Keras's distribution on one host: nothing to translate
        yield
        return
    tf = import_tensorflow_quietly()
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError) as error:
        if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise
        lines = [line.strip() for line in (error.message or "").splitlines() if line.strip()]
        cause = next((line for line in lines if "aborted by" in line), lines[0] if lines else type(error).__name__)
        raise DistributeError(
            f"a worker of the cluster stopped answering during training ({cause}). The last completed epoch "
            f"is backed up: once every worker of TF_CONFIG can run again, start this on each of them:\n"
            f"  {resume_command}"
        ) from error


def strategy_scope(strategy):
    """``strategy.scope()``, or a no-op context for the default strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def session_scope(strategy):
    """What a whole training session runs inside: Keras's own distribution is read while ``fit`` runs, not only
    when the model is built, so :class:`KerasDataParallel` is held throughout; a ``tf.distribute`` strategy is
    captured by the model it built (:func:`strategy_scope`)."""
    return strategy.scope() if isinstance(strategy, KerasDataParallel) else contextlib.nullcontext()


def is_chief(strategy):
    """True unless this process is a non-chief worker of a multi-worker strategy."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def replicas(strategy):
    return strategy.num_replicas_in_sync if strategy is not None else 1
