"""scripts/train.py: ``keras-nmf-train`` (``python -m keras_nmf.cli.train``), run from the repository.

Its flags and examples: ``python scripts/train.py --help`` (keras_nmf/cli/train.py).
"""

import sys

from keras_nmf.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
