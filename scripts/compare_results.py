"""Check that a change to the analysis leaves its results as they were.

A speed change must not move any result. Two steps, run with each version of
the code (``PYTHONPATH`` pointing at its ``src``, e.g. a ``git worktree`` of the
revision before the change)::

    PYTHONPATH=/tmp/before/src .venv/bin/python scripts/compare_results.py make /tmp/res_before
    .venv/bin/python scripts/compare_results.py make /tmp/res_after
    .venv/bin/python scripts/compare_results.py compare /tmp/res_before /tmp/res_after

``make`` analyses a fixed set of sections and writes one JSON per section:
:meth:`ienfd.core.SectionResult.to_dict` plus what the rounding of that
summary would hide (the unrounded lengths, a digest of the fibre skeleton).
The set: classic synthetic sections of both modalities at 0.3-0.7 µm, sections
of the wide and of the stress appearance sets, and the committed real-tissue
crop (``scripts/real_tissue_sections.py``) in two orientations and pixel sizes.

``compare`` reports every value that differs: integers, flags and words
exactly, floats within ``--rtol`` (relative, default 1e-9). It exits 1 when
anything differs, and names the largest float difference seen either way.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: (name, appearance, seed, fixed SectionSpec fields) of the synthetic sections.
SYNTHETIC: list[tuple[str, str, int, dict[str, Any]]] = [
    *[
        (f"classic_bf_{seed}", "classic", seed, {"modality": "brightfield", "pixel_size_um": px})
        for seed, px in zip(
            range(101, 109), (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7), strict=True
        )
    ],
    *[
        (f"classic_fl_{seed}", "classic", seed, {"modality": "fluorescence", "pixel_size_um": px})
        for seed, px in zip(range(201, 207), (0.3, 0.4, 0.45, 0.5, 0.6, 0.7), strict=True)
    ],
    *[(f"wide_{seed}", "wide", seed, {}) for seed in range(301, 305)],
    *[(f"stress_{seed}", "stress", seed, {}) for seed in range(401, 405)],
]
#: (name, pixel size, seed, rot90 turns, flip) of the real-tissue sections.
REAL: list[tuple[str, float, int, int, bool]] = [
    ("real_0.6_k0", 0.6, 1, 0, False),
    ("real_0.45_k1_flip", 0.45, 2, 1, True),
]
#: The largest synthetic image, in megapixels (keeps a run of ``make`` short).
MAX_MEGAPIXELS = 6.0


def _real_tissue_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "real_tissue_sections", ROOT / "scripts" / "real_tissue_sections.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _sections() -> Any:
    """Yield (name, pixels, spacing, membrane) of every section of the set."""
    from ienfd.synthetic import generate_section, random_spec

    for name, appearance, seed, fixed in SYNTHETIC:
        spec = random_spec(seed, appearance=appearance, max_megapixels=MAX_MEGAPIXELS, **fixed)
        section = generate_section(spec)
        if spec.modality == "brightfield":
            yield name, section.image, spec.pixel_size_um, None
        else:
            yield name, section.image[0], spec.pixel_size_um, section.image[1]
    real = _real_tissue_module()
    for name, px, seed, k, flip in REAL:
        rgb, _ = real.build_test_section(target_pixel_size_um=px, seed=seed, k=k, flip=flip)
        yield name, rgb, px, None


def _record(result: Any) -> dict[str, Any]:
    record: dict[str, Any] = result.to_dict()
    extra: dict[str, Any] = {
        "dej_length_um": result.dej_length_um,
        "surface_length_um": result.surface_length_um,
        "density_per_mm": result.density_per_mm,
        "epidermis_area_mm2": result.epidermis_area_mm2,
        "dej": [np.asarray(line).tolist() for line in result.dej],
        "surface": [np.asarray(line).tolist() for line in result.surface],
    }
    if result.trace is not None:
        skeleton = np.ascontiguousarray(result.trace.skeleton, dtype=bool)
        extra["skeleton_origin"] = list(result.trace.origin)
        extra["skeleton_pixels"] = int(skeleton.sum())
        extra["skeleton_sha1"] = hashlib.sha1(np.packbits(skeleton).tobytes()).hexdigest()
        extra["tissue_sha1"] = hashlib.sha1(
            np.packbits(np.asarray(result.trace.tissue, dtype=bool)).tobytes()
        ).hexdigest()
    record["unrounded"] = extra
    return record


def _files(paths: list[Path]) -> Any:
    """Yield (name, pixels, spacing, membrane) of image files (:func:`ienfd.io.read_section`)."""
    from ienfd.io import read_section

    for path in paths:
        section = read_section(path)
        pixels = section.rgb if section.rgb is not None else section.fibre
        yield path.name.split(".")[0], pixels, section.pixel_size_um, section.membrane


def make(out: Path, only: list[str] | None, images: list[Path]) -> int:
    """Analyse the set with the ``ienfd`` on the path; one JSON per section into `out`.

    `images` are analysed too (e.g. the benchmark's section), named by their stem.
    """
    from itertools import chain

    from ienfd.core import AnalysisError, analyze_section

    out.mkdir(parents=True, exist_ok=True)
    import ienfd

    print(f"ienfd from {Path(ienfd.__file__).parent}")
    for name, pixels, spacing, membrane in chain(_files(images), _sections()):
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        try:
            result = analyze_section(pixels, spacing=spacing, membrane=membrane)
            record = _record(result)
        except AnalysisError as err:
            record = {"error": str(err)}
        seconds = time.perf_counter() - t0
        (out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"{name:22s} {pixels.shape[0]}x{pixels.shape[1]:<6d} {seconds:6.2f} s  "
              f"count {record.get('count', record.get('error'))}")  # fmt: skip
    return 0


class _Diff:
    def __init__(self, rtol: float) -> None:
        self.rtol = rtol
        self.lines: list[str] = []
        self.largest = 0.0

    def walk(self, a: Any, b: Any, where: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if key not in a or key not in b:
                    self.lines.append(f"{where}.{key}: only in {'after' if key in b else 'before'}")
                else:
                    self.walk(a[key], b[key], f"{where}.{key}")
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self.lines.append(f"{where}: {len(a)} items before, {len(b)} after")
            for k, (x, y) in enumerate(zip(a, b, strict=False)):
                self.walk(x, y, f"{where}[{k}]")
        elif _is_float(a) and _is_float(b) and not (_is_int(a) and _is_int(b)):
            x, y = float(a), float(b)
            if math.isnan(x) and math.isnan(y):
                return
            scale = max(abs(x), abs(y))
            rel = abs(x - y) / scale if scale > 0 else 0.0
            self.largest = max(self.largest, rel)
            if rel > self.rtol or math.isnan(x) != math.isnan(y):
                self.lines.append(f"{where}: {x!r} -> {y!r} (relative {rel:.2e})")
        elif a != b or type(a) is not type(b):
            self.lines.append(f"{where}: {a!r} -> {b!r}")


def _is_float(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def compare(before: Path, after: Path, rtol: float) -> int:
    """Print every difference between two folders of ``make``; 1 when any."""
    names = sorted({p.name for p in before.glob("*.json")} | {p.name for p in after.glob("*.json")})
    if not names:
        print(f"no result files in {before} or {after}")
        return 1
    differing, largest = 0, 0.0
    for name in names:
        if not (before / name).exists() or not (after / name).exists():
            print(f"{name}: only in {'after' if (after / name).exists() else 'before'}")
            differing += 1
            continue
        diff = _Diff(rtol)
        diff.walk(
            json.loads((before / name).read_text()), json.loads((after / name).read_text()), ""
        )
        largest = max(largest, diff.largest)
        if diff.lines:
            differing += 1
            print(f"{name}: {len(diff.lines)} difference(s)")
            for line in diff.lines[:20]:
                print(f"    {line}")
            if len(diff.lines) > 20:
                print(f"    ... and {len(diff.lines) - 20} more")
    print(
        f"{len(names) - differing} of {len(names)} sections identical (floats within "
        f"{rtol:g} relative); largest relative float difference {largest:.2e}"
    )
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_make = sub.add_parser("make", help="analyse the reference set into OUT_DIR")
    p_make.add_argument("out", type=Path, metavar="OUT_DIR")
    p_make.add_argument("--only", nargs="+", metavar="NAME", help="only these sections")
    p_make.add_argument(
        "--image", nargs="+", type=Path, default=[], help="image files to analyse as well"
    )
    p_cmp = sub.add_parser("compare", help="list the differences between two make folders")
    p_cmp.add_argument("before", type=Path, metavar="BEFORE_DIR")
    p_cmp.add_argument("after", type=Path, metavar="AFTER_DIR")
    p_cmp.add_argument("--rtol", type=float, default=1e-9, help="relative float tolerance")
    args = parser.parse_args(argv)
    if args.command == "make":
        return make(args.out, args.only, args.image)
    return compare(args.before, args.after, args.rtol)


if __name__ == "__main__":
    sys.exit(main())
