"""Validate the count on sections from an independent generator (out of distribution).

The sections come from :mod:`independent_sections` (same folder), a generator written from
the domain description and real micrographs without reference to ``ienfd.synthetic``. Each
section is written as an OME-TIFF with its physical pixel size, read back with
:func:`ienfd.io.read_section` and analysed with :func:`ienfd.core.analyze_section` and the
default parameters, as ``ienfd analyze`` does, then scored against its truth with
:func:`ienfd.synthetic.score_section` (crossings matched one-to-one within 10 µm).

Two seed sets:

* ``design`` (seeds 100-119): looked at while the generator was built; its failures may be
  studied to improve the analysis.
* ``held-out`` (seeds 1000-1059): run once, for the page; never looked at section by section
  while the generator or the analysis was changed.

Usage::

    # -> docs/validation-independent.md (the held-out set)
    .venv/bin/python scripts/validate_independent.py --set held-out
    .venv/bin/python scripts/validate_independent.py --set design --report /tmp/design/report.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

import independent_sections as ind
from validate_real_tissue import code_state

from ienfd import __version__
from ienfd.clinical import icc_a1, icc_a1_ci
from ienfd.core import analyze_section
from ienfd.io import read_section
from ienfd.synthetic import score_section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORT = ROOT / "docs" / "validation-independent.md"
SEED_SETS = {"design": (100, 119), "held-out": (1000, 1059)}
MATCH_TOLERANCE_UM = 10.0
DEJ_TOLERANCE_UM = 15.0
PROCESSES = 2


# ---------------------------------------------------------------------------------------------
# One section
# ---------------------------------------------------------------------------------------------


def factors(a: dict[str, Any]) -> dict[str, str]:
    """The appearance of a section, binned into the factors of the by-factor tables."""
    bf = a["modality"] == "brightfield"
    angle = a["angle_deg"] % 90
    out = {
        "modality": a["modality"],
        "stain": a["stain"] if bf else "fluorescence",
        "counterstain": a["counterstain"] if bf else "n/a (fluorescence)",
        "epidermis contrast": (
            ("faint (< 1.3x)" if a["epidermis_contrast"] < 1.3 else "clear (>= 1.3x)")
            if bf
            else "n/a (fluorescence)"
        ),
        "melanin": (
            ("none" if a["melanin"] == 0 else "basal pigment") if bf else "n/a (fluorescence)"
        ),
        "collagen IV": a["collagen_iv"] if not bf else "n/a (bright-field)",
        "bit depth": f"{a['bit_depth']}-bit" if not bf else "8-bit RGB",
        "stratum corneum": a["sc_kind"],
        "rete ridges": a["ridges"],
        "fibre width": "thin (< 1 µm)" if a["fibre_width_um"] < 1.0 else "1-2 µm",
        "fibre strength": (
            "faint (< 0.4)"
            if a["fibre_strength"] < 0.4
            else "medium"
            if a["fibre_strength"] < 0.7
            else "dark"
        ),
        "beading": "strong (> 0.5)" if a["beading"] > 0.5 else "weak",
        "nerve trunks": "none" if a["trunks"] == 0 else "1" if a["trunks"] == 1 else "2-3",
        "glass": (
            "tissue cut by the frame"
            if a["glass_top_um"] < 0 or not a["glass_ends"]
            else "glass around"
        ),
        "orientation": "multiple of 90°" if min(angle, 90 - angle) < 0.01 else "oblique",
        "pixel size": "0.3-0.45 µm" if a["pixel_size_um"] < 0.45 else "0.45-0.7 µm",
        "blur": "none" if a["blur_px"] == 0 else "blurred",
        "JPEG": (
            (
                "JPEG q < 75"
                if 0 < a["jpeg_quality"] < 75
                else "JPEG q >= 75"
                if a["jpeg_quality"]
                else "none"
            )
            if bf
            else "n/a (fluorescence)"
        ),
        "density": (
            "low (< 8/mm)"
            if a["density_per_mm"] < 8
            else "mid (8-16/mm)"
            if a["density_per_mm"] < 16
            else "high (> 16/mm)"
        ),
    }
    return out


def dej_within_fraction(
    true_dej: np.ndarray, found_dej: list[np.ndarray], pixel_size_um: float
) -> float:
    """Fraction of the true DEJ (sampled every µm) within 15 µm of the found junction."""
    pieces = [np.asarray(p, dtype=float) for p in found_dej if len(p) >= 2]
    if not pieces:
        return 0.0
    found = shapely.MultiLineString([p[:, ::-1] for p in pieces])
    line = shapely.LineString(np.asarray(true_dej, dtype=float)[:, ::-1])
    step = 1.0 / pixel_size_um
    pts = [line.interpolate(d) for d in np.arange(0.0, line.length, step)]
    dist = shapely.distance(found, np.array(pts, dtype=object))
    return float(np.mean(np.asarray(dist) * pixel_size_um <= DEJ_TOLERANCE_UM))


def _written(folder: str, seed: int) -> dict[str, Any] | None:
    """The truth of seed's section if a run of this generator already wrote it to folder.

    The image is written before its truth, so a truth file means a whole image;
    a truth from another version of the generator is not reused.
    """
    truth_path = Path(folder) / f"indep_{seed}.truth.json"
    if not truth_path.is_file():
        return None
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    if truth.get("generator") != ind.GENERATOR or not (Path(folder) / truth["image"]).is_file():
        return None
    return dict(truth)


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Generate, write, read back, analyse and score one section."""
    seed = job["seed"]
    t0 = time.perf_counter()
    truth = _written(job["folder"], seed) if job.get("reuse") else None
    if truth is None:
        section = ind.generate_section(seed)
        image_path, _ = ind.write_section(section, job["folder"], f"indep_{seed}")
        truth = section.truth
        del section
    else:
        image_path = Path(job["folder"]) / truth["image"]
    gen_s = time.perf_counter() - t0
    a = truth["appearance"]
    row: dict[str, Any] = {
        "seed": seed,
        "file": image_path.name,
        **factors(a),
        "pixel_size_um": a["pixel_size_um"],
        "angle_deg": a["angle_deg"],
        "flip": a["flip"],
        "megapixels": round(truth["shape"][0] * truth["shape"][1] / 1e6, 2),
        "true_count": truth["count"],
        "true_dej_um": round(truth["dej_length_um"], 1),
        "true_fragments": truth["n_fragments"],
        "generate_s": round(gen_s, 2),
    }
    start = time.perf_counter()
    try:
        image = read_section(image_path)
        if image.rgb is not None:
            result = analyze_section(image.rgb, spacing=image.pixel_size_um, modality="brightfield")
        else:
            result = analyze_section(
                image.fibre,
                spacing=image.pixel_size_um,
                modality="fluorescence",
                membrane=image.membrane,
            )
    except ValueError as err:  # AnalysisError and file errors are ValueErrors
        row.update(
            status="error",
            error=str(err).replace(str(image_path.parent) + "/", ""),
            found_count=np.nan,
            needs_review=True,
            qc_reasons=f"error: {err}",
            seconds=round(time.perf_counter() - start, 2),
        )
        return row
    seconds = time.perf_counter() - start
    score = score_section(
        result.crossings, result.dej_length_um, truth, tolerance_um=MATCH_TOLERANCE_UM
    )
    true_count = truth["count"]
    err = score.found_count - true_count
    row.update(
        status="ok",
        error="",
        found_count=score.found_count,
        count_error=err,
        matched=score.matched,
        false_positives=score.false_positives,
        false_negatives=score.false_negatives,
        found_dej_um=round(result.dej_length_um, 1),
        dej_error_pct=round(100.0 * score.dej_length_error, 2),
        dej_within_15um=round(
            dej_within_fraction(np.asarray(truth["dej"]), result.dej, truth["pixel_size_um"]), 3
        ),
        found_fragments=len(result.fragments),
        off_by_half=bool(abs(err) > 0.5 * true_count),
        correct=bool(abs(err) <= max(1.0, 0.1 * true_count)),
        needs_review=bool(result.needs_review),
        qc_reasons="; ".join(result.qc_reasons),
        seconds=round(seconds, 2),
    )
    return row


