"""scripts/budget.py: ``keras-nmf-budget`` (``python -m keras_nmf.cli.budget``), run from the repository.

Its flags and examples: ``python scripts/budget.py --help`` (keras_nmf/cli/budget.py).
"""

import sys

from keras_nmf.cli.budget import main

if __name__ == "__main__":
    sys.exit(main())
