"""Seeded subsets (``--limit-train``, ``--limit-test``): one independent random stream per split.

Every script draws its subset here, so ``--limit-test 200 --seed 3`` means the
same 200 test images in train.py, evaluate.py, compare.py and robustness.py,
whatever else was drawn before (the training subset does not move the test
subset).
"""

import numpy as np

from keras_nmf.data.errors import DataError

#: The random stream of each split: ``default_rng([seed, SPLIT_STREAMS[split]])``.
SPLIT_STREAMS = {"train": 0, "test": 1}


class SubsetSizeError(DataError):
    """A subset larger than its split (or below 1); ``total``, ``limit`` and ``split`` say which."""

    def __init__(self, total, limit, split):
        self.total, self.limit, self.split = total, limit, split
        super().__init__(
            f"limit_{split}={limit} (--limit-{split}) is not between 1 and the {total} {split} images. "
            f"Pass at most {total}, or leave it out to use them all."
        )


def subset_indices(total, limit, seed, split):
    """Sorted indices of ``limit`` of ``total`` examples (all of them when ``limit`` is None).

    Raises:
        SubsetSizeError: ``limit`` below 1 or above ``total``.
    """
    if limit is None:
        return np.arange(total)
    if not 1 <= limit <= total:
        raise SubsetSizeError(total, limit, split)
    rng = np.random.default_rng([seed, SPLIT_STREAMS[split]])
    return np.sort(rng.permutation(total)[:limit])
