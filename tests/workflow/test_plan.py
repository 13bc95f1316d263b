"""Batch planning without a cluster: inputs to sections to jobs, their keys and resume rules."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ienfd.core import AnalysisParameters
from ienfd.workflow import (
    BatchPlan,
    InputPlan,
    InputRow,
    ReaderOptions,
    Region,
    SectionRun,
    attempt_section,
    decided_runs,
    default_pipeline,
    is_done,
    job_key,
    plan_jobs,
    settle_entries,
)

SHA = "a" * 64


def _sha(image: str) -> str:
    """A made-up hash of its own for each image (one hash twice is one image twice)."""
    return hashlib.sha256(image.encode()).hexdigest()


def _row(image: str, **kw: object) -> InputRow:
    return InputRow(image=image, path=image, **kw)


def _slide(image: str, n: int, **kw: object) -> InputPlan:
    regions = tuple(Region(i, 100 * i, 0, 100 * i + 50, 80) for i in range(1, n + 1))
    return InputPlan(_row(image, **kw), _sha(image), 10, slide_shape=(1000, 800), regions=regions)


def test_one_section_per_file_and_one_per_region_of_a_slide(tmp_path: Path) -> None:
    plans = [
        InputPlan(_row("a/leg.tif", section="1"), SHA, 10),
        _slide("b/slide.ome.tif", 3, section="2"),
        _slide("c/single.tif", 1, section="4"),
    ]
    plan = plan_jobs(plans, tmp_path, pipeline=default_pipeline())
    stems = [s.entry.stem for s in plan.sections]
    assert stems == ["leg", "slide_s01", "slide_s02", "slide_s03", "single_s01"]
    assert [s.entry.section for s in plan.sections] == ["1", "2.1", "2.2", "2.3", "4"]
    assert [s.input_index for s in plan.sections] == [0, 1, 1, 1, 2]
    assert [s.action for s in plan.sections] == ["run"] * 5
    assert (plan.count("run"), plan.count("skip"), plan.count("error")) == (5, 0, 0)
    regions = [s.job.region for s in plan.sections]
    assert regions[0] is None and [r.index for r in regions[1:4]] == [1, 2, 3]
    assert plan.sections[1].job.slide_shape == (1000, 800)
    assert [s.job.json_path for s in plan.sections] == [tmp_path / f"{s}.json" for s in stems]
    assert plan.inputs[1] == {
        "image": "b/slide.ome.tif",
        "sha256": _sha("b/slide.ome.tif"),
        "size_bytes": 10,
        "sections": 3,
        "whole_slide": True,
        "error": None,
    }


def test_sections_of_a_slide_without_a_section_label_are_numbered(tmp_path: Path) -> None:
    plan = plan_jobs([_slide("s.tif", 2)], tmp_path, pipeline=default_pipeline())
    assert [s.entry.section for s in plan.sections] == ["1", "2"]
    assert [s.entry.section_index for s in plan.sections] == [1, 2]


def test_inputs_sharing_a_name_get_distinct_stems(tmp_path: Path) -> None:
    plans = [InputPlan(_row(f"{d}/x.tif"), _sha(d)) for d in ("p1", "p2")]
    plan = plan_jobs(plans, tmp_path, pipeline=default_pipeline())
    assert [s.job.stem for s in plan.sections] == ["x__p1", "x__p2"]


def test_an_input_that_could_not_be_planned_is_one_error_section(tmp_path: Path) -> None:
    plans = [InputPlan(_row("bad.tif", patient_id="P1"), error="bad.tif: not a TIFF")]
    plan = plan_jobs(plans, tmp_path, pipeline=default_pipeline())
    (section,) = plan.sections
    assert section.action == "error" and section.error == "bad.tif: not a TIFF"
    assert section.entry.patient_id == "P1" and section.job.stem == "bad"
    assert plan.inputs[0]["error"] == "bad.tif: not a TIFF"
    assert plan.inputs[0]["sha256"] is None


def test_jobs_carry_the_pipeline_reader_and_provenance(tmp_path: Path) -> None:
    pipeline = replace(
        default_pipeline(), modality="fluorescence", length_basis="surface", overlay=False
    )
    row = _row("f.tif", patient_id="P7", site="distal_leg", section="3", pixel_size_um=0.5)
    plan = plan_jobs(
        [InputPlan(row, SHA)],
        tmp_path,
        pipeline=pipeline,
        reader=ReaderOptions(pixel_size_um=0.4, fibre_channel="PGP"),
        consistency=True,
    )
    job = plan.jobs[0]
    # the manifest's pixel size wins over the default; the modality is the pipeline's
    assert job.reader == ReaderOptions("fluorescence", 0.5, "PGP", None)
    assert job.length_basis == "surface" and job.overlay is False and job.consistency
    assert job.extra["batch_key"] == job_key(SHA, job)
    assert job.extra["patient_id"] == "P7" and job.extra["section"] == "3"
    assert job.extra["input_sha256"] == SHA
    assert job.extra["pipeline"] == pipeline.record()
    assert job.extra["reader_options"] == job.reader.to_dict()
    # an explicit overlay wins over the pipeline's
    drawn = plan_jobs([InputPlan(row, SHA)], tmp_path, pipeline=pipeline, overlay=True)
    assert drawn.jobs[0].overlay is True


def test_job_keys_change_with_what_changes_the_result(tmp_path: Path) -> None:
    (job,) = plan_jobs([InputPlan(_row("a.tif"), SHA)], tmp_path, pipeline=default_pipeline()).jobs
    key = job_key(SHA, job)
    assert key == job_key(SHA, replace(job, overlay=False, consistency=True, stem="other"))
    changed = [
        job_key("b" * 64, job),
        job_key(SHA, replace(job, parameters=AnalysisParameters(dermal_band_um=40.0))),
        job_key(SHA, replace(job, length_basis="surface")),
        job_key(SHA, replace(job, reader=ReaderOptions(pixel_size_um=0.3))),
        job_key(SHA, replace(job, region=Region(1, 0, 0, 10, 10))),
        job_key(SHA, replace(job, region=Region(2, 0, 0, 10, 10))),
    ]
    assert len({key, *changed}) == 1 + len(changed)


@pytest.fixture(scope="module")
def done_job(
    section_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, BatchPlan]:
    """A section analysed once through a plan, as a first batch run leaves it."""
    out = tmp_path_factory.mktemp("out")
    row = InputRow(image=section_file.name, path=str(section_file))
    plan = plan_jobs([InputPlan(row, SHA)], out, pipeline=default_pipeline())
    run = attempt_section(plan.jobs[0])
    assert run.status == "ok", run.error
    return out, plan


def _replan(out: Path, plan: BatchPlan, **kw: Any) -> str:
    """The action a second run over the same input decides on."""
    job = plan.jobs[0]
    again = plan_jobs(
        [InputPlan(InputRow(job.image, job.path), SHA)], out, pipeline=default_pipeline(), **kw
    )
    return again.sections[0].action


def test_a_section_done_for_the_same_key_is_skipped_unless_forced(
    done_job: tuple[Path, BatchPlan],
) -> None:
    out, plan = done_job
    assert is_done(plan.jobs[0])
    assert _replan(out, plan) == "skip"
    assert _replan(out, plan, force=True) == "run"
    assert _replan(out, plan, overlay=False) == "skip"  # an overlay too many is no reason


def test_a_result_without_the_consistency_runs_asked_for_is_not_done(
    done_job: tuple[Path, BatchPlan],
) -> None:
    out, plan = done_job
    assert _replan(out, plan, consistency=True) == "run"


def test_a_result_is_not_done_for_other_bytes_or_other_parameters(
    done_job: tuple[Path, BatchPlan],
) -> None:
    _, plan = done_job
    job = plan.jobs[0]
    assert not is_done(replace(job, extra={**job.extra, "batch_key": job_key("c" * 64, job)}))
    other = replace(job, parameters=AnalysisParameters(dermal_band_um=40.0))
    assert not is_done(replace(other, extra={**job.extra, "batch_key": job_key(SHA, other)}))


def test_a_result_whose_overlay_is_gone_or_without_checks_is_not_done(
    done_job: tuple[Path, BatchPlan], tmp_path: Path
) -> None:
    _, plan = done_job
    job = plan.jobs[0]
    copy = replace(job, out_dir=str(tmp_path))
    record = json.loads(job.json_path.read_text(encoding="utf-8"))
    copy.json_path.write_text(json.dumps(record), encoding="utf-8")
    assert not is_done(copy)  # its overlay is not in this folder
    assert is_done(replace(copy, overlay=False))
    unchecked = {k: v for k, v in record.items() if k not in ("needs_review", "qc_reasons", "qc")}
    copy.json_path.write_text(json.dumps(unchecked), encoding="utf-8")
    assert not is_done(replace(copy, overlay=False))  # an older ienfd's result
    copy.json_path.write_text("{not json", encoding="utf-8")
    assert not is_done(replace(copy, overlay=False))


def test_decided_runs_and_settled_entries(done_job: tuple[Path, BatchPlan]) -> None:
    out, plan = done_job
    first = plan.sections[0]
    plans = [
        InputPlan(InputRow(image=first.job.image, path=first.job.path), SHA),
        InputPlan(_row("bad.tif"), error="bad.tif: not a TIFF"),
        InputPlan(_row("new.tif"), _sha("new.tif")),
    ]
    batch = plan_jobs(plans, out, pipeline=default_pipeline())
    assert [s.action for s in batch.sections] == ["skip", "error", "run"]
    # the failed input's stale result lives in `out` under its stem
    (out / "bad.json").write_text("{}", encoding="utf-8")
    decided = decided_runs(batch)
    assert [None if d is None else d.status for d in decided] == ["skipped", "error", None]
    assert decided[1] is not None and decided[1].removed == (out / "bad.json",)
    assert not (out / "bad.json").exists()
    ran = SectionRun(batch.jobs[2], "error", error="new.tif: gone", error_type="OSError")
    assert decided[0] is not None
    entries = settle_entries(batch, [decided[0], decided[1], ran])
    assert [e.skipped for e in entries] == [True, False, False]
    assert [e.error for e in entries] == ["", "bad.tif: not a TIFF", "new.tif: gone"]
    with pytest.raises(ValueError, match="2 runs for 3 planned sections"):
        settle_entries(batch, [ran, ran])


def test_every_scene_of_a_multi_scene_file_is_a_section(tmp_path: Path) -> None:
    single = InputPlan(_row("a/one.tif", section="1"), SHA, 10)
    row = _row("a/two.czi", section="2")
    scenes = [replace(InputPlan(row, SHA, 10, n_scenes=3), scene=k) for k in range(3)]
    plan = plan_jobs([single, *scenes], tmp_path, pipeline=default_pipeline())
    assert [s.job.stem for s in plan.sections] == [
        "one",
        "two_scene01",
        "two_scene02",
        "two_scene03",
    ]
    assert [s.job.reader.scene for s in plan.sections] == [None, 0, 1, 2]
    assert [s.entry.section for s in plan.sections] == ["1", "2.scene1", "2.scene2", "2.scene3"]
    keys = {s.job.extra["batch_key"] for s in plan.sections}
    assert len(keys) == 4  # a scene is its own analysis
    assert [r.get("scene") for r in plan.inputs] == [None, 0, 1, 2]
