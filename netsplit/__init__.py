"""netsplit: splitting CNN structures for efficient inference (arXiv:2002.03302), in Keras 3."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
