"""What more than one command shares: argument types and help texts."""

from __future__ import annotations

import argparse

#: The object ``ArgumentParser.add_subparsers`` returns, which each command registers on.
Subparsers = argparse._SubParsersAction

CONSISTENCY_HELP = (
    "check each result without any truth: analyse the section again in all 8 orientations "
    "(turned by 90°, mirrored) at its pixel size and at 1.5x it. SLOW: 16 more analyses per "
    "section, about 16x the time. A section whose count or DEJ length changes beyond the "
    "tolerance in docs/output.md is marked for review; every run goes in the JSON under "
    "'consistency'"
)

LENGTH_BASIS_HELP = (
    "length the density is per mm of: 'dej' (dermal-epidermal junction, default) or "
    "'surface' (epidermal surface). Both lengths are always reported."
)


def pixel_size_argument(text: str) -> float:
    """Parse ``--pixel-size``: a finite number of µm in [0.01, 100)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of µm") from None
    if not (0.01 <= value < 100.0):  # also rejects NaN; the range the reader and core take
        raise argparse.ArgumentTypeError(f"{text} µm; accepted: a pixel size in [0.01, 100) µm")
    return value
