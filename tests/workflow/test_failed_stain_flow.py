"""A failed PGP 9.5 stain read as a file, end to end: ``ienfd analyze`` prints "review" (not
"ok 0.00/mm") and the batch's section table marks the row needs_review with the reason; the
same for a strip of garbage bytes in a bright-field file. (The checks themselves are tested on
arrays in tests/core/test_qc.py.)"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.io import write_section_tiff
from ienfd.parallel._batch import input_records
from ienfd.synthetic import SectionSpec, generate_section, random_spec
from ienfd.workflow import (
    InputPlan,
    InputRow,
    decided_runs,
    default_pipeline,
    finish_batch,
    plan_jobs,
    run_sections,
    settle_entries,
)

PIXEL_UM = 0.7
REASON = "failed PGP 9.5 stain or wrong channel?"


@pytest.fixture(scope="module")
def failed_stains(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The same fluorescence section with its PGP 9.5 channel all zeros, then constant."""
    spec = SectionSpec(
        modality="fluorescence", length_um=400, pixel_size_um=PIXEL_UM, noise=0.01, seed=5
    )
    section = generate_section(spec)
    folder = tmp_path_factory.mktemp("stain")
    paths = []
    for name, value in (("zeros", 0), ("constant", 120)):
        image = np.asarray(section.image).copy()
        image[0] = value
        path = folder / f"{name}.ome.tif"
        write_section_tiff(
            path,
            image,
            pixel_size_um=PIXEL_UM,
            kind="ome",
            channel_names=section.channel_names,
        )
        paths.append(path)
    return paths


def test_analyze_prints_review_for_a_failed_stain(
    failed_stains: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["analyze", *map(str, failed_stains), "--out", str(out), "--no-overlay"])
    printed = capsys.readouterr().out
    assert code == 0  # a result to look at, not a failure
    for path in failed_stains:
        line = next(line for line in printed.splitlines() if line.startswith(str(path)))
        assert "review" in line and " ok " not in f" {line} ", line
        record = json.loads((out / f"{path.name.removesuffix('.ome.tif')}.json").read_text())
        assert record["count"] == 0 and record["needs_review"] is True
        assert any(REASON in r for r in record["qc_reasons"]), record["qc_reasons"]


def test_the_batch_table_marks_a_failed_stain_for_review(
    failed_stains: list[Path], tmp_path: Path
) -> None:
    rows = [
        InputRow(str(p), str(p), patient_id="P1", site="distal_leg", section=str(i))
        for i, p in enumerate(failed_stains, start=1)
    ]
    plans = [InputPlan(r, hashlib.sha256(Path(r.path).read_bytes()).hexdigest(), 1) for r in rows]
    out = tmp_path / "out"
    out.mkdir()
    pipeline = default_pipeline()
    plan = plan_jobs(plans, out, pipeline=pipeline, overlay=False)
    runs = run_sections(plan.jobs, decided=decided_runs(plan))
    report = finish_batch(
        settle_entries(plan, runs),
        out,
        pipeline=pipeline,
        extra_sites=(),
        run={"inputs": input_records(plan, runs)},
    )
    table = pd.read_csv(report.sections_csv, dtype=str, keep_default_na=False)
    assert table["status"].tolist() == ["ok", "ok"]  # analysed, and flagged
    assert table["needs_review"].tolist() == ["True", "True"]
    assert all(REASON in reasons for reasons in table["qc_reasons"])
    assert report.n_need_review == 2


def test_analyze_prints_review_for_a_strip_of_garbage_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = random_spec(1003)
    image = np.asarray(generate_section(spec).image).copy()
    start = image.shape[0] // 3
    image[start : start + 200] = np.random.default_rng(0).integers(
        0, 256, image[start : start + 200].shape
    )
    path = tmp_path / "garbage.tif"
    write_section_tiff(path, image, pixel_size_um=spec.pixel_size_um, kind="tiff")
    out = tmp_path / "out"
    assert main(["analyze", str(path), "--out", str(out), "--no-overlay"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(str(path)))
    assert "review" in line, line
    record = json.loads((out / "garbage.json").read_text())
    assert record["needs_review"] is True
    assert any("corrupt pixels" in r for r in record["qc_reasons"]), record["qc_reasons"]
