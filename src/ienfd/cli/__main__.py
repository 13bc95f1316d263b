"""``python -m ienfd.cli``: the same as the ``ienfd`` command."""

import sys

from ienfd.cli import main

if __name__ == "__main__":
    sys.exit(main())
