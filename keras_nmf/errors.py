"""The package's errors: each derives from :class:`KerasNMFError`, and its message names the problem and the fix.

Each also keeps the standard base of its kind of problem (``ValueError`` for bad input, flags or files, ``OSError``
for a file or folder that is missing, taken or not writable, ``RuntimeError`` for a run that stopped), so
``except ValueError`` code still catches it. The commands catch :class:`KerasNMFError` alone
(:func:`keras_nmf.commands.report_error`): an error of another class is a bug and keeps its traceback. A leaf
module (no imports): the configuration raises these before any backend is imported.
"""


class KerasNMFError(Exception):
    """The root of the errors keras_nmf raises on purpose."""

    #: A command's exit status when it stops on this error: 2, it cannot run as given; 3, a run stopped on bad
    #: numbers; 4, a file could not be written.
    exit_code = 2
    #: True on an error whose message was printed where it happened (with what survived and how to resume): the
    #: command then prints it no second time.
    reported = False


class MissingFileError(KerasNMFError, FileNotFoundError):
    """A file or folder that the command needs is not there; the message names it and what to pass instead."""


class ExistingRunError(KerasNMFError, FileExistsError):
    """A run directory already holds a run that the command would overwrite; the message says how to go on."""


class OutputLocationError(KerasNMFError, PermissionError):
    """An output folder or run directory that cannot be created or written; the message names the fix."""


class MissingExtraError(KerasNMFError, ModuleNotFoundError):
    """A backend or an optional dependency is not installed; the message names what to install."""


class ConfigError(KerasNMFError, ValueError):
    """A configuration that cannot run; the message names the flag and the fix."""


class ConfigMismatchError(KerasNMFError, ValueError):
    """A run directory holds a run with another configuration than the planned one."""


class DataError(KerasNMFError, ValueError):
    """A data set that cannot be used as given; the message says how to fix it."""


class InvalidInputError(KerasNMFError, ValueError):
    """An NMF layer received an input (or ``observed`` mask) it cannot factorise; the message names the layer."""

    exit_code = 3


class RunFileError(KerasNMFError, ValueError):
    """A run file that cannot be used: the message names the file, what is wrong and what to do."""


class RunWriteError(KerasNMFError, OSError):
    """A run file could not be written (e.g. a full disk); the message says what survived and what to do."""

    exit_code = 4


class RunLockedError(KerasNMFError, RuntimeError):
    """Another process holds the run directory; the message names its pid."""


class DistributeError(KerasNMFError, RuntimeError):
    """The requested strategy cannot start, or a worker was lost; the message says how to fix it."""


class NonFiniteLossError(KerasNMFError, RuntimeError):
    """Training produced a NaN/Inf loss or weights; the message says what to do next."""

    exit_code = 3


class ImageInputError(KerasNMFError, ValueError):
    """Images or labels that an ``ImageClassifier`` would answer wrongly; the message names the value and the fix."""


class PresetError(KerasNMFError, ValueError):
    """A preset that cannot be written or read as given; the message names the file and the fix."""


class ExplainError(KerasNMFError, ValueError):
    """What :mod:`keras_nmf.explain` cannot explain (a model without NMF layers, an unknown layer, images it would
    misread); the message names what to pass instead."""
