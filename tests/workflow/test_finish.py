"""The end of a batch without a cluster: tables and run record from what is on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ienfd.workflow import (
    InputPlan,
    InputRow,
    decided_runs,
    default_pipeline,
    finish_batch,
    plan_jobs,
    remove_temporaries,
    run_sections,
    settle_entries,
)


def test_a_batch_finished_serially_has_its_tables_and_run_record(
    section_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".leg.json.abc123.tmp").write_text("{", encoding="utf-8")  # a killed run's
    (out / ".leg.correction.json.abc.tmp").write_text("{", encoding="utf-8")  # the reviewer's
    remove_temporaries(out)
    assert [p.name for p in out.glob(".*.tmp")] == [".leg.correction.json.abc.tmp"]

    rows = [
        InputRow(str(section_file), str(section_file), patient_id="P1", site="distal_leg"),
        InputRow("gone.tif", "gone.tif", patient_id="P1", site="distal_leg"),
    ]
    plans = [InputPlan(rows[0], "a" * 64, 1), InputPlan(rows[1], error="gone.tif: no such file")]
    pipeline = default_pipeline()
    plan = plan_jobs(plans, out, pipeline=pipeline, overlay=False)
    runs = run_sections(plan.jobs, decided=decided_runs(plan))
    report = finish_batch(
        settle_entries(plan, runs),
        out,
        pipeline=pipeline,
        extra_sites=(),
        run={"n_analysed": 1, "n_skipped": 0, "inputs": list(plan.inputs)},
    )
    table = pd.read_csv(report.sections_csv, keep_default_na=False)
    assert table["status"].tolist() == ["ok", "error"]
    assert table["error"].tolist() == ["", "gone.tif: no such file"]
    # counts print as whole numbers, and the failed row leaves them empty (not '7.0', not 0)
    raw = pd.read_csv(report.sections_csv, dtype=str, keep_default_na=False)
    for column in ("count", "count_auto", "n_fragments", "n_secondary_branches"):
        assert raw[column][0].isdigit() and raw[column][1] == "", (column, raw[column].tolist())
    record = json.loads(report.run_json.read_text(encoding="utf-8"))
    assert record["n_sections"] == 2 and record["n_failed"] == 1 and record["n_analysed"] == 1
    assert record["failures"] == [
        {"image": "gone.tif", "section": "", "error": "gone.tif: no such file"}
    ]
    assert record["inputs"][1]["error"] == "gone.tif: no such file"
    assert record["pipeline"] == pipeline.record()
    assert (report.n_analysed, report.n_failed) == (1, 1)
    # the biopsy table aggregates the analysed section of P1's distal leg
    assert report.biopsies_csv == out / "biopsies.csv" and report.biopsy_note == ""
    biopsies = pd.read_csv(report.biopsies_csv)
    assert biopsies[["patient_id", "site"]].values.tolist() == [["P1", "distal_leg"]]
