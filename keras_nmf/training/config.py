"""``TrainConfig``: every knob of a training run, and its command-line parser."""

import argparse
import dataclasses
import json
import pathlib

from keras_nmf.data import TFDS_DATASETS
from keras_nmf.models import ARCHITECTURES
from keras_nmf.ops import BACKWARD_MODES, LEARNING_MODES
from keras_nmf.training.distribute import DEFAULT_STARTUP_TIMEOUT_S, STRATEGIES

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
MONITORS = ("loss", "val_loss")


def _field(default, help, choices=None):
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices})


@dataclasses.dataclass
class TrainConfig:
    """Defaults reproduce the paper's recipe (PAPER.md sections 5-6)."""

    # Model (build_model arguments).
    arch: str = _field("cnmf_1x1", "network", ARCHITECTURES)
    width: int = _field(1, "channel multiplier of the hidden blocks (32, 64, 96 x width)")
    nmf_groups: int = _field(1, "groups of the CNMF2D layers of blocks 2-3")
    conv_groups: int = _field(1, "groups of the CNN kxk convs (blocks 2-3) and the 1x1 mixing convs")
    iterations: int = _field(20, "NMF iterations N (eq. 6)")
    epsilon: float = _field(None, "eq. 6 step size in (0, 1]; default: plain update")
    backward: str = _field("approx", "NMF backward: one-step eqs. 18-19, or autodiff", BACKWARD_MODES)
    nmf_learning: str = _field("backprop", "NMF weights by backprop, or the local NMF rule (ablation)", LEARNING_MODES)
    nmf_chunk_elements: int = _field(
        2**20, "CNMF2D patch entries processed at a time (bounds memory); 0: the whole batch at once")
    # Data.
    dataset: str = _field("cifar10", "tensorflow_datasets name (ignored with --data-dir)", TFDS_DATASETS)
    data_dir: str = _field(None, "image folder DIR/train/<class>/*, DIR/test/<class>/* instead of tfds")
    tfds_dir: str = _field(None, "tensorflow_datasets data directory")
    crop_size: int = _field(None, "random/centre crop side; default image side - 4 (32 -> 28)")
    limit_train: int = _field(None, "use only N training images (smoke runs)")
    limit_test: int = _field(None, "use only N test images (smoke runs)")
    val_split: float = _field(0.0, "fraction of train held out as validation set")
    # Optimisation.
    epochs: int = _field(500, "maximum epochs")
    steps_per_epoch: int = _field(None, "batches per epoch (default: the whole training set)")
    batch_size: int = _field(50, "batch size")
    lr: float = _field(1e-3, "Adam learning rate of the 1x1 convs and BatchNorm")
    kxk_lr: float = _field(1e-2, "Adam learning rate of each block's kxk weights (NMF kernels or CNN convs)")
    alpha: float = _field(0.5, "weight of the squared error in the loss (eq. 21)")
    monitor: str = _field("loss", "ReduceLROnPlateau monitors the training loss, or val_loss (needs --val-split)", MONITORS)
    plateau_patience: int = _field(10, "epochs without improvement before the learning rate drops")
    plateau_factor: float = _field(0.1, "learning-rate factor on a plateau")
    min_lr: float = _field(1e-9, "stop when every learning rate is below this")
    eval_every: int = _field(1, "evaluate the test set every N epochs (logging only)")
    bn_recalibration_batches: int = _field(50, "re-estimate BatchNorm statistics on N training batches each epoch (0: off)")
    # Execution.
    precision: str = _field("auto", "auto: mixed precision on a capable GPU, float32 on CPU", PRECISIONS)
    distribute: str = _field(
        "none", "tf.distribute strategy: mirrored (this host's GPUs) or multiworker (TF_CONFIG hosts); "
        "--batch-size stays the global batch", STRATEGIES)
    distribute_timeout: float = _field(
        DEFAULT_STARTUP_TIMEOUT_S, "multiworker: seconds to wait for every TF_CONFIG worker to join; then the worker stops "
        "with the names of the workers that do not answer (0: wait forever)")
    jit: bool = _field(None, "XLA-compile the train step (default: whichever was measured faster: on for NMF networks, off for CNNs)")
    seed: int = _field(0, "random seed (weights, data order, augmentation)")
    deterministic: bool = _field(
        False, "enable_op_determinism: the same seed and flags give bit-identical weights (slower)")
    variant: str = _field("base", "label of this run in a comparison (scripts/compare.py --variant)")
    logdir: str = _field(None, "run directory (default runs/<arch>-<timestamp>)")
    resume: bool = _field(False, "resume the run in --logdir (or the latest runs/<arch>-*) from its last epoch")
    verbose: int = _field(1, "Keras progress: 0 silent, 1 bar, 2 one line per epoch")

    def __post_init__(self):
        for spec in dataclasses.fields(self):
            choices = spec.metadata.get("choices")
            value = getattr(self, spec.name)
            if choices and value not in choices:
                raise ValueError(f"Unknown {spec.name} {value!r}. Valid choices: {', '.join(choices)}.")
        if self.monitor == "val_loss" and not self.val_split:
            raise ValueError("--monitor val_loss needs a validation split: add --val-split 0.1 (for example).")
        if self.jit and self.distribute != "none":
            raise ValueError(
                "--jit does not work with --distribute: XLA steps cannot use variables mirrored on other devices "
                "(keras-team/keras#19005; Keras itself disables XLA under tf.distribute). Drop --jit (XLA is off "
                "by default under a strategy).")
        if self.distribute_timeout < 0:
            raise ValueError(f"--distribute-timeout must be >= 0 (0 waits forever). Received: {self.distribute_timeout}")
        if self.nmf_chunk_elements < 0:
            raise ValueError(f"--nmf-chunk-elements must be >= 0. Received: {self.nmf_chunk_elements}")
        for name in ("epochs", "batch_size", "iterations", "width", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1. Received: {getattr(self, name)}")

    def to_dict(self):
        return dataclasses.asdict(self)

    def save(self, path):
        pathlib.Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path):
        return cls(**json.loads(pathlib.Path(path).read_text()))


def _flag_type(spec):
    default_type = type(spec.default) if spec.default is not None else None
    hints = {"epsilon": float, "data_dir": str, "tfds_dir": str, "crop_size": int, "limit_train": int,
             "limit_test": int, "steps_per_epoch": int, "logdir": str}
    return hints.get(spec.name, default_type)


def build_parser(description=None, exclude=()):
    """An ``argparse`` parser with one flag per ``TrainConfig`` field (except the ``exclude`` fields)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    for spec in dataclasses.fields(TrainConfig):
        if spec.name in exclude:
            continue
        flag = "--" + spec.name.replace("_", "-")
        help_text = spec.metadata["help"] + (f" (default: {spec.default})" if spec.default is not None else "")
        if spec.name in ("jit", "resume", "deterministic"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=spec.default, help=help_text)
        else:
            parser.add_argument(flag, type=_flag_type(spec), default=spec.default,
                                choices=spec.metadata.get("choices"), help=help_text)
    return parser


def parse_config(argv=None, description=None):
    """Parses command-line flags into a ``TrainConfig`` (unknown flags are errors)."""
    parser = build_parser(description)
    args = parser.parse_args(argv)
    try:
        return TrainConfig(**vars(args))
    except ValueError as error:
        parser.error(str(error))
