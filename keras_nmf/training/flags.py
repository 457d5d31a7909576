"""The commands' flags: one per setting of :mod:`keras_nmf.training.settings`, grouped by section in ``--help``.

A leaf like the settings: parsing and every usage error happen before a backend is imported.
"""

import argparse
import dataclasses

from keras_nmf.errors import ConfigError, RunFileError
from keras_nmf.training.branches import branch_defaults, load_trunk
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.settings import SECTION_OF, SECTIONS, check_value, field_spec, flag


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


def add_setting_flags(parser, names, with_defaults=False, help=None):
    """Adds the flags of the settings ``names`` to a command's own parser, declared once for every command: their
    type, choices and help come from the settings (:mod:`keras_nmf.training.settings`), as train.py's do.

    Args:
        with_defaults: an unset flag takes its setting's default; else None, so that the command can tell which
            flags were given (e.g. to take the rest from a run's config.json).
        help: ``{name: text}`` for a flag whose meaning the command narrows (e.g. evaluate's ``--seed``: the
            ``--limit-test`` subset's only).
    """
    for name in names:
        spec = field_spec(name)
        _add_flag(
            parser,
            spec,
            default=spec.default if with_defaults else None,
            help=(help or {}).get(name),
            value_type=_checked_type(spec),
        )


def _checked_type(spec):
    """An ``argparse`` type that converts a flag's text as its setting's type and checks its range and rule at
    parse time (:func:`keras_nmf.training.settings.check_value`)."""

    def convert(text):
        value = spec.metadata["type"](text)
        try:
            check_value(spec, value)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return value

    convert.__name__ = spec.metadata["type"].__name__  # argparse names the type in "invalid int value"
    return convert


def _add_flag(parser, spec, refused_because=None, default=argparse.SUPPRESS, help=None, value_type=None):
    meta = spec.metadata
    if refused_because is not None:
        parser.add_argument(flag(spec.name), action=_Refuse, reason=refused_because, default=argparse.SUPPRESS)
        if meta["type"] is bool:
            parser.add_argument(
                "--no-" + spec.name.replace("_", "-"), action=_Refuse, reason=refused_because, default=argparse.SUPPRESS
            )
        return
    help_text = help or meta["help"] + (f" (default: {spec.default})" if spec.default is not None else "")
    if meta["type"] is bool:
        parser.add_argument(flag(spec.name), action=argparse.BooleanOptionalAction, default=default, help=help_text)
    else:
        parser.add_argument(
            flag(spec.name),
            type=value_type or meta["type"],
            default=default,
            choices=meta["choices"],
            help=help_text,
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
