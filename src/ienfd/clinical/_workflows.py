"""File-level workflows behind ``ienfd classify``, ``ienfd norms`` and ``ienfd agreement``.

Each reads its inputs with :mod:`._io`, calls the pure functions, and writes
its outputs atomically; the CLI only parses arguments and prints.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ienfd.clinical._agreement import (
    AgreementSummary,
    AgreementTable,
    match_counts,
    summarize_agreement,
)
from ienfd.clinical._classify import (
    ClassificationRules,
    PatientResult,
    classify_patients,
    cohort_summary,
    patients_frame,
    sites_frame,
    unclassified_patients,
)
from ienfd.clinical._io import (
    read_correction_sidecars,
    read_norms,
    read_table,
    write_bytes_atomic,
    write_csv_atomic,
    write_norms,
    write_text_atomic,
)
from ienfd.clinical._norms import NormsTable, builtin_norms
from ienfd.clinical._quantreg import MIN_CONTROLS, build_norms
from ienfd.clinical._report import (
    plot_bland_altman,
    plot_norms_fit,
    render_cohort_html,
    render_patient_html,
)
from ienfd.clinical._sections import (
    LengthBasis,
    _prepare_sections,
    aggregate_sections,
    excluded_message,
    prepare_sections,
)

logger = logging.getLogger(__name__)

__all__ = ["ClassifyOutputs", "run_agreement", "run_classify", "run_norms_build"]


def _safe_name(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "patient"
    name, k = base, 2
    while name.lower() in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name.lower())
    return name


@dataclass
class ClassifyOutputs:
    """What ``run_classify`` produced."""

    results: list[PatientResult]
    patients_csv: Path
    sites_csv: Path
    cohort_csv: Path
    cohort_html: Path
    excluded_csv: Path | None
    reports: dict[str, Path] = field(default_factory=dict)
    n_excluded: int = 0
    #: Patients with no section left (every one failed): listed on the cohort page, not classified.
    not_classified: list[str] = field(default_factory=list)


def run_classify(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    norms_path: str | os.PathLike[str] | None = None,
    length_basis: LengthBasis | None = None,
    modality: str | None = None,
    extra_sites: Iterable[str] = (),
    rules: ClassificationRules | None = None,
    reports: bool = True,
    version: str = "",
) -> ClassifyOutputs:
    """Read a section/biopsy table, classify every patient, write tables and reports.

    Writes ``patients.csv``, ``sites.csv``, ``cohort_summary.csv``,
    ``cohort.html`` (linking every patient's report), ``excluded.csv`` (only
    if rows were excluded) and ``reports/<patient_id>.html`` into ``out_dir``.
    A patient whose every section was excluded cannot be classified: the
    cohort page lists them with the reason and links ``excluded.csv``, and
    the warning logged names the rows, those patients and the file.
    When the input table has an ``overlay`` column (as ``ienfd batch``'s
    ``sections.csv``: file names relative to the table's folder), each report
    shows every section's QC overlay as a thumbnail linking to the picture.

    Raises
    ------
    ClinicalInputError
        For any bad input value, naming file, data row and column.
    """
    rules = rules or ClassificationRules()
    extra = tuple(extra_sites)
    src = str(input_path)
    norms: NormsTable = (
        builtin_norms() if norms_path is None else read_norms(norms_path, extra_sites=extra)
    )
    table = read_table(input_path)
    # QC overlays named by the table (batch: relative to the table's folder), by data row
    overlays = {
        i: Path(src).parent / str(name).strip()
        for i, name in enumerate(table.get("overlay", pd.Series(dtype=str)), start=1)
        if isinstance(name, str) and name.strip()
    }
    prepared = _prepare_sections(  # its warning is logged below, with the file written
        table,
        source=src,
        length_basis=length_basis,
        extra_sites=extra,
        default_modality=modality,
    )
    biopsies = aggregate_sections(prepared, min_sections=rules.min_sections)
    results = classify_patients(
        biopsies, norms, rules=rules, excluded=prepared.excluded, source=src
    )
    not_classified = unclassified_patients(results, prepared.excluded)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    excluded_csv = (
        None
        if prepared.excluded.empty
        else write_csv_atomic(prepared.excluded, out / "excluded.csv")
    )
    summary = cohort_summary(results)
    taken: set[str] = set()
    report_paths = {
        r.patient_id: out / "reports" / f"{_safe_name(r.patient_id, taken)}.html" for r in results
    }
    outputs = ClassifyOutputs(
        results=results,
        patients_csv=write_csv_atomic(patients_frame(results, rules=rules), out / "patients.csv"),
        sites_csv=write_csv_atomic(sites_frame(results), out / "sites.csv"),
        cohort_csv=write_csv_atomic(summary, out / "cohort_summary.csv"),
        cohort_html=write_text_atomic(
            render_cohort_html(
                results,
                summary,
                input_name=Path(src).name,
                reports=report_paths if reports else None,
                base_dir=out,
                rules=rules,
                excluded=prepared.excluded,
                excluded_csv=excluded_csv,
            ),
            out / "cohort.html",
        ),
        excluded_csv=excluded_csv,
        n_excluded=len(prepared.excluded),
        not_classified=not_classified,
    )
    if excluded_csv is not None:
        logger.warning(
            "%s",
            excluded_message(
                prepared.excluded,
                source=src,
                written_to=str(excluded_csv),
                not_classified=not_classified,
            ),
        )
    if reports:
        for r in results:
            rows = prepared.rows[prepared.rows["patient_id"] == r.patient_id]
            excl = prepared.excluded[prepared.excluded["patient_id"] == r.patient_id]
            path = report_paths[r.patient_id]
            page = render_patient_html(
                r,
                rows,
                excl,
                norms,
                rules=rules,
                input_name=Path(src).name,
                version=version,
                overlays=overlays if "overlay" in table.columns else None,
                base_dir=path.parent,
            )
            outputs.reports[r.patient_id] = write_text_atomic(page, path)
    return outputs


def run_norms_build(
    controls_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    quantile: float = 0.05,
    by_sex: bool = True,
    min_controls: int = MIN_CONTROLS,
    length_basis: LengthBasis | None = None,
    modality: str | None = None,
    extra_sites: Iterable[str] = (),
) -> tuple[NormsTable, Path, Path]:
    """Fit norms from a controls table; write ``norms.csv`` and ``norms.png``.

    The controls table has the same format as the ``classify`` input (one row
    per section or per biopsy, with age and sex).

    Returns
    -------
    norms, csv_path, png_path
    """
    src = str(controls_path)
    prepared = prepare_sections(
        read_table(controls_path),
        source=src,
        length_basis=length_basis,
        extra_sites=tuple(extra_sites),
        default_modality=modality,
    )
    controls = aggregate_sections(prepared)
    norms = build_norms(
        controls,
        quantile=quantile,
        by_sex=by_sex,
        min_controls=min_controls,
        source_label=Path(src).name,
    )
    out = Path(out_dir)
    csv_path = write_norms(norms, out / "norms.csv")
    png_path = write_bytes_atomic(plot_norms_fit(controls, norms), out / "norms.png")
    return norms, csv_path, png_path


def run_agreement(
    auto_path: str | os.PathLike[str],
    manual_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    auto_column: str | None = None,
    manual_column: str | None = None,
) -> tuple[AgreementTable, AgreementSummary, dict[str, Path]]:
    """Automatic versus manual counts: per-section table, summary, Bland-Altman plot.

    ``manual_path`` is a CSV or a folder of ``*.correction.json`` sidecars.
    Writes ``agreement_sections.csv``, ``agreement_summary.json``,
    ``agreement_unmatched.csv`` (if any) and ``bland_altman.png``.
    """
    auto = read_table(auto_path)
    mp = Path(manual_path)
    manual = read_correction_sidecars(mp) if mp.is_dir() else read_table(mp)
    table = match_counts(
        auto,
        manual,
        auto_source=str(auto_path),
        manual_source=str(manual_path),
        auto_column=auto_column,
        manual_column=manual_column,
    )
    summary = summarize_agreement(table)
    out = Path(out_dir)
    paths = {
        "sections": write_csv_atomic(table.matched, out / "agreement_sections.csv"),
        "summary": write_text_atomic(
            json.dumps(summary.as_dict(), indent=2) + "\n", out / "agreement_summary.json"
        ),
        "plot": write_bytes_atomic(plot_bland_altman(table, summary), out / "bland_altman.png"),
    }
    unmatched = [("only_in_auto", k) for k in table.only_auto]
    unmatched += [("only_in_manual", k) for k in table.only_manual]
    unmatched += [("auto_status_not_ok", k) for k in table.not_ok_auto]
    if unmatched:
        paths["unmatched"] = write_csv_atomic(
            pd.DataFrame(unmatched, columns=["why", "section"]), out / "agreement_unmatched.csv"
        )
    return table, summary, paths
