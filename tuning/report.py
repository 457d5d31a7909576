"""tuning/report.py: ``keras-nmf-report`` (``python -m keras_nmf.cli.report``), run from the repository.

Its flags and examples: ``python tuning/report.py --help`` (keras_nmf/cli/report.py).
"""

import sys

from keras_nmf.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
