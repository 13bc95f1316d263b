"""Section tables in, one validated row per section (or biopsy) out; aggregation.

Input tables come as :class:`pandas.DataFrame` read with every column as text
(see :func:`ienfd.clinical.read_table`), so that each value can be checked
here and any error can name its data row and column.

Conventions
-----------
* Rows are 1-based **data rows**: data row 1 is the first row under the header
  (line 2 in a spreadsheet).
* Sites are normalised explicitly: lower case, surrounding spaces removed,
  inner runs of spaces and hyphens replaced by one underscore
  (``"Distal Leg"``, ``"distal-leg"`` -> ``distal_leg``). Nothing else is
  guessed: an unknown name is an error.
* Sex: ``female``/``f``/``woman``/``w`` and ``male``/``m``/``man`` (any case);
  an empty cell is *missing* (the pattern becomes indeterminate), anything
  else is an error.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

import numpy as np
import pandas as pd

from ienfd.clinical._errors import ClinicalInputError

logger = logging.getLogger(__name__)

__all__ = [
    "DISTAL_SITE",
    "KNOWN_SITES",
    "MIN_SECTIONS",
    "PROXIMAL_SITE",
    "DensityEstimate",
    "PreparedSections",
    "aggregate_sections",
    "density_ci",
    "normalize_sex",
    "normalize_site",
    "prepare_sections",
]

#: Distal site of the length-dependence comparison (10 cm above the lateral malleolus).
DISTAL_SITE = "distal_leg"
#: Proximal site of the length-dependence comparison (about 20 cm below the iliac spine).
PROXIMAL_SITE = "proximal_thigh"
#: Sites accepted without extra configuration.
KNOWN_SITES: tuple[str, ...] = ("distal_leg", "distal_thigh", "proximal_thigh")
#: At least three sections per biopsy are counted (EFNS/PNS guideline,
#: Lauria et al. 2010, Eur J Neurol 17:903, doi:10.1111/j.1468-1331.2010.03023.x).
MIN_SECTIONS = 3

LengthBasis = Literal["dej", "surface"]
_SEX_WORDS = {
    "female": "female",
    "f": "female",
    "woman": "female",
    "w": "female",
    "male": "male",
    "m": "male",
    "man": "male",
}
_MODALITY_WORDS = {
    "brightfield": "brightfield",
    "bright-field": "brightfield",
    "bright_field": "brightfield",
    "fluorescence": "fluorescence",
    "immunofluorescence": "fluorescence",
}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return bool(isinstance(value, str) and value.strip() == "")


def normalize_site(
    value: object,
    *,
    extra_sites: Iterable[str] = (),
    source: str | None = None,
    row: int | None = None,
    column: str = "site",
) -> str:
    """Return the canonical site name for ``value`` or raise naming row and column.

    Parameters
    ----------
    value : object
        Site as typed, e.g. ``"Distal leg"``.
    extra_sites : iterable of str, optional
        Further site names to accept besides :data:`KNOWN_SITES`.
    source, row, column : optional
        Where the value came from, for the error message.

    Raises
    ------
    ClinicalInputError
        If the value is empty or not a known site after normalisation.
    """
    allowed = set(KNOWN_SITES) | {_canonical(s) for s in extra_sites}
    if _blank(value):
        raise ClinicalInputError(
            f"site is empty; expected one of {sorted(allowed)}",
            source=source,
            row=row,
            column=column,
        )
    site = _canonical(str(value))
    if site not in allowed:
        raise ClinicalInputError(
            f"unknown site {value!r}; expected one of {sorted(allowed)} "
            "(case, spaces and hyphens are ignored; add other sites with extra_sites / --site)",
            source=source,
            row=row,
            column=column,
        )
    return site


def _canonical(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def normalize_sex(
    value: object,
    *,
    source: str | None = None,
    row: int | None = None,
    column: str = "sex",
) -> str | None:
    """Return ``"female"``, ``"male"`` or ``None`` (empty cell) for ``value``.

    Raises
    ------
    ClinicalInputError
        If the value is not empty and not a recognised word for female or male.
    """
    if _blank(value):
        return None
    word = str(value).strip().lower()
    if word not in _SEX_WORDS:
        raise ClinicalInputError(
            f"unknown sex {value!r}; expected female/male (or f/m, woman/man), "
            "or an empty cell if unknown",
            source=source,
            row=row,
            column=column,
        )
    return _SEX_WORDS[word]


def _normalize_modality(value: object, *, source: str | None, row: int | None) -> str | None:
    if _blank(value):
        return None
    word = str(value).strip().lower()
    if word not in _MODALITY_WORDS:
        raise ClinicalInputError(
            f"unknown modality {value!r}; expected 'brightfield' or 'fluorescence'",
            source=source,
            row=row,
            column="modality",
        )
    return _MODALITY_WORDS[word]


def _finite_or_none(
    value: object, *, what: str = "", source: str | None, row: int, column: str
) -> float | None:
    """A finite float, None for a blank cell; anything else names row and column."""
    if _blank(value):
        return None
    label = f"{what} {value!r}".strip()
    try:
        x = float(str(value).strip())
    except ValueError:
        raise ClinicalInputError(
            f"{label} is not a number", source=source, row=row, column=column
        ) from None
    if not math.isfinite(x):
        raise ClinicalInputError(
            f"{label} is not a finite number", source=source, row=row, column=column
        )
    return x


def _number(
    value: object,
    *,
    what: str,
    source: str | None,
    row: int,
    column: str,
    allow_zero: bool = True,
    whole: bool = False,
) -> float:
    x = _finite_or_none(value, what=what, source=source, row=row, column=column)
    if x is None:
        raise ClinicalInputError(
            f"{what} is missing; expected a number", source=source, row=row, column=column
        )
    if x < 0:
        raise ClinicalInputError(
            f"negative {what} {x:g}; expected a value >= 0", source=source, row=row, column=column
        )
    if not allow_zero and x == 0:
        raise ClinicalInputError(
            f"{what} is zero; expected a value > 0 (a section needs a length)",
            source=source,
            row=row,
            column=column,
        )
    if whole and x != round(x):
        raise ClinicalInputError(
            f"{what} {x:g} is not a whole number", source=source, row=row, column=column
        )
    return x


def _bool(value: object, *, source: str | None, row: int, column: str) -> bool:
    word = "" if _blank(value) else str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ClinicalInputError(
        f"{value!r} is not a yes/no value; expected true/false, 1/0 or yes/no",
        source=source,
        row=row,
        column=column,
    )


@dataclass(frozen=True)
class PreparedSections:
    """Validated input: included rows, excluded rows, and the input kind.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per included section (``kind == "section"``) or biopsy
        (``kind == "biopsy"``) with columns ``row, patient_id, age, sex, site,
        modality, section, image, count, length_mm, density_per_mm, corrected,
        n_sections, needs_review, n_need_review, qc_reasons, review_reasons``
        (see :func:`prepare_sections` for the last four).
    excluded : pandas.DataFrame
        Rows whose ``status`` was not ``ok``: ``row, patient_id, site, section,
        image, status, error``. They are never dropped silently.
    kind : {'section', 'biopsy'}
        Whether the input gave counts and lengths per section or a density per biopsy.
    source : str
        Name of the input (file name) used in messages.
    """

    rows: pd.DataFrame
    excluded: pd.DataFrame
    kind: Literal["section", "biopsy"]
    source: str


_ROW_COLUMNS = [
    "row",
    "patient_id",
    "age",
    "sex",
    "site",
    "modality",
    "section",
    "image",
    "count",
    "length_mm",
    "density_per_mm",
    "corrected",
    "n_sections",
    "needs_review",
    "n_need_review",
    "qc_reasons",
    "review_reasons",
]
_EXCLUDED_COLUMNS = ["row", "patient_id", "site", "section", "image", "status", "error"]


def prepare_sections(
    table: pd.DataFrame,
    *,
    source: str = "input",
    length_basis: LengthBasis | None = None,
    extra_sites: Iterable[str] = (),
    default_modality: str | None = None,
) -> PreparedSections:
    """Validate a section (or biopsy) table and return one clean row per entry.

    Parameters
    ----------
    table : pandas.DataFrame
        As read from CSV with every column as text. Required columns:
        ``patient_id, site`` and either ``count`` plus a length (``length_mm``,
        or ``dej_length_um``/``surface_length_um``) per section, or
        ``density_per_mm`` per biopsy. Optional: ``age, sex, modality, section,
        image, status, error, corrected, length_basis, n_sections``, and the
        review columns ``needs_review, qc_reasons, review_status`` (the batch
        section table's) or, per biopsy, ``n_sections_need_review,
        review_reasons`` (the biopsy table's).
    source : str
        Name used in error messages (the file name).
    length_basis : {'dej', 'surface'}, optional
        Which µm length to use when there is no ``length_mm`` column. ``None``
        follows each row's ``length_basis`` column if present, else ``'dej'``.
    extra_sites : iterable of str
        Site names accepted besides :data:`KNOWN_SITES`.
    default_modality : {'brightfield', 'fluorescence'}, optional
        Modality for rows whose ``modality`` is empty or absent.

    Returns
    -------
    PreparedSections
        Each row's ``needs_review`` is the table's (a yes/no cell); without
        that column a row needs review when its ``qc_reasons`` cell is not
        empty, and a table with neither (counts typed by hand) needs none.
        ``review_reasons`` says why a row still needs review (its
        ``qc_reasons``; "flagged for a second look by the reviewer" for a
        ``review_status`` of ``flagged``), empty when it does not, and
        ``n_need_review`` is 1 or 0 per section (per biopsy: its
        ``n_sections_need_review``).

    Raises
    ------
    ClinicalInputError
        On a missing column, an unknown site or sex, a missing, negative or
        non-whole count, a missing or zero length, a negative age, duplicated
        sections, or age/sex differing between rows of one patient. The message
        names ``source``, the 1-based data row and the column.
    """
    prepared = _prepare_sections(
        table,
        source=source,
        length_basis=length_basis,
        extra_sites=extra_sites,
        default_modality=default_modality,
    )
    if not prepared.excluded.empty:
        logger.warning("%s", excluded_message(prepared.excluded, source=source))
    return prepared


def _prepare_sections(
    table: pd.DataFrame,
    *,
    source: str,
    length_basis: LengthBasis | None,
    extra_sites: Iterable[str],
    default_modality: str | None,
) -> PreparedSections:
    """:func:`prepare_sections` without its warning (a caller that writes the rows says more)."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    if length_basis not in (None, "dej", "surface"):
        raise ValueError(f"length_basis must be 'dej', 'surface' or None; got {length_basis!r}")
    default_mod = (
        None
        if default_modality is None
        else _normalize_modality(default_modality, source=None, row=None)
    )
    cols = {str(c).strip(): c for c in table.columns}
    for required in ("patient_id", "site"):
        if required not in cols:
            raise ClinicalInputError(
                f"missing column {required!r}; columns present: {list(cols)}",
                source=source,
                column=required,
            )
    if "count" in cols:
        kind: Literal["section", "biopsy"] = "section"
        if "length_mm" not in cols and not ({"dej_length_um", "surface_length_um"} & set(cols)):
            raise ClinicalInputError(
                "no length column; a section table needs 'length_mm', or "
                "'dej_length_um'/'surface_length_um' (µm) chosen by length_basis",
                source=source,
                column="length_mm",
            )
    elif "density_per_mm" in cols:
        kind = "biopsy"
    else:
        raise ClinicalInputError(
            "need either 'count' with a length column (one row per section) or "
            f"'density_per_mm' (one row per biopsy); columns present: {list(cols)}",
            source=source,
            column="count",
        )

    def cell(rec: pd.Series, name: str) -> object:
        return rec[cols[name]] if name in cols else None

    if "count_auto" in cols and "needs_review" not in cols:
        logger.warning(
            "%s: a section table written by an ienfd batch without quality checks (no "
            "needs_review column): no section is known to need review; run the batch again "
            "to add them",
            source,
        )

    rows: list[dict[str, object]] = []
    excluded: list[dict[str, object]] = []
    for i, (_, rec) in enumerate(table.iterrows(), start=1):
        pid_raw = cell(rec, "patient_id")
        status = cell(rec, "status")
        if "status" in cols and (_blank(status) or str(status).strip().lower() != "ok"):
            excluded.append(
                {
                    "row": i,
                    "patient_id": "" if _blank(pid_raw) else str(pid_raw).strip(),
                    "site": "" if _blank(cell(rec, "site")) else str(cell(rec, "site")).strip(),
                    "section": _text(cell(rec, "section")),
                    "image": _text(cell(rec, "image")),
                    "status": _text(status) or "(empty)",
                    "error": _text(cell(rec, "error")),
                }
            )
            continue
        if _blank(pid_raw):
            raise ClinicalInputError(
                "patient_id is empty", source=source, row=i, column="patient_id"
            )
        site = normalize_site(cell(rec, "site"), extra_sites=extra_sites, source=source, row=i)
        age_raw = cell(rec, "age")
        age = (
            float("nan")
            if _blank(age_raw)
            else _number(age_raw, what="age", source=source, row=i, column="age")
        )
        sex = normalize_sex(cell(rec, "sex"), source=source, row=i)
        modality = _normalize_modality(cell(rec, "modality"), source=source, row=i) or default_mod
        out: dict[str, object] = {
            "row": i,
            "patient_id": str(pid_raw).strip(),
            "age": age,
            "sex": sex,
            "site": site,
            "modality": modality,
            "section": _text(cell(rec, "section")),
            "image": _text(cell(rec, "image")),
            "corrected": (
                _bool(cell(rec, "corrected"), source=source, row=i, column="corrected")
                if "corrected" in cols
                else False
            ),
        }
        out.update(_review_cells(rec, cell, cols, kind, source=source, row=i))
        if kind == "section":
            count = _number(
                cell(rec, "count"), what="count", source=source, row=i, column="count", whole=True
            )
            length_mm = _row_length_mm(rec, cols, length_basis, source=source, row=i)
            out.update(
                count=count,
                length_mm=length_mm,
                density_per_mm=count / length_mm,
                n_sections=1.0,
            )
        else:
            density = _number(
                cell(rec, "density_per_mm"),
                what="density",
                source=source,
                row=i,
                column="density_per_mm",
            )
            n_raw = cell(rec, "n_sections")
            n_sec = (
                float("nan")
                if _blank(n_raw)
                else _number(
                    n_raw,
                    what="number of sections",
                    source=source,
                    row=i,
                    column="n_sections",
                    allow_zero=False,
                    whole=True,
                )
            )
            out.update(
                count=float("nan"), length_mm=float("nan"), density_per_mm=density, n_sections=n_sec
            )
        rows.append(out)

    frame = pd.DataFrame(rows, columns=_ROW_COLUMNS)
    _check_duplicates(frame, table, cols, kind, source)
    _check_patient_consistency(frame, source)
    return PreparedSections(
        rows=frame,
        excluded=pd.DataFrame(excluded, columns=_EXCLUDED_COLUMNS),
        kind=kind,
        source=source,
    )


def excluded_message(
    excluded: pd.DataFrame,
    *,
    source: str,
    written_to: str | None = None,
    not_classified: Sequence[str] = (),
    shown: int = 5,
) -> str:
    """What a warning says of the excluded rows: which rows, of which patients, why, where.

    Parameters
    ----------
    excluded : pandas.DataFrame
        :attr:`PreparedSections.excluded` (not empty).
    source : str
        The input table's name.
    written_to : str, optional
        The file the rows were written to (``excluded.csv``).
    not_classified : sequence of str
        Patients left with no section, whom the caller could not classify.
    shown : int
        Rows named one by one; the rest are counted.

    Examples
    --------
    >>> rows = pd.DataFrame([{"row": 3, "patient_id": "P003", "site": "distal_leg",
    ...                       "error": "bad.tif: not a TIFF file"}])
    >>> print(excluded_message(rows, source="sections.csv", written_to="out/excluded.csv",
    ...                        not_classified=["P003"]))
    sections.csv: 1 row(s) excluded because status is not 'ok', written to out/excluded.csv: row 3 (P003, distal leg: bad.tif: not a TIFF file); not classified, every section failed: P003
    """  # noqa: E501
    named = []
    for _, rec in excluded.head(shown).iterrows():
        site = str(rec["site"]).replace("_", " ")
        who = ", ".join(x for x in (str(rec["patient_id"]), site) if x) or "no patient_id"
        why = _short(str(rec.get("error", "") or rec.get("status", "")), 80)
        named.append(f"row {rec['row']} ({who}{': ' + why if why else ''})")
    more = len(excluded) - len(named)
    text = f"{source}: {len(excluded)} row(s) excluded because status is not 'ok'"
    if written_to is not None:
        text += f", written to {written_to}"
    text += ": " + ", ".join(named) + (f" and {more} more" if more > 0 else "")
    if not_classified:
        text += f"; not classified, every section failed: {', '.join(not_classified)}"
    return text


def _short(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _text(value: object) -> str:
    return "" if _blank(value) else str(value).strip()


#: Why a row needs review when its table gives no reason.
FLAGGED_REASON = "flagged for a second look by the reviewer"
NO_REASON = "marked needs_review without a reason"


def _review_cells(
    rec: pd.Series,
    cell: Callable[[pd.Series, str], object],
    cols: dict[str, object],
    kind: str,
    *,
    source: str,
    row: int,
) -> dict[str, object]:
    """``needs_review``, ``n_need_review``, ``qc_reasons`` and ``review_reasons`` of one row."""
    qc_reasons = _text(cell(rec, "qc_reasons"))
    given = _text(cell(rec, "review_reasons"))
    n_given: float | None = None
    if kind == "biopsy" and "n_sections_need_review" in cols:
        n_given = _finite_or_none(
            cell(rec, "n_sections_need_review"),
            what="number of sections that need review",
            source=source,
            row=row,
            column="n_sections_need_review",
        )
    if "needs_review" in cols:
        needs = _bool(cell(rec, "needs_review"), source=source, row=row, column="needs_review")
    elif n_given is not None:
        needs = n_given > 0
    else:
        needs = bool(qc_reasons or given)
    reasons = ""
    if needs:
        flagged = _text(cell(rec, "review_status")).lower() == "flagged"
        reasons = given or qc_reasons or (FLAGGED_REASON if flagged else NO_REASON)
        if flagged and FLAGGED_REASON not in reasons:
            reasons = f"{reasons}; {FLAGGED_REASON}"
    n = max(int(n_given or 0), 1) if needs else 0
    return {
        "needs_review": needs,
        "n_need_review": n,
        "qc_reasons": qc_reasons,
        "review_reasons": reasons,
    }


def _section_label(rec: pd.Series) -> str:
    """How a report names one section: its section number, else its image, else its row."""
    if rec["section"]:
        return f"section {rec['section']}"
    if rec["image"]:
        return str(PurePath(str(rec["image"]).replace("\\", "/")).name)
    return f"data row {rec['row']}"


def _row_length_mm(
    rec: pd.Series,
    cols: dict[str, object],
    length_basis: LengthBasis | None,
    *,
    source: str,
    row: int,
) -> float:
    if "length_mm" in cols:
        return _number(
            rec[cols["length_mm"]],
            what="length",
            source=source,
            row=row,
            column="length_mm",
            allow_zero=False,
        )
    basis: str
    if length_basis is not None:
        basis = length_basis
    elif "length_basis" in cols and not _blank(rec[cols["length_basis"]]):
        basis = str(rec[cols["length_basis"]]).strip().lower()
        if basis not in ("dej", "surface"):
            raise ClinicalInputError(
                f"length_basis {rec[cols['length_basis']]!r}; expected 'dej' or 'surface'",
                source=source,
                row=row,
                column="length_basis",
            )
    else:
        basis = "dej"
    column = f"{basis}_length_um"
    if column not in cols:
        raise ClinicalInputError(
            f"length basis {basis!r} needs column {column!r}, which the table lacks",
            source=source,
            row=row,
            column=column,
        )
    um = _number(
        rec[cols[column]], what="length", source=source, row=row, column=column, allow_zero=False
    )
    return um / 1000.0


def _check_duplicates(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    cols: dict[str, object],
    kind: str,
    source: str,
) -> None:
    if frame.empty:
        return
    if kind == "biopsy":
        key = ["patient_id", "site"]
        what = "biopsy (patient_id, site)"
    elif "section" in cols:
        key = ["patient_id", "site", "section"]
        what = "section (patient_id, site, section)"
    elif "image" in cols:
        key = ["patient_id", "site", "image"]
        what = "section (patient_id, site, image)"
    else:
        raw = table.iloc[[int(r) - 1 for r in frame["row"]]].astype(str)
        dup = raw.duplicated(keep="first")
        if dup.any():
            later = int(frame["row"].iloc[int(np.argmax(dup.to_numpy()))])
            first = int(
                frame["row"].iloc[
                    int(np.argmax((raw == raw.iloc[int(np.argmax(dup.to_numpy()))]).all(axis=1)))
                ]
            )
            raise ClinicalInputError(
                f"duplicated section: identical in every column to data row {first}; "
                "add a 'section' column if these really are two sections",
                source=source,
                row=later,
                column="patient_id",
            )
        return
    keyed = frame[key].astype(str)
    dup = keyed.duplicated(keep=False)
    if dup.any():
        rows = frame.loc[dup, "row"].tolist()
        vals = keyed.loc[dup].iloc[0].tolist()
        first_dup = int(frame.loc[keyed.duplicated(keep="first"), "row"].iloc[0])
        raise ClinicalInputError(
            f"duplicated {what} = {tuple(vals)} appears on data rows {rows}",
            source=source,
            row=first_dup,
            column=key[-1],
        )


def _check_patient_consistency(frame: pd.DataFrame, source: str) -> None:
    for pid, grp in frame.groupby("patient_id", sort=False):
        for column in ("age", "sex"):
            values = grp[column]
            first = values.iloc[0]
            for r, v in zip(grp["row"], values, strict=True):
                same = (pd.isna(v) and pd.isna(first)) or v == first
                if not same:
                    raise ClinicalInputError(
                        f"patient {pid!r} has {column} {v!r} here but {first!r} on data row "
                        f"{int(grp['row'].iloc[0])}; one patient has one {column}",
                        source=source,
                        row=int(r),
                        column=column,
                    )
        for site, sgrp in grp.groupby("site", sort=False):
            mods = {m for m in sgrp["modality"] if m is not None}
            if len(mods) > 1:
                raise ClinicalInputError(
                    f"patient {pid!r} site {site!r} mixes modalities {sorted(mods)}; "
                    "a biopsy is imaged in one modality",
                    source=source,
                    row=int(sgrp["row"].iloc[-1]),
                    column="modality",
                )


@dataclass(frozen=True)
class DensityEstimate:
    """Pooled linear density of one biopsy with its confidence interval.

    Attributes
    ----------
    density_per_mm : float
        Total fibres / total length (mm).
    ci_low, ci_high : float or None
        Confidence interval; ``None`` with fewer than 2 sections (undefined).
    n_sections : int
    total_count : float
    total_length_mm : float
    """

    density_per_mm: float
    ci_low: float | None
    ci_high: float | None
    n_sections: int
    total_count: float
    total_length_mm: float


def density_ci(
    counts: Iterable[float],
    lengths_mm: Iterable[float],
    *,
    confidence: float = 0.95,
) -> DensityEstimate:
    """Pooled density over sections and its confidence interval across sections.

    The point estimate is the ratio estimator ``R = sum(c) / sum(L)``
    (total fibres over total length, the EFNS/PNS definition). Sections are
    treated as a random sample of sections of the biopsy; the standard error
    of ``R`` is the first-order (linearisation) ratio-estimator one,

    ``SE(R) = sqrt( sum((c_i - R L_i)^2) / (n - 1) / n ) / mean(L)``,

    and the interval is ``R -/+ t(n-1, (1+confidence)/2) * SE(R)``, with the
    lower end clipped at 0. With equal section lengths this is exactly the
    t-interval of the per-section densities (as in Engelstad et al. 2012); with
    unequal lengths it weights sections by length, consistent with ``R``.

    Parameters
    ----------
    counts : iterable of float
        Fibre counts per section (>= 0).
    lengths_mm : iterable of float
        Epidermal length per section in mm (> 0).
    confidence : float
        Two-sided confidence level, in (0, 1). Default 0.95.

    Returns
    -------
    DensityEstimate
        The CI is ``None`` with a single section.

    Raises
    ------
    ValueError
        On empty input, mismatched lengths, negative counts, non-positive
        lengths or a confidence level outside (0, 1).

    References
    ----------
    .. [1] Engelstad JK et al. (2012). Epidermal nerve fibers: confidence intervals
       and continuous measures with nerve conduction. Neurology 79:2187-2193.
       doi:10.1212/WNL.0b013e3182759608
    .. [2] Cochran WG (1977). Sampling Techniques, 3rd ed., section 6.4 (ratio
       estimator variance). Wiley.

    Examples
    --------
    >>> e = density_ci([10, 12, 8], [1.0, 1.0, 1.0])
    >>> e.density_per_mm, round(e.ci_low, 3), round(e.ci_high, 3)
    (10.0, 5.032, 14.968)
    """
    c = np.asarray(list(counts), dtype=float)
    length = np.asarray(list(lengths_mm), dtype=float)
    if c.shape != length.shape or c.ndim != 1:
        raise ValueError(
            f"counts and lengths_mm must be 1-D and equally long; got {c.shape} and {length.shape}"
        )
    if c.size == 0:
        raise ValueError("at least one section is needed; got none")
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    if np.any(~np.isfinite(c)) or np.any(c < 0):
        raise ValueError(f"counts must be finite and >= 0; got {c.tolist()}")
    if np.any(~np.isfinite(length)) or np.any(length <= 0):
        raise ValueError(f"lengths_mm must be finite and > 0; got {length.tolist()}")
    n = int(c.size)
    total_c = float(c.sum())
    total_l = float(length.sum())
    r = total_c / total_l
    if n < 2:
        return DensityEstimate(r, None, None, n, total_c, total_l)
    resid = c - r * length
    se = math.sqrt(float(np.sum(resid**2)) / (n - 1) / n) / float(length.mean())
    from scipy import stats  # scipy.stats takes most of a second to import: only here

    t = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 1))
    return DensityEstimate(r, max(0.0, r - t * se), r + t * se, n, total_c, total_l)


_BIOPSY_COLUMNS = [
    "patient_id",
    "age",
    "sex",
    "site",
    "modality",
    "n_sections",
    "n_corrected",
    "n_sections_need_review",
    "review_reasons",
    "total_count",
    "total_length_mm",
    "density_per_mm",
    "ci_low",
    "ci_high",
    "few_sections",
    "first_row",
]


def aggregate_sections(
    prepared: PreparedSections,
    *,
    confidence: float = 0.95,
    min_sections: int = MIN_SECTIONS,
) -> pd.DataFrame:
    """One row per patient and site: pooled density, CI, sections, corrections.

    Parameters
    ----------
    prepared : PreparedSections
        From :func:`prepare_sections`.
    confidence : float
        Confidence level of the interval (see :func:`density_ci`).
    min_sections : int
        Biopsies with fewer sections are flagged (``few_sections``). Default 3
        (EFNS/PNS guideline).

    Returns
    -------
    pandas.DataFrame
        Columns ``patient_id, age, sex, site, modality, n_sections, n_corrected,
        n_sections_need_review, review_reasons, total_count, total_length_mm,
        density_per_mm, ci_low, ci_high, few_sections, first_row``.
        ``n_sections_need_review`` counts the sections that still need review
        (quality checks failed and no reviewer accepted them) and
        ``review_reasons`` names each with its reasons, ``" | "`` between
        sections (``"section 2: no fibre counted: ..."``). For biopsy-level
        input the density is taken as given, the CI is empty and
        ``n_sections`` is what the table said (empty if it said nothing; then
        ``few_sections`` is False). From sections, ``n_sections`` and
        ``total_count`` are integers; from biopsies, floats (NaN where unknown).
    """
    if min_sections < 1:
        raise ValueError(f"min_sections must be >= 1; got {min_sections}")
    out: list[dict[str, object]] = []
    for (pid, site), grp in prepared.rows.groupby(["patient_id", "site"], sort=False):
        first = grp.iloc[0]
        mods = [m for m in grp["modality"] if m is not None]
        base: dict[str, object] = {
            "patient_id": pid,
            "age": first["age"],
            "sex": first["sex"],
            "site": site,
            "modality": mods[0] if mods else None,
            "n_corrected": int(grp["corrected"].sum()),
            "n_sections_need_review": int(grp["n_need_review"].sum()),
            "review_reasons": _site_review_reasons(grp, prepared.kind),
            "first_row": int(first["row"]),
        }
        if prepared.kind == "section":
            est = density_ci(grp["count"], grp["length_mm"], confidence=confidence)
            base.update(
                n_sections=est.n_sections,
                total_count=est.total_count,
                total_length_mm=est.total_length_mm,
                density_per_mm=est.density_per_mm,
                ci_low=np.nan if est.ci_low is None else est.ci_low,
                ci_high=np.nan if est.ci_high is None else est.ci_high,
                few_sections=est.n_sections < min_sections,
            )
        else:
            n_sec = first["n_sections"]
            base.update(
                n_sections=n_sec,
                total_count=np.nan,
                total_length_mm=np.nan,
                density_per_mm=float(first["density_per_mm"]),
                ci_low=np.nan,
                ci_high=np.nan,
                few_sections=bool(pd.notna(n_sec) and n_sec < min_sections),
            )
        out.append(base)
    frame = pd.DataFrame(out, columns=_BIOPSY_COLUMNS)
    if prepared.kind == "section" and not frame.empty:  # "19" in a CSV, never "19.0"
        frame = frame.astype({"n_sections": "int64", "total_count": "int64"})
    return frame


def _site_review_reasons(grp: pd.DataFrame, kind: str) -> str:
    """The sections of one site that need review, each with its reasons, ``" | "`` between."""
    pending = grp[grp["needs_review"]]
    if kind == "biopsy":
        return " | ".join(str(r) for r in pending["review_reasons"])
    return " | ".join(
        f"{_section_label(rec)}: {rec['review_reasons']}" for _, rec in pending.iterrows()
    )


def image_key(image: str) -> str:
    """Matching key of an image path: its file name without the last suffix."""
    return PurePath(str(image).replace("\\", "/")).stem
