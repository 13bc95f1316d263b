"""A section's notes are visible after a batch: the ``warnings`` column and ``run.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ienfd.workflow import (
    InputPlan,
    InputRow,
    ReaderOptions,
    decided_runs,
    default_pipeline,
    finish_batch,
    plan_jobs,
    run_sections,
    settle_entries,
)
from ienfd.workflow._tables import join_notes, split_notes

#: What the reader says when fluorescence channel options are given for an RGB image.
IGNORED = "fibre/membrane channel options ignored for a bright-field RGB image"


def test_notes_reach_the_section_table_and_the_run_record(
    section_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    rows = [
        InputRow(str(section_file), str(section_file)),
        InputRow("gone.tif", "gone.tif"),
    ]
    plans = [InputPlan(rows[0], "a" * 64, 1), InputPlan(rows[1], error="gone.tif: no such file")]
    pipeline = default_pipeline()
    # a fibre channel for a bright-field RGB image: ignored, with a note
    plan = plan_jobs(
        plans, out, pipeline=pipeline, reader=ReaderOptions(fibre_channel=0), overlay=False
    )
    runs = run_sections(plan.jobs, decided=decided_runs(plan))
    assert runs[0].status == "ok" and IGNORED in runs[0].notes
    report = finish_batch(
        settle_entries(plan, runs),
        out,
        pipeline=pipeline,
        extra_sites=(),
        run={"n_analysed": 1, "n_skipped": 0},
    )

    for table in (
        pd.read_csv(report.sections_csv, keep_default_na=False),
        pd.read_parquet(report.sections_parquet),
    ):
        cols = list(table.columns)
        assert cols.index("warnings") == cols.index("qc_reasons") + 1  # beside the QC columns
        ok, error = table.to_dict("records")
        assert split_notes(ok["warnings"]) == list(runs[0].notes)
        assert error["warnings"] == ""  # an error row has a reason, not notes

    record = json.loads(report.run_json.read_text(encoding="utf-8"))
    assert record["n_with_notes"] == 1
    assert record["notes"] == [
        {
            "image": str(section_file),
            "section": "",
            "result_json": "leg.json",
            "notes": list(runs[0].notes),
        }
    ]
    assert report.notes == record["notes"]


def test_joined_notes_split_back_even_with_a_bar_inside() -> None:
    notes = ["z-stack of 3 planes reduced", "channel a | b assumed"]
    assert split_notes(join_notes(notes)) == [
        "z-stack of 3 planes reduced",
        "channel a / b assumed",
    ]
    assert split_notes(join_notes([])) == []


def test_a_failure_names_the_input_as_given_once_and_its_reason_stands_alone(
    corrupt_file: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from ienfd.workflow import analysis_jobs, attempt_section

    (job,) = analysis_jobs([str(corrupt_file)], tmp_path)
    # a batch opens the file by its absolute path; the user gave another name
    job = replace(job, image="slides/corrupt.tif", path=str(corrupt_file.resolve()))
    run = attempt_section(job)
    assert run.status == "error"
    assert run.error.startswith("slides/corrupt.tif: ") and str(corrupt_file) not in run.error
    assert run.reason == run.error.removeprefix("slides/corrupt.tif: ")
    assert run.reason.startswith(("corrupt", "truncated")), run.reason
