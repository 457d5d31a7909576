"""The fixed-budget learning-rate schedules (``--schedule``): their values, their serialisation, their flags."""

import math

import keras
import pytest

from keras_nmf.training.config import ConfigError, TrainConfig, resume_changes
from keras_nmf.schedules import WarmupStableDecay, fixed_budget_schedule


def _rates(schedule, steps):
    return [float(keras.ops.convert_to_numpy(schedule(step))) for step in steps]


def test_wsd_warms_up_holds_the_peak_and_decays_linearly_to_zero():
    # 10 epochs x 10 steps, peak 2 x 1e-3, warm-up 10 steps, decay over the last 20.
    schedule = fixed_budget_schedule("wsd", 1e-3, 10, 10, peak_lr_factor=2.0, warmup_fraction=0.1, decay_fraction=0.2)
    peak = 2e-3
    assert isinstance(schedule, WarmupStableDecay)
    assert (schedule.total_steps, schedule.warmup_steps, schedule.decay_steps) == (100, 10, 20)
    steps = [0, 4, 9, 10, 50, 79, 80, 90, 99, 100, 130]
    expected = [
        peak * 1 / 10,
        peak * 5 / 10,
        peak,
        peak,
        peak,
        peak,
        peak * 20 / 20,
        peak * 10 / 20,
        peak * 1 / 20,
        0.0,
        0.0,
    ]
    assert _rates(schedule, steps) == pytest.approx(expected, rel=1e-6, abs=1e-12)


def test_onecycle_decays_over_every_step_after_the_warm_up():
    schedule = fixed_budget_schedule("onecycle", 1e-3, 4, 25, warmup_fraction=0.2, decay_fraction=0.9)
    assert (schedule.warmup_steps, schedule.decay_steps) == (20, 80)  # decay_fraction is wsd's alone
    assert _rates(schedule, [0, 19, 20, 60, 99]) == pytest.approx(
        [1e-3 / 20, 1e-3, 1e-3, 1e-3 * 40 / 80, 1e-3 / 80], rel=1e-6
    )


def test_cosine_is_keras_cosine_decay_after_a_linear_warm_up():
    schedule = fixed_budget_schedule("cosine", 1e-3, 2, 50, peak_lr_factor=3.0, warmup_fraction=0.1)
    peak, warmup, decay = 3e-3, 10, 90
    steps = [0, 5, 10, 55, 100]
    expected = [0.0, peak * 5 / warmup] + [
        peak * 0.5 * (1 + math.cos(math.pi * (s - warmup) / decay)) for s in steps[2:]
    ]
    assert _rates(schedule, steps) == pytest.approx(expected, rel=1e-5, abs=1e-12)


def test_plateau_is_no_schedule():
    assert fixed_budget_schedule("plateau", 1e-3, 10, 10) is None


@pytest.mark.parametrize("name", ["wsd", "onecycle", "cosine"])
def test_a_schedule_survives_serialisation_with_the_optimizer(name):
    """And gives the same rates after it: a schedule is a function of the step counter alone, which a resume
    restores (tests/training/test_faults.py resumes a wsd run exactly)."""
    from keras_nmf.optimizers import MultiRateAdam

    schedule = fixed_budget_schedule(name, 1e-3, 3, 7, warmup_fraction=0.1, decay_fraction=0.3)
    optimizer = MultiRateAdam(learning_rate=schedule, rate_multipliers={"conv": 10.0})
    restored = MultiRateAdam.from_config(optimizer.get_config())._learning_rate
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    assert _rates(restored, range(21)) == _rates(schedule, range(21))


def test_bad_phases_are_refused():
    with pytest.raises(ValueError, match="fit in the 10 steps"):
        WarmupStableDecay(1e-3, 10, warmup_steps=6, decay_steps=6)
    with pytest.raises(ValueError, match="Unknown schedule 'linear'"):
        fixed_budget_schedule("linear", 1e-3, 1, 1)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(schedule="wsd", monitor="val_loss", val_split=0.1), "--monitor is a setting of --schedule plateau"),
        (dict(schedule="cosine", plateau_patience=3), "--plateau-patience is a setting of --schedule plateau"),
        (dict(schedule="onecycle", min_lr=1e-6), "--min-lr is a setting of --schedule plateau"),
        (
            dict(peak_lr_factor=2.0),
            "--peak-lr-factor is a setting of --schedule wsd or onecycle or cosine, not of --schedule plateau",
        ),
        (dict(warmup_fraction=0.1), "--warmup-fraction is a setting of --schedule wsd"),
        (
            dict(schedule="cosine", decay_fraction=0.5),
            "--decay-fraction is a setting of --schedule wsd, not of --schedule cosine",
        ),
        (dict(schedule="wsd", warmup_fraction=0.5, decay_fraction=0.6), "overlap: together they must be at most 1"),
        (dict(schedule="wsd", peak_lr_factor=0.0), "--peak-lr-factor must be > 0.0"),
        (dict(schedule="exponential"), "Unknown --schedule 'exponential'"),
    ],
)
def test_settings_of_another_schedule_are_refused_with_the_reason(fields, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("+", r"\+")):
        TrainConfig.of(**fields)


def test_a_fixed_budget_run_takes_no_rate_or_epoch_change_on_resume():
    saved = TrainConfig.of(arch="cnn", schedule="wsd", epochs=20)
    changes, refused = resume_changes(saved, TrainConfig.of(arch="cnn", schedule="wsd", epochs=30, lr=1e-4, jit=False))
    assert changes == {"jit": (None, False)}
    assert refused == [
        "--epochs (saved 20, given 30: --schedule wsd lays the rates over the saved --epochs from the first step)",
        "--lr (saved 0.001, given 0.0001: --schedule wsd lays the rates over the saved --epochs from the first step)",
    ]
    # The paper's plateau schedule still takes them.
    plateau = TrainConfig.of(arch="cnn", epochs=20)
    assert set(resume_changes(plateau, TrainConfig.of(arch="cnn", epochs=30))[0]) == {"epochs"}


def test_the_train_command_line_takes_the_schedule_flags():
    from keras_nmf.training import parse_config

    config, given = parse_config(
        [
            "--arch",
            "cnn",
            "--schedule",
            "wsd",
            "--peak-lr-factor",
            "1.5",
            "--warmup-fraction",
            "0.1",
            "--decay-fraction",
            "0.3",
        ]
    )
    shape = config.optimisation
    assert (shape.schedule, shape.peak_lr_factor, shape.warmup_fraction, shape.decay_fraction) == ("wsd", 1.5, 0.1, 0.3)
    assert {"schedule", "peak_lr_factor"} <= given
    with pytest.raises(SystemExit):
        parse_config(["--schedule", "cosine", "--monitor", "val_loss", "--val-split", "0.1"])


def test_a_short_budget_keeps_at_least_one_step_of_each_phase_it_asks_for():
    schedule = fixed_budget_schedule("wsd", 1e-3, 1, 3, warmup_fraction=0.01, decay_fraction=0.01)
    assert (schedule.warmup_steps, schedule.decay_steps) == (1, 1)
    assert _rates(schedule, [0, 1, 2, 3]) == pytest.approx([1e-3, 1e-3, 1e-3, 0.0])
    single = fixed_budget_schedule("wsd", 1e-3, 1, 1, warmup_fraction=0.5, decay_fraction=0.5)
    assert (single.warmup_steps, single.decay_steps) == (0, 1)
    with pytest.raises(ValueError, match="give fit its steps_per_epoch"):
        fixed_budget_schedule("cosine", 1e-3, 1, None)
