"""``ienfd synth``: synthetic sections with their known truth."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ienfd.cli._common import Subparsers, add_output_options, printer


def register(subparsers: Subparsers) -> None:
    """Register ``synth``: write synthetic sections with their truth JSON."""
    p = subparsers.add_parser(
        "synth",
        help="write synthetic PGP 9.5 sections with known truth",
        description=(
            "Write N synthetic skin sections (<stem>.tif, or <stem>.ome.tif for OME-TIFF) "
            "and their truth (<stem>.truth.json) into OUT_DIR. Parameters not given are "
            "drawn at random (seeded, so the same command gives the same files)."
        ),
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created if missing)")
    p.add_argument("--n", type=int, default=1, help="number of sections (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--modality", choices=["brightfield", "fluorescence", "mixed"], default="mixed")
    p.add_argument("--chromogen", choices=["sg", "dab", "mixed"], default="mixed")
    p.add_argument("--pixel-size", type=float, default=None, metavar="UM", help="µm per pixel")
    p.add_argument("--kind", choices=["ome", "tiff", "imagej", "mixed"], default="ome")
    p.add_argument("--length", type=float, default=None, metavar="UM", help="section length")
    p.add_argument("--rotation", type=float, default=None, metavar="DEG", help="0-360")
    p.add_argument("--flip", choices=["yes", "no"], default=None)
    p.add_argument("--density", type=float, default=None, metavar="PER_MM")
    p.add_argument("--stem", default="synth", help="file-name prefix (default 'synth')")
    p.add_argument("--pyramid-levels", type=int, default=0, help="OME sub-resolutions")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix any SectionSpec field, e.g. --set noise=0.01 --set p_dermal_branch=0.5",
    )
    add_output_options(p, quiet_help="print nothing but errors (no list of files)")
    p.set_defaults(func=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    """Write the sections (:func:`ienfd.workflow.write_synthetic_sections`); print each."""
    import json

    from ienfd.workflow import write_synthetic_sections

    say = printer(args)
    if args.n < 1:
        print(f"ienfd synth: error: --n {args.n}; accepted: >= 1", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {}
    for name, value in (
        ("modality", None if args.modality == "mixed" else args.modality),
        ("chromogen", None if args.chromogen == "mixed" else args.chromogen),
        ("pixel_size_um", args.pixel_size),
        ("length_um", args.length),
        ("rotation_deg", args.rotation),
        ("flip", None if args.flip is None else args.flip == "yes"),
        ("density_per_mm", args.density),
    ):
        if value is not None:
            overrides[name] = value
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep:
            print(f"ienfd synth: error: --set {item!r}; expected NAME=VALUE", file=sys.stderr)
            return 2
        try:
            overrides[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[name.strip()] = text
    try:
        for written in write_synthetic_sections(
            args.out_dir,
            args.n,
            seed=args.seed,
            kinds=["ome", "tiff", "imagej"] if args.kind == "mixed" else [args.kind],
            stem=args.stem,
            pyramid_levels=args.pyramid_levels,
            overrides=overrides,
        ):
            spec = written.spec
            label = (
                spec.modality
                if spec.modality == "fluorescence"
                else f"brightfield/{spec.chromogen}"
            )
            rows, cols = written.truth["shape"]
            say(
                f"{written.image_path}  {written.kind} {label} {rows}x{cols} px "
                f"{spec.pixel_size_um:.3f} µm rot {spec.rotation_deg:.0f}"
                f"{' flip' if spec.flip else ''} count {written.truth['count']}"
            )
            say(f"{written.truth_path}  truth")
    except (TypeError, ValueError) as exc:
        print(f"ienfd synth: error: {exc}", file=sys.stderr)
        return 2
    return 0
