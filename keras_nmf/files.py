"""Files written whole or not at all, read back with errors that name them, and one process per folder.

Every file the package writes goes through :func:`atomic_save` (or :func:`atomic_write_text`,
:func:`atomic_write_json`): the content goes to a temporary file in the same folder, is flushed to disk, and is
renamed over the target, so a kill, Ctrl-C or full disk at any moment leaves either the old file or the new one,
never a truncated one. A write that fails (a full disk) removes its temporary file and raises
:class:`~keras_nmf.errors.RunWriteError`, naming the file and the reason.

JSON files are read back through :func:`read_json`, which raises :class:`~keras_nmf.errors.RunFileError` naming the
file, what is wrong with it and what to do, never a raw ``JSONDecodeError``. :class:`RunLock` keeps one process per
run (or trial) folder.

Standard library only, besides :mod:`keras_nmf.errors`: data, models, training and experiments share it, and a
process that only holds a lock loads no backend.
"""

import contextlib
import errno
import fcntl
import json
import os
import pathlib
import shutil
import tempfile

from keras_nmf.errors import RunFileError, RunLockedError, RunWriteError


def _fsync_directory(folder):
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened and synced
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _write_failed(path, error):
    reason = "the disk is full" if error.errno == errno.ENOSPC else (error.strerror or str(error))
    return RunWriteError(error.errno, f"Could not write {path}: {reason}.")


#: Where :func:`atomic_save`'s writers write before the copy to the run directory: memory where Linux offers it.
STAGING_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
#: A staging folder is ``<STAGING_PREFIX><pid>-<random>``: a killed writer's is found by its dead pid.
STAGING_PREFIX = "keras_nmf-"


def _temporary_path(path, suffix=""):
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")


def atomic_save(path, save):
    """Calls ``save(temporary_path)`` and renames the result over ``path``; the temporary keeps ``path``'s suffix.

    The writer writes into :data:`STAGING_DIR` (memory where available); the
    result is copied to a temporary file in ``path``'s folder (a rename within one
    filesystem is atomic), flushed to disk and renamed. For writers that take a
    path (``model.save``, ``model.save_weights``).

    Raises:
        RunWriteError: the writer failed with an ``OSError`` (or h5py's ``RuntimeError``); ``path`` is unchanged.
    """
    path = pathlib.Path(path)
    temporary = _temporary_path(path, suffix="".join(path.suffixes))
    try:
        with tempfile.TemporaryDirectory(dir=STAGING_DIR, prefix=f"{STAGING_PREFIX}{os.getpid()}-") as staging:
            # The writer writes in memory first; a full disk then fails a plain copy, never the writer. (h5py
            # left a half-written HDF5 file open after ENOSPC, and the process crashed at exit with a segfault.)
            staged = pathlib.Path(staging) / temporary.name
            save(staged)
            shutil.copyfile(staged, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:  # a full disk, Ctrl-C: no temporary file is left behind
        with contextlib.suppress(OSError):
            temporary.unlink()
        if isinstance(error, OSError):
            raise _write_failed(path, error) from error
        if isinstance(error, RuntimeError):  # h5py reports some write failures so
            raise RunWriteError(errno.EIO, f"Could not write {path}: {error}.") from error
        raise
    _fsync_directory(path.parent)


def atomic_write_text(path, text):
    """Writes ``text`` to ``path`` atomically (:func:`atomic_save`)."""
    atomic_save(path, lambda temporary: pathlib.Path(temporary).write_text(text))


def atomic_write_json(path, data):
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def remove_temporaries(folder):
    """Deletes the temporary files that a killed writer left in ``folder`` (call it while holding the run lock),
    and the staging folders of writers that were killed (:func:`atomic_save`; they would hold memory)."""
    for leftover in pathlib.Path(folder).glob(".*.tmp*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    for staging in pathlib.Path(STAGING_DIR or tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*-*"):
        pid = staging.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def read_json(path, what, fix):
    """The JSON object in ``path``.

    Args:
        what: what the file is, for the message ("the run's configuration").
        fix: what the user can do about a bad file.

    Raises:
        RunFileError: the file is missing, unreadable, not JSON or not a JSON object.
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RunFileError(f"{path} ({what}) does not exist. {fix}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RunFileError(f"{path} ({what}) cannot be read: {error}. {fix}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        state = "empty" if not text.strip() else f"not valid JSON ({error.msg} at line {error.lineno})"
        raise RunFileError(f"{path} ({what}) is {state}: it is truncated or corrupt. {fix}") from None
    if not isinstance(data, dict):
        raise RunFileError(f"{path} ({what}) holds a JSON {type(data).__name__}, not an object. {fix}")
    return data


class RunLock:
    """An exclusive lock on a run directory, so two processes never train the same run.

    The lock file ``.<run name>.lock`` lies beside the run directory (it must
    exist before the directory does) and holds the holder's pid. ``flock``
    locks are released by the kernel when the holder dies, so a killed
    process leaves no stale lock. Re-entrant within one process: a run grid
    locks a run and ``train()`` takes the same lock again.
    """

    _held = {}  # resolved lock path -> [open handle, count], for this process

    def __init__(self, run_dir):
        run_dir = pathlib.Path(run_dir)
        self.run_dir = run_dir
        self.path = run_dir.parent / f".{run_dir.name}.lock"

    @property
    def _key(self):
        return str(self.path.resolve())

    def acquire(self):
        """Takes the lock; ``False`` when another process holds it.

        Raises:
            RunWriteError: the lock file cannot be written (a full disk).
        """
        held = RunLock._held.get(self._key)
        if held is not None:
            held[1] += 1
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError as error:  # a full disk before anything else was written
            with contextlib.suppress(OSError):
                self.path.unlink()  # ours alone: we hold its flock
            with contextlib.suppress(OSError):
                handle.close()  # (its flush fails again)
            raise RunWriteError(
                error.errno,
                f"Could not write {self.path}, the run's lock: "
                f"{'the disk is full' if error.errno == errno.ENOSPC else error.strerror}. Nothing "
                f"was trained or written; free some space (or pass another --logdir) and run the "
                f"command again.",
            ) from None
        RunLock._held[self._key] = [handle, 1]
        return True

    def holder(self):
        """The pid written by the process that holds the lock, or None."""
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def acquire_or_raise(self):
        """Takes the lock, or raises :class:`RunLockedError` naming the holder."""
        if not self.acquire():
            pid = self.holder()
            holder = f"process {pid}" if pid else "another process"
            raise RunLockedError(
                f"{self.run_dir} is being trained by {holder} (it holds {self.path}). Wait for it to finish, stop "
                f"it, or pass another --logdir."
            )

    def release(self):
        held = RunLock._held.get(self._key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            handle = held[0]
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
            del RunLock._held[self._key]
