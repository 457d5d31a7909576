"""The training core: one place that turns a ``TrainConfig`` into a compiled model and its callbacks.

``keras-nmf-train`` (through :func:`keras_nmf.training.train`), the run grids
of ``keras-nmf-compare``, the KerasTuner trials of ``keras-nmf-search`` and
the benchmarks all go through :func:`process_settings`,
:func:`build_compiled_model` and :func:`recipe_callbacks`, so a flag means the
same thing everywhere. The recipe is the paper's (Nouri, Rotermund,
Garcia-Ortiz and Pawelzik, "Including local feature interactions in deep
non-negative matrix factorization networks improves performance", section 6):
loss eq. 21, Adam with one rate for the kxk weights and one for the rest,
ReduceLROnPlateau, a learning-rate floor; or, instead of the last two, a
schedule laid over a fixed budget (``--schedule``, :mod:`keras_nmf.schedules`).
"""

import contextlib

import keras

from keras_nmf.architectures import network_spec
from keras_nmf.data import load_dataset
from keras_nmf.losses import CrossEntropyMSE
from keras_nmf.models import ImageClassifier, PaperNetwork
from keras_nmf.optimizers import MultiRateAdam
from keras_nmf import backend
from keras_nmf._native_log import quiet_native_startup
from keras_nmf.training import callbacks as run_callbacks
from keras_nmf.training.batchnorm import RecalibrateBatchNorm
from keras_nmf.errors import ConfigError
from keras_nmf.training.distribute import is_tf_strategy, strategy_scope
from keras_nmf.training.plateau import ResumableReduceLROnPlateau
from keras_nmf.schedules import fixed_budget_schedule

#: Variables trained at ``kxk_lr``: every block's kxk NMF kernel or CNN conv.
KXK_VARIABLES = r"^block\d+_(cnmf|conv)/"


def check_backend_support(config):
    """Refuses the settings that the running backend cannot honour, naming the backend and the way out.

    :class:`~keras_nmf.training.config.TrainConfig` checks everything else while no backend is imported (its
    flags parse before Keras loads); these rules need the backend.

    Raises:
        ConfigError: naming the flag.
    """
    distribute, deterministic, model = config.execution.distribute, config.optimisation.deterministic, config.model
    if distribute != "none" and distribute not in backend.DISTRIBUTE_STRATEGIES:
        where = (
            "Keras's own distribution (keras.distribution) and needs KERAS_BACKEND=jax"
            if distribute == "data_parallel"
            else "a tf.distribute strategy and needs KERAS_BACKEND=tensorflow"
        )
        offered = ", ".join(backend.DISTRIBUTE_STRATEGIES) or "none"
        raise ConfigError(
            f"--distribute {distribute} is {where}; the {backend.NAME} backend offers: {offered}. "
            f"Drop --distribute or change KERAS_BACKEND."
        )
    if deterministic and backend.DETERMINISM_ADVICE:
        raise ConfigError(
            f"--deterministic is TensorFlow's op determinism; the {backend.NAME} backend has no switch for it here "
            f"({backend.DETERMINISM_ADVICE}). Drop --deterministic or set KERAS_BACKEND=tensorflow."
        )
    if config.execution.jit and deterministic and not backend.COMPILES_WITH_DETERMINISM:
        raise ConfigError(
            "--jit does not work with --deterministic: Keras compiles no XLA step under TensorFlow's op "
            "determinism (not every XLA op is deterministic). Drop --jit (XLA is off by default with "
            "--deterministic)."
        )
    if model.family == "nmf" and model.implicit_dtype == "float64" and not backend.float64_available():
        raise ConfigError(
            "--implicit-dtype float64 needs float64 arithmetic, which Keras gives on TensorFlow, and on "
            "JAX with JAX_ENABLE_X64=1 (set it before starting Python); on PyTorch Keras computes "
            "float64 in float32. Use --implicit-dtype float32 here."
        )


def default_jit(arch, strategy=None):
    """XLA where it measured faster (the network's ``xla_on_tensorflow``), but off under a ``tf.distribute`` strategy.

    ``xla_on_tensorflow`` (:class:`keras_nmf.architectures.NetworkSpec`) is TensorFlow's choice; on the JAX backend every step is
    compiled (``jax.jit``, Keras's default there), as uncompiled JAX runs op by
    op; on PyTorch steps run eagerly (Keras's default there: its ``jit_compile``
    is ``torch.compile``, which took minutes per layer on this project's CPU).

    XLA-compiled steps under ``MirroredStrategy`` fail with "Trying to access
    resource ... located in device CPU:1 from device CPU:0" (XLA's known
    issue of variables on another device; keras-team/keras#19005, where Keras
    disabled XLA under tf.distribute). ``TrainConfig`` rejects ``--jit`` with
    ``--distribute``.
    """
    if backend.DEFAULT_JIT is not None:
        return backend.DEFAULT_JIT
    return network_spec(arch).xla_on_tensorflow and strategy is None


