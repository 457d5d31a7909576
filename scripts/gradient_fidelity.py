"""scripts/gradient_fidelity.py: ``keras-nmf-gradient-fidelity`` (``python -m keras_nmf.cli.gradient_fidelity``), run from the repository.

Its flags and examples: ``python scripts/gradient_fidelity.py --help`` (keras_nmf/cli/gradient_fidelity.py).
"""

import sys

from keras_nmf.cli.gradient_fidelity import main

if __name__ == "__main__":
    sys.exit(main())
