"""Running section jobs: one error path, events as sections finish, runs in job order."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from ienfd.core import AnalysisParameters
from ienfd.workflow import (
    ReaderOptions,
    Region,
    SectionEvent,
    SectionJob,
    SectionRun,
    analysis_jobs,
    attempt_section,
    read_parameters,
    read_pipeline,
    run_sections,
    serial_runner,
)


def test_a_good_section_runs_ok_and_writes_its_result(section_file: Path, tmp_path: Path) -> None:
    (job,) = analysis_jobs([str(section_file)], tmp_path, overlay=False)
    run = attempt_section(job)
    assert run.status == "ok" and run.error == "" and run.traceback == ""
    assert run.record is not None
    assert json.loads(job.json_path.read_text(encoding="utf-8"))["count"] == run.record["count"]
    assert run.quality.checked


def test_an_unreadable_file_is_an_error_naming_it_and_removes_a_stale_result(
    corrupt_file: Path, tmp_path: Path
) -> None:
    (job,) = analysis_jobs([str(corrupt_file)], tmp_path)
    job.json_path.write_text('{"count": 99}', encoding="utf-8")  # left by an earlier run
    job.overlay_path.write_bytes(b"png")
    run = attempt_section(job)
    assert run.status == "error" and run.record is None
    assert run.error.startswith(f"{corrupt_file}: ")
    assert run.error_type == "ImageReadError" and run.traceback == ""
    assert run.removed == (job.json_path, job.overlay_path)
    assert not job.json_path.exists() and not job.overlay_path.exists()
    with pytest.raises(ValueError, match="no result to check"):
        run.quality  # noqa: B018


def test_a_section_of_a_slide_is_named_with_its_number(corrupt_file: Path, tmp_path: Path) -> None:
    (job,) = analysis_jobs([str(corrupt_file)], tmp_path)
    run = attempt_section(replace(job, region=Region(2, 0, 0, 10, 10), slide_shape=(50, 50)))
    assert run.error.startswith(f"{corrupt_file} section 2: ")


def test_a_bug_is_an_error_with_its_traceback(section_file: Path, tmp_path: Path) -> None:
    (job,) = analysis_jobs([str(section_file)], tmp_path)

    def load(job: SectionJob) -> object:
        raise KeyError("no such key")  # stands for a bug anywhere below the loader

    run = attempt_section(job, load)  # type: ignore[arg-type]
    assert run.status == "error" and run.error_type == "KeyError"
    assert run.error == f"{section_file}: unexpected KeyError: 'no such key' (please report this)"
    assert "Traceback" in run.traceback and "no such key" in run.traceback


def test_run_sections_reports_each_and_returns_runs_in_job_order(
    section_file: Path, corrupt_file: Path, tmp_path: Path
) -> None:
    jobs = analysis_jobs([str(corrupt_file), str(section_file)], tmp_path, overlay=False)
    events: list[SectionEvent] = []
    runs = run_sections(jobs, events.append)
    assert [r.status for r in runs] == ["error", "ok"]
    assert [(e.done, e.total, e.index) for e in events] == [(1, 2, 0), (2, 2, 1)]
    assert [e.run for e in events] == runs


def test_decided_runs_are_reported_first_and_not_run(corrupt_file: Path, tmp_path: Path) -> None:
    jobs = analysis_jobs([str(corrupt_file), "never_read.tif"], tmp_path)
    skipped = SectionRun(jobs[1], "skipped")
    seen: list[SectionJob] = []

    def runner(todo: Sequence[SectionJob]) -> Iterator[tuple[int, SectionRun]]:
        seen.extend(todo)
        yield from serial_runner(todo)

    events: list[SectionEvent] = []
    runs = run_sections(jobs, events.append, runner=runner, decided=[None, skipped])
    assert seen == [jobs[0]]
    assert [e.index for e in events] == [1, 0]
    assert runs[1] is skipped and runs[0].status == "error"


def test_a_runner_may_finish_jobs_in_any_order(tmp_path: Path) -> None:
    jobs = analysis_jobs(["a.tif", "b.tif", "c.tif"], tmp_path)

    def backwards(todo: Sequence[SectionJob]) -> Iterator[tuple[int, SectionRun]]:
        for k in reversed(range(len(todo))):
            yield k, SectionRun(todo[k], "skipped")

    events: list[SectionEvent] = []
    runs = run_sections(jobs, events.append, runner=backwards)
    assert [e.index for e in events] == [2, 1, 0] and [e.done for e in events] == [1, 2, 3]
    assert [r.job.stem for r in runs] == ["a", "b", "c"]


def test_run_sections_refuses_a_runner_that_drops_a_job_or_a_wrong_decided(
    tmp_path: Path,
) -> None:
    jobs = analysis_jobs(["a.tif", "b.tif"], tmp_path)
    with pytest.raises(RuntimeError, match=r"no result for \['b'\]"):
        run_sections(jobs, runner=lambda todo: [(0, SectionRun(todo[0], "skipped"))])
    with pytest.raises(ValueError, match="decided has 1 entries"):
        run_sections(jobs, decided=[None])


def test_analysis_jobs_build_one_job_per_image(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    reader = ReaderOptions(pixel_size_um=0.5)
    params = AnalysisParameters(dermal_band_um=40.0)
    jobs = analysis_jobs(
        ["p/x.tif", "q/x.ome.tif", "y.tif"],
        out,
        reader=reader,
        parameters=params,
        length_basis="surface",
        overlay=False,
        consistency=True,
    )
    assert out.is_dir()
    assert [j.stem for j in jobs] == ["x__p", "x__q", "y"]
    assert all(j.image == j.path for j in jobs)
    assert {(j.reader, j.parameters, j.length_basis, j.overlay, j.consistency) for j in jobs} == {
        (reader, params, "surface", False, True)
    }
    with pytest.raises(TypeError, match="AnalysisParameters"):
        analysis_jobs(["y.tif"], out, parameters={"dermal_band_um": 1})  # type: ignore[arg-type]


def test_read_parameters_takes_some_values_or_a_result_or_pipeline(tmp_path: Path) -> None:
    some = tmp_path / "some.json"
    some.write_text('{"dermal_band_um": 40.0}', encoding="utf-8")
    assert read_parameters(some) == AnalysisParameters(dermal_band_um=40.0)
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"count": 3, "parameters": {"dermal_band_um": 35.0}}))
    assert read_parameters(result).dermal_band_um == 35.0
    pipeline = Path(__file__).resolve().parents[2] / "pipelines" / "brightfield_pgp95.json"
    assert read_parameters(pipeline) == read_pipeline(pipeline).parameters


@pytest.mark.parametrize(
    ("content", "error", "match"),
    [
        ("[1, 2]", ValueError, "expected a JSON object of parameters, got list"),
        ("{", ValueError, "Expecting"),
        ('{"no_such_parameter": 1}', ValueError, "no_such_parameter"),
    ],
)
def test_read_parameters_refuses(
    tmp_path: Path, content: str, error: type[Exception], match: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(error, match=match):
        read_parameters(path)
