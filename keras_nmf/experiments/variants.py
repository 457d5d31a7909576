"""Variants: named sets of ``TrainConfig`` overrides (the ablations of a comparison)."""

import dataclasses
import re

from keras_nmf.errors import ConfigError
from keras_nmf.training.config import TrainConfig
from keras_nmf.training.settings import FIELD_NAMES, check_field, fields_where, parse_value

#: The ``TrainConfig`` fields that a comparison's grid sets per run, and what to use instead of each one's flag.
PER_RUN = {
    "arch": "--archs",
    "seed": "--seeds",
    "variant": "--variant LABEL:FIELD=VALUE",
    "logdir": "--out",
    "resume": "rerunning the same command",
}

#: Fields that a comparison sets per run, and the volatile ones; a variant may not override them.
RESERVED_FIELDS = tuple(dict.fromkeys([*PER_RUN, *fields_where(role="volatile")]))

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")


@dataclasses.dataclass(frozen=True)
class Variant:
    """A label and the ``TrainConfig`` fields it changes.

    ``Variant("local", {"learning": "local"})`` is the paper's section 4.2
    ablation; ``Variant("autodiff", {"backward": "autodiff"})`` is Figure 1's
    backward through all iterations. The label names the run directories
    (``<arch>-<label>-seed<k>``; the base variant has no label part) and the
    rows of the summary.
    """

    label: str
    overrides: tuple = ()  # ((field, value), ...), hashable

    def apply(self, config: TrainConfig) -> TrainConfig:
        return config.replace(**dict(self.overrides))

    def describe(self):
        return ", ".join(f"{key}={value}" for key, value in self.overrides) or "as given"


BASE_VARIANT = Variant("base")


def _assignments(text):
    """``a=1,b=x,y`` -> ``["a=1", "b=x,y"]``: a piece without ``=`` continues the previous value (lists)."""
    pieces = []
    for piece in filter(None, text.split(",")):
        if "=" not in piece and pieces:
            pieces[-1] += "," + piece
        else:
            pieces.append(piece)
    return pieces


def parse_variant(text: str) -> Variant:
    """Parses ``label:field=value[,field=value...]``, e.g. ``local:learning=local``.

    A value may itself be a comma list (``hidden_local:learning=local,local,local,backprop``).

    Fields are ``TrainConfig`` field names (``backward``, ``iterations``, ...;
    dashes allowed), values are converted as the matching train.py flag
    converts them. ``label`` alone (no colon) is a variant without overrides,
    for a second budget beside another (``approx:backward=approx``).

    Raises:
        ValueError: naming the problem and the expected form.
    """
    form = "Expected LABEL:FIELD=VALUE[,FIELD=VALUE], e.g. local:learning=local"
    label, _, assignments = text.partition(":")
    if not _LABEL.match(label) or label == BASE_VARIANT.label:
        raise ConfigError(
            f"Bad variant label {label!r}: use letters, digits, '_' or '.', not 'base'. {form}. Received: {text!r}"
        )
    names = set(FIELD_NAMES)
    overrides = []
    for assignment in _assignments(assignments):
        field, equals, value = assignment.partition("=")
        field = field.strip().replace("-", "_")
        if not equals:
            raise ConfigError(f"Variant {label!r}: {assignment!r} is not FIELD=VALUE. {form}. Received: {text!r}")
        if field in RESERVED_FIELDS:
            raise ConfigError(
                f"Variant {label!r} cannot set {field!r}: the comparison sets it per run. Received: {text!r}"
            )
        if field not in names:
            raise ConfigError(
                f"Variant {label!r}: unknown field {field!r}. Valid fields: "
                f"{', '.join(sorted(names - set(RESERVED_FIELDS)))}. Received: {text!r}"
            )
        try:
            overrides.append((field, parse_value(field, value.strip())))
        except ValueError:
            raise ConfigError(f"Variant {label!r}: bad value {value!r} for {field}. Received: {text!r}") from None
    try:  # each value on its own; rules across fields (e.g. arch and bias) are checked when the grid is planned
        for field, value in overrides:
            check_field(field, value)
    except ConfigError as error:
        raise ConfigError(f"Variant {label!r}: {error}") from None
    return Variant(label, tuple(overrides))