# ---------------------------------------------------------------------------------------------
# Aggregates
# ---------------------------------------------------------------------------------------------


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """The issue's measures over a set of sections (errors count as badly wrong, flagged)."""
    ok = table[table["status"] == "ok"]
    n_err = int((table["status"] != "ok").sum())
    out: dict[str, Any] = {"sections": len(table), "errors": n_err}
    if len(ok) == 0:
        return out
    true = ok["true_count"].to_numpy(float)
    found = ok["found_count"].to_numpy(float)
    matched = float(ok["matched"].sum())
    precision = matched / found.sum() if found.sum() else float("nan")
    recall = matched / true.sum() if true.sum() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    ratings = np.column_stack([true, found])
    try:
        icc = icc_a1(ratings)
        lo, hi = icc_a1_ci(ratings)
    except ValueError:
        icc, lo, hi = float("nan"), float("nan"), float("nan")
    off = ok[ok["off_by_half"]]
    correct = ok[ok["correct"]]
    out.update(
        analysed=len(ok),
        icc=icc,
        icc_lo=lo,
        icc_hi=hi,
        mae=float(np.mean(np.abs(found - true))),
        bias=float(np.mean(found - true)),
        mean_true=float(true.mean()),
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        dej_median_abs_pct=float(ok["dej_error_pct"].abs().median()),
        dej_median_pct=float(ok["dej_error_pct"].median()),
        dej_within=float(ok["dej_within_15um"].mean()),
        off_by_half=len(off) + n_err,
        silent=int((~off["needs_review"].astype(bool)).sum()),
        correct=len(correct),
        correct_flagged=int(correct["needs_review"].astype(bool).sum()),
        flagged=int(ok["needs_review"].astype(bool).sum()),
        fragments_median_err_pct=float(
            np.median(
                100
                * np.abs(ok["found_fragments"] - ok["true_fragments"])
                / np.maximum(ok["true_fragments"], 1)
            )
        ),
        seconds=float(ok["seconds"].median()),
    )
    return out


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


