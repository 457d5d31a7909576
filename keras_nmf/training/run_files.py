"""The files of a run directory: atomic writes, one process per directory, and reads that explain a bad file.

Every file the training stack writes goes through :func:`atomic_write_text`
or :func:`atomic_save_model`: the content goes to a temporary file in the same
folder, is flushed to disk, and is renamed over the target, so a kill, Ctrl-C
or full disk at any moment leaves either the old file or the new one, never a
truncated one. A write that fails (a full disk) removes its temporary file and
raises :class:`RunWriteError`, naming the file and the reason.

Every file the stack reads back goes through :func:`read_json` or
:func:`load_keras_model`, which raise :class:`RunFileError` naming the file,
what is wrong with it and what to do, never a raw ``JSONDecodeError``,
``KeyError``, h5py or zip error.
"""

import contextlib
import errno
import fcntl
import json
import math
import os
import pathlib
import shutil
import tempfile
import zipfile

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


def check_new_run_location(path):
    """A new run's directory must lie in a writable place: its nearest existing folder takes a file (a probe,
    removed at once). Checked before any work, and before a backend loads.

    Raises:
        PermissionError: a file on the way, or a folder that cannot be written, named with the fix.
    """
    path = pathlib.Path(path)
    existing = path
    while not existing.exists():
        existing = existing.parent
    if existing == path and path.is_dir():
        existing = path.parent  # the lock file lies beside the run directory
    fix = "Pass --logdir DIR in a writable place."
    if not existing.is_dir():
        raise PermissionError(f"Cannot create the run directory {path}: {existing} is a file, not a folder. {fix}")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".keras_nmf-probe-"):
            pass
    except OSError as error:
        raise PermissionError(f"Cannot create the run directory {path}: {existing} is not a writable folder "
                              f"({error.strerror or error}). {fix}") from None


def remove_temporaries(folder):
    """Deletes the temporary files that a killed writer left in ``folder`` (call it while holding the run lock),
    and the staging folders of writers that were killed (:func:`atomic_save`; they would hold memory)."""
    for leftover in pathlib.Path(folder).glob(".*.tmp*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    for staging in pathlib.Path(STAGING_DIR or tempfile.gettempdir()).glob(f"{STAGING_PREFIX}*-*"):
        pid = staging.name[len(STAGING_PREFIX):].split("-", 1)[0]
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


def atomic_save_model(model, path):
    """``model.save(path)`` (a ``.keras`` file), atomically."""
    atomic_save(path, model.save)


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


def read_run_results(path):
    """A finished run's ``results.json``, checked: what every report reads from it is there and well formed.

    Raises:
        RunFileError: naming the file, what is wrong, and the fix (the run is evaluated again by ``--resume``-ing a
            copy of its backup, or retrained: delete its results.json, or its folder).
    """
    path = pathlib.Path(path)
    fix = (f"Delete {path.parent} (or only {path.name}, if its backup/ is still there) and rerun the command that "
           f"trained it: the run is trained or evaluated again.")
    results = read_json(path, "a finished run's results", fix)

    def refuse(problem):
        raise RunFileError(f"{path} (a finished run's results) {problem}. {fix}")

    for key in ("test_accuracy", "test_loss", "train_seconds"):
        value = results.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            refuse(f"has {key} = {value!r}, not a finite number")
    if not 0.0 <= results["test_accuracy"] <= 1.0:
        refuse(f"has test_accuracy = {results['test_accuracy']!r}, outside [0, 1]")
    epochs = results.get("epochs_run")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        refuse(f"has epochs_run = {epochs!r}, not a count of epochs")
    for key, fields in (("config", ("seed",)), ("parameters", ("trainable", "nmf", "cnn")),
                        ("data", ("train_size", "test_size"))):
        section = results.get(key)
        if not isinstance(section, dict) or any(field not in section for field in fields):
            refuse(f"lacks its {key} ({', '.join(fields)})")
    if not isinstance(results.get("arch"), str):
        refuse("lacks its arch")
    return results


def load_keras_model(path, compile=True):
    """``keras.models.load_model(path)``, with a clear error for a missing, corrupt or uncompiled file.

    Raises:
        RunFileError: naming the file and what to do.
    """
    import keras

    import keras_nmf  # noqa: F401  (registers the layers, loss and optimizer the file names)
    from keras_nmf._native_log import quiet_native_startup

    path = pathlib.Path(path)
    if not path.is_file():
        raise RunFileError(f"{path} does not exist (a model file is <run dir>/model.keras, written when a run "
                           f"finishes). Pass the path of a finished run's model.keras.")
    damaged = None
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()  # the first member whose checksum fails
    except (zipfile.BadZipFile, OSError):
        damaged = "the archive"
    if damaged is not None:
        raise RunFileError(f"{path} is not a .keras file ({damaged} fails its zip checksum): it is truncated or "
                           f"corrupt. Retrain it, or resume its run with --resume if the run's backup is still there.")
    try:
        with quiet_native_startup():  # often the process's first TensorFlow op: its CUDA probe writes to stderr
            model = keras.models.load_model(path, compile=compile)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, TypeError) as error:
        raise RunFileError(f"{path} cannot be loaded as a Keras model ({type(error).__name__}: {error}). The file "
                           f"is corrupt or was not written by keras_nmf; retrain it.") from None
    if compile and not getattr(model, "compiled", True):
        raise RunFileError(f"{path} holds a model saved without its training configuration (uncompiled), so it "
                           f"cannot be evaluated with its loss. Save the model after model.compile(...).")
    return model


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
            raise RunWriteError(error.errno, f"Could not write {self.path}, the run's lock: "
                                f"{'the disk is full' if error.errno == errno.ENOSPC else error.strerror}. Nothing "
                                f"was trained or written; free some space (or pass another --logdir) and run the "
                                f"command again.") from None
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
                f"it, or pass another --logdir.")

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
