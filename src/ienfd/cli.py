"""Command-line interface: argument parsing and printing only.

Every sub-command lives in its own section below; each section defines
``_add_<name>(subparsers)`` that registers the parser and sets ``func``.
The work itself is done by the library (``ienfd.io``, ``ienfd.core``,
``ienfd.clinical``, ...).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ienfd import __version__

logger = logging.getLogger("ienfd")


# ---------------------------------------------------------------------------
# analyze  (issue 2: the core)
# ---------------------------------------------------------------------------


def _add_analyze(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pass


# ---------------------------------------------------------------------------
# synth  (synthetic sections with known truth)
# ---------------------------------------------------------------------------


def _add_synth(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pass


# ---------------------------------------------------------------------------
# classify / norms / agreement  (issue 3: the clinical module)
# ---------------------------------------------------------------------------


def _add_clinical(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pass


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the ``ienfd`` argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="ienfd",
        description=(
            "Intraepidermal nerve fibre density (IENFD) from PGP 9.5 skin-biopsy "
            "section images, counted by the EFNS/PNS rule."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ienfd {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_analyze(subparsers)
    _add_synth(subparsers)
    _add_clinical(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ienfd`` command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
