"""scripts/pack_images.py: ``keras-nmf-pack-images`` (``python -m keras_nmf.cli.pack_images``), run from the repository.

Its arguments and examples: ``python scripts/pack_images.py --help`` (keras_nmf/cli/pack_images.py).
"""

import sys

from keras_nmf.cli.pack_images import main

if __name__ == "__main__":
    sys.exit(main())
