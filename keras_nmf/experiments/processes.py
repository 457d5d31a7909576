"""One grid trained by several processes at once: how a batch-50 network fills a GPU it leaves mostly idle.

The paper's networks at batch 50 keep a large GPU busy only a fraction of each
step: the host dispatches the 20 NMF updates of every block one after another
(docs/backends.md). Several processes, each training its own run, overlap
those gaps. No scheduler is needed: every process runs the same grid command,
and each takes the next run of the plan that no other process holds (the run
lock of :func:`keras_nmf.experiments.grid.run_grid`), so the runs start in the
plan's order, seed by seed, and a cut-off leaves the first seeds finished.
"""

import os
import subprocess
import sys
import threading


def _relay(stream, prefix, print_fn):
    for line in stream:
        print_fn(f"{prefix}{line.rstrip()}", flush=True)


def run_in_processes(command, processes, environment=None, print_fn=print) -> list:
    """Runs ``command`` in ``processes`` processes at once; each output line is printed prefixed ``[p<k>]``.

    Args:
        command: the argument list (``[sys.executable, "-m", ...]``).
        processes: how many copies run side by side.
        environment: variables set in every copy unless the caller's environment sets them already
            (e.g. :data:`keras_nmf.backend.SHARED_DEVICE_ENVIRONMENT`, so that a copy does not take the whole GPU).

    A Ctrl-C reaches every copy (they share the terminal's process group) and
    is re-raised here once they have all ended, each having saved its run.

    Returns:
        The exit code of every copy, in order.
    """
    env = {**(environment or {}), **os.environ}
    children, relays = [], []
    for index in range(1, processes + 1):
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        )
        relay = threading.Thread(target=_relay, args=(child.stdout, f"[p{index}] ", print_fn), daemon=True)
        relay.start()
        children.append(child)
        relays.append(relay)
    interrupted = False
    for child in children:
        while True:
            try:
                child.wait()
                break
            except KeyboardInterrupt:  # the copies got it too: wait for them to save their runs
                interrupted = True
    for relay in relays:
        relay.join()
    if interrupted:
        raise KeyboardInterrupt
    return [child.returncode for child in children]


def grid_command(argv):
    """The command each copy runs: this grid's own compare.py arguments, in one process each."""
    return [sys.executable, "-m", "keras_nmf.cli.compare", *argv, "--processes", "1"]
