"""The package's command-line programs by name, and how to run one again. A leaf module (the standard library only).

Each is ``main(argv)`` in :mod:`keras_nmf.cli`.<name>, installed as the console command ``keras-nmf-<name>`` (``_`` as
``-``); ``scripts/<name>.py`` in the repository calls the same function.
"""

import importlib
import shlex
import sys

#: The commands, each of which parses its arguments before it imports Keras (``keras_nmf.load``), so that ``--help``
#: and a usage error come back before a backend starts.
PARSE_FIRST = (
    "train",
    "evaluate",
    "compare",
    "budget",
    "robustness",
    "gradient_fidelity",
    "search",
    "report",
    "pack_images",
    "explain",
)


def command_line(program):
    """How to run ``program`` (``train``, ``report``, ...) again with the interpreter running now.

    ``<this python> -m keras_nmf.cli.<program>``: right in a virtual
    environment that is not activated (``make train``'s ``.venv``), from a
    pip install and from the repository alike.
    """
    return f"{shlex.quote(sys.executable)} -m keras_nmf.cli.{program}"


def report_error(error):
    """A command's answer to a :class:`keras_nmf.errors.KerasNMFError`: its message as one line on stderr (unless
    it was printed where it happened: ``error.reported``), and its exit status (``error.exit_code``) to return."""
    if not error.reported:
        print(f"error: {error}", file=sys.stderr)
    return error.exit_code


def load_for_command(*extras):
    """Imports the packages of ``extras`` (``"tuning"``), then Keras and the package's registering modules, for a
    command that has parsed its arguments (``keras_nmf.load``). An extra's package only checks that what it needs is
    installed, so a missing one is reported before the seconds a backend takes to load. A backend or extra that is not
    installed is one line on stderr, naming what to install or choose, and exit code 2 (:class:`SystemExit`), no
    traceback."""
    try:
        for extra in extras:
            importlib.import_module(f"keras_nmf.{extra}")
        importlib.import_module("keras_nmf").load()
    except ModuleNotFoundError as missing:
        print(f"error: {missing}", file=sys.stderr)
        raise SystemExit(2) from None
