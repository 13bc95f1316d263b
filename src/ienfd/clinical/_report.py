"""Plots (PNG bytes) and HTML reports a clinician reads in one pass, on screen or printed.

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the
Agg canvas directly: no :mod:`matplotlib.pyplot`, no global figure state.
HTML pages embed their plots and the thumbnails of the sections' QC overlays
(base64), so a page shows everything on its own; the thumbnails link to the
full QC pictures and the cohort page links to every patient's report, by
paths relative to the page. Counts print as integers, flags as yes/no, and
the layout prints on A4 (``@media print``).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import logging
import math
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ienfd.clinical._agreement import AgreementSummary, AgreementTable
from ienfd.clinical._classify import (
    ClassificationRules,
    PatientResult,
    SiteResult,
    unclassified_patients,
)
from ienfd.clinical._norms import NormRow, NormsTable, site_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

__all__ = [
    "overlay_thumbnail",
    "plot_bland_altman",
    "plot_norms_fit",
    "plot_patient_sites",
    "plot_ratio_distribution",
    "render_cohort_html",
    "render_patient_html",
]

_STATUS_COLOUR = {
    "normal": "#1a7f37",
    "abnormal": "#c62828",
    "borderline": "#b26a00",
    "no_norm": "#555555",
    "missing": "#555555",
}


def _figure(**kwargs: object) -> Figure:
    """A matplotlib Figure (imported here: ``ienfd analyze`` never pays for matplotlib)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)  # type: ignore[arg-type]


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _img(data_bytes: bytes, alt: str, mime: str = "image/png") -> str:
    data = base64.b64encode(data_bytes).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{data}">'


def _href(target: str | os.PathLike[str], base_dir: str | os.PathLike[str]) -> str:
    """URL of `target` relative to a page in `base_dir` (quoted, forward slashes)."""
    rel = os.path.relpath(os.path.abspath(target), os.path.abspath(base_dir))
    return urllib.parse.quote(Path(rel).as_posix())


