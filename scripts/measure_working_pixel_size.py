"""Would one working pixel size help? Count error at each section's own pixel size and reduced.

A development measurement (docs/algorithm.md, "Measured and not built: one working pixel
size"). Each section of the independent generator, written by
``scripts/independent_sections.py``, is analysed at its own pixel size and again after the
anti-aliased reduction of the consistency check (``ienfd.core._consistency._reduce``) to the
working pixel size, when it is finer than that; the counts are compared with the truth.
Development seeds only (400-519 in the docs): never the held-out 1000-1059.

Usage::

    .venv/bin/python scripts/independent_sections.py --seeds 400-519 --out /tmp/desbf
    .venv/bin/python scripts/measure_working_pixel_size.py /tmp/desbf --working-um 0.7 \\
        --modality brightfield
"""

from __future__ import annotations

import argparse
import json
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ienfd.core import AnalysisError, SectionResult, analyze_section
from ienfd.core._consistency import _reduce
from ienfd.io import read_section


def _analyse(
    pixels: np.ndarray, membrane: np.ndarray | None, spacing: float, factor: float
) -> SectionResult | None:
    if factor > 1:
        pixels = _reduce(pixels, factor)
        membrane = None if membrane is None else _reduce(membrane, factor)
    try:
        return analyze_section(pixels, spacing=spacing * factor, membrane=membrane)
    except AnalysisError:
        return None


def one(job: tuple[Path, float]) -> dict[str, Any]:
    """The two analyses of one section and its truth."""
    truth_path, working_um = job
    truth = json.loads(truth_path.read_text())
    image = read_section(truth_path.parent / truth["image"])
    spacing = image.pixel_size_um
    pixels, membrane = (image.rgb, None) if image.rgb is not None else (image.fibre, image.membrane)
    own = _analyse(pixels, membrane, spacing, 1.0)
    reduced = _analyse(pixels, membrane, spacing, max(1.0, working_um / spacing))
    return {
        "seed": truth["seed"],
        "modality": truth["appearance"]["modality"],
        "pixel_size_um": round(spacing, 3),
        "true_count": truth["count"],
        "count_own": np.nan if own is None else own.count,
        "count_reduced": np.nan if reduced is None else reduced.count,
        "review_own": True if own is None else own.needs_review,
        "review_reduced": True if reduced is None else reduced.needs_review,
        "dej_um_own": np.nan if own is None else round(own.dej_length_um, 1),
        "dej_um_reduced": np.nan if reduced is None else round(reduced.dej_length_um, 1),
        "true_dej_um": round(truth["dej_length_um"], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="sections from independent_sections.py")
    parser.add_argument("--working-um", type=float, default=0.6)
    parser.add_argument("--modality", choices=("brightfield", "fluorescence", "all"), default="all")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=None, help="write every section's row here")
    args = parser.parse_args(argv)
    jobs = []
    for path in sorted(args.folder.glob("*.truth.json")):
        modality = json.loads(path.read_text())["appearance"]["modality"]
        if args.modality in ("all", modality):
            jobs.append((path, args.working_um))
    with Pool(args.processes) as pool:
        table = pd.DataFrame(pool.map(one, jobs))
    if args.csv is not None:
        table.to_csv(args.csv, index=False)
    for name, err in (("own", "count_own"), ("reduced", "count_reduced")):
        table[f"error_{name}"] = (table[err] - table["true_count"]).abs()
    for modality, group in table.groupby("modality"):
        print(
            f"{modality}: {len(group)} sections; summed count error {group.error_own.sum():.0f} "
            f"at the own pixel size, {group.error_reduced.sum():.0f} at {args.working_um} µm; "
            f"within one fibre {(group.error_own <= 1).sum()} and "
            f"{(group.error_reduced <= 1).sum()}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
