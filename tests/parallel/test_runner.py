"""The dask runner gives ``run_sections`` the same runs as the serial one, on a real cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ienfd.parallel import cluster_runner
from ienfd.workflow import SectionEvent, SectionRun, analysis_jobs, run_sections

pytestmark = [pytest.mark.dask, pytest.mark.slow]


def _stable(run: SectionRun) -> tuple[Any, ...]:
    """What a run says, without the time it took or where it was written."""
    record = None
    if run.record is not None:
        record = {k: v for k, v in run.record.items() if k not in ("elapsed_s", "overlay")}
    return (run.job.stem, run.status, record, run.notes, run.error, run.error_type)


def test_cluster_runs_equal_serial_runs(section_folder: Path, client: Any, tmp_path: Path) -> None:
    images = [
        str(section_folder / name)
        for name in ("leg_a.tif", "corrupt.tif", "thigh_c.ome.tif", "no_pixel_size.tif")
    ]
    serial = run_sections(analysis_jobs(images, tmp_path / "serial", overlay=False))
    events: list[SectionEvent] = []
    jobs = analysis_jobs(images, tmp_path / "cluster", overlay=False)
    parallel = run_sections(jobs, events.append, runner=cluster_runner(client, {}))
    assert [r.status for r in parallel] == ["ok", "error", "ok", "error"]
    assert [_stable(r) for r in parallel] == [_stable(r) for r in serial]
    assert sorted(e.index for e in events) == [0, 1, 2, 3]
    assert [e.done for e in events] == [1, 2, 3, 4]
    for run in parallel:  # each written where its job says, by a worker
        assert run.job.json_path.exists() == (run.status == "ok")
