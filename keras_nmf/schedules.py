"""Learning-rate schedules over a fixed budget, beside the paper's plateau schedule.

The paper (Nouri et al., section 6) trains at a constant rate that
``ReduceLROnPlateau`` lowers by 10x after 10 epochs without progress of the
training loss, for up to 500 epochs. Over a budget of a few tens of epochs
that schedule never decays. The schedules here are laid over the whole run
instead (``epochs x steps per epoch`` optimizer steps), as functions of the
optimizer's step counter, which the run's backup saves with the weights: a
resumed run continues them exactly.

* ``wsd`` (warm-up, stable, decay): a linear warm-up to the peak over the
  first ``warmup_fraction`` of the steps, the peak, then a linear decay to 0
  over the final ``decay_fraction``.
* ``onecycle``: the warm-up, then a linear decay to 0 over every remaining
  step (``wsd`` without a stable phase).
* ``cosine``: the warm-up, then Keras's ``CosineDecay`` to 0.

The peak is ``peak_lr_factor`` times the base rate (``--lr``);
:class:`keras_nmf.optimizers.MultiRateAdam` multiplies it for the kxk weights,
so both groups follow one shape.
"""

import keras

from keras_nmf.run_choices import SCHEDULES


@keras.saving.register_keras_serializable(package="keras_nmf")
class WarmupStableDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak``, constant ``peak``, linear decay to 0 over the last ``decay_steps``.

    The rate of optimizer step ``s`` (0-based) of ``total_steps``:

    * ``peak * (s + 1) / warmup_steps`` for ``s < warmup_steps`` (the first step already moves);
    * ``peak * (total_steps - s) / decay_steps`` for ``s >= total_steps - decay_steps`` (the last step takes
      ``peak / decay_steps``; 0 from ``total_steps`` on);
    * ``peak`` in between.

    With ``decay_steps = total_steps - warmup_steps`` it is the one-cycle schedule (no stable phase).
    """

    def __init__(self, peak, total_steps, warmup_steps=0, decay_steps=0, name="WarmupStableDecay"):
        super().__init__()
        if not total_steps >= 1:
            raise ValueError(f"total_steps must be >= 1. Received: {total_steps}")
        if not (0 <= warmup_steps and 0 <= decay_steps and warmup_steps + decay_steps <= total_steps):
            raise ValueError(
                f"The warm-up ({warmup_steps}) and decay ({decay_steps}) steps must be >= 0 and fit in "
                f"the {total_steps} steps together."
            )
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = int(decay_steps)
        self.name = name

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        factor = keras.ops.ones_like(step)
        if self.warmup_steps:
            factor = keras.ops.minimum(factor, (step + 1.0) / self.warmup_steps)
        if self.decay_steps:
            factor = keras.ops.minimum(factor, (self.total_steps - step) / self.decay_steps)
        return self.peak * keras.ops.maximum(factor, 0.0)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "name": self.name,
        }


def fixed_budget_schedule(
    name, base_rate, epochs, steps_per_epoch, peak_lr_factor=1.0, warmup_fraction=0.0, decay_fraction=0.0
):
    """The base rate's schedule over ``epochs x steps_per_epoch`` steps; ``None`` for ``plateau``.

    Args:
        name: one of :data:`SCHEDULES`.
        base_rate: ``--lr``; the peak is ``base_rate * peak_lr_factor``.
        warmup_fraction: the share of the steps that warm up (every schedule but ``plateau``).
        decay_fraction: ``wsd`` only: the final share of the steps that decays to 0.
    """
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule {name!r}. Valid choices: {', '.join(SCHEDULES)}.")
    if name == "plateau":
        return None
    if steps_per_epoch is None:
        raise ValueError(f"--schedule {name} is laid over the run's steps: give fit its steps_per_epoch.")
    total = int(epochs) * int(steps_per_epoch)
    peak = base_rate * peak_lr_factor
    warmup = min(_steps(warmup_fraction, total), total - 1)  # at least one step after the warm-up
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=total - warmup, alpha=0.0, warmup_target=peak, warmup_steps=warmup
        )
    decay = total - warmup if name == "onecycle" else min(_steps(decay_fraction, total), total - warmup)
    return WarmupStableDecay(peak, total, warmup, decay)


def _steps(fraction, total):
    """``fraction`` of ``total`` steps, rounded, and at least one step for a fraction above 0 (short budgets)."""
    return max(int(round(fraction * total)), 1 if fraction > 0 else 0)


def describe(name, peak_lr_factor, warmup_fraction, decay_fraction):
    """A fixed-budget schedule in a few words, e.g. ``wsd, peak 1x, warm-up 0%, decay 20%`` (run logs, reports)."""
    text = f"{name}, peak {peak_lr_factor:g}x, warm-up {warmup_fraction:.0%}"
    if name != "wsd":
        return text
    return text + (f", decay {decay_fraction:.0%}" if decay_fraction else ", no decay (a stable trunk)")
