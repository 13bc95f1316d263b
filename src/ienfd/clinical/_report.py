"""Plots (PNG bytes) and self-contained HTML reports.

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the
Agg canvas directly: no :mod:`matplotlib.pyplot`, no global figure state.
HTML pages embed their plots as base64 PNG and need no other file.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ienfd.clinical._agreement import AgreementSummary, AgreementTable
from ienfd.clinical._classify import (
    ClassificationRules,
    PatientResult,
    SiteResult,
)
from ienfd.clinical._norms import NormRow, NormsTable, site_label

logger = logging.getLogger(__name__)

__all__ = [
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


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


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
    sites = list(result.sites.values())
    fig = Figure(figsize=(3.6 * max(len(sites), 1), 3.0), layout="constrained")
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
        if result.age is not None and s.density_per_mm is not None:
            colour = _STATUS_COLOUR[s.status]
            if s.ci_low is not None and s.ci_high is not None:
                ax.errorbar(
                    [result.age],
                    [s.density_per_mm],
                    yerr=[[s.density_per_mm - s.ci_low], [s.ci_high - s.density_per_mm]],
                    fmt="o",
                    color=colour,
                    capsize=4,
                    ms=7,
                )
                ymax = max(ymax, s.ci_high)
            else:
                ax.plot([result.age], [s.density_per_mm], "o", color=colour, ms=7)
            ymax = max(ymax, s.density_per_mm)
        ax.set_ylim(0, ymax * 1.15)
        if rows:
            ax.set_xlim(min(r.age_min for r in rows), min(max(r.age_max for r in rows), 100))
        ax.set_xlabel("age (years)")
        ax.set_ylabel("IENFD (fibres/mm)")
        title = f"{site_label(s.site)}: {s.status.replace('_', ' ')}"
        ax.set_title(title, fontsize=10, color=_STATUS_COLOUR[s.status])
        if not rows:
            ax.text(0.5, 0.5, "no normal limit", ha="center", transform=ax.transAxes)
            if result.age is not None:
                ax.set_xlim(max(result.age - 20, 0), result.age + 20)
        ax.grid(alpha=0.3)
    return _png(fig)


def _f(x: float | None, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "&ndash;"
    return f"{x:.{digits}f}"


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, rec in frame.iterrows():
        cells = []
        for v in rec:
            if isinstance(v, float):
                cells.append(f"<td>{_f(v, 2)}</td>")
            else:
                cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Arial, sans-serif; font-size: 10.5pt;
       max-width: 190mm; margin: auto; color: #111; }
h1 { font-size: 15pt; margin: 0 0 2mm 0; }
h2 { font-size: 11.5pt; margin: 4mm 0 1mm 0; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: 9pt; margin-bottom: 2mm; }
th, td { border: 1px solid #ccc; padding: 1px 4px; text-align: left; }
th { background: #f2f2f2; }
.pattern { font-size: 13pt; font-weight: bold; padding: 2mm; border: 2px solid #333;
           margin: 2mm 0; }
.normal { color: #1a7f37; } .abnormal { color: #c62828; } .borderline { color: #b26a00; }
.small { font-size: 8pt; color: #555; }
.review { font-weight: bold; color: #8a4b00; background: #fff4e0; border: 2px solid #b26a00;
          padding: 1.5mm; margin: 2mm 0; }
img { max-width: 100%; }
"""


def render_patient_html(
    result: PatientResult,
    sections: pd.DataFrame,
    excluded: pd.DataFrame,
    norms: NormsTable,
    *,
    rules: ClassificationRules | None = None,
    input_name: str = "",
    version: str = "",
) -> str:
    """One-page, self-contained HTML report for one patient.

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
    if "needs_review" in sec.columns:
        sec["needs_review"] = sec["needs_review"].map({True: "yes", False: ""})
    show = ["site", "section", "image", "count", "length_mm", "density_per_mm", "corrected",
            "needs_review", "review_reasons"]  # fmt: skip
    sec = sec[[c for c in show if c in sec.columns]]
    if sec["section"].eq("").all():
        sec = sec.drop(columns="section")
    if sec["image"].eq("").all():
        sec = sec.drop(columns="image")
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
shaded: below the limit. Point: this biopsy, bar: 95% CI across sections.</div>
<h2>Sections</h2>
{_table(sec)}
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
    """Histogram-style strip plot of distal/proximal ratios, by pattern."""
    fig = Figure(figsize=(6.0, 3.0), layout="constrained")
    ax = fig.subplots()
    patterns = ["normal", "length-dependent", "non-length-dependent", "indeterminate"]
    rng = np.random.default_rng(0)
    for i, p in enumerate(patterns):
        vals = [
            r.ratio_distal_proximal
            for r in results
            if r.pattern == p and r.ratio_distal_proximal is not None
        ]
        if vals:
            jitter = rng.uniform(-0.15, 0.15, len(vals))
            ax.plot(np.full(len(vals), i) + jitter, vals, "o", alpha=0.7)
    ax.set_xticks(range(len(patterns)), patterns, fontsize=8)
    ax.axhline(1.0, color="#999999", lw=0.8, ls="--")
    ax.set_ylabel("distal / proximal IENFD")
    ax.set_title("Distal/proximal ratio by pattern", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def render_cohort_html(
    results: Sequence[PatientResult], summary: pd.DataFrame, *, input_name: str = ""
) -> str:
    """Cohort summary page: counts per pattern and the ratio distribution."""
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
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IENFD cohort summary</title>
<style>{_CSS}</style></head><body>
<h1>Cohort summary</h1><div>Input {html.escape(input_name)}: {len(results)} patient(s).</div>
{review}
<h2>Patients per pattern</h2>{_table(summary)}
<h2>Distal/proximal ratio</h2><div>{stats}</div>
{_img(plot_ratio_distribution(results), "distal/proximal ratio by pattern")}
</body></html>
"""


def plot_norms_fit(controls: pd.DataFrame, norms: NormsTable) -> bytes:
    """Controls' densities against age with the fitted lower-limit lines, per site."""
    sites = list(dict.fromkeys(controls["site"]))
    fig = Figure(figsize=(4.2 * max(len(sites), 1), 3.4), layout="constrained")
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

    Lines: the bias and the limits of agreement; shaded bands: their 95 %
    confidence intervals (Bland & Altman 1999). The title gives ICC(A,1)
    with its 95 % CI (McGraw & Wong 1996).
    """
    m = table.matched
    ba = summary.bland_altman
    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(m["mean"], m["difference"], "o", alpha=0.7)
    for y, ci, style, text in (
        (ba.bias, ba.bias_ci, "-", "bias"),
        (ba.loa_low, ba.loa_low_ci, "--", "-1.96 SD"),
        (ba.loa_high, ba.loa_high_ci, "--", "+1.96 SD"),
    ):
        ax.axhspan(ci[0], ci[1], color="#1f5fa8", alpha=0.12, lw=0)
        ax.axhline(y, color="#333333", ls=style, lw=1)
        label = f"{text} {y:+.2f} (95% CI {ci[0]:+.2f} to {ci[1]:+.2f})"
        ax.annotate(label, (1.0, y), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", fontsize=7.5)  # fmt: skip
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
