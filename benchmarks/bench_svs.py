"""Whole-slide memory for an Aperio SVS: a 30,000 x 30,000 pyramid through ``ienfd batch``.

    .venv/bin/python benchmarks/bench_svs.py                 # 30,000 x 30,000
    .venv/bin/python benchmarks/bench_svs.py --side 45000

The slide is written tile by tile as Aperio writes it (the generator never holds
it): a JPEG-compressed tiled baseline whose ImageDescription starts "Aperio
Image Library" and gives the pixel size only as ``MPP = 0.5000`` (no
resolution tags), a strip thumbnail as the second page, then tiled levels each
4x smaller, as separate pages (not SubIFDs). It holds six bright-field 2-mm
sections. Then ``ienfd batch SLIDE --workers 2`` runs in a subprocess while the
resident memory (RSS) of its whole process tree (CLI, scheduler, nannies,
workers) is sampled every 50 ms, and the peak is compared with the whole-slide
bound of docs/batch.md: ``workers x 11 x (largest section box in bytes) +
0.8 GB``.

Results go to benchmarks/results/svs.json.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from _measure import machine, own_peak_rss_mb, run_batch_sampled, slide_record, slide_sections

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.parallel._slides: the tile composer

from tests.parallel._slides import _tiles, downsample2  # noqa: E402

from ienfd.io import probe_image  # noqa: E402

TILE = 256  # Aperio's usual tile
PROCESS_OVERHEAD_GB = 0.8  # docs/batch.md: CLI, scheduler, nannies and 2 workers
ANALYSIS_FACTOR = 11  # docs/batch.md / algorithm.md: analysis working memory per box byte


def _description(shape: tuple[int, int], mpp: float | None, note: str = "") -> str:
    rows, cols = shape
    head = (
        f"Aperio Image Library v12.0.15 \r\n{cols}x{rows} [0,0 {cols}x{rows}] "
        f"({TILE}x{TILE}) JPEG/RGB Q=80{note}"
    )
    fields = ["AppMag = 20", "ScanScope ID = SS1234", "Filename = bench"]
    if mpp is not None:
        fields.append(f"MPP = {mpp:.4f}")
    return head + "|" + "|".join(fields)


def write_svs_slide(
    path: Path,
    side: int,
    sections: Sequence[np.ndarray],
    corners: Sequence[tuple[int, int]],
    *,
    mpp: float,
    step: int = 4,
) -> None:
    """A side x side Aperio-style SVS pyramid with ``sections`` pasted at ``corners``."""
    background = np.median(np.concatenate([s[0].reshape(-1, 3) for s in sections]), axis=0)
    background = background.astype(np.uint8)
    options: dict[str, Any] = {
        "photometric": "rgb",
        "compression": "jpeg",
        "compressionargs": {"level": 80},
        "metadata": None,
    }

    def scaled(factor: int) -> tuple[list[np.ndarray], list[tuple[int, int]], tuple[int, int]]:
        secs = list(sections)
        k = factor
        while k > 1:
            secs = [downsample2(s) for s in secs]
            k //= 2
        cors = [(r // factor, c // factor) for r, c in corners]
        return secs, cors, (math.ceil(side / factor), math.ceil(side / factor))

    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        shp = (side, side)
        tif.write(
            _tiles(shp, sections, corners, background, TILE),
            shape=(*shp, 3),
            dtype=np.uint8,
            tile=(TILE, TILE),
            description=_description(shp, mpp),
            **options,
        )
        # thumbnail: a small strip image, second page (Aperio's layout)
        secs, cors, shp = scaled(64)
        thumb = np.concatenate(list(_tiles(shp, secs, cors, background, max(shp))), axis=0)
        tif.write(
            thumb[: shp[0], : shp[1]], description=_description(shp, None, " -> thumb"), **options
        )
        factor = step
        while side // factor >= 512:
            secs, cors, shp = scaled(factor)
            tif.write(
                _tiles(shp, secs, cors, background, TILE),
                shape=(*shp, 3),
                dtype=np.uint8,
                tile=(TILE, TILE),
                description=_description(shp, None, f" -> {shp[1]}x{shp[0]}"),
                **options,
            )
            factor *= step


def make_slide(path: Path, side: int, n_sections: int, mpp: float) -> dict[str, Any]:
    sections, corners = slide_sections(side, n_sections, mpp)
    t0 = time.perf_counter()
    write_svs_slide(path, side, sections, corners, mpp=mpp)
    info = probe_image(path)
    assert info.pixel_size is not None
    return {
        "path": str(path),
        "format": info.format_name,
        "pixel_size_um": info.pixel_size.col_um,
        "pixel_size_source": info.pixel_size.source,
        "levels": [list(s) for s in info.shapes],
        **slide_record(path, side, sections, t0),
    }


def bench(tmp: Path, side: int, n_sections: int, workers: int) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    slide = tmp / "slide.svs"
    info = make_slide(slide, side, n_sections, mpp=0.5)
    info["generator_process_peak_rss_mb"] = own_peak_rss_mb()
    out = tmp / "out"
    cmd, sampled = run_batch_sampled(slide, out, workers)
    run = json.loads((out / "run.json").read_text())
    boxes = []
    for result in sorted(out.glob("*.json")):
        if result.name == "run.json":
            continue
        record = json.loads(result.read_text())
        region = record.get("region")
        if region:
            boxes.append((region["row1"] - region["row0"]) * (region["col1"] - region["col0"]) * 3)
    largest = max(boxes) if boxes else 0
    bound_gb = workers * ANALYSIS_FACTOR * largest / 1e9 + PROCESS_OVERHEAD_GB
    peak_gb = sampled.peak_rss_bytes / 1e9
    return {
        "slide": info,
        "command": " ".join(cmd),
        "exit_code": sampled.exit_code,
        "workers": workers,
        "seconds": round(sampled.seconds, 1),
        "sections_found": run.get("n_sections"),
        "sections_failed": run.get("n_failed"),
        "largest_box_mb": round(largest / 1e6, 1),
        "bound_gb": round(bound_gb, 2),
        "peak_rss_process_tree_gb": round(peak_gb, 2),
        "within_bound": bool(peak_gb <= bound_gb),
        "rss_samples": sampled.rss_samples,
        "load_before": sampled.load_before,
        "load_after": sampled.load_after,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--side", type=int, nargs="+", default=[30000])
    ap.add_argument("--sections", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tmp", default=None, help="scratch folder (default: a new temporary one)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "svs.json"))
    args = ap.parse_args()
    tmp = Path(args.tmp or tempfile.mkdtemp(prefix="ienfd-bench-svs-"))
    result: dict[str, Any] = {**machine(), "runs": []}
    try:
        for side in args.side:
            run = bench(tmp / f"svs{side}", side, args.sections, args.workers)
            result["runs"].append(run)
            print(json.dumps(run, indent=1), flush=True)
            shutil.rmtree(tmp / f"svs{side}", ignore_errors=True)
    finally:
        if args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