def overlay_thumbnail(path: str | os.PathLike[str], *, width: int = 360) -> bytes:
    """A JPEG thumbnail of a QC overlay PNG, `width` pixels wide at most.

    Parameters
    ----------
    path : str or os.PathLike
        The overlay PNG (as written by :func:`ienfd.io.save_overlay`).
    width : int, optional
        Largest width of the thumbnail in pixels; the aspect ratio is kept.

    Returns
    -------
    bytes
        The JPEG file's bytes.

    Raises
    ------
    OSError
        The file cannot be read or is not an image.
    """
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (width, width * 8))
        rgb = im.convert("RGB")
    rgb.thumbnail((width, width * 8), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _norm_rows_for(
    norms: NormsTable, site: str, sex: str | None, modality: str | None
) -> list[NormRow]:
    return [
        r
        for r in norms.rows
        if r.site == site
        and (sex is None or r.sex in (sex, "any"))
        and (r.modality is None or r.modality == modality)
    ]


def plot_patient_sites(
    result: PatientResult, norms: NormsTable, *, site_modality: dict[str, str | None]
) -> bytes:
    """One panel per site: the limit for this sex and modality across age, and
    the patient's density with its 95% CI at the patient's age."""
    return _png(_sites_figure(result, norms, site_modality=site_modality))


def _sites_figure(
    result: PatientResult, norms: NormsTable, *, site_modality: dict[str, str | None]
) -> Figure:
    sites = list(result.sites.values())
    fig = _figure(figsize=(3.6 * max(len(sites), 1), 3.0), layout="constrained")
    axes = fig.subplots(1, max(len(sites), 1), squeeze=False)[0]
    for ax, s in zip(axes, sites, strict=False):
        rows = _norm_rows_for(norms, s.site, result.sex, site_modality.get(s.site))
        ymax = 1.0
        for r in rows:
            hi = min(r.age_max, 100)
            ages = np.linspace(r.age_min, hi, 50)
            lim = np.array([r.limit_at(a) for a in ages])
            ax.plot(ages, lim, color="#333333", lw=1.5)
            ax.fill_between(ages, 0, lim, color="#c62828", alpha=0.08, lw=0)
            ymax = max(ymax, float(lim.max()))
        if rows:
            ax.set_xlim(min(r.age_min for r in rows), min(max(r.age_max for r in rows), 100))
        elif result.age is not None:
            ax.set_xlim(max(result.age - 20, 0), result.age + 20)
        top = ymax * 1.15
        if result.age is not None and s.density_per_mm is not None:
            colour = _STATUS_COLOUR[s.status]
            top = max(ymax, s.density_per_mm) * 1.15
            if s.ci_low is not None and s.ci_high is not None:
                top = _draw_interval(ax, result.age, s.density_per_mm, s.ci_low, s.ci_high,
                                     top=top, colour=colour)  # fmt: skip
            ax.plot([result.age], [s.density_per_mm], "o", color=colour, ms=7)
        ax.set_ylim(0, top)
        ax.set_xlabel("age (years)")
        ax.set_ylabel("IENFD (fibres/mm)")
        title = f"{site_label(s.site)}: {s.status.replace('_', ' ')}"
        ax.set_title(title, fontsize=10, color=_STATUS_COLOUR[s.status])
        if not rows:
            ax.text(0.5, 0.5, "no normal limit", ha="center", transform=ax.transAxes)
        ax.grid(alpha=0.3)
    return fig


#: How far above the densities and normal limits a site's axis may reach for an interval.
_CI_REACH = 2.0


def _draw_interval(
    ax: Axes, age: float, density: float, low: float, high: float, *, top: float, colour: str
) -> float:
    """Draw a 95% CI bar; return the axis top, which the interval does not stretch far.

    Sections few or far apart give an interval that can reach ten times the
    density (2 sections: t = 12.7). The axis is kept on the data and the
    normal limit (``top``), growing to hold the whole interval only up to
    :data:`_CI_REACH` times ``top``; a longer bar is cut there with an
    upward arrowhead and its upper end written beside it (the site table
    gives the interval's numbers in any case). The x limits are set before.
    """
    if high * 1.05 <= _CI_REACH * top:
        top = max(top, high * 1.05)
        ax.vlines(age, low, high, color=colour, lw=1.5)
        ax.plot([age, age], [low, high], "_", color=colour, ms=9, mew=1.5)
        return top
    top = _CI_REACH * top
    end = top * 0.97  # the arrowhead inside the axes
    ax.vlines(age, low, end, color=colour, lw=1.5)
    ax.plot([age], [low], "_", color=colour, ms=9, mew=1.5)
    ax.plot([age], [end], "^", color=colour, ms=6)
    left, right = ax.get_xlim()
    on_left = age > (left + right) / 2  # the words on the side with room for them
    ax.annotate(
        f"95% CI to {high:.1f}",
        (age, end),
        xytext=(-6 if on_left else 6, 0),
        textcoords="offset points",
        ha="right" if on_left else "left",
        va="top",
        fontsize=7.5,
        color=colour,
    )
    return top


def _f(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "&ndash;"
    return f"{x:.{digits}f}"


#: How each known column prints: counts as integers, flags as yes/no.
_INTEGER_COLUMNS = {"count", "n_sections", "n_patients", "row", "section", "n_need_review"}
_FLAG_COLUMNS = {"corrected", "needs_review"}
_DIGITS = {"length_mm": 3, "density_per_mm": 1, "percent": 0, "age": 0}
_HEADINGS = {
    "count": "fibres",
    "length_mm": "length (mm)",
    "density_per_mm": "IENFD (/mm)",
    "corrected": "corrected by hand",
    "needs_review": "needs review",
    "review_reasons": "why",
    "n_patients": "patients",
    "percent": "% of patients",
}


def _value(column: str, v: object) -> str:
    """One table cell, formatted by its column."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "" if column in _FLAG_COLUMNS else "&ndash;"
    if column in _FLAG_COLUMNS:
        if isinstance(v, str):
            return html.escape(v)
        return "yes" if bool(v) else "no"
    if column in _INTEGER_COLUMNS and isinstance(v, (int, float, np.integer, np.floating)):
        return str(round(float(v)))
    if isinstance(v, (float, np.floating)):
        return _f(float(v), _DIGITS.get(column, 2))
    return html.escape(str(v))


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(_HEADINGS.get(str(c), str(c)))}</th>" for c in frame.columns)
    body = []
    for _, rec in frame.iterrows():
        cells = "".join(f"<td>{_value(str(c), v)}</td>" for c, v in rec.items())
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Arial, sans-serif; font-size: 10.5pt;
       max-width: 190mm; margin: auto; color: #111; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; }
h2 { font-size: 11.5pt; margin: 4mm 0 1mm 0; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin-bottom: 2mm; }
th, td { border: 1px solid #ccc; padding: 1px 4px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.pattern { font-size: 13pt; font-weight: bold; padding: 2mm; border: 2px solid #333;
           margin: 2mm 0; }
.normal { color: #1a7f37; } .abnormal { color: #c62828; } .borderline { color: #b26a00; }
.small { font-size: 8pt; color: #555; }
.review { font-weight: bold; color: #8a4b00; background: #fff4e0; border: 2px solid #b26a00;
          padding: 1.5mm; margin: 2mm 0; }
img { max-width: 100%; }
.overlays { display: grid; grid-template-columns: repeat(3, 1fr); gap: 3mm; }
.overlays figure { margin: 0; border: 1px solid #ccc; padding: 1mm; }
.overlays figcaption { font-size: 8.5pt; }
.overlays .flag { color: #8a4b00; font-weight: bold; }
.overlays .missing { font-size: 8.5pt; color: #555; padding: 4mm 1mm; }
@media print {
  body { max-width: none; font-size: 9.5pt; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, figure, .pattern, .review, img { break-inside: avoid; page-break-inside: avoid; }
  .review, th, .pattern { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .noprint { display: none; }
}
"""


def _overlay_cards(
    sections: pd.DataFrame,
    overlays: Mapping[int, str | os.PathLike[str]],
    base_dir: str | os.PathLike[str],
) -> str:
    """One figure per section: the overlay's thumbnail linking to the full picture."""
    cards = []
    for _, rec in sections.iterrows():
        where = site_label(str(rec["site"]))
        if str(rec.get("section", "")):
            where += f", section {html.escape(str(rec['section']))}"
        count = rec.get("count")
        caption = where
        if isinstance(count, (int, float)) and not math.isnan(float(count)):
            caption += f": {round(float(count))} fibres"
        if bool(rec.get("needs_review", False)) is True:
            caption += " <span class='flag'>needs review</span>"
        target = overlays.get(int(rec["row"]))
        if target is None:
            body = "<div class='missing'>no QC picture named in the input table</div>"
        elif not Path(target).is_file():
            body = (
                f"<div class='missing'>QC picture not found: {html.escape(Path(target).name)}</div>"
            )
        else:
            try:
                thumb = overlay_thumbnail(target)
            except OSError as exc:
                logger.warning("QC picture %s could not be read: %s", target, exc)
                body = (
                    "<div class='missing'>QC picture unreadable: "
                    f"{html.escape(Path(target).name)}</div>"
                )
            else:
                alt = f"QC overlay, {where}"
                body = (
                    f"<a href='{_href(target, base_dir)}' title='open the full QC picture'>"
                    f"{_img(thumb, alt, 'image/jpeg')}</a>"
                )
        cards.append(f"<figure>{body}<figcaption>{caption}</figcaption></figure>")
    return f"<div class='overlays'>{''.join(cards)}</div>"


def render_patient_html(
    result: PatientResult,
    sections: pd.DataFrame,
    excluded: pd.DataFrame,
    norms: NormsTable,
    *,
    rules: ClassificationRules | None = None,
    input_name: str = "",
    version: str = "",
    overlays: Mapping[int, str | os.PathLike[str]] | None = None,
    base_dir: str | os.PathLike[str] = ".",
) -> str:
    """One-page HTML report for one patient, readable in one pass and printable.

    Parameters
    ----------
    result : PatientResult
    sections : pandas.DataFrame
        This patient's rows of :attr:`PreparedSections.rows`.
    excluded : pandas.DataFrame
        This patient's excluded rows (status not ``ok``), shown with their error.
    norms : NormsTable
    rules : ClassificationRules, optional
    input_name, version : str
        Shown in the footer.
    overlays : mapping of int to path, optional
        QC overlay PNG of each section, by its data row (``sections["row"]``);
        each is shown as a thumbnail (embedded) that links to the full picture.
        A section without one says so. None (default): no QC pictures section.
    base_dir : str or os.PathLike, optional
        The folder the page will be written to: links are relative to it.

    Returns
    -------
    str
        The page. Counts are integers, flags yes/no; plots and thumbnails are
        embedded, so only the links to the full QC pictures leave the page.
    """
    rules = rules or ClassificationRules()
    site_modality = {
        str(site): (None if g["modality"].isna().all() else g["modality"].dropna().iloc[0])
        for site, g in sections.groupby("site")
    }
    png = plot_patient_sites(result, norms, site_modality=site_modality)
    rows = []
    for s in result.sites.values():
        rows.append(_site_row(s))
    site_table = (
        "<table><thead><tr><th>site</th><th>IENFD /mm</th><th>95% CI</th><th>sections</th>"
        "<th>corrected by hand</th><th>need review</th><th>limit /mm</th><th>% of limit</th>"
        f"<th>status</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    # sections whose count is not confirmed yet: said where nobody can miss it
    notes = [s.review_note for s in result.sites.values() if s.review_note]
    review_html = "".join(f"<div class='review'>{html.escape(n)}</div>" for n in notes)
    compared = (result.sites.get(rules.distal_site), result.sites.get(rules.proximal_site))
    pending = sum(s.n_need_review for s in compared if s is not None)
    pattern = html.escape(result.pattern)
    if pending:
        pattern += (
            f" (not final: {pending} section{'s' if pending > 1 else ''} "
            f"{'need' if pending > 1 else 'needs'} review)"
        )
    sec = sections.copy()
    if "image" in sec.columns:
        sec["image"] = [Path(str(v).replace("\\", "/")).name if v else "" for v in sec["image"]]
    show = ["site", "section", "image", "count", "length_mm", "density_per_mm", "corrected",
            "needs_review", "review_reasons"]  # fmt: skip
    sec = sec[[c for c in show if c in sec.columns]]
    sec["site"] = [site_label(str(v)) for v in sec["site"]]
    if "review_reasons" in sec.columns and not sec["review_reasons"].astype(bool).any():
        sec = sec.drop(columns="review_reasons")
    if sec["section"].eq("").all():
        sec = sec.drop(columns="section")
    if sec["image"].eq("").all():
        sec = sec.drop(columns="image")
    cards_html = ""
    if overlays is not None and not sections.empty:
        cards_html = (
            "<h2>QC pictures (click a picture to open it at full size)</h2>"
            + _overlay_cards(sections, overlays, base_dir)
        )
    excl_html = ""
    if not excluded.empty:
        excl_html = "<h2>Excluded sections (analysis failed or not accepted)</h2>" + _table(
            excluded[["row", "site", "section", "image", "status", "error"]]
        )
    sources = sorted({s.norm_source for s in result.sites.values() if s.norm_source})
    src_html = "".join(f"<li>{html.escape(s)}</li>" for s in sources) or "<li>none</li>"
    ratio = _f(result.ratio_distal_proximal, 2)
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
    warn_html = f"<ul class='abnormal'>{warn}</ul>" if warn else ""
    now = _dt.datetime.now().isoformat(timespec="minutes")
    age = "unknown" if result.age is None else f"{result.age:g}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>IENFD report {html.escape(result.patient_id)}</title><style>{_CSS}</style></head>
<body>
<h1>Skin biopsy: intraepidermal nerve fibre density</h1>
<div>Patient <b>{html.escape(result.patient_id)}</b> &middot; age {age} &middot;
sex {html.escape(result.sex or "unknown")} &middot;
modality {html.escape(result.modality or "not stated")}</div>
<div class="pattern">Pattern: {pattern}</div>
{review_html}
<p>{html.escape(result.reason)}</p>
{warn_html}
{site_table}
<div>Distal/proximal ratio ({site_label(rules.distal_site)} / {site_label(rules.proximal_site)}):
<b>{ratio}</b>. Sections corrected by hand: {result.n_corrected} of {result.n_sections}.
Excluded sections: {result.excluded}.</div>
{_img(png, "density against the normal limit for age and sex")}
<div class="small">Line: lower normal limit (5th percentile) for this sex and modality;
shaded: below the limit. Point: this biopsy, bar: 95% CI across sections (a bar ending in an
arrowhead goes on above the plot: its numbers are in the table above).</div>
<h2>Sections</h2>
{_table(sec)}
{cards_html}
{excl_html}
<h2>Normal limits used</h2><ul class="small">{src_html}</ul>
<p class="small">Density = total fibres / total epidermal length over the sections. 95% CI:
ratio-estimator t-interval across sections (Engelstad et al. 2012). Abnormal = below the
5th percentile; borderline = CI straddles the limit. Input {html.escape(input_name)};
generated {now} by ienfd {html.escape(version)}. A research tool: the report supports, and does
not replace, the clinician's interpretation.</p>
</body></html>
"""


def _site_row(s: SiteResult) -> str:
    ci = "&ndash;"
    if s.ci_low is not None and s.ci_high is not None:
        ci = f"{_f(s.ci_low)}&ndash;{_f(s.ci_high)}"
    status = s.status.replace("_", " ")
    if s.note:
        status += f" ({html.escape(s.note)})"
    if s.n_need_review:
        status += " (provisional: sections need review)"
    n = "&ndash;" if s.n_sections is None else str(s.n_sections)
    return (
        f"<tr><td>{site_label(s.site)}</td><td>{_f(s.density_per_mm)}</td><td>{ci}</td>"
        f"<td>{n}</td><td>{s.n_corrected}</td><td>{s.n_need_review}</td>"
        f"<td>{_f(s.limit_per_mm)}</td>"
        f"<td>{_f(s.pct_of_limit, 0)}</td><td class='{s.status}'>{status}</td></tr>"
    )


def plot_ratio_distribution(results: Sequence[PatientResult]) -> bytes:
    """Strip plot of distal/proximal ratios, one column per pattern.

    Every pattern has its column (with its number of patients under its
    name), inside the axes rather than on their edges; the y axis starts at 0
    and shows the ratio 1 (equal densities) as a dashed line.
    """
    return _png(_ratio_figure(results))


def _ratio_figure(results: Sequence[PatientResult]) -> Figure:
    fig = _figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.subplots()
    patterns = ["normal", "length-dependent", "non-length-dependent", "indeterminate"]
    colours = ["#1a7f37", "#c62828", "#6a1b9a", "#555555"]
    rng = np.random.default_rng(0)
    top = 1.2
    labels = []
    for i, p in enumerate(patterns):
        vals = [
            r.ratio_distal_proximal
            for r in results
            if r.pattern == p and r.ratio_distal_proximal is not None
        ]
        name = p.replace("-", "-\n", 1) if len(p) > 12 else p  # two lines for the long ones
        labels.append(f"{name}\n(n = {len(vals)})")
        if vals:
            jitter = rng.uniform(-0.18, 0.18, len(vals))
            ax.plot(np.full(len(vals), i) + jitter, vals, "o", alpha=0.75, color=colours[i])
            top = max(top, 1.1 * max(vals))
    ax.set_xticks(range(len(patterns)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(patterns) - 0.4)
    ax.set_ylim(0, top)
    ax.axhline(1.0, color="#999999", lw=0.8, ls="--")
    ax.set_ylabel("distal / proximal IENFD")
    ax.set_title("Distal/proximal ratio by pattern (dashed: equal densities)", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return fig


def _cohort_rows(
    results: Sequence[PatientResult],
    reports: Mapping[str, str | os.PathLike[str]] | None,
    base_dir: str | os.PathLike[str],
    rules: ClassificationRules,
) -> str:
    rows = []
    for r in results:
        pid = html.escape(r.patient_id)
        target = None if reports is None else reports.get(r.patient_id)
        name = f"<a href='{_href(target, base_dir)}'>{pid}</a>" if target is not None else pid
        cells = [name, "&ndash;" if r.age is None else f"{r.age:g}", html.escape(r.sex or "")]
        for site in (rules.distal_site, rules.proximal_site):
            s = r.sites.get(site)
            if s is None or s.density_per_mm is None:
                cells.append("&ndash;")
            else:
                cells.append(
                    f"<span class='{s.status}'>{_f(s.density_per_mm)} "
                    f"({html.escape(s.status.replace('_', ' '))})</span>"
                )
        cells += [
            _f(r.ratio_distal_proximal, 2),
            f"<b>{html.escape(r.pattern)}</b>",
            str(r.n_need_review) if r.n_need_review else "",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = (
        "<tr><th>patient (report)</th><th>age</th><th>sex</th>"
        f"<th>{site_label(rules.distal_site)} /mm</th>"
        f"<th>{site_label(rules.proximal_site)} /mm</th><th>ratio</th><th>pattern</th>"
        "<th>sections to review</th></tr>"
    )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _excluded_html(
    results: Sequence[PatientResult],
    excluded: pd.DataFrame | None,
    excluded_csv: str | os.PathLike[str] | None,
    base_dir: str | os.PathLike[str],
) -> tuple[str, int]:
    """The patients not classified (every section failed) and a link to the excluded rows."""
    if excluded is None or excluded.empty:
        return "", 0
    missing = unclassified_patients(results, excluded)
    where = "excluded.csv"
    if excluded_csv is not None:
        where = (
            f"<a href='{_href(excluded_csv, base_dir)}'>{html.escape(Path(excluded_csv).name)}</a>"
        )
    items = []
    for pid, rows in excluded.groupby("patient_id", sort=False):
        if pid and pid not in missing:  # classified from the patient's other sections
            continue
        why = "; ".join(
            f"row {rec['row']}"
            + (f", {site_label(str(rec['site']))}" if rec["site"] else "")
            + (f", section {html.escape(str(rec['section']))}" if rec["section"] else "")
            + f": {html.escape(str(rec['error']) or 'status ' + str(rec['status']))}"
            for _, rec in rows.iterrows()
        )
        if pid:
            items.append(f"<li>{html.escape(str(pid))} &mdash; all sections failed: {why}</li>")
        else:
            items.append(f"<li>rows with no patient_id &mdash; not used: {why}</li>")
    patients = excluded["patient_id"][excluded["patient_id"] != ""].nunique()
    line = (
        f"<div>{len(excluded)} section(s) of {patients} patient(s) excluded (analysis failed "
        f"or not accepted), listed with their reasons in {where}.</div>"
    )
    if not items:
        return line, 0
    return (
        f"<div class='review'>Not classified: no section of these patients could be used."
        f"<ul>{''.join(items)}</ul></div>{line}",
        len(missing),
    )


def render_cohort_html(
    results: Sequence[PatientResult],
    summary: pd.DataFrame,
    *,
    input_name: str = "",
    reports: Mapping[str, str | os.PathLike[str]] | None = None,
    base_dir: str | os.PathLike[str] = ".",
    rules: ClassificationRules | None = None,
    excluded: pd.DataFrame | None = None,
    excluded_csv: str | os.PathLike[str] | None = None,
) -> str:
    """Cohort page: every patient (linked to their report), counts per pattern, ratios.

    A patient of ``excluded`` with no result (every section failed) is listed
    as not classified, with each row's reason; ``excluded_csv`` is linked.

    Parameters
    ----------
    results : sequence of PatientResult
    summary : pandas.DataFrame
        :func:`ienfd.clinical.cohort_summary` of `results`.
    input_name : str
        Shown in the heading.
    reports : mapping of str to path, optional
        Each patient's report page, by patient id; linked from the patients table.
    base_dir : str or os.PathLike, optional
        The folder the page will be written to: links are relative to it.
    rules : ClassificationRules, optional
        Which sites are distal and proximal (the table's two density columns).
    excluded : pandas.DataFrame, optional
        :attr:`PreparedSections.excluded`: the rows not used (status not ``ok``).
    excluded_csv : str or os.PathLike, optional
        Where those rows were written, linked from the page (relative to ``base_dir``).
    """
    rules = rules or ClassificationRules()
    ratios = np.array(
        [r.ratio_distal_proximal for r in results if r.ratio_distal_proximal is not None]
    )
    stats = "no patient has both sites"
    if ratios.size:
        q1, med, q3 = np.percentile(ratios, [25, 50, 75])
        stats = f"n = {ratios.size}; median {med:.2f} (IQR {q1:.2f}&ndash;{q3:.2f})"
    pending = [r.patient_id for r in results if r.n_need_review]
    review = ""
    if pending:
        review = (
            f"<div class='review'>{len(pending)} patient(s) have sections that need review "
            "(a pattern that depends on them is indeterminate until they are reviewed): "
            f"{html.escape(', '.join(pending))}</div>"
        )
    unused, n_unclassified = _excluded_html(results, excluded, excluded_csv, base_dir)
    count = f"{len(results)} patient(s)"
    if n_unclassified:
        count += f" classified, {n_unclassified} not (every section failed)"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IENFD cohort summary</title>
<style>{_CSS}</style></head><body>
<h1>Cohort summary</h1><div>Input {html.escape(input_name)}: {count}.</div>
{unused}
{review}
<h2>Patients</h2>
{_cohort_rows(results, reports, base_dir, rules)}
<div class="small">IENFD in fibres/mm with the site's status against its normal limit; ratio:
distal/proximal IENFD. Click a patient for the full report.</div>
<h2>Patients per pattern</h2>{_table(summary)}
<h2>Distal/proximal ratio</h2><div>{stats}</div>
{_img(plot_ratio_distribution(results), "distal/proximal ratio by pattern")}
</body></html>
"""


def plot_norms_fit(controls: pd.DataFrame, norms: NormsTable) -> bytes:
    """Controls' densities against age with the fitted lower-limit lines, per site."""
    sites = list(dict.fromkeys(controls["site"]))
    fig = _figure(figsize=(4.2 * max(len(sites), 1), 3.4), layout="constrained")
    axes = fig.subplots(1, max(len(sites), 1), squeeze=False)[0]
    colours = {"female": "#b0306a", "male": "#2c6fbb", "any": "#333333"}
    for ax, site in zip(axes, sites, strict=False):
        sub = controls[controls["site"] == site]
        for sex, g in sub.groupby(sub["sex"].fillna("any")):
            ax.plot(
                g["age"], g["density_per_mm"], "o", ms=3.5, alpha=0.55,
                color=colours.get(str(sex), "#333333"), label=f"{sex} controls",
            )  # fmt: skip
        for r in norms.rows:
            if r.site != site:
                continue
            ages = np.linspace(r.age_min, r.age_max, 50)
            label = f"{r.sex} {r.modality or ''} limit".replace("  ", " ")
            ax.plot(
                ages, [r.limit_at(a) for a in ages], lw=2,
                color=colours.get(r.sex, "#333333"), label=label,
            )  # fmt: skip
        ax.set_title(site_label(site), fontsize=10)
        ax.set_xlabel("age (years)")
        ax.set_ylabel("IENFD (fibres/mm)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)


def plot_bland_altman(table: AgreementTable, summary: AgreementSummary) -> bytes:
    """Bland-Altman plot of automatic minus manual counts, with 95 % CIs.

    Lines: the bias and the limits of agreement; error bars right of the
    points: their 95 % confidence intervals (Bland & Altman 1999). The title gives ICC(A,1)
    with its 95 % CI (McGraw & Wong 1996).
    """
    m = table.matched
    ba = summary.bland_altman
    fig = _figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(m["mean"], m["difference"], "o", alpha=0.7)
    lo, hi = float(m["mean"].min()), float(m["mean"].max())
    span = max(hi - lo, 1.0)
    # each 95 % CI as an error bar right of the points: the bias's, then the limits'
    for y, ci, style, text, colour, x in (
        (ba.bias, ba.bias_ci, "-", "bias", "#1f5fa8", hi + 0.12 * span),
        (ba.loa_low, ba.loa_low_ci, "--", "-1.96 SD", "#c62828", hi + 0.22 * span),
        (ba.loa_high, ba.loa_high_ci, "--", "+1.96 SD", "#c62828", hi + 0.22 * span),
    ):
        ax.axhline(y, color="#333333", ls=style, lw=1)
        ax.errorbar([x], [y], yerr=[[y - ci[0]], [ci[1] - y]], fmt="_", color=colour,
                    capsize=4, lw=2, ms=10)  # fmt: skip
        label = f"{text} {y:+.2f} (95% CI {ci[0]:+.2f} to {ci[1]:+.2f})"
        ax.annotate(label, (0.01, y), xycoords=("axes fraction", "data"), ha="left",
                    va="bottom", fontsize=7.5)  # fmt: skip
    ax.set_xlim(lo - 0.05 * span, hi + 0.3 * span)
    ax.set_xlabel("mean of automatic and manual count")
    ax.set_ylabel("automatic - manual")
    low, high = summary.icc_a1_ci
    ax.set_title(
        f"Bland-Altman, n = {ba.n}; ICC(A,1) = {summary.icc_a1:.3f} "
        f"(95% CI {low:.3f} to {high:.3f})",
        fontsize=9.5,
    )
    ax.grid(alpha=0.3)
    return _png(fig)
