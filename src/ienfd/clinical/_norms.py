"""Normative tables: format, validation, built-in sourced values, lookup.

The norms file
--------------
CSV with required columns ``site, sex, age_min, age_max, p05_per_mm, source``:

* ``site`` -- a known site (see :data:`ienfd.clinical.KNOWN_SITES`);
* ``sex`` -- ``female``, ``male`` or ``any``;
* ``age_min``, ``age_max`` -- whole years, both **inclusive**; a patient's age
  is taken in completed years (``floor(age)``) for the band lookup;
* ``p05_per_mm`` -- lower normal limit (5th percentile), fibres/mm;
* ``source`` -- citation; required and non-empty (every number has a source).

Optional columns: ``modality`` (``brightfield``, ``fluorescence``, or empty /
``any``), and for a limit that is a straight line in age, ``p05_intercept_per_mm``
and ``p05_slope_per_mm_per_year`` (then ``p05_per_mm`` is left empty and the
limit is ``intercept + slope * age`` over the band). Any other column (e.g.
``median_per_mm``, ``n``) is allowed and kept.

Bands for the same site must not overlap where their sexes (``any`` overlaps
both) and modalities (empty overlaps both) are compatible.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import pandas as pd

from ienfd.clinical._errors import ClinicalInputError
from ienfd.clinical._sections import (
    PROXIMAL_SITE,
    _blank,
    _canonical,
    _finite_or_none,
    _normalize_modality,
)

logger = logging.getLogger(__name__)

__all__ = [
    "NORMS_COLUMNS",
    "NormLookup",
    "NormRow",
    "NormsTable",
    "builtin_norms",
    "find_norm",
    "validate_norms",
]

#: Required columns of a norms file, in the order written.
NORMS_COLUMNS: tuple[str, ...] = ("site", "sex", "age_min", "age_max", "p05_per_mm", "source")
_OPTIONAL_COLUMNS: tuple[str, ...] = (
    "modality",
    "p05_intercept_per_mm",
    "p05_slope_per_mm_per_year",
)

COLLONGUES_2018 = (
    "Collongues N et al. 2018, PLoS ONE 13(1):e0191614, doi:10.1371/journal.pone.0191614; "
    "distal leg, bright-field; 5th percentile = 7.6156 - 0.0769*age + 1.5506*(woman=1); "
    "age band 18-90 chosen by ienfd (cohort age range not verified)"
)
BURSOVA_2012 = (
    "Bursova S et al. 2012, Cesk Slov Neurol N 75/108(4):455-459; distal calf, indirect "
    "immunofluorescence; lower normal limits for ages 20-40/40-60/60+ (boundary years "
    "assigned to the older band and 120 = open upper end, by ienfd)"
)
#: Why the built-in table has no proximal-thigh limit.
NO_SOURCED_PROXIMAL = (
    f"no sourced norm for {PROXIMAL_SITE} in the built-in table (ienfd ships only cited "
    "values and found none it could verify); pass --norms with your laboratory's limits"
)


@dataclass(frozen=True)
class NormRow:
    """One band of a normative table.

    Attributes
    ----------
    site, sex : str
        Canonical site; ``female``, ``male`` or ``any``.
    age_min, age_max : int
        Inclusive whole-year band.
    modality : str or None
        ``brightfield``, ``fluorescence`` or ``None`` (any).
    p05_per_mm : float or None
        Constant limit, or ``None`` for a line.
    intercept_per_mm, slope_per_mm_per_year : float or None
        Limit as a line in age, or ``None`` for a constant.
    source : str
        Citation.
    row : int or None
        1-based data row in the norms file (``None`` for built-ins).
    """

    site: str
    sex: str
    age_min: int
    age_max: int
    modality: str | None
    p05_per_mm: float | None
    intercept_per_mm: float | None
    slope_per_mm_per_year: float | None
    source: str
    row: int | None = None

    def limit_at(self, age: float) -> float:
        """Lower normal limit (fibres/mm) at ``age`` years."""
        if self.p05_per_mm is not None:
            return self.p05_per_mm
        assert self.intercept_per_mm is not None and self.slope_per_mm_per_year is not None
        return self.intercept_per_mm + self.slope_per_mm_per_year * age


@dataclass(frozen=True)
class NormsTable:
    """A validated normative table.

    Attributes
    ----------
    rows : tuple of NormRow
    name : str
        File name, or ``"built-in"``.
    builtin : bool
        Whether this is the package's own table.
    extra : pandas.DataFrame or None
        The file's extra columns, row-aligned, kept for writing back.
    """

    rows: tuple[NormRow, ...]
    name: str
    builtin: bool = False
    extra: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """The table in the file format (required, optional, then extra columns)."""
        records = []
        for r in self.rows:
            records.append(
                {
                    "site": r.site,
                    "sex": r.sex,
                    "age_min": r.age_min,
                    "age_max": r.age_max,
                    "p05_per_mm": r.p05_per_mm,
                    "source": r.source,
                    "modality": r.modality or "",
                    "p05_intercept_per_mm": r.intercept_per_mm,
                    "p05_slope_per_mm_per_year": r.slope_per_mm_per_year,
                }
            )
        frame = pd.DataFrame(records, columns=[*NORMS_COLUMNS, *_OPTIONAL_COLUMNS])
        if self.extra is not None and not self.extra.empty:
            frame = pd.concat([frame, self.extra.reset_index(drop=True)], axis=1)
        return frame

    def sites(self) -> list[str]:
        """Sites covered, in table order."""
        return list(dict.fromkeys(r.site for r in self.rows))


def builtin_norms() -> NormsTable:
    """The package's built-in limits: only published, cited numbers.

    * distal leg, bright-field: Collongues et al. 2018 (PLoS ONE 13:e0191614),
      5th percentile = 7.6156 - 0.0769 x age + 1.5506 x (woman = 1), stored as
      a line per sex; applied over ages 18-90 (an ienfd choice: adults, and
      the men's line stays positive; the cohort's own age range was not verified).
    * distal leg ("distal calf" in the paper), immunofluorescence: Bursova et
      al. 2012 (Cesk Slov Neurol N 75:455), men 5.5 / 5.1 / 1.9 and women
      6.1 / 5.2 / 3.1 fibres/mm at 20-40 / 40-60 / 60+ years, stored as bands
      20-39, 40-59, 60-120.
    * proximal thigh: none (:data:`NO_SOURCED_PROXIMAL`).

    Lauria et al. 2010 (J Peripher Nerv Syst 15:202) is the method reference
    for age- and sex-specific quantile-regression norms; its table values are
    not shipped because they could not be verified.
    """
    rows: list[NormRow] = [
        NormRow("distal_leg", "female", 18, 90, "brightfield", None, 7.6156 + 1.5506, -0.0769,
                COLLONGUES_2018),
        NormRow("distal_leg", "male", 18, 90, "brightfield", None, 7.6156, -0.0769,
                COLLONGUES_2018),
    ]  # fmt: skip
    for sex, limits in (("male", (5.5, 5.1, 1.9)), ("female", (6.1, 5.2, 3.1))):
        for (lo, hi), p05 in zip(((20, 39), (40, 59), (60, 120)), limits, strict=True):
            rows.append(
                NormRow("distal_leg", sex, lo, hi, "fluorescence", p05, None, None, BURSOVA_2012)
            )
    return NormsTable(rows=tuple(rows), name="built-in", builtin=True)


def _float_or_none(
    value: object, *, source: str, row: int, column: str, positive: bool = False
) -> float | None:
    x = _finite_or_none(value, source=source, row=row, column=column)
    if x is None:
        return None
    if positive and x <= 0:
        raise ClinicalInputError(
            f"limit {x:g} must be > 0 fibres/mm", source=source, row=row, column=column
        )
    return x


def _whole_age(value: object, *, source: str, row: int, column: str) -> int:
    x = _float_or_none(value, source=source, row=row, column=column)
    if x is None:
        raise ClinicalInputError(
            "age bound is missing; expected whole years", source=source, row=row, column=column
        )
    if x < 0 or x != round(x):
        raise ClinicalInputError(
            f"age bound {x:g} must be a whole number of years >= 0",
            source=source,
            row=row,
            column=column,
        )
    return int(x)


def validate_norms(
    table: pd.DataFrame, *, source: str = "norms", extra_sites: tuple[str, ...] = ()
) -> NormsTable:
    """Check a norms table read as text and return it as a :class:`NormsTable`.

    Parameters
    ----------
    table : pandas.DataFrame
        Read with every column as text (see module docstring for the format).
    source : str
        File name for messages.
    extra_sites : tuple of str
        Site names accepted besides the known ones.

    Returns
    -------
    NormsTable

    Raises
    ------
    ClinicalInputError
        On a missing column, unknown site/sex/modality, bad or reversed age
        bounds, a missing or non-positive limit, a row with both a constant and
        a line, an empty source, or overlapping age bands; the message names
        the file, the 1-based data row and the column.
    """
    from ienfd.clinical._sections import normalize_site

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    cols = {str(c).strip(): c for c in table.columns}
    for required in NORMS_COLUMNS:
        if required not in cols:
            raise ClinicalInputError(
                f"missing column {required!r}; a norms file needs {list(NORMS_COLUMNS)}",
                source=source,
                column=required,
            )
    if table.empty:
        raise ClinicalInputError("the norms table has no rows", source=source)
    rows: list[NormRow] = []
    for i, (_, rec) in enumerate(table.iterrows(), start=1):

        def get(name: str, rec: pd.Series = rec) -> object:
            return rec[cols[name]] if name in cols else None

        site = normalize_site(get("site"), extra_sites=extra_sites, source=source, row=i)
        sex_raw = "" if _blank(get("sex")) else str(get("sex")).strip().lower()
        if sex_raw not in ("female", "male", "any"):
            raise ClinicalInputError(
                f"sex {get('sex')!r}; a norms file uses 'female', 'male' or 'any'",
                source=source,
                row=i,
                column="sex",
            )
        age_min = _whole_age(get("age_min"), source=source, row=i, column="age_min")
        age_max = _whole_age(get("age_max"), source=source, row=i, column="age_max")
        if age_max < age_min:
            raise ClinicalInputError(
                f"age_max {age_max} is below age_min {age_min}",
                source=source,
                row=i,
                column="age_max",
            )
        mod_raw = get("modality")
        modality = (
            None
            if _blank(mod_raw) or str(mod_raw).strip().lower() == "any"
            else _normalize_modality(mod_raw, source=source, row=i)
        )
        p05 = _float_or_none(
            get("p05_per_mm"), source=source, row=i, column="p05_per_mm", positive=True
        )
        icpt = _float_or_none(
            get("p05_intercept_per_mm"), source=source, row=i, column="p05_intercept_per_mm"
        )
        slope = _float_or_none(
            get("p05_slope_per_mm_per_year"),
            source=source,
            row=i,
            column="p05_slope_per_mm_per_year",
        )
        if p05 is not None and (icpt is not None or slope is not None):
            raise ClinicalInputError(
                "both a constant limit and a line are given; leave p05_per_mm empty for a "
                "line, or the intercept/slope columns empty for a constant",
                source=source,
                row=i,
                column="p05_per_mm",
            )
        if p05 is None:
            if icpt is None or slope is None:
                raise ClinicalInputError(
                    "no limit: give p05_per_mm, or both p05_intercept_per_mm and "
                    "p05_slope_per_mm_per_year",
                    source=source,
                    row=i,
                    column="p05_per_mm",
                )
            for age in (age_min, age_max):
                if icpt + slope * age <= 0:
                    raise ClinicalInputError(
                        f"the line {icpt:g} + {slope:g} * age gives a limit <= 0 at age {age}; "
                        "narrow the band",
                        source=source,
                        row=i,
                        column="p05_slope_per_mm_per_year",
                    )
        src = get("source")
        if _blank(src):
            raise ClinicalInputError(
                "source is empty; every normal value must carry its citation",
                source=source,
                row=i,
                column="source",
            )
        rows.append(
            NormRow(
                site, sex_raw, age_min, age_max, modality, p05, icpt, slope, str(src).strip(), i
            )
        )
    _check_overlaps(rows, source)
    extra_names = [c for c in cols if c not in NORMS_COLUMNS and c not in _OPTIONAL_COLUMNS]
    extra = table[[cols[c] for c in extra_names]].copy() if extra_names else None
    if extra is not None:
        extra.columns = extra_names
    return NormsTable(rows=tuple(rows), name=source, builtin=False, extra=extra)


def _compatible(a: str | None, b: str | None, wildcard: str | None) -> bool:
    return a == b or a == wildcard or b == wildcard


def _check_overlaps(rows: list[NormRow], source: str) -> None:
    for j, later in enumerate(rows):
        for earlier in rows[:j]:
            if (
                earlier.site == later.site
                and _compatible(earlier.sex, later.sex, "any")
                and _compatible(earlier.modality, later.modality, None)
                and earlier.age_min <= later.age_max
                and later.age_min <= earlier.age_max
            ):
                raise ClinicalInputError(
                    f"age band {later.age_min}-{later.age_max} ({later.site}, sex {later.sex}, "
                    f"modality {later.modality or 'any'}) overlaps age band "
                    f"{earlier.age_min}-{earlier.age_max} on data row {earlier.row} "
                    f"(sex {earlier.sex}, modality {earlier.modality or 'any'}); "
                    "bands are inclusive at both ends",
                    source=source,
                    row=later.row,
                    column="age_min",
                )


@dataclass(frozen=True)
class NormLookup:
    """Result of looking up a limit: the band and limit, or why there is none.

    Attributes
    ----------
    norm : NormRow or None
    limit_per_mm : float or None
    reason : str or None
        Why no limit applies (``None`` when one does).
    """

    norm: NormRow | None
    limit_per_mm: float | None
    reason: str | None


def find_norm(
    norms: NormsTable,
    *,
    site: str,
    sex: str | None,
    age: float | None,
    modality: str | None,
    source: str | None = None,
    row: int | None = None,
) -> NormLookup:
    """Find the lower normal limit for one biopsy.

    Parameters
    ----------
    norms : NormsTable
    site : str
        Canonical site name.
    sex : {'female', 'male'} or None
    age : float or None
        Years; the band lookup uses completed years ``floor(age)``.
    modality : {'brightfield', 'fluorescence'} or None
        Norms specific to another modality are never used; if the input has no
        modality, only modality-agnostic rows are used.
    source, row : optional
        Input file and data row of the biopsy, for the error message.

    Returns
    -------
    NormLookup
        With a reason (and no limit) when the table has nothing for this site,
        sex or modality, or age/sex are missing.

    Raises
    ------
    ClinicalInputError
        If the table has limits for this site, sex and modality but none of its
        bands covers the age (age out of the norms' range).
    """
    candidates = [r for r in norms.rows if r.site == site]
    if not candidates:
        if norms.builtin and site == PROXIMAL_SITE:
            return NormLookup(None, None, NO_SOURCED_PROXIMAL)
        return NormLookup(None, None, f"no norm for {site} in the norms table ({norms.name})")
    if age is None or (isinstance(age, float) and math.isnan(age)):
        return NormLookup(None, None, "age is missing; norms are age-specific")
    if sex is None:
        return NormLookup(None, None, "sex is missing; norms are sex-specific")
    if modality is None:
        specific = sorted({r.modality for r in candidates if r.modality is not None})
        candidates = [r for r in candidates if r.modality is None]
        if not candidates:
            return NormLookup(
                None,
                None,
                f"modality unknown; the norms for {site} are modality-specific "
                f"({', '.join(specific)}): add a 'modality' column or pass --modality",
            )
    else:
        have = sorted({r.modality or "any" for r in candidates})
        candidates = [r for r in candidates if r.modality in (None, modality)]
        if not candidates:
            return NormLookup(
                None,
                None,
                f"no norm for {site} in {modality} (norms table {norms.name} has: "
                f"{', '.join(have)})",
            )
    candidates = [r for r in candidates if r.sex in (sex, "any")]
    if not candidates:
        return NormLookup(None, None, f"no norm for {site}, sex {sex} in {norms.name}")
    years = math.floor(age)
    hits = [r for r in candidates if r.age_min <= years <= r.age_max]
    if not hits:
        ranges = ", ".join(f"{r.age_min}-{r.age_max}" for r in candidates)
        raise ClinicalInputError(
            f"age {age:g} is outside the norms' range for {site}, {sex}, "
            f"{modality or 'any modality'} in {norms.name} (bands: {ranges})",
            source=source,
            row=row,
            column="age",
        )
    norm = hits[0]
    limit = norm.limit_at(age)
    if limit <= 0:
        return NormLookup(
            None, None, f"the norm line gives a limit <= 0 at age {age:g} ({norm.source})"
        )
    return NormLookup(norm, limit, None)


def site_label(site: str) -> str:
    """Human label: ``distal_leg`` -> ``distal leg``."""
    return _canonical(site).replace("_", " ")
