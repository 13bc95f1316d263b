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


SCENE_HELP = (
    "for a file of several scenes (CZI scenes, LIF images, ND2 positions, OME-Zarr images, "
    "the images of an OME-TIFF): the one to analyse, by index (0-based) or name (default: "
    "the first; `ienfd info FILE` lists them)"
)


def scene_argument(text: str) -> int | str:
    """Parse ``--scene``: an index (digits, as int) or a scene name.

    >>> scene_argument("2"), scene_argument("thigh")
    (2, 'thigh')
    """
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("empty; give a scene index (0-based) or name")
    return int(name) if name.isdigit() else name


#: What the reader says a caller can pass, and the option that passes it on the command line.
_FLAG_WORDS = (
    ("pass pixel_size_um", "pass --pixel-size UM"),
    ("pass modality='fluorescence'", "pass --modality fluorescence"),
    ("pass fibre_channel", "pass --fibre-channel"),
    ("pass membrane_channel", "pass --membrane-channel"),
    (
        "read whole-slide images region by region (open_lazy)",
        "use `ienfd batch` for whole-slide images",
    ),
)


def in_flag_words(text: str) -> str:
    """A reader's message or note with its argument names turned into this CLI's options.

    ``ienfd.io`` names the :func:`ienfd.io.read_section` argument that fixes a
    file ("...; pass pixel_size_um"); printed by a command, the option is named
    instead ("...; pass --pixel-size UM").

    >>> in_flag_words("x.png: no pixel size: PNG files do not record it; pass pixel_size_um")
    'x.png: no pixel size: PNG files do not record it; pass --pixel-size UM'
    """
    for words, flag in _FLAG_WORDS:
        text = text.replace(words, flag)
    return text
