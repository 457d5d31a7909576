"""tuning/search.py: ``keras-nmf-search`` (``python -m keras_nmf.cli.search``), run from the repository.

Its flags and examples: ``python tuning/search.py --help`` (keras_nmf/cli/search.py).
"""

import sys

from keras_nmf.cli.search import main

if __name__ == "__main__":
    sys.exit(main())
