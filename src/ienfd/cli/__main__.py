"""``python -m ienfd.cli``: the same as the ``ienfd`` command."""

import sys

from ienfd.cli import main

sys.exit(main())
