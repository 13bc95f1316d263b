"""Per-site status against the normal limit, and the distal/proximal pattern.

Rules (defaults; see ``docs/clinical.md`` for citations)
--------------------------------------------------------
Site status, for a biopsy with pooled density ``D``, confidence interval
``[lo, hi]`` and lower normal limit ``L`` (5th percentile for age, sex,
site and modality):

* ``borderline`` if the interval straddles the limit, ``lo < L < hi``
  (Engelstad et al. 2012: count more sections near a cut-off);
* else ``abnormal`` if ``D < L`` (below the 5th percentile; EFNS/PNS guideline,
  Lauria et al. 2010, Eur J Neurol 17:903), ``normal`` otherwise;
* ``no_norm`` when no limit applies, ``missing`` when the site was not biopsied.

Pattern (distal = ``distal_leg``, proximal = ``proximal_thigh``):

* ``indeterminate`` if a site is missing, age or sex is missing, a site has
  no norm, or a site has fewer than ``min_sections`` sections;
* ``normal`` if both are normal;
* ``length-dependent`` if distal is abnormal and proximal normal;
* ``non-length-dependent`` if proximal is abnormal and distal normal;
* both abnormal: the site with the larger relative deficit ``1 - D/L`` decides
  (distal -> length-dependent, proximal -> non-length-dependent); deficits
  within ``deficit_margin`` of each other give ``indeterminate``;
* a ``borderline`` site is tried both as normal and as abnormal: if both give
  the same pattern, that pattern stands (the reason says so), else
  ``indeterminate``;
* ``indeterminate`` whatever the counts say while a compared site has sections
  that need review (quality checks failed, no reviewer accepted them): the
  reason names them and gives the call from the counts as they stand, which is
  provisional until they are reviewed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from ienfd.clinical._norms import NormsTable, find_norm, site_label
from ienfd.clinical._sections import DISTAL_SITE, MIN_SECTIONS, PROXIMAL_SITE

logger = logging.getLogger(__name__)

__all__ = [
    "PATIENT_COLUMNS",
    "PATTERNS",
    "ClassificationRules",
    "PatientResult",
    "SiteResult",
    "classify_patients",
    "classify_pattern",
    "classify_site",
    "cohort_summary",
    "patients_frame",
    "sites_frame",
]

SiteStatus = Literal["normal", "abnormal", "borderline", "no_norm", "missing"]
Pattern = Literal["normal", "length-dependent", "non-length-dependent", "indeterminate"]
PATTERNS: tuple[str, ...] = ("normal", "length-dependent", "non-length-dependent", "indeterminate")


@dataclass(frozen=True)
class ClassificationRules:
    """Tunable thresholds of the classification, with their defaults' sources.

    Attributes
    ----------
    distal_site, proximal_site : str
        Sites compared for length dependence (SPEC: distal leg vs proximal thigh).
    min_sections : int
        Fewer sections make the pattern indeterminate. Default 3 (EFNS/PNS
        guideline, Lauria et al. 2010, Eur J Neurol 17:903).
    deficit_margin : float
        When both sites are abnormal, relative deficits closer than this give
        ``indeterminate``. Default 0.0 (strictly the larger deficit decides;
        no published margin exists, so none is invented).
    borderline_from_ci : bool
        Call a site borderline when its CI straddles the limit (Engelstad et al.
        2012, Neurology 79:2187). Default True.
    """

    distal_site: str = DISTAL_SITE
    proximal_site: str = PROXIMAL_SITE
    min_sections: int = MIN_SECTIONS
    deficit_margin: float = 0.0
    borderline_from_ci: bool = True

    def __post_init__(self) -> None:
        if self.min_sections < 1:
            raise ValueError(f"min_sections must be >= 1; got {self.min_sections}")
        if not (0.0 <= self.deficit_margin < 1.0):
            raise ValueError(f"deficit_margin must be in [0, 1); got {self.deficit_margin}")
        if self.distal_site == self.proximal_site:
            raise ValueError(f"distal and proximal sites are both {self.distal_site!r}")


@dataclass(frozen=True)
class SiteResult:
    """One biopsy site of one patient, against its normal limit."""

    site: str
    status: SiteStatus
    density_per_mm: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n_sections: int | None = None
    n_corrected: int = 0
    limit_per_mm: float | None = None
    norm_source: str | None = None
    note: str | None = None
    n_need_review: int = 0
    review_reasons: tuple[str, ...] = ()

    @property
    def review_note(self) -> str | None:
        """``"2 sections at distal leg need review: section 1: ..."``, or None.

        Examples
        --------
        >>> SiteResult("distal_leg", "abnormal", n_need_review=1,
        ...            review_reasons=("section 2: no fibre counted",)).review_note
        '1 section at distal leg needs review: section 2: no fibre counted'
        """
        if not self.n_need_review:
            return None
        n = self.n_need_review
        head = f"{n} section{'s' if n > 1 else ''} at {site_label(self.site)} "
        head += "need review" if n > 1 else "needs review"
        return head + (f": {'; '.join(self.review_reasons)}" if self.review_reasons else "")

    @property
    def pct_of_limit(self) -> float | None:
        """Density as a percentage of the limit (100 = at the limit)."""
        if self.density_per_mm is None or self.limit_per_mm is None:
            return None
        return 100.0 * self.density_per_mm / self.limit_per_mm

    @property
    def relative_deficit(self) -> float | None:
        """``1 - D / L``: positive below the limit, negative above it."""
        if self.density_per_mm is None or self.limit_per_mm is None:
            return None
        return 1.0 - self.density_per_mm / self.limit_per_mm


@dataclass(frozen=True)
class PatientResult:
    """Classification of one patient."""

    patient_id: str
    age: float | None
    sex: str | None
    modality: str | None
    sites: dict[str, SiteResult]
    ratio_distal_proximal: float | None
    pattern: Pattern
    reason: str
    n_sections: int = 0
    n_corrected: int = 0
    excluded: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    n_need_review: int = 0


def classify_site(
    density_per_mm: float,
    limit_per_mm: float,
    *,
    ci_low: float | None = None,
    ci_high: float | None = None,
    borderline_from_ci: bool = True,
) -> Literal["normal", "abnormal", "borderline"]:
    """Status of one density against its lower normal limit.

    Parameters
    ----------
    density_per_mm : float
    limit_per_mm : float
        Must be > 0.
    ci_low, ci_high : float, optional
        Confidence interval of the density; if it straddles the limit
        (``ci_low < limit < ci_high``) the status is ``borderline``.
    borderline_from_ci : bool
        Set False to ignore the interval.

    Returns
    -------
    {'normal', 'abnormal', 'borderline'}

    Raises
    ------
    ValueError
        On a negative or non-finite density, or a limit that is not > 0.

    Examples
    --------
    >>> classify_site(4.0, 6.0), classify_site(7.0, 6.0, ci_low=5.0, ci_high=9.0)
    ('abnormal', 'borderline')
    """
    if not math.isfinite(density_per_mm) or density_per_mm < 0:
        raise ValueError(f"density_per_mm must be finite and >= 0; got {density_per_mm!r}")
    if not math.isfinite(limit_per_mm) or limit_per_mm <= 0:
        raise ValueError(f"limit_per_mm must be finite and > 0; got {limit_per_mm!r}")
    if borderline_from_ci and ci_low is not None and ci_high is not None:
        if ci_low < limit_per_mm < ci_high:
            return "borderline"
    return "abnormal" if density_per_mm < limit_per_mm else "normal"


def _fmt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _describe(s: SiteResult) -> str:
    label = site_label(s.site)
    if s.status in ("missing", "no_norm"):
        return f"{label}: {s.note}"
    ci = ""
    if s.ci_low is not None and s.ci_high is not None:
        ci = f" (95% CI {_fmt(s.ci_low)}-{_fmt(s.ci_high)})"
    rel = "below" if s.status == "abnormal" else "at or above"
    if s.status == "borderline":
        return (
            f"{label} {_fmt(s.density_per_mm)}/mm{ci} is borderline: the interval straddles "
            f"its limit {_fmt(s.limit_per_mm)}/mm"
        )
    return (
        f"{label} {_fmt(s.density_per_mm)}/mm{ci} is {rel} its limit "
        f"{_fmt(s.limit_per_mm)}/mm ({_fmt(s.pct_of_limit, 0)}% of limit)"
    )


def _decide(
    distal: SiteResult, proximal: SiteResult, d_abn: bool, p_abn: bool, margin: float
) -> tuple[Pattern, str]:
    if not d_abn and not p_abn:
        return "normal", "both sites are within normal limits"
    if d_abn and not p_abn:
        return "length-dependent", "distal abnormal with proximal normal"
    if p_abn and not d_abn:
        return "non-length-dependent", "proximal abnormal with distal normal"
    dd = distal.relative_deficit
    pd_ = proximal.relative_deficit
    assert dd is not None and pd_ is not None
    words = (
        f"both sites abnormal; relative deficit (1 - density/limit) distal "
        f"{100 * dd:.0f}% vs proximal {100 * pd_:.0f}%"
    )
    if abs(dd - pd_) <= margin or dd == pd_:
        return "indeterminate", f"{words}: too close to call (margin {100 * margin:.0f}%)"
    if dd > pd_:
        return "length-dependent", f"{words}: the distal deficit is larger"
    return "non-length-dependent", f"{words}: the proximal deficit is larger"


def _below(s: SiteResult) -> bool:
    if s.status == "borderline":
        assert s.density_per_mm is not None and s.limit_per_mm is not None
        return s.density_per_mm < s.limit_per_mm
    return s.status == "abnormal"


def classify_pattern(
    distal: SiteResult | None,
    proximal: SiteResult | None,
    *,
    rules: ClassificationRules | None = None,
) -> tuple[Pattern, str]:
    """Distal/proximal pattern and the reason in words.

    Parameters
    ----------
    distal, proximal : SiteResult or None
        The two compared sites (``None`` = not biopsied).
    rules : ClassificationRules, optional

    Returns
    -------
    pattern : {'normal', 'length-dependent', 'non-length-dependent', 'indeterminate'}
    reason : str
        A plain sentence stating the rule applied and the numbers behind it.
        While a compared site has sections that need review
        (``SiteResult.n_need_review``) the pattern is ``indeterminate``, and
        the reason names them and gives the call from the counts as they stand.
    """
    rules = rules or ClassificationRules()
    pattern, reason = _pattern_from_counts(distal, proximal, rules)
    pending = [
        s.review_note
        for s in (distal, proximal)
        if s is not None and s.status != "missing" and s.n_need_review
    ]
    if not pending:
        return pattern, reason
    return "indeterminate", (
        f"Indeterminate until reviewed: {'; '.join(n for n in pending if n)}. Review these "
        "sections (napari plugin: correct if needed, then Accept) and classify again. "
        f"From the counts as they stand: {reason}"
    )


def _pattern_from_counts(
    distal: SiteResult | None, proximal: SiteResult | None, rules: ClassificationRules
) -> tuple[Pattern, str]:
    """The pattern by the rules above, taking every count as final."""
    problems: list[str] = []
    pair = []
    for s, name in ((distal, rules.distal_site), (proximal, rules.proximal_site)):
        if s is None or s.status == "missing":
            problems.append(f"no {site_label(name)} biopsy")
            continue
        pair.append(s)
        if s.status == "no_norm":
            problems.append(f"{site_label(name)}: {s.note}")
        if s.n_sections is not None and s.n_sections < rules.min_sections:
            problems.append(
                f"{site_label(name)} has {s.n_sections} section(s); at least "
                f"{rules.min_sections} are needed (EFNS/PNS guideline)"
            )
    if problems:
        known = [_describe(s) for s in pair if s.status not in ("no_norm", "missing")]
        tail = f" Measured: {'; '.join(known)}." if known else ""
        return "indeterminate", "Indeterminate: " + "; ".join(problems) + "." + tail
    assert distal is not None and proximal is not None
    options_d = [True, False] if distal.status == "borderline" else [distal.status == "abnormal"]
    options_p = (
        [True, False] if proximal.status == "borderline" else [proximal.status == "abnormal"]
    )
    outcomes = {
        _decide(distal, proximal, d, p, rules.deficit_margin) for d in options_d for p in options_p
    }
    patterns = {o[0] for o in outcomes}
    facts = f"{_describe(distal)}; {_describe(proximal)}."
    if len(patterns) == 1:
        # the rule as read from the point estimates (a borderline site counts as
        # abnormal only if its density itself is below the limit)
        pattern, rule = _decide(
            distal,
            proximal,
            _below(distal),
            _below(proximal),
            rules.deficit_margin,
        )
        head = {
            "normal": "Normal",
            "length-dependent": "Length-dependent loss",
            "non-length-dependent": "Non-length-dependent loss",
            "indeterminate": "Indeterminate",
        }[pattern]
        note = ""
        if "borderline" in (distal.status, proximal.status):
            note = " The call holds whichever way the borderline site falls."
        return pattern, f"{head}: {rule}. {facts}{note}"
    return "indeterminate", (
        "Indeterminate: a borderline site decides the pattern "
        f"({' or '.join(sorted(patterns))}); count more sections (Engelstad et al. 2012). "
        f"{facts}"
    )


def classify_patients(
    biopsies: pd.DataFrame,
    norms: NormsTable,
    *,
    rules: ClassificationRules | None = None,
    excluded: pd.DataFrame | None = None,
    source: str | None = None,
) -> list[PatientResult]:
    """Classify every patient of an aggregated biopsy table.

    Parameters
    ----------
    biopsies : pandas.DataFrame
        From :func:`ienfd.clinical.aggregate_sections`.
    norms : NormsTable
        Built-in (:func:`builtin_norms`) or a laboratory's own.
    rules : ClassificationRules, optional
    excluded : pandas.DataFrame, optional
        Excluded rows (counted per patient in the result).
    source : str, optional
        Input file name, for age-out-of-range errors.

    Returns
    -------
    list of PatientResult
        In order of first appearance.

    Raises
    ------
    ClinicalInputError
        If a patient's age lies outside every band the norms have for the
        site, sex and modality (naming the input row and the ``age`` column).
    """
    rules = rules or ClassificationRules()
    results: list[PatientResult] = []
    for pid, grp in biopsies.groupby("patient_id", sort=False):
        first = grp.iloc[0]
        age = None if pd.isna(first["age"]) else float(first["age"])
        sex = None if first["sex"] is None or pd.isna(first["sex"]) else str(first["sex"])
        sites: dict[str, SiteResult] = {}
        for _, b in grp.iterrows():
            modality = None if b["modality"] is None or pd.isna(b["modality"]) else b["modality"]
            look = find_norm(
                norms,
                site=b["site"],
                sex=sex,
                age=age,
                modality=modality,
                source=source,
                row=int(b["first_row"]),
            )
            ci_low = None if pd.isna(b["ci_low"]) else float(b["ci_low"])
            ci_high = None if pd.isna(b["ci_high"]) else float(b["ci_high"])
            n_sec = None if pd.isna(b["n_sections"]) else int(b["n_sections"])
            density = float(b["density_per_mm"])
            if look.limit_per_mm is None:
                status: SiteStatus = "no_norm"
            else:
                status = classify_site(
                    density,
                    look.limit_per_mm,
                    ci_low=ci_low,
                    ci_high=ci_high,
                    borderline_from_ci=rules.borderline_from_ci,
                )
            sites[b["site"]] = SiteResult(
                site=b["site"],
                status=status,
                density_per_mm=density,
                ci_low=ci_low,
                ci_high=ci_high,
                n_sections=n_sec,
                n_corrected=int(b["n_corrected"]),
                limit_per_mm=look.limit_per_mm,
                norm_source=None if look.norm is None else look.norm.source,
                note=look.reason,
                n_need_review=int(b.get("n_sections_need_review", 0)),
                review_reasons=tuple(r for r in str(b.get("review_reasons", "")).split(" | ") if r),
            )
        distal = sites.get(rules.distal_site)
        proximal = sites.get(rules.proximal_site)
        pattern, reason = classify_pattern(distal, proximal, rules=rules)
        ratio = None
        if distal is not None and proximal is not None and proximal.density_per_mm:
            assert distal.density_per_mm is not None
            ratio = distal.density_per_mm / proximal.density_per_mm
        mods = sorted({m for m in grp["modality"] if m is not None and not pd.isna(m)})
        n_excl = 0
        if excluded is not None and not excluded.empty:
            n_excl = int((excluded["patient_id"] == pid).sum())
        warn = [
            f"{site_label(s.site)}: fewer than {rules.min_sections} sections"
            for s in sites.values()
            if s.n_sections is not None and s.n_sections < rules.min_sections
        ]
        results.append(
            PatientResult(
                patient_id=str(pid),
                age=age,
                sex=sex,
                modality=", ".join(mods) if mods else None,
                sites=sites,
                ratio_distal_proximal=ratio,
                pattern=pattern,
                reason=reason,
                n_sections=int(sum(s.n_sections or 0 for s in sites.values())),
                n_corrected=int(sum(s.n_corrected for s in sites.values())),
                excluded=n_excl,
                warnings=tuple(warn),
                n_need_review=int(sum(s.n_need_review for s in sites.values())),
            )
        )
    return results


#: Columns of ``patients.csv`` (in order).
PATIENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "age",
    "sex",
    "modality",
    "distal_density_per_mm",
    "distal_ci_low",
    "distal_ci_high",
    "distal_n_sections",
    "distal_limit_per_mm",
    "distal_pct_of_limit",
    "distal_status",
    "proximal_density_per_mm",
    "proximal_ci_low",
    "proximal_ci_high",
    "proximal_n_sections",
    "proximal_limit_per_mm",
    "proximal_pct_of_limit",
    "proximal_status",
    "ratio_distal_proximal",
    "pattern",
    "reason",
    "sections_corrected",
    "sections_excluded",
    "sections_need_review",
)


def unclassified_patients(results: Sequence[PatientResult], excluded: pd.DataFrame) -> list[str]:
    """Patients of the ``excluded`` rows with no result: every section of theirs failed.

    In the order they first appear; rows with no ``patient_id`` name nobody.
    """
    classified = {r.patient_id for r in results}
    return [
        str(pid) for pid in dict.fromkeys(excluded["patient_id"]) if pid and pid not in classified
    ]


def patients_frame(
    results: Sequence[PatientResult], *, rules: ClassificationRules | None = None
) -> pd.DataFrame:
    """One row per patient (the ``patients.csv`` table).

    ``sections_need_review`` counts the patient's sections, at every site, that
    still need review; ``reason`` says which and why. Counts are integers
    (pandas ``Int64``: ``<NA>`` for a site the patient has no biopsy of).
    """
    rules = rules or ClassificationRules()
    records = []
    for r in results:
        rec: dict[str, object] = {
            "patient_id": r.patient_id,
            "age": r.age,
            "sex": r.sex or "",
            "modality": r.modality or "",
        }
        for prefix, name in (("distal", rules.distal_site), ("proximal", rules.proximal_site)):
            s = r.sites.get(name)
            rec[f"{prefix}_density_per_mm"] = None if s is None else s.density_per_mm
            rec[f"{prefix}_ci_low"] = None if s is None else s.ci_low
            rec[f"{prefix}_ci_high"] = None if s is None else s.ci_high
            rec[f"{prefix}_n_sections"] = None if s is None else s.n_sections
            rec[f"{prefix}_limit_per_mm"] = None if s is None else s.limit_per_mm
            rec[f"{prefix}_pct_of_limit"] = None if s is None else s.pct_of_limit
            rec[f"{prefix}_status"] = "missing" if s is None else s.status
        rec["ratio_distal_proximal"] = r.ratio_distal_proximal
        rec["pattern"] = r.pattern
        rec["reason"] = r.reason
        rec["sections_corrected"] = f"{r.n_corrected} of {r.n_sections}"
        rec["sections_excluded"] = r.excluded
        rec["sections_need_review"] = r.n_need_review
        records.append(rec)
    frame = pd.DataFrame(records, columns=list(PATIENT_COLUMNS))
    # a site missing for one patient leaves a gap: counts stay integers ("3", not "3.0")
    counts = ("distal_n_sections", "proximal_n_sections", "sections_excluded")
    return frame.astype({c: "Int64" for c in (*counts, "sections_need_review")})


def sites_frame(results: Sequence[PatientResult]) -> pd.DataFrame:
    """One row per patient and site, including sites outside the pattern rule.

    ``sections_need_review`` and ``review_reasons`` (``" | "`` between
    sections) say which of the site's sections still need review. Counts are
    integers (pandas ``Int64``: ``<NA>`` where a biopsy table gave no number).
    """
    records = []
    for r in results:
        for s in r.sites.values():
            records.append(
                {
                    "patient_id": r.patient_id,
                    "site": s.site,
                    "density_per_mm": s.density_per_mm,
                    "ci_low": s.ci_low,
                    "ci_high": s.ci_high,
                    "n_sections": s.n_sections,
                    "n_corrected": s.n_corrected,
                    "limit_per_mm": s.limit_per_mm,
                    "pct_of_limit": s.pct_of_limit,
                    "relative_deficit": s.relative_deficit,
                    "status": s.status,
                    "norm_source": s.norm_source or "",
                    "note": s.note or "",
                    "sections_need_review": s.n_need_review,
                    "review_reasons": " | ".join(s.review_reasons),
                }
            )
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    # a biopsy row without its number of sections leaves a gap: counts stay integers
    return frame.astype({c: "Int64" for c in ("n_sections", "n_corrected", "sections_need_review")})


def cohort_summary(results: Sequence[PatientResult]) -> pd.DataFrame:
    """Counts of patients per pattern (all four patterns listed, zeros included)."""
    counts = {p: 0 for p in PATTERNS}
    for r in results:
        counts[r.pattern] += 1
    total = max(len(results), 1)
    return pd.DataFrame(
        {
            "pattern": list(counts),
            "n_patients": list(counts.values()),
            "percent": [100.0 * v / total for v in counts.values()],
        }
    )
