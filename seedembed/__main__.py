"""``python -m seedembed`` runs the same command as the ``seedembed`` console script."""

import sys

from seedembed.cli import main

sys.exit(main())
