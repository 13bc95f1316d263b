"""``ienfd info``: what ienfd sees in image files, before any analysis (parsing and printing)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ienfd.cli._common import Subparsers, add_output_options, in_flag_words

_INFO_EPILOG = """\
for each FILE and each of its scenes: the format, the scenes, the pyramid levels and their
shapes, the axes and pixel type, the channels with their names, the pixel size and where it
comes from, and the modality the analysis would assume. Nothing is analysed and no pixel is
read. Check a new scanner's or microscope's files with it before analysing them.

exit status: 0 if every file could be described, 1 otherwise.

examples:
  ienfd info slide.svs
  ienfd info stack.czi --json
"""


def register(subparsers: Subparsers) -> None:
    """Add ``ienfd info`` to ``subparsers``."""
    p = subparsers.add_parser(
        "info",
        help="describe image files as ienfd reads them (format, scenes, channels, pixel size)",
        description="Describe image files from their metadata, as ienfd reads them.",
        epilog=_INFO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="image file(s) or OME-Zarr folder(s)")
    p.add_argument("--json", action="store_true", help="print one JSON object per scene")
    add_output_options(
        p, quiet_help="no log warnings, only errors (the description itself is printed)"
    )
    p.set_defaults(func=_run_info)


def _modality(value: str | None) -> str:
    return value or "decided from the pixels (one greyscale channel)"


def _lines(item: dict[str, Any]) -> list[str]:
    """The description of one scene as indented ``label  value`` lines."""
    channels = item["channel_names"]
    size = item["pixel_size_um"]
    if size is None:
        pixel = "none in the file: give it (--pixel-size UM)"
    else:
        pixel = f"{size[0]:.6g} x {size[1]:.6g} µm (rows x cols), from {item['pixel_size_source']}"
    levels = ", ".join("x".join(str(n) for n in shape) for shape in item["levels"])
    rows = [
        ("format", item["format"]),
        ("scene", f"{item['scene']} {item['scene_name']!r} of {item['n_scenes']}"),
        ("levels", f"{len(item['levels'])}: {levels}"),
        ("axes", f"{item['axes']}  {item['dtype']}"),
        (
            "channels",
            ", ".join(f"{i} {name!r}" for i, name in enumerate(channels)) or "no names",
        ),
        ("pixel size", pixel),
        ("modality", _modality(item["modality"])),
    ]
    rows += [("note", in_flag_words(text)) for text in item["notes"]]
    return [f"  {label:<11} {value}" for label, value in rows]


def _run_info(args: argparse.Namespace) -> int:
    """Describe every FILE; return 0, or 1 if any could not be described."""
    from ienfd.io import ImageReadError, describe_image

    failed = 0
    for path in args.files:
        try:
            infos = describe_image(path)
        except (ImageReadError, OSError) as exc:
            failed += 1
            print(f"ienfd info: error: {in_flag_words(str(exc))}", file=sys.stderr)
            continue
        for info in infos:
            item = info.to_dict()
            if args.json:
                print(json.dumps(item, ensure_ascii=False))
            else:
                print(path if len(infos) == 1 else f"{path} [scene {info.scene}]")
                print("\n".join(_lines(item)))
    return 1 if failed else 0
