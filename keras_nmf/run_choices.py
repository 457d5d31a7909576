"""What a run's settings choose from, by name, without Keras.

A leaf module (no imports): the run configuration offers these choices before any backend is imported, and the
modules that implement them (:mod:`keras_nmf.schedules`, :mod:`keras_nmf.training.distribute`,
:mod:`keras_nmf.data`) read them here.
"""

#: Learning-rate schedules: ``plateau`` (the paper's, the default) first.
SCHEDULES = ("plateau", "wsd", "onecycle", "cosine")
#: The schedules laid over the run's budget (every one but the paper's plateau).
FIXED_BUDGET = SCHEDULES[1:]

#: ``--distribute``: none, TensorFlow's strategies (this host's GPUs, TF_CONFIG hosts), JAX's keras.distribution.
STRATEGIES = ("none", "mirrored", "multiworker", "data_parallel")
#: Seconds a multi-worker run waits for every worker to join.
DEFAULT_STARTUP_TIMEOUT_S = 600.0

#: The data sets read through ``tensorflow_datasets``.
TFDS_DATASETS = ("cifar10", "mnist", "fashion_mnist")