def resolve_jit(config, strategy=None):
    """``--jit`` if given, else :func:`default_jit`; off under TensorFlow's op determinism.

    Keras compiles no XLA step while ``enable_op_determinism`` is on (not every
    XLA op is deterministic; ``model_supports_jit``), so ``--deterministic``
    runs without XLA on TensorFlow (:func:`check_backend_support` refuses ``--jit`` with it).
    """
    if config.execution.jit is not None:
        return config.execution.jit
    if config.optimisation.deterministic and not backend.COMPILES_WITH_DETERMINISM:
        return False
    return default_jit(config.model.arch, strategy)


def resolve_precision(precision):
    """``auto``: mixed_bfloat16 (compute capability >= 8), mixed_float16 (>= 7) or float32."""
    if precision != "auto":
        return precision
    capability = backend.gpu_compute_capability() or (0, 0)
    if capability >= (8, 0):
        return "mixed_bfloat16"
    if capability >= (7, 0):
        return "mixed_float16"
    return "float32"


@contextlib.contextmanager
def process_settings(precision="float32", deterministic=False, seed=None):
    """Applies a run's process-wide settings and restores the previous ones on exit.

    What ``train()``, each sweep trial and the benchmarks run inside:

    * The Keras dtype policy ``precision`` (``auto`` resolved by
      :func:`resolve_precision`).
    * TF32: ``float32`` means true float32 matmuls on the GPU. On Ampere and
      newer GPUs TensorFlow and JAX run float32 matmuls as TF32 (10-bit mantissa) by
      default (:mod:`keras_nmf.backend`); emulated on a CPU (``scripts/bench_tf32.py``), TF32 moves ~5e-4
      of each h's mass after N = 20 iterations, 1000x float32's error. Under
      the mixed policies TF32 stays on (TensorFlow's default): its error is
      below the bfloat16 rounding of the layer's input that ``mixed_bfloat16``
      already accepts.
    * ``deterministic``: ``tf.config.experimental.enable_op_determinism()``
      (TensorFlow only).
    * ``seed``: every generator seeded (``keras.utils.set_random_seed``: Python, NumPy, the backend); ``None``
      leaves them as they are.

    The backends have no per-op switch for these, so two runs in one process
    (a grid, a sweep) would otherwise leak them into each other.

    Yields:
        The resolved precision.
    """
    resolved = resolve_precision(precision)
    previous = (keras.config.dtype_policy(), backend.tf32_enabled(), backend.determinism_enabled())
    try:
        keras.config.set_dtype_policy(resolved)
        backend.set_tf32(resolved != "float32")
        backend.set_determinism(deterministic)
        if seed is not None:
            with quiet_native_startup():  # where TensorFlow is installed, Keras imports it here to seed tf.data
                keras.utils.set_random_seed(seed)
        yield resolved
    finally:
        policy, tf32, determinism = previous
        keras.config.set_dtype_policy(policy)
        backend.set_tf32(tf32)
        backend.set_determinism(determinism)


def compile_model(model, config, jit):
    """Compiles with the recipe: MultiRateAdam (``config.budget``'s ``lr``, ``kxk_lr``), loss eq. 21 (``alpha``),
    accuracy."""
    budget = config.budget
    optimizer = MultiRateAdam(
        learning_rate=budget.lr,
        rate_multipliers={KXK_VARIABLES: budget.kxk_lr / budget.lr},
        epsilon=1e-8,  # PyTorch's Adam default, as in the authors' code
    )
    model.compile(
        optimizer=optimizer,
        loss=CrossEntropyMSE(alpha=config.optimisation.alpha),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=jit,
    )
    # The saved compile configuration leaves XLA to the loading backend's own default (Keras's "auto": on PyTorch
    # that is eager; a baked-in True there means torch.compile, which recompiled per batch shape: 27 s to predict 4
    # images). This run's steps keep `jit`. Keras records the resolved value in a private attribute
    # (tests/test_keras_internals.py pins it).
    model._compile_config.config["jit_compile"] = "auto"
    # Built here, not in the first traced step: a tf.function that creates variables is traced twice (once to
    # create them, once without), which cost every run a second trace of the training step.
    optimizer.build(model.trainable_variables)
    return model


def network_arguments(model, nmf_chunk_elements=None):
    """:class:`keras_nmf.models.PaperNetwork`'s arguments from a run's :class:`ModelSettings` and its execution's
    ``nmf_chunk_elements`` (0 or ``None``: the whole batch at once): the one mapping, for every caller."""
    return dict(
        arch=model.arch,
        width=model.width,
        nmf_groups=model.nmf_groups,
        conv_groups=model.conv_groups,
        nmf_options=model.nmf_options(),
        nmf_chunk_elements=nmf_chunk_elements or None,
        nmf_layer=model.nmf_layer,
        cnn_kxk_bias=model.cnn_kxk_bias,
    )


