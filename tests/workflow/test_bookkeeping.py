"""Bookkeeping: every result JSON carries its input's SHA-256, the run record has the error
of every failed input, and an error row carries no numbers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ienfd.io import write_section_tiff
from ienfd.parallel._batch import input_records
from ienfd.workflow import (
    InputPlan,
    InputRow,
    analysis_jobs,
    attempt_section,
    decided_runs,
    default_pipeline,
    finish_batch,
    plan_jobs,
    run_sections,
    settle_entries,
)
from tests.workflow.conftest import PIXEL_UM

NUMBERS = ("count", "count_auto", "dej_length_um", "surface_length_um", "density_per_mm")


def test_an_analyze_result_carries_the_sha256_of_its_input(
    section_file: Path, tmp_path: Path
) -> None:
    (job,) = analysis_jobs([str(section_file)], tmp_path, overlay=False)
    run = attempt_section(job)
    assert run.status == "ok"
    expected = hashlib.sha256(section_file.read_bytes()).hexdigest()
    assert run.record is not None and run.record["input_sha256"] == expected
    written = json.loads(job.json_path.read_text())
    assert written["input_sha256"] == expected


def test_a_missing_file_still_fails_with_the_readers_message(tmp_path: Path) -> None:
    (job,) = analysis_jobs([str(tmp_path / "gone.tif")], tmp_path / "out", overlay=False)
    run = attempt_section(job)
    assert run.status == "error" and "gone.tif" in run.error


def test_run_record_has_the_error_of_every_failed_input_and_error_rows_no_numbers(
    section_file: Path, tmp_path: Path
) -> None:
    blank = tmp_path / "blank.tif"  # reads fine, plans fine, but holds no tissue
    write_section_tiff(
        blank, np.full((300, 300, 3), 255, np.uint8), pixel_size_um=PIXEL_UM, kind="tiff"
    )
    rows = [
        InputRow(str(p), str(p), patient_id="P1", site="distal_leg", section=str(i))
        for i, p in enumerate((section_file, blank), start=1)
    ]
    plans = [InputPlan(r, hashlib.sha256(Path(r.path).read_bytes()).hexdigest(), 1) for r in rows]
    out = tmp_path / "out"
    out.mkdir()
    pipeline = default_pipeline()
    plan = plan_jobs(plans, out, pipeline=pipeline, overlay=False)
    runs = run_sections(plan.jobs, decided=decided_runs(plan))
    assert [r.status for r in runs] == ["ok", "error"]
    report = finish_batch(
        settle_entries(plan, runs),
        out,
        pipeline=pipeline,
        extra_sites=(),
        run={"inputs": input_records(plan, runs)},
    )
    record = json.loads(report.run_json.read_text())
    assert record["inputs"][0]["error"] is None
    assert record["inputs"][1]["error"] == runs[1].error
    assert "blank.tif" in record["inputs"][1]["error"]
    table = pd.read_csv(report.sections_csv, dtype=str, keep_default_na=False)
    error_row = table.iloc[1]
    assert error_row["status"] == "error"
    assert [error_row[c] for c in NUMBERS] == [""] * len(NUMBERS)
    ok_row = table.iloc[0]
    assert all(ok_row[c] != "" for c in NUMBERS)
