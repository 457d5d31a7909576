"""scripts/evaluate.py: ``keras-nmf-evaluate`` (``python -m keras_nmf.cli.evaluate``), run from the repository.

Its flags and examples: ``python scripts/evaluate.py --help`` (keras_nmf/cli/evaluate.py).
"""

import sys

from keras_nmf.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
