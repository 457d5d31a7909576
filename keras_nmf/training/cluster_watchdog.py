"""A separate process that bounds a worker's wait for its multi-worker cluster.

``MultiWorkerMirroredStrategy()`` blocks inside TensorFlow's runtime until
every worker of ``TF_CONFIG`` has joined. It has no timeout, holds the GIL
meanwhile (no Python thread of the worker runs) and TensorFlow's preemption
notifier swallows SIGTERM: a worker that was never started, or a wrong
address, hangs the others forever, silently.

:func:`keras_nmf.training.distribute.cluster_startup_deadline` therefore runs
this file as a child process (standard library only, so it starts in
milliseconds without TensorFlow). The child waits on its stdin: the parent
closes it once the strategy exists, and the child exits quietly. If the
deadline passes first, the child prints which workers do not answer (a TCP
connection to each peer's TF_CONFIG address) and how to fix it, then ends the
blocked worker with SIGKILL, the only signal it still obeys (status 137 in a
shell, -9 from ``subprocess``).

Usage (by ``distribute.py``): ``python cluster_watchdog.py PARENT_PID TIMEOUT_S``
with ``TF_CONFIG`` in the environment.
"""

import json
import os
import select
import signal
import socket
import sys


def silent_peers(tf_config, connect_timeout_s=2.0):
    """The TF_CONFIG tasks, other than this one, whose address refuses a TCP connection.

    Returns ``["worker 1 at host:port", ...]``; an empty list when every peer's
    server answers (the cluster may still fail to form, e.g. when the workers
    were given different cluster lists).
    """
    task = tf_config["task"]
    own = tf_config["cluster"][task["type"]][int(task["index"])]
    silent = []
    for job, addresses in tf_config["cluster"].items():
        for index, address in enumerate(addresses):
            if address == own:
                continue
            host, _, port = address.rpartition(":")
            try:
                socket.create_connection((host.strip("[]"), int(port)), timeout=connect_timeout_s).close()
            except (OSError, ValueError):
                silent.append(f"{job} {index} at {address}")
    return silent


def did_not_form_message(tf_config, timeout_s):
    """The error a worker prints when its cluster did not form in time: who does not answer, and the fix."""
    task = tf_config["task"]
    silent = silent_peers(tf_config)
    if silent:
        cause = (
            f"no answer from {', '.join(silent)}. Start the same command there, with TF_CONFIG naming "
            f"that task, and check that its address is reachable from this host (host name, port, firewall)"
        )
    else:
        cause = (
            "every other worker's port answers, but the cluster did not form. Check that all workers "
            "have the same cluster list in TF_CONFIG, each with its own task index"
        )
    return (
        f"--distribute multiworker: the cluster did not form within {timeout_s:g} s "
        f"(this is {task['type']} {task['index']}): {cause}. Raise --distribute-timeout to wait longer."
    )


def _released(timeout_s):
    """True once the parent writes to or closes our stdin; False after ``timeout_s`` without either."""
    ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
    return bool(ready)


def main(argv):
    parent_pid, timeout_s = int(argv[1]), float(argv[2])
    if _released(timeout_s):
        return 0
    message = did_not_form_message(json.loads(os.environ["TF_CONFIG"]), timeout_s)
    if _released(0):  # the cluster formed while the peers were probed
        return 0
    print(
        f"error: {message} (the worker was stopped: TensorFlow cannot interrupt this wait)", file=sys.stderr, flush=True
    )
    os.kill(parent_pid, signal.SIGKILL)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
