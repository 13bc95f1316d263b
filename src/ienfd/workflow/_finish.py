"""The end of a batch: its tables and run record, written from what is on disk.

No dask here: :func:`finish_batch` rebuilds the section and biopsy tables
from the result JSONs and correction sidecars in the output folder
(:func:`~ienfd.workflow.section_table`, :func:`~ienfd.workflow.biopsy_table`)
and writes ``run.json``; :func:`remove_temporaries` clears what a killed run
left. :func:`ienfd.parallel.run_batch` calls both around the cluster's work.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ienfd import __version__
from ienfd.clinical import ClinicalInputError
from ienfd.io import write_json
from ienfd.workflow._pipeline import Pipeline
from ienfd.workflow._tables import (
    SectionEntry,
    biopsy_table,
    section_table,
    split_notes,
    write_table,
)

__all__ = ["BatchReport", "finish_batch", "now_utc", "remove_temporaries"]

logger = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What a batch did, and where it wrote it."""

    out_dir: Path
    entries: list[SectionEntry]
    n_analysed: int
    n_skipped: int
    n_failed: int
    n_corrected: int
    n_need_review: int
    sections_csv: Path
    sections_parquet: Path
    biopsies_csv: Path | None
    biopsy_note: str
    run_json: Path
    failures: list[dict[str, str]]
    notes: list[dict[str, Any]]


def remove_temporaries(out: Path) -> None:
    """Remove temporaries a killed run left (``.<name>.<random>.tmp``; never trusted).

    Sidecar temporaries (``*.correction.json``) belong to the review plugin and are left.
    """
    for tmp in out.glob(".*.tmp"):
        if ".correction.json." not in tmp.name and tmp.is_file():
            tmp.unlink(missing_ok=True)
            logger.info("removed %s, left by an interrupted run", tmp)


def now_utc() -> str:
    """The time now in UTC, to the second, as ISO 8601 (the run record's times)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def finish_batch(
    entries: list[SectionEntry],
    out: Path,
    *,
    pipeline: Pipeline,
    extra_sites: tuple[str, ...],
    run: dict[str, Any],
) -> BatchReport:
    """Write the section and biopsy tables from the folder's JSONs and sidecars, and run.json.

    ``run.json`` lists the failed sections with their errors (``failures``) and
    every note of every section that has any (``notes``: image, section,
    result JSON and the notes, as in the ``warnings`` column).
    """
    table = section_table(entries, out)
    sections_csv, sections_parquet = write_table(table, out / "sections")
    biopsies_csv: Path | None = None
    note = ""
    try:
        biopsies = biopsy_table(table, extra_sites=extra_sites, source=str(sections_csv))
    except ClinicalInputError as exc:
        note = f"no biopsy table: {exc}"
        for stale in (out / "biopsies.csv", out / "biopsies.parquet"):
            stale.unlink(missing_ok=True)
    else:
        biopsies_csv, _ = write_table(biopsies, out / "biopsies")
    n_need_review = int(table["needs_review"].sum())  # error rows (empty) not counted
    failed = table[table["status"] != "ok"]
    failures = [
        {"image": r.image, "section": r.section, "error": r.error} for r in failed.itertuples()
    ]
    notes = [
        {
            "image": r.image,
            "section": r.section,
            "result_json": r.result_json,
            "notes": split_notes(r.warnings),
        }
        for r in table.itertuples()
        if isinstance(r.warnings, str) and r.warnings
    ]
    record = {
        "ienfd_version": __version__,
        **run,
        "finished_at": now_utc(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "pipeline": pipeline.record(),
        "n_sections": len(table),
        "n_failed": len(failures),
        "n_corrected": int(table["corrected"].sum()),
        "n_need_review": n_need_review,
        "failures": failures,
        "n_with_notes": len(notes),
        "notes": notes,
        "outputs": {
            "sections": [sections_csv.name, sections_parquet.name],
            "biopsies": None if biopsies_csv is None else [biopsies_csv.name, "biopsies.parquet"],
            "biopsy_note": note or None,
        },
    }
    run_json = out / "run.json"
    write_json(run_json, record)
    return BatchReport(
        out_dir=out,
        entries=entries,
        n_analysed=int(run.get("n_analysed", 0)),
        n_skipped=int(run.get("n_skipped", 0)),
        n_failed=len(failures),
        n_corrected=int(table["corrected"].sum()),
        n_need_review=n_need_review,
        sections_csv=sections_csv,
        sections_parquet=sections_parquet,
        biopsies_csv=biopsies_csv,
        biopsy_note=note,
        run_json=run_json,
        failures=failures,
        notes=notes,
    )
