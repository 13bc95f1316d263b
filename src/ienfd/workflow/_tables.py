"""Section and biopsy tables of a batch, built from the result JSONs in its output folder.

The tables are always rebuilt from what is on disk (the result JSONs and any
correction sidecars beside them), never from memory, so that a resumed run in
which every section was skipped still picks up corrections saved since. The
biopsy table is computed by the clinical module's own functions
(:func:`ienfd.clinical.prepare_sections`, :func:`ienfd.clinical.aggregate_sections`).
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ienfd.io import (
    CorrectionError,
    check_plausible,
    correction_path,
    correction_problem,
    read_correction,
    result_quality,
)

if TYPE_CHECKING:  # pandas and ienfd.clinical are imported where used: analyze needs neither
    import pandas as pd

__all__ = [
    "NOTE_SEPARATOR",
    "NO_NUMBERS",
    "SECTION_COLUMNS",
    "STALE",
    "SectionEntry",
    "biopsy_table",
    "join_notes",
    "result_notes",
    "section_table",
    "split_notes",
    "write_table",
]

logger = logging.getLogger(__name__)

#: Columns of the section table, in order. ``ienfd classify`` reads them by name.
SECTION_COLUMNS = (
    "image",
    "patient_id",
    "site",
    "section",
    "status",
    "error",
    "count",
    "count_auto",
    "corrected",
    "dej_length_um",
    "surface_length_um",
    "length_basis",
    "density_per_mm",
    "pixel_size_um",
    "modality",
    "age",
    "sex",
    "needs_review",
    "qc_reasons",
    "warnings",
    "review_status",
    "section_index",
    "region",
    "result_json",
    "overlay",
    "junction_method",
    "n_fragments",
    "n_secondary_branches",
    "input_sha256",
    "pipeline",
    "skipped",
)


#: ``review_status`` of a section whose correction sidecar was made on another image or
#: analysis: the correction is not applied and the section needs review again.
STALE = "stale"

#: The numbers an error row leaves empty: it has no result to give.
NO_NUMBERS: dict[str, Any] = {
    "count": None,
    "count_auto": None,
    "dej_length_um": None,
    "surface_length_um": None,
    "length_basis": "",
    "density_per_mm": None,
    "pixel_size_um": None,
    "n_fragments": None,
    "n_secondary_branches": None,
}


#: Between two notes in the ``warnings`` column.
NOTE_SEPARATOR = " | "


def result_notes(record: dict[str, Any]) -> list[str]:
    """Every note of a result JSON: the reader's (``reader_warnings``), then the analysis's.

    The notes ``ienfd analyze`` prints for the section, in the same order.

    >>> result_notes({"reader_warnings": ["z-stack reduced"], "warnings": ["membrane weak"]})
    ['z-stack reduced', 'membrane weak']
    """
    return [str(n) for key in ("reader_warnings", "warnings") for n in record.get(key) or []]


def join_notes(notes: list[str]) -> str:
    """The notes as one ``warnings`` cell, split again by :func:`split_notes`.

    A ``|`` inside a note becomes ``/``, so that the cell splits back into the notes.

    >>> join_notes(["a", "b | c"])
    'a | b / c'
    """
    return NOTE_SEPARATOR.join(note.replace("|", "/") for note in notes)


def split_notes(cell: str) -> list[str]:
    """The notes of a ``warnings`` cell (none for an empty one).

    >>> split_notes("a | b"), split_notes("")
    (['a', 'b'], [])
    """
    return cell.split(NOTE_SEPARATOR) if cell else []


@dataclass(frozen=True)
class SectionEntry:
    """One planned section of a batch and what happened to it.

    ``error`` is empty when the section's JSON ``<stem>.json`` in the output
    folder holds its result; otherwise it says why there is none (and no JSON
    is read). ``section_index`` numbers the sections of a whole-slide image.
    """

    image: str
    stem: str
    patient_id: str = ""
    site: str = ""
    section: str = ""
    age: float | None = None
    sex: str | None = None
    section_index: int | None = None
    error: str = ""
    skipped: bool = False


def _row_from_json(entry: SectionEntry, out_dir: Path) -> dict[str, Any]:
    result_json = out_dir / f"{entry.stem}.json"
    rec = json.loads(result_json.read_text(encoding="utf-8"))
    region = rec.get("region")
    quality = result_quality(rec)  # a result without checks (older ienfd) needs review
    row: dict[str, Any] = {
        "status": "ok",
        "error": "",
        "count": int(rec["count"]),
        "count_auto": int(rec["count"]),
        "corrected": False,
        "needs_review": quality.needs_review,
        "qc_reasons": "; ".join(quality.reasons),
        "warnings": join_notes(result_notes(rec)),
        "review_status": "",
        "dej_length_um": rec["dej_length_um"],
        "surface_length_um": rec["surface_length_um"],
        "length_basis": rec["length_basis"],
        "density_per_mm": rec["density_per_mm"],
        "pixel_size_um": rec["pixel_size_um"],
        "modality": rec["modality"],
        "region": (
            ""
            if not region
            else f"{region['row0']}:{region['row1']},{region['col0']}:{region['col1']}"
        ),
        "result_json": result_json.name,
        "overlay": rec.get("overlay") or "",
        "junction_method": rec.get("junction_method", ""),
        "n_fragments": rec.get("n_fragments"),
        "n_secondary_branches": rec.get("n_secondary_branches"),
        "input_sha256": rec.get("input_sha256", ""),
        "pipeline": (rec.get("pipeline") or {}).get("name", ""),
    }
    sidecar = correction_path(result_json)
    if not sidecar.exists():
        return row
    try:
        c = read_correction(sidecar)
        problem = correction_problem(c, rec)
        if problem is None:
            check_plausible(c, rec, sidecar)
    except (CorrectionError, OSError) as exc:
        message = str(exc) if str(sidecar) in str(exc) else f"{sidecar}: {exc}"
        return {
            **row,
            **NO_NUMBERS,
            "status": "error",
            "error": f"bad correction sidecar: {message}",
            "needs_review": None,
        }
    if problem is not None:  # made on another image or analysis: not applied
        row.update(
            needs_review=True,
            qc_reasons="; ".join([*quality.reasons, f"{sidecar.name}: {problem}"]),
            review_status=STALE,
        )
        return row
    row.update(
        count=int(c.final_count),
        count_auto=int(rec["count"]),
        corrected=True,
        needs_review=quality.after_review(c.status),  # accepted by a human: reviewed
        review_status=c.status,
        dej_length_um=c.dej_length_um,
        surface_length_um=c.surface_length_um,
        length_basis=c.length_basis,
        density_per_mm=c.density_per_mm,
    )
    return row


def section_table(entries: list[SectionEntry], out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per planned section: result (corrected when a sidecar exists) or error.

    Parameters
    ----------
    entries : list of SectionEntry
        Every section of the batch, in order.
    out_dir : str or os.PathLike
        The batch output folder holding ``<stem>.json`` (and
        ``<stem>.correction.json`` sidecars).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SECTION_COLUMNS`. ``count`` is the reviewed count when
        a correction sidecar made on this result exists (``corrected`` True,
        ``count_auto`` the automatic count, lengths and density from the
        sidecar). A sidecar made on another image or analysis
        (:func:`ienfd.io.correction_problem`, also one from an older ienfd
        that records no result) is not applied: the row keeps the automatic
        result, ``review_status`` is ``'stale'``, ``needs_review`` True and
        ``qc_reasons`` says why ("... review again"). A sidecar that cannot be
        read, or whose values cannot be right (:func:`ienfd.io.check_plausible`),
        makes the row an error naming the file and the field. Error rows
        carry no count, length or density.
        ``needs_review`` (nullable boolean, empty for an error row) is the
        result's quality verdict (:func:`ienfd.io.result_quality`: a result
        without quality checks needs review) until a reviewer decides: False
        once the sidecar's status is ``accepted``, True when ``flagged``.
        ``qc_reasons`` keeps the automatic reasons, joined by ``"; "``, also
        after acceptance. ``warnings`` holds the result's notes (the reader's,
        then the analysis's: :func:`result_notes`) joined by ``" | "``
        (:func:`join_notes`; :func:`split_notes` undoes it), empty for an
        error row.
    """
    out = Path(out_dir)
    rows = []
    for e in entries:
        base: dict[str, Any] = {
            "image": e.image,
            "patient_id": e.patient_id,
            "site": e.site,
            "section": e.section,
            "age": e.age,
            "sex": e.sex or "",
            "section_index": e.section_index,
            "skipped": e.skipped,
        }
        if e.error:
            base.update(
                status="error",
                error=e.error,
                corrected=False,
                qc_reasons="",
                warnings="",
                result_json="",
            )
        else:
            try:
                base.update(_row_from_json(e, out))
            except (OSError, ValueError, KeyError) as exc:  # vanished or edited by hand
                base.update(
                    status="error",
                    error=f"{out / (e.stem + '.json')}: result unreadable: {exc}",
                    corrected=False,
                    needs_review=None,
                    qc_reasons="",
                    warnings="",
                    result_json="",
                )
        rows.append(base)
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(SECTION_COLUMNS))
    frame["count"] = frame["count"].astype("Int64")
    frame["count_auto"] = frame["count_auto"].astype("Int64")
    frame["section_index"] = frame["section_index"].astype("Int64")
    frame["n_fragments"] = frame["n_fragments"].astype("Int64")
    frame["n_secondary_branches"] = frame["n_secondary_branches"].astype("Int64")
    frame["corrected"] = frame["corrected"].astype(bool)
    frame["needs_review"] = frame["needs_review"].astype("boolean")
    frame["skipped"] = frame["skipped"].astype(bool)
    return frame


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as ``ienfd classify`` reads it from CSV: every cell text, blanks empty."""
    import pandas as pd

    return pd.read_csv(io.StringIO(frame.to_csv(index=False)), dtype=str, keep_default_na=False)


def biopsy_table(
    sections: pd.DataFrame, *, extra_sites: tuple[str, ...] = (), source: str = "sections.csv"
) -> pd.DataFrame:
    """Per patient and site: total fibres / total length, sections, spread across sections.

    Computed by :func:`ienfd.clinical.prepare_sections` and
    :func:`ienfd.clinical.aggregate_sections` on the section table exactly as
    ``ienfd classify`` would read it (error rows are excluded there), plus the
    spread of the per-section densities (``section_density_sd``, ``_min``,
    ``_max``). ``n_sections_need_review`` counts the site's sections whose
    ``needs_review`` is True, and ``review_reasons`` names them with their
    reasons. ``n_sections_failed`` counts the site's sections that were
    listed but could not be analysed (error rows), so that a biopsy measured
    on fewer sections than were cut says so; a biopsy none of whose sections
    was analysed has a row of its own with ``status`` "error" (the others
    "ok") and no density, which ``ienfd classify`` lists as excluded.

    Raises
    ------
    ClinicalInputError
        The table has no patient or site (a folder or glob input without a
        manifest), or the clinical checks fail (the message names the row).
    """
    import pandas as pd

    from ienfd.clinical import ClinicalInputError, aggregate_sections, prepare_sections

    ok = sections[sections["status"] == "ok"]
    if ok.empty:
        raise ClinicalInputError("no section was analysed", source=source)
    if (ok["patient_id"] == "").any() or (ok["site"] == "").any():
        raise ClinicalInputError(
            "no patient_id/site for some sections; give INPUT as a manifest CSV "
            "(image,patient_id,site,section) to get the biopsy table",
            source=source,
        )
    prepared = prepare_sections(_as_text(sections), source=source, extra_sites=extra_sites)
    biopsies = aggregate_sections(prepared)
    spread = (
        prepared.rows.groupby(["patient_id", "site"], sort=False)["density_per_mm"]
        .agg(section_density_sd="std", section_density_min="min", section_density_max="max")
        .reset_index()
    )
    # The error rows, which prepare_sections sets apart (a manifest's sites are already
    # canonical in the section table), counted per biopsy.
    n_failed = prepared.excluded.groupby(["patient_id", "site"]).size()
    n_failed = n_failed.rename("n_sections_failed").reset_index()
    biopsies = biopsies.merge(spread, on=["patient_id", "site"], how="left")
    biopsies = biopsies.merge(n_failed, on=["patient_id", "site"], how="left")
    biopsies["n_sections_failed"] = biopsies["n_sections_failed"].fillna(0).astype("int64")
    biopsies["status"], biopsies["error"] = "ok", ""
    # A biopsy none of whose sections could be analysed still has its row: no density, its
    # failed sections counted, and a status that ienfd classify excludes it by (and lists).
    keys = ["patient_id", "site"]
    seen = set(biopsies[keys].itertuples(index=False, name=None))
    lost = n_failed[[key not in seen for key in n_failed[keys].itertuples(index=False, name=None)]]
    if lost.empty:
        return biopsies
    lost = lost.assign(
        n_sections=0,
        n_corrected=0,
        n_sections_need_review=0,
        total_count=0,
        few_sections=True,
        status="error",
        error=[
            f"none of its {n} listed section(s) could be analysed (sections.csv says why)"
            for n in lost["n_sections_failed"]
        ],
    )
    return pd.concat([biopsies, lost], ignore_index=True)


def write_table(frame: pd.DataFrame, stem: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` and ``<stem>.parquet`` atomically; return both paths."""
    from ienfd.clinical._io import write_bytes_atomic, write_csv_atomic

    base = Path(stem)
    csv_path = write_csv_atomic(frame, base.with_name(base.name + ".csv"))
    parquet = frame.to_parquet(index=False)
    assert isinstance(parquet, bytes)  # to_parquet() without a path returns the bytes
    return csv_path, write_bytes_atomic(parquet, base.with_name(base.name + ".parquet"))
