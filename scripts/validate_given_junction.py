"""Validate counting across a given junction: the fibre detection alone, without the search.

Each section's true junction is written as a QuPath GeoJSON (lines classified ``DEJ`` and
``Surface``, x = column, y = row) beside its OME-TIFF, read back with
:func:`ienfd.io.read_junction` and :func:`ienfd.io.read_section`, and analysed with
``analyze_section(..., junction=...)`` exactly as ``ienfd analyze IMAGE --junction FILE``
does. Two drawings are tried: the DEJ and the surface, and the DEJ alone (where ienfd must
tell the epidermis side itself). Sets:

- synthetic sections of the classic, wide and stress appearances, seeds 53000+, 63000+ and
  73000+ (never looked at while the given junction was written; it was developed on classic
  seeds 50000-50009 and seed 3 and 5 of the tests);
- the real-tissue set of ``scripts/validate_real_tissue.py`` (real H&E skin with drawn fibres,
  8 orientations, 2 pixel sizes).

Usage::

    .venv/bin/python scripts/validate_given_junction.py   # -> docs/validation-given-junction.md
    .venv/bin/python scripts/validate_given_junction.py --n 6 --report /tmp/g.md   # quick
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_tissue_sections as rts
from validate_real_tissue import code_state

from ienfd.clinical import icc_a1, icc_a1_ci
from ienfd.core import analyze_section
from ienfd.io import read_junction, read_section, write_section_tiff
from ienfd.synthetic import generate_section, random_spec, score_section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORT = ROOT / "docs" / "validation-given-junction.md"
FIRST_SEEDS = {"classic": 53_000, "wide": 63_000, "stress": 73_000}
DRAWINGS = ("dej+surface", "dej")
MATCH_TOLERANCE_UM = 10.0


def write_geojson(path: Path, dej: np.ndarray, surface: np.ndarray | None) -> None:
    """A QuPath-style FeatureCollection of the junction (x = column, y = row)."""

    def feature(line: np.ndarray, name: str) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": line[:, ::-1].round(2).tolist()},
            "properties": {"objectType": "annotation", "classification": {"name": name}},
        }

    features = [feature(np.asarray(dej, float), "DEJ")]
    if surface is not None:
        features.append(feature(np.asarray(surface, float), "Surface"))
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def _synthetic_job(job: tuple[str, int, str]) -> list[dict[str, Any]]:
    appearance, seed, folder = job
    section = generate_section(random_spec(seed, appearance=appearance))
    truth = section.truth
    image = Path(folder) / f"{appearance}_{seed}.ome.tif"
    write_section_tiff(
        image,
        section.image,
        pixel_size_um=truth["pixel_size_um"],
        kind="ome",
        channel_names=section.channel_names or None,
    )
    truth_path = image.with_suffix("").with_suffix(".truth.json")
    truth_path.write_text(json.dumps(truth))
    base = {"set": appearance, "section": f"{appearance}_{seed}", "modality": truth["modality"]}
    return [
        _analyse(dict(base, image=str(image), truth=str(truth_path), drawing=d)) for d in DRAWINGS
    ]


def _real_job(job: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"set": "real tissue", "section": Path(job["image"]).name, "modality": "brightfield"}
    return [
        _analyse(dict(base, image=job["image"], truth=job["truth"], drawing=d)) for d in DRAWINGS
    ]


def _analyse(job: dict[str, Any]) -> dict[str, Any]:
    truth = json.loads(Path(job["truth"]).read_text())
    geojson = Path(job["image"]).with_suffix("").with_suffix(f".{job['drawing']}.geojson")
    surface = np.asarray(truth["surface"]) if job["drawing"] == "dej+surface" else None
    write_geojson(geojson, np.asarray(truth["dej"]), surface)
    row: dict[str, Any] = {
        "set": job["set"],
        "section": job["section"],
        "modality": job["modality"],
        "drawing": job["drawing"],
        "true_count": truth["count"],
    }
    start = time.perf_counter()
    try:
        image = read_section(job["image"])
        given = read_junction(geojson, shape=image.shape[:2], pixel_size_um=image.pixel_size_um)
        data = image.rgb if image.modality == "brightfield" else image.fibre
        result = analyze_section(
            data, spacing=image.pixel_size_um, membrane=image.membrane, junction=given
        )
    except ValueError as err:
        row.update(status="error", error=str(err), found_count=np.nan)
        return row
    score = score_section(
        result.crossings, result.dej_length_um, truth, tolerance_um=MATCH_TOLERANCE_UM
    )
    row.update(
        status="ok",
        error="",
        found_count=result.count,
        matched=score.matched,
        false_positives=score.false_positives,
        false_negatives=score.false_negatives,
        off_by_half=bool(abs(result.count - truth["count"]) > 0.5 * max(truth["count"], 1)),
        needs_review=result.needs_review,
        qc_reasons="; ".join(result.qc_reasons),
        warnings="; ".join(result.warnings),
        seconds=round(time.perf_counter() - start, 2),
    )
    return row


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """Count ICC(A,1) with its 95 % CI, MAE, crossing precision, recall, F1, failures."""
    ok = table[table["status"] == "ok"]
    counts = ok[["found_count", "true_count"]].to_numpy(dtype=float)
    matched = ok["matched"].sum()
    precision = matched / max(ok["found_count"].sum(), 1)
    recall = matched / max(ok["true_count"].sum(), 1)
    icc = icc_a1(counts) if len(ok) >= 2 else float("nan")
    low, high = icc_a1_ci(counts) if len(ok) >= 3 else (float("nan"), float("nan"))
    badly = ok["off_by_half"]
    return {
        "sections": len(table),
        "errors": int((table["status"] == "error").sum()),
        "icc": icc,
        "icc_ci": (low, high),
        "mae": float(np.abs(counts[:, 0] - counts[:, 1]).mean()) if len(ok) else float("nan"),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(2 * precision * recall / max(precision + recall, 1e-9)),
        "badly_wrong": int(badly.sum()),
        "silently_wrong": int((badly & ~ok["needs_review"].astype(bool)).sum()),
        "flagged": int(ok["needs_review"].astype(bool).sum()),
    }


def write_report(path: Path, table: pd.DataFrame, *, state: str, elapsed_s: float) -> None:
    """The Markdown page: one row per set and drawing, then where it breaks."""
    lines = [
        "# Counting across a given junction",
        "",
        "What ienfd counts when the junction is drawn for it (`ienfd analyze IMAGE --junction "
        "FILE`): the fibre detection and the counting rule alone, without the junction search. "
        "Each section's true junction was written as a QuPath GeoJSON, read back with "
        "`ienfd.io.read_junction` and counted with `analyze_section(..., junction=...)`. "
        "*dej+surface*: the DEJ and the epidermal surface drawn; *dej*: the DEJ alone (ienfd "
        "takes the epidermis on the side with less tissue). A section is *badly wrong* when its "
        "count is off by more than half, *silently* so when it is not marked `needs_review`.",
        "",
        f"Generated by `scripts/validate_given_junction.py` ({state}; {elapsed_s / 60:.0f} min "
        "with 2 processes). Synthetic seeds: classic 53000+, wide 63000+, stress 73000+, none "
        "looked at while the given junction was written. Crossings match within "
        f"{MATCH_TOLERANCE_UM:g} µm.",
        "",
        "| set | drawing | sections | count ICC(A,1) [95 % CI] | mean abs. error | precision "
        "| recall | crossing F1 | badly / silently wrong | flagged | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (name, drawing), part in table.groupby(["set", "drawing"], sort=False):
        s = summarise(part)
        low, high = s["icc_ci"]
        lines.append(
            f"| {name} | {drawing} | {s['sections']} | {s['icc']:.3f} [{low:.2f}, {high:.2f}] | "
            f"{s['mae']:.2f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
            f"{s['badly_wrong']} / {s['silently_wrong']} | {s['flagged']} | {s['errors']} |"
        )
    lines += ["", "## Where it breaks", ""]
    ok = table[table["status"] == "ok"].copy()
    ok["abs_error"] = (ok["found_count"] - ok["true_count"]).abs()
    worst = ok.sort_values("abs_error", ascending=False).head(12)
    lines += [
        "The sections whose count is furthest from the truth:",
        "",
        "| set | section | drawing | true | found | matched | needs review: reasons |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in worst.iterrows():
        reasons = r["qc_reasons"] if r["needs_review"] else "no"
        lines.append(
            f"| {r['set']} | {r['section']} | {r['drawing']} | {r['true_count']} | "
            f"{int(r['found_count'])} | {int(r['matched'])} | {reasons} |"
        )
    errors = table[table["status"] == "error"]
    if len(errors):
        lines += ["", "Errors:", ""]
        lines += [f"- {r['section']} ({r['drawing']}): {r['error']}" for _, r in errors.iterrows()]
    lines += [
        "",
        f"Per-section figures: [{path.with_suffix('.csv').name}]({path.with_suffix('.csv').name}).",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Build the sets, analyse them with 2 processes, write the page and its CSV."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="synthetic sections per appearance")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-real", action="store_true", help="skip the real-tissue set")
    parser.add_argument("--real-seed", type=int, default=7100)
    args = parser.parse_args(argv)

    state = code_state()
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ienfd_given_") as tmp, Pool(args.processes) as pool:
        jobs = [
            (appearance, first + i, tmp)
            for appearance, first in FIRST_SEEDS.items()
            for i in range(args.n)
        ]
        for part in pool.imap(_synthetic_job, jobs):
            rows.extend(part)
        print(f"synthetic: {len(rows)} analyses", flush=True)
        if not args.no_real and rts.SOURCE_DIR.exists():
            real_dir = Path(tmp) / "real"
            real = rts.build_set(real_dir, seed=args.real_seed)
            for part in pool.imap(_real_job, real):
                rows.extend(part)
        elif not args.no_real:
            print(f"real tissue skipped: {rts.SOURCE_DIR} not found", flush=True)
    table = pd.DataFrame(rows)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.report.with_suffix(".csv"), index=False)
    write_report(args.report, table, state=state, elapsed_s=time.perf_counter() - start)
    for (name, drawing), part in table.groupby(["set", "drawing"], sort=False):
        s = summarise(part)
        print(
            f"{name:12s} {drawing:12s} n={s['sections']} ICC {s['icc']:.3f} F1 {s['f1']:.3f} "
            f"P {s['precision']:.3f} R {s['recall']:.3f} badly {s['badly_wrong']} "
            f"silent {s['silently_wrong']} errors {s['errors']}"
        )
    print(f"wrote {args.report} and {args.report.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
