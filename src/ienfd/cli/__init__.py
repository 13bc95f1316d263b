"""Command-line interface: argument parsing and printing only.

One module per command (:mod:`.analyze`, :mod:`.batch`, :mod:`.synth`,
:mod:`.clinical` for ``classify``, ``norms`` and ``agreement``). Each defines
``register(subparsers)``, which adds its parser and sets ``func`` to the
function that runs it: that function calls the library (``ienfd.workflow``,
``ienfd.clinical``, ``ienfd.synthetic``...) and prints what comes back. A new
command is a new module here plus one line in :data:`COMMANDS`
(docs/architecture.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ienfd import __version__
from ienfd.cli import analyze, batch, clinical, info, synth, train
from ienfd.cli._common import QUIET_HELP, VERBOSE_HELP, configure_logging
from ienfd.cli.analyze import _status  # noqa: F401  (tests check the status column through it)

__all__ = ["COMMANDS", "build_parser", "main"]

#: The command modules, in the order ``ienfd --help`` lists them.
COMMANDS = (analyze, batch, train, synth, clinical, info)


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
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    # its own dest: a command's parser sets its ``quiet`` default over whatever is parsed here
    parser.add_argument("-q", "--quiet", action="store_true", dest="global_quiet", help=QUIET_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ienfd`` command line; return the process exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # parse_args' own error, with a hint for the usual cause under batch
        hint = ""
        if args.command == "batch" and not any(arg.startswith("-") for arg in extra):
            hint = (
                f"; batch takes one INPUT (a folder, a manifest CSV, or a glob in quotes such "
                f"as 'slides/*.tif'): an unquoted glob is expanded by the shell into "
                f"{len(extra) + 1} arguments"
            )
        parser.error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    args.verbose += getattr(args, "command_verbose", 0)  # ienfd -v CMD and ienfd CMD -v
    args.quiet = args.global_quiet or getattr(args, "quiet", False)  # ienfd -q CMD, CMD -q
    configure_logging(f"ienfd {args.command or ''}".strip(), verbose=args.verbose, quiet=args.quiet)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command in _ANALYSING:
        from ienfd.cli._startup import prepare_analysis

        prepare_analysis()
    return int(args.func(args))


#: The commands that analyse images, whose process start-up :mod:`ienfd.cli._startup` trims.
_ANALYSING = frozenset({"analyze", "batch"})
