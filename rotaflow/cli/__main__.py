"""``python -m rotaflow.cli``: the command line."""

import sys

from rotaflow.cli import main

sys.exit(main())
