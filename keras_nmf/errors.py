"""The package's errors: each derives from :class:`KerasNMFError`, and its message names the problem and the fix.

Each also keeps the standard base of its kind of problem (``ValueError`` for bad input, flags or files, ``OSError``
for a write that failed, ``RuntimeError`` for a run that stopped), so ``except ValueError`` code still catches it.
The commands catch :class:`KerasNMFError`: an error of another class is a bug and keeps its traceback. A leaf
module (no imports): the configuration raises these before any backend is imported.
"""


class KerasNMFError(Exception):
    """The root of the errors keras_nmf raises on purpose."""


class ConfigError(KerasNMFError, ValueError):
    """A configuration that cannot run; the message names the flag and the fix."""


class ConfigMismatchError(KerasNMFError, ValueError):
    """A run directory holds a run with another configuration than the planned one."""


class DataError(KerasNMFError, ValueError):
    """A data set that cannot be used as given; the message says how to fix it."""


class InvalidInputError(KerasNMFError, ValueError):
    """An NMF layer received an input (or ``observed`` mask) it cannot factorise; the message names the layer."""


class RunFileError(KerasNMFError, ValueError):
    """A run file that cannot be used: the message names the file, what is wrong and what to do."""


class RunWriteError(KerasNMFError, OSError):
    """A run file could not be written (e.g. a full disk); the message says what survived and what to do."""


class RunLockedError(KerasNMFError, RuntimeError):
    """Another process holds the run directory; the message names its pid."""


class DistributeError(KerasNMFError, RuntimeError):
    """The requested strategy cannot start, or a worker was lost; the message says how to fix it."""


class NonFiniteLossError(KerasNMFError, RuntimeError):
    """Training produced a NaN/Inf loss or weights; the message says what to do next."""


class ImageInputError(KerasNMFError, ValueError):
    """Images or labels that an ``ImageClassifier`` would answer wrongly; the message names the value and the fix."""


class PresetError(KerasNMFError, ValueError):
    """A preset that cannot be written or read as given; the message names the file and the fix."""