FACTORS = [
    "modality",
    "stain",
    "counterstain",
    "epidermis contrast",
    "melanin",
    "collagen IV",
    "bit depth",
    "stratum corneum",
    "rete ridges",
    "fibre width",
    "fibre strength",
    "beading",
    "nerve trunks",
    "glass",
    "orientation",
    "pixel size",
    "blur",
    "JPEG",
    "density",
]


def factor_table(table: pd.DataFrame, factor: str) -> str:
    head = [
        "level",
        "n",
        "ICC(A,1)",
        "MAE",
        "F1",
        "DEJ err % (median abs)",
        "DEJ ≤ 15 µm",
        "off by > half",
        "silently wrong",
        "correct flagged",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for level, grp in table.groupby(factor, sort=True):
        s = summarise(grp)
        if "icc" not in s:
            lines.append(
                f"| {level} | {len(grp)} | " + " | ".join(["n/a"] * (len(head) - 2)) + " |"
            )
            continue
        lines.append(
            f"| {level} | {len(grp)} | {_f(s['icc'], 2)} | {_f(s['mae'], 1)} | {_f(s['f1'], 2)} | "
            f"{_f(s['dej_median_abs_pct'], 1)} | {_f(s['dej_within'], 2)} | {s['off_by_half']} | "
            f"{s['silent']} | {s['correct_flagged']}/{s['correct']} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def save_png(fig: Any, path: Path, dpi: int = 110) -> None:
    """Save a figure as a 256-colour PNG (small files for the docs)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png", bbox_inches="tight")
    buf.seek(0)
    with Image.open(buf) as im:
        small = im.convert("RGB").quantize(
            colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path, optimize=True)


def plot_counts(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = table[table["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(5.2, 5))
    top = max(float(ok["true_count"].max()), float(ok["found_count"].max()), 5.0) * 1.05
    ax.plot([0, top], [0, top], color="0.6", lw=1)
    ax.fill_between(
        [0, top], [0, top * 0.5], [0, top * 1.5], color="0.92", zorder=0, label="within half"
    )
    for mod, marker in (("brightfield", "o"), ("fluorescence", "s")):
        sub = ok[ok["modality"] == mod]
        flagged = sub["needs_review"].astype(bool)
        ax.scatter(
            sub.loc[~flagged, "true_count"],
            sub.loc[~flagged, "found_count"],
            marker=marker,
            facecolor="tab:blue" if mod == "brightfield" else "tab:green",
            edgecolor="k",
            lw=0.4,
            s=30,
            label=f"{mod}, ok",
        )
        ax.scatter(
            sub.loc[flagged, "true_count"],
            sub.loc[flagged, "found_count"],
            marker=marker,
            facecolor="none",
            edgecolor="tab:red",
            lw=1.2,
            s=34,
            label=f"{mod}, needs_review",
        )
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("true count")
    ax.set_ylabel("found count")
    ax.set_title("Independent generator: true vs found")
    ax.legend(fontsize=7, loc="upper left")
    save_png(fig, path)
    plt.close(fig)


EXAMPLE_SEEDS = (
    104,
    118,
    113,
    222,
)  # design-set looks (and 222, dotted collagen IV), never held-out


def plot_examples(path: Path) -> None:
    """Four sections of the generator, with their true DEJ and crossings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, seed in zip(axes.ravel(), EXAMPLE_SEEDS, strict=True):
        section = ind.generate_section(seed)
        truth = section.truth
        a = truth["appearance"]
        img = section.image
        if img.ndim == 3 and img.shape[-1] == 3:
            shown = img
            title = f"{a['stain']}, counterstain {a['counterstain']}"
        else:
            names = section.channel_names
            fib = img[names.index("PGP9.5")].astype(float)
            mem = img[names.index("Collagen IV")].astype(float)

            def norm(x: np.ndarray) -> np.ndarray:
                lo, hi = np.percentile(x, [0.5, 99.8])
                return np.clip((x - lo) / max(hi - lo, 1e-9), 0, 1)

            shown = np.stack([norm(mem), norm(fib), norm(mem)], axis=-1)
            title = f"fluorescence ({a['bit_depth']}-bit), collagen IV {a['collagen_iv']}"
        ax.imshow(shown, interpolation="antialiased")
        dej = np.asarray(truth["dej"])
        ax.plot(dej[:, 1], dej[:, 0], color="cyan", lw=0.6, ls="--")
        cr = np.array([[c["row"], c["col"]] for c in truth["crossings"]]).reshape(-1, 2)
        ax.scatter(cr[:, 1], cr[:, 0], s=14, facecolor="none", edgecolor="yellow", lw=0.8)
        ax.set_title(
            f"seed {seed}: {title};\n{a['ridges']} ridges, {a['sc_kind']} stratum corneum, "
            f"{truth['count']} crossings",
            fontsize=8,
        )
        ax.axis("off")
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    plt.close(fig)


def plot_factors(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(FACTORS)
    cols = 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(12, 2.4 * rows))
    for ax, factor in zip(axes.ravel(), FACTORS, strict=False):
        levels, f1s, maes, ns = [], [], [], []
        for level, grp in table.groupby(factor, sort=True):
            if str(level).startswith("n/a"):  # the other modality's sections
                continue
            s = summarise(grp)
            levels.append(str(level))
            f1s.append(s.get("f1", np.nan))
            maes.append(s.get("mae", np.nan))
            ns.append(len(grp))
        y = np.arange(len(levels))
        ax.barh(y, f1s, color="tab:blue", height=0.6)
        for yi, (mae, k) in enumerate(zip(maes, ns, strict=True)):
            ax.text(1.01, yi, f"MAE {mae:.1f}, n={k}", va="center", fontsize=7)
        ax.set_yticks(y, levels, fontsize=7)
        ax.set_xlim(0, 1.0)
        ax.axvline(0.85, color="tab:red", lw=0.8, ls="--")
        ax.set_title(factor, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle("Crossing F1 (10 µm) by appearance factor; dashed: the 0.85 bar", fontsize=10)
    fig.tight_layout()
    save_png(fig, path, dpi=90)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def write_report(
    path: Path,
    table: pd.DataFrame,
    *,
    set_name: str,
    seeds: tuple[int, int],
    elapsed_s: float,
    state: str,
    command: str,
) -> None:
    s = summarise(table)
    fig_dir = path.parent / (path.stem)
    counts_png = fig_dir / "counts.png"
    factors_png = fig_dir / "factors.png"
    plot_counts(table, counts_png)
    plot_factors(table, factors_png)
    examples_png = fig_dir / "examples.png"
    plot_examples(examples_png)
    rel = lambda p: os.path.relpath(p, path.parent)  # noqa: E731
    ok = table[table["status"] == "ok"]
    bf = summarise(table[table["modality"] == "brightfield"])
    fl = summarise(table[table["modality"] == "fluorescence"])

    def cell(summary: dict[str, Any], key: str, digits: int = 3) -> str:
        return _f(summary.get(key), digits)

    measures = [
        (
            "count ICC(A,1) [95 % CI]",
            lambda x: f"{cell(x, 'icc')} [{cell(x, 'icc_lo', 2)}, {cell(x, 'icc_hi', 2)}]",
            ">= 0.90",
        ),
        ("count MAE (fibres per section)", lambda x: cell(x, "mae", 2), ""),
        ("count bias, found - true", lambda x: cell(x, "bias", 2), ""),
        ("mean true count", lambda x: cell(x, "mean_true", 1), ""),
        (
            "crossing precision / recall",
            lambda x: f"{cell(x, 'precision')} / {cell(x, 'recall')}",
            "",
        ),
        ("crossing F1 (10 µm)", lambda x: cell(x, "f1"), ">= 0.85"),
        (
            "DEJ length error, median of abs (signed median)",
            lambda x: f"{cell(x, 'dej_median_abs_pct', 1)} % ({cell(x, 'dej_median_pct', 1)} %)",
            "<= 5 %",
        ),
        (
            "true DEJ within 15 µm of the found DEJ (mean fraction)",
            lambda x: cell(x, "dej_within", 2),
            "",
        ),
        (
            "sections off by more than half (errors included)",
            lambda x: str(x.get("off_by_half", "n/a")),
            "",
        ),
        (
            "... of them without `needs_review` (silently wrong)",
            lambda x: str(x.get("silent", "n/a")),
            "0",
        ),
        (
            "correct sections (within 1 fibre or 10 %) flagged",
            lambda x: f"{x.get('correct_flagged', 'n/a')} of {x.get('correct', 'n/a')}",
            "<= 10 %",
        ),
        ("analysis errors", lambda x: str(x.get("errors", 0)), ""),
        (
            "fragments: median error against the truth",
            lambda x: f"{cell(x, 'fragments_median_err_pct', 0)} %",
            "<= 50 %",
        ),
        ("seconds per section (median, 2 processes)", lambda x: cell(x, "seconds", 2), ""),
    ]
    lines = ["| measure | all | bright-field | fluorescence | bar |", "|---|---|---|---|---|"]
    for name, fmt, bar in measures:
        lines.append(f"| {name} | {fmt(s)} | {fmt(bf)} | {fmt(fl)} | {bar} |")
    n_bf = int((table["modality"] == "brightfield").sum())
    n_fl = len(table) - n_bf
    worst = ok.assign(
        rel_err=(ok["count_error"].abs() / ok["true_count"].clip(lower=1)),
        f1=2 * ok["matched"] / (ok["found_count"] + ok["true_count"]).clip(lower=1),
    ).sort_values(["rel_err", "f1"], ascending=[False, True])
    worst_lines = [
        "| seed | modality / stain | true | found | F1 | DEJ err % | needs_review | qc_reasons "
        "| appearance |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in worst.head(12).iterrows():
        look = ", ".join(
            f"{k}: {r[k]}"
            for k in (
                "counterstain",
                "epidermis contrast",
                "melanin",
                "collagen IV",
                "stratum corneum",
                "rete ridges",
                "fibre strength",
                "nerve trunks",
                "glass",
                "orientation",
            )
            if not str(r[k]).startswith("n/a")
        )
        worst_lines.append(
            f"| {r['seed']} | {r['modality']} / {r['stain']} | {r['true_count']} | "
            f"{int(r['found_count'])} | {r['f1']:.2f} | {r['dej_error_pct']:+.1f} | "
            f"{'yes' if r['needs_review'] else '**no**'} | "
            f"{r['qc_reasons'] or '-'} | {look} |"
        )
    errors = table[table["status"] != "ok"]
    err_text = ""
    if len(errors):
        err_text = (
            "\n\nSections the analysis refused (counted as badly wrong, and flagged):\n\n"
            + "\n".join(f"- seed {r['seed']}: {r['error']}" for _, r in errors.iterrows())
        )
    body = (
        f"""# Validation: sections from an independent generator

<!-- Generated by scripts/validate_independent.py; do not edit by hand. -->

Generated with `{command}` (ienfd {__version__}, generator {ind.GENERATOR}, Python
{platform.python_version()}), on {state}; {len(table)} sections in {elapsed_s / 60:.1f} min with
{PROCESSES} processes.

**Why this page.** ienfd's own generator (`ienfd.synthetic`), and everything tuned on it, is not
the world. These sections come from a second generator, `scripts/independent_sections.py`, written
from the domain description (`SPEC`, the EFNS/PNS counting rule) and from real skin micrographs,
without looking at how `ienfd.synthetic` draws sections. Its tissue model is its own: layers as
functions along the section, rotated to any angle; bright-field colour composed as absorbances
(Beer-Lambert) of an unstained tissue tone, haematoxylin, eosin, the chromogen (SG or DAB) and
melanin, with the colour vectors of Ruifrok & Johnston (2001); fluorescence as a PGP 9.5 channel
and a collagen IV channel (continuous, dotted, weak or absent; vessel walls and nerve bundles also
positive), 8- or 16-bit (16-bit using a small part of its range), sometimes with a DAPI channel
first.

**This run: the {set_name} set, seeds {seeds[0]}-{seeds[1]}.** The design set (seeds
{SEED_SETS["design"][0]}-{SEED_SETS["design"][1]}) was looked at while the generator was built, and
its failures may be studied to improve the analysis. The held-out set (seeds
{SEED_SETS["held-out"][0]}-{SEED_SETS["held-out"][1]}) is run once, for this page; its sections
were not looked at one by one while the generator or the analysis was changed.

What the sections hold ({n_bf} bright-field, {n_fl} fluorescence): SG (blue-black) or DAB (brown)
fibres with no counterstain, haematoxylin, or H&E; an epidermis from barely (1.02x) to clearly
(2.6x) denser than the dermis, with nuclei, a darker basal layer and a granular layer; a compact,
basket-weave, pale or detached stratum corneum; a paler papillary dermis over collagen bundles;
thick nerve trunks (7-25 µm radius) and small vessels near the junction; rete ridges shallow, mixed
or deep and narrow (to 110 µm); glass around the tissue or the tissue cut by the frame; blur, JPEG,
uneven illumination; pixel size 0.3-0.7 µm, any angle (a third at multiples of 90°) and flips,
section length 0.5-2 mm, up to 6 megapixels. Fibres 0.5-2 µm wide, faint to dark, beaded; one truth
crossing per intraepidermal fibre that crosses the DEJ (branches inside the epidermis are not
counted again), with fibres that stop 3-8 µm short of the junction, a subepidermal plexus running
along it, and epidermal fragments that touch neither junction nor surface.

Each section is written as an OME-TIFF with its physical pixel size, read back with
`ienfd.io.read_section` and analysed with `ienfd.core.analyze_section` (default parameters, the
file's pixel size), as `ienfd analyze` does. A found crossing matches a true one within
{MATCH_TOLERANCE_UM:g} µm (one-to-one, Hungarian assignment, `ienfd.synthetic.score_section`).
ICC(A,1) is the two-way, absolute-agreement, single-measure intraclass correlation (McGraw & Wong
1996) of true and found counts, with its 95 % CI. A section is *correct* when its count is within 1
fibre or 10 % of the truth, *badly wrong* when off by more than half (or refused); *silently wrong*
when badly wrong without `needs_review`. ICC, MAE, bias, precision, recall, F1 and the DEJ figures
are over the analysed sections; a section the analysis refused counts as badly wrong (and flagged).
Per-section figures:
[validation-independent.csv]({rel(path.with_suffix(".csv"))}).

![Four sections of the independent generator]({rel(examples_png)})

Four sections of the generator (seeds 104, 118, 113 and 222, none of them held out; true DEJ dashed
cyan, true crossings yellow).

## Overall

{chr(10).join(lines)}

![true vs found counts]({rel(counts_png)})

## Where it breaks: accuracy by appearance factor

![crossing F1 by factor]({rel(factors_png)})

"""
        + "\n\n".join(f"### {f}\n\n{factor_table(table, f)}" for f in FACTORS)
        + f"""

## The worst sections

Sorted by relative count error, then F1. Regenerate one with `.venv/bin/python
scripts/independent_sections.py --seeds SEED --out DIR`.

{chr(10).join(worst_lines)}{err_text}
"""
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    table.to_csv(path.with_suffix(".csv"), index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=sorted(SEED_SETS), default="held-out")
    parser.add_argument("--seeds", help="override the set's seeds, e.g. 100-103 (for a quick look)")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="markdown page to write (default: docs/validation-independent.md for held-out)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="keep the sections here (default: a temporary folder)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="analyse sections this generator version already wrote to --out instead of "
        "drawing them again (the same seeds give the same sections; saves most of the time)",
    )
    parser.add_argument("--processes", type=int, default=PROCESSES)
    args = parser.parse_args(argv)
    if args.reuse and args.out is None:
        parser.error("--reuse needs --out, the folder the sections were written to")
    lo, hi = SEED_SETS[args.set]
    if args.seeds:
        a, _, b = args.seeds.partition("-")
        lo, hi = int(a), int(b or a)
    report = args.report
    if report is None:
        if args.set != "held-out" or args.seeds:
            parser.error(
                "--report is required for the design set or a seed override "
                "(the docs page is the held-out set's)"
            )
        report = DEFAULT_REPORT
    state = code_state()
    command = "python scripts/validate_independent.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        jobs = [{"seed": s, "folder": str(folder), "reuse": args.reuse} for s in range(lo, hi + 1)]
        rows = []
        with Pool(args.processes) as pool:
            for row in pool.imap_unordered(run_one, jobs):
                rows.append(row)
                print(
                    f"seed {row['seed']}: {row['modality']} true {row['true_count']} "
                    f"found {row.get('found_count')} "
                    f"review {row.get('needs_review')} {row.get('qc_reasons', '')[:80]}",
                    flush=True,
                )
    table = pd.DataFrame(rows).sort_values("seed").reset_index(drop=True)
    write_report(
        report,
        table,
        set_name=args.set,
        seeds=(lo, hi),
        elapsed_s=time.perf_counter() - start,
        state=state,
        command=command.strip(),
    )
    s = summarise(table)
    print(
        json.dumps(
            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}, indent=1
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
