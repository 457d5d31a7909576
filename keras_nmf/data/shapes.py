"""What a model needs to know of a data set before any image is decoded, and before any backend loads."""

import dataclasses

from keras_nmf.data.errors import DataError
from keras_nmf.data.image_folder import image_folder_shape
from keras_nmf.data.tfds_source import TFDS_IMAGE_SHAPES, TFDS_NUM_CLASSES

#: The default crop's side is the image's minus this: the paper crops 32x32 CIFAR-10 to 28x28, 28x28 MNIST to 24x24.
CROP_MARGIN = 4


def checked_crop_size(crop_size, height, width):
    """The crop side: ``crop_size``, or the image side - :data:`CROP_MARGIN`; a crop that does not fit is an error."""
    crop_size = crop_size or min(height, width) - CROP_MARGIN
    if not 0 < crop_size <= min(height, width):
        raise DataError(
            f"A crop size of {crop_size} does not fit {height}x{width} images: pass at most {min(height, width)}."
        )
    return crop_size


@dataclasses.dataclass(frozen=True)
class DatasetShape:
    """What a model for a data set needs to know, known without loading it."""

    image_shape: tuple
    input_shape: tuple
    num_classes: int


def dataset_shape(name="cifar10", data_dir=None, crop_size=None):
    """The images' shape, the crops' shape and the class count of a data set, without decoding it.

    Raises:
        DataError: the crop does not fit the images (or the image folder is unusable).
    """
    if data_dir:
        image_shape, num_classes = image_folder_shape(data_dir)
    else:
        image_shape, num_classes = TFDS_IMAGE_SHAPES[name], TFDS_NUM_CLASSES[name]
    height, width, channels = image_shape
    crop_size = checked_crop_size(crop_size, height, width)
    return DatasetShape(tuple(image_shape), (crop_size, crop_size, channels), num_classes)
