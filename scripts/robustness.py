"""scripts/robustness.py: ``keras-nmf-robustness`` (``python -m keras_nmf.cli.robustness``), run from the repository.

Its flags and examples: ``python scripts/robustness.py --help`` (keras_nmf/cli/robustness.py).
"""

import sys

from keras_nmf.cli.robustness import main

if __name__ == "__main__":
    sys.exit(main())
