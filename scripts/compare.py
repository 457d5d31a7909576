"""scripts/compare.py: ``keras-nmf-compare`` (``python -m keras_nmf.cli.compare``), run from the repository.

Its flags and examples: ``python scripts/compare.py --help`` (keras_nmf/cli/compare.py).
"""

import sys

from keras_nmf.cli.compare import main

if __name__ == "__main__":
    sys.exit(main())
