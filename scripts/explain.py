"""scripts/explain.py: ``keras-nmf-explain`` (``python -m keras_nmf.cli.explain``), run from the repository.

Its flags and examples: ``python scripts/explain.py --help`` (keras_nmf/cli/explain.py).
"""

import sys

from keras_nmf.cli.explain import main

if __name__ == "__main__":
    sys.exit(main())
