"""The command-line programs, each a ``main(argv)``: installed as ``keras-nmf-<name>`` console commands.

``scripts/*.py`` and ``tuning/*.py`` in the repository call the same functions.
"""

import shlex
import sys


def command_line(program):
    """How to run ``program`` (``train``, ``report``, ...) again with the interpreter running now.

    ``<this python> -m keras_nmf.cli.<program>``: right in a virtual
    environment that is not activated (``make train``'s ``.venv``), from a
    pip install and from the repository alike.
    """
    return f"{shlex.quote(sys.executable)} -m keras_nmf.cli.{program}"
