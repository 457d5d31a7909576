"""The command-line programs, each a ``main(argv)``: installed as ``keras-nmf-<name>`` console commands
(:mod:`keras_nmf.commands`).

``scripts/*.py`` and ``tuning/*.py`` in the repository call the same functions.
"""