def load_run_data(data, optimisation):
    """The run's data, as its :class:`DataSettings` say, served as its :class:`OptimisationSettings` say (batch, seed,
    steps): :func:`keras_nmf.data.load_dataset` (the one mapping, for ``train()`` and the sweep)."""
    return load_dataset(
        name=data.dataset,
        data_dir=data.data_dir,
        tfds_dir=data.tfds_dir,
        crop_size=data.crop_size,
        val_split=data.val_split,
        limit_train=data.limit_train,
        limit_test=data.limit_test,
        batch_size=optimisation.batch_size,
        seed=optimisation.seed,
        steps_per_epoch=optimisation.steps_per_epoch,
    )


def build_compiled_model(config, input_shape, num_classes, strategy=None, jit=None, image_shape=None, **overrides):
    """The config's network, compiled with the recipe, in the strategy's scope.

    ``image_shape``: the raw images' shape; the model is then a :class:`keras_nmf.models.ImageClassifier` (the
    paper's augmentation, seeded by the run, then the network) and takes uint8 images. Without it, the
    :class:`keras_nmf.models.PaperNetwork` alone, on ``input_shape`` crops in [0, 1].

    ``overrides`` replace settings for this model only (a sweep's sampled
    ``width``, ``nmf_groups``, ``conv_groups``). Call it inside
    :func:`process_settings` so that the layers take the run's dtype policy.
    """
    config = config.replace(**overrides) if overrides else config
    with strategy_scope(strategy):
        model = PaperNetwork(
            input_shape=input_shape,
            num_classes=num_classes,
            bn_synchronized=is_tf_strategy(strategy),
            **network_arguments(config.model, config.execution.nmf_chunk_elements),
        )
        if image_shape is not None:
            model = ImageClassifier(model, image_shape, seed=config.optimisation.seed)
        compile_model(model, config, resolve_jit(config, strategy) if jit is None else jit)
    return model


def use_run_schedule(model, config, steps_per_epoch):
    """Lays ``--schedule`` over ``--epochs`` x ``steps_per_epoch`` steps (nothing for the paper's plateau).

    Call it once the steps per epoch are known and before training or any
    restore of a backup: Keras drops the constant rate's variable from the
    optimizer's variables when a schedule replaces it.
    """
    schedule = run_schedule(config, steps_per_epoch)
    if schedule is not None:
        model.optimizer.learning_rate = schedule  # a function of the optimizer's step counter


def run_schedule(config, steps_per_epoch):
    """The base rate's schedule of a run's settings (``None`` for the paper's plateau)."""
    shape, budget = config.optimisation, config.budget
    return fixed_budget_schedule(
        shape.schedule,
        budget.lr,
        budget.epochs,
        steps_per_epoch,
        shape.peak_lr_factor,
        shape.warmup_fraction,
        shape.decay_fraction,
    )


def recipe_callbacks(optimisation, train_data, nan_advice="", last_good=None, print_fn=print):
    """The callbacks that are part of the recipe itself, for a run and a sweep trial alike, in order.

    Precise BatchNorm statistics before any evaluation (when ``train_data`` is
    given), under the paper's ``--schedule plateau`` the plateau schedule and
    the learning-rate floor, and the stop on a non-finite loss or weights
    (before any backup, so that NaNs are never saved). A fixed-budget schedule
    needs no callback (:func:`use_run_schedule`).

    Args:
        nan_advice, last_good: what the non-finite stop adds to its error (see ``StopOnNonFinite``).

    Returns:
        ``(callbacks, stateful)``: ``stateful`` maps ``"plateau"`` and ``"floor"`` (under the plateau schedule;
        empty otherwise) to the callbacks whose state a backup must keep; ``stateful["floor"].stopped_epoch``
        says whether the floor stopped training.
    """
    callbacks = [] if train_data is None else [RecalibrateBatchNorm(train_data, optimisation.bn_recalibration_batches)]
    stateful = {}
    if optimisation.schedule == "plateau":
        stateful["plateau"] = ResumableReduceLROnPlateau(
            monitor=optimisation.monitor,
            factor=optimisation.plateau_factor,
            patience=optimisation.plateau_patience,
            min_lr=0.0,
            verbose=0,
            print_fn=print_fn,
        )
        stateful["floor"] = run_callbacks.LearningRateFloor(optimisation.min_lr, print_fn=print_fn)
    callbacks += [*stateful.values(), run_callbacks.StopOnNonFinite(nan_advice, last_good)]
    return callbacks, stateful
