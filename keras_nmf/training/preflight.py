"""The checks of a training configuration that need no backend, run by the commands before Keras loads.

Each is the same check the run makes later (one home each: the data set's shape and crop, the seeded subsets'
sizes, the run directory's place), made here first so that a wrong path or range is named within a second or two
of the command, not after the backend and the model have loaded.
"""

import pathlib

from keras_nmf.data.image_folder import list_images
from keras_nmf.data.shapes import dataset_shape
from keras_nmf.data.subsets import subset_indices
from keras_nmf.training.run_files import check_new_run_location


def check_before_backend(config):
    """Raises what ``train(config)`` would raise for its data folder, crop, subset sizes or new run directory.

    Raises:
        DataError: a data folder that is missing, a file, or unusable; a crop that does not fit; a
            ``--limit-train``/``--limit-test`` outside the images there are.
        PermissionError: a new run's ``--logdir`` that cannot be created.
    """
    data = config.data
    dataset_shape(data.dataset, data.data_dir, data.crop_size)
    if data.data_dir:
        for split, limit in (("train", data.limit_train), ("test", data.limit_test)):
            if limit is not None:
                paths, _, _ = list_images(data.data_dir, split)
                subset_indices(len(paths), limit, config.optimisation.seed, split)
    if config.execution.logdir and not config.session.resume:
        check_new_run_location(pathlib.Path(config.execution.logdir))
