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
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import tifffile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.parallel._slides: the tile composer

from tests.parallel._slides import _tiles, downsample2  # noqa: E402

from ienfd import __version__  # noqa: E402
from ienfd.io import probe_image  # noqa: E402
from ienfd.synthetic import SectionSpec, generate_section  # noqa: E402

TILE = 256  # Aperio's usual tile
PROCESS_OVERHEAD_GB = 0.8  # docs/batch.md: CLI, scheduler, nannies and 2 workers
ANALYSIS_FACTOR = 11  # docs/batch.md / algorithm.md: analysis working memory per box byte


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # exited between listing and reading
            pass
    return total


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
    sections, corners = [], []
    per_row = 2
    for k in range(n_sections):
        spec = SectionSpec(
            modality="brightfield",
            length_um=2000,
            pixel_size_um=mpp,
            seed=200 + k,
            rotation_deg=0.0,
            illumination_gradient=0.0,
        )
        sections.append(generate_section(spec).image)
        row, col = divmod(k, per_row)
        corners.append(
            (
                2000 + row * (side - 4000) // max(1, (n_sections - 1) // per_row),
                2000 + col * (side // 2),
            )
        )
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
        "decoded_gb": round(side * side * 3 / 1e9, 2),
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "sections": n_sections,
        "section_shapes": [list(s.shape) for s in sections],
        "write_s": round(time.perf_counter() - t0, 1),
    }


def bench(tmp: Path, side: int, n_sections: int, workers: int) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    slide = tmp / "slide.svs"
    info = make_slide(slide, side, n_sections, mpp=0.5)
    info["generator_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    out = tmp / "out"
    cmd = [
        str(Path(sys.executable).parent / "ienfd"),
        "batch",
        str(slide),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "-q",
    ]
    load_before = _load()
    proc = psutil.Popen(cmd)
    peak = 0
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, samples
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc))
            samples += 1
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t0 = time.perf_counter()
    t.start()
    code = proc.wait()
    stop.set()
    t.join()
    seconds = time.perf_counter() - t0
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
    peak_gb = peak / 1e9
    return {
        "slide": info,
        "command": " ".join(cmd),
        "exit_code": code,
        "workers": workers,
        "seconds": round(seconds, 1),
        "sections_found": run.get("n_sections"),
        "sections_failed": run.get("n_failed"),
        "largest_box_mb": round(largest / 1e6, 1),
        "bound_gb": round(bound_gb, 2),
        "peak_rss_process_tree_gb": round(peak_gb, 2),
        "within_bound": bool(peak_gb <= bound_gb),
        "rss_samples": samples,
        "load_before": load_before,
        "load_after": _load(),
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
    result: dict[str, Any] = {
        "ienfd_version": __version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "runs": [],
    }
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
