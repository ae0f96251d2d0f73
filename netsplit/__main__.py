"""``python -m netsplit``: the command line."""

import sys

from netsplit.cli import main

sys.exit(main())
