"""The commands' flags: one per setting of :mod:`keras_nmf.training.settings`, grouped by section in ``--help``.

A leaf like the settings: parsing and every usage error happen before a backend is imported.
"""

import argparse
import dataclasses

from keras_nmf.errors import ConfigError, RunFileError
from keras_nmf.training.branches import branch_defaults, load_trunk
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.settings import SECTION_OF, SECTIONS, flag


class _Refuse(argparse.Action):
    """A flag that an entry point cannot honour: using it is an error that gives the reason."""

    def __init__(self, option_strings, dest, reason=None, **kwargs):
        self.reason = reason
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(f"{option_string} is not accepted here: {self.reason}.")


def build_parser(description=None, exclude=(), refuse=None, parser=None):
    """An ``argparse`` parser with one flag per setting, in one argument group per section.

    Unset flags are absent from the parsed namespace (``argparse.SUPPRESS``),
    so callers know which flags were given (``--resume`` needs that); pass the
    namespace to :func:`config_from_args`.

    Args:
        exclude: settings without a flag (the caller defines its own flag of that name).
        refuse: ``{setting: reason}``: the flag exists but using it is an error giving the reason.
        parser: add the flags to this parser or argument group (a group takes them without sub-groups).
    """
    parser = parser or argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    refuse = refuse or {}
    for section in SECTIONS:
        target = parser
        if isinstance(parser, argparse.ArgumentParser):
            target = parser.add_argument_group(f"{section.NAME}: {section.TITLE}")
        for spec in dataclasses.fields(section):
            if spec.name not in exclude:
                _add_flag(target, spec, refuse.get(spec.name))
    return parser


def _add_flag(parser, spec, refused_because=None):
    meta = spec.metadata
    if refused_because is not None:
        parser.add_argument(flag(spec.name), action=_Refuse, reason=refused_because, default=argparse.SUPPRESS)
        if meta["type"] is bool:
            parser.add_argument(
                "--no-" + spec.name.replace("_", "-"), action=_Refuse, reason=refused_because, default=argparse.SUPPRESS
            )
        return
    help_text = meta["help"] + (f" (default: {spec.default})" if spec.default is not None else "")
    if meta["type"] is bool:
        parser.add_argument(
            flag(spec.name), action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
        )
    else:
        parser.add_argument(
            flag(spec.name), type=meta["type"], default=argparse.SUPPRESS, choices=meta["choices"], help=help_text
        )


def config_from_args(parser, args, defaults=None, exclude=()):
    """The ``TrainConfig`` of a parsed namespace, and the names of the settings given on the command line.

    ``defaults`` override the settings' defaults for unset flags (e.g. the
    sweep's ``epochs=20``); ``exclude`` names namespace entries that are the
    caller's own flags (as passed to :func:`build_parser`). A value out of
    range exits through ``parser.error`` (exit code 2) with the flag's name.
    """
    names = set(SECTION_OF) - set(exclude)
    given = {key: value for key, value in vars(args).items() if key in names}
    try:
        if given.get("branch_from") is not None:  # a branch: its trunk's settings, but for the flags given
            defaults = {**(defaults or {}), **branch_defaults(load_trunk(given["branch_from"]))}
        return TrainConfig.of(**{**(defaults or {}), **given}), set(given)
    except (ConfigError, RunFileError) as error:
        parser.error(str(error))


def parse_config(argv=None, description=None):
    """Parses train.py's flags: returns ``(TrainConfig, names of the settings given)``; bad flags exit 2."""
    parser = build_parser(description)
    return config_from_args(parser, parser.parse_args(argv))
