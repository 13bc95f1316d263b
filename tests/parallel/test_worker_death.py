"""A worker killed mid-task does not lose its section: dask runs it again elsewhere, or,
when the scheduler gives up on it, the section is reported as an error row."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import dask
import distributed  # noqa: F401  (its config defaults must be loaded before dask.config.set)
import pytest

from ienfd.parallel import BatchReport, batch_client, run_batch
from ienfd.workflow import collect_inputs, default_pipeline
from tests.parallel.conftest import write_good_sections

pytestmark = [pytest.mark.dask, pytest.mark.slow]


@pytest.mark.parametrize("allowed_failures", [3, 0])
def test_section_whose_worker_is_killed(tmp_path: Path, allowed_failures: int) -> None:
    inputs = tmp_path / "in"
    write_good_sections(inputs)
    rows = collect_inputs(str(inputs))
    # the LocalCluster's scheduler runs in this process and reads this setting
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}),
        batch_client(workers=2) as client,
    ):
        pids = client.run(os.getpid)  # worker address -> pid
        result: list[BatchReport] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                result.append(
                    run_batch(rows, tmp_path / "out", client=client, pipeline=default_pipeline())
                )
            except BaseException as exc:  # re-raised in the test thread below
                errors.append(exc)

        thread = threading.Thread(target=work)
        thread.start()
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            for address, keys in client.processing().items():
                running = [str(k) for k in keys if str(k).startswith("section-")]
                if running:
                    victim, key = address, running[0]
                    break
            time.sleep(0.01)
        assert victim is not None, "no section task seen running"
        os.kill(pids[victim], signal.SIGKILL)
        thread.join(timeout=180)
        assert not thread.is_alive()
        if errors:
            raise errors[0]
        client.wait_for_workers(2, timeout=60)
        assert pids[victim] not in client.run(os.getpid).values()  # it really died
    report = result[0]
    if allowed_failures:  # rerun on another worker: nothing lost
        assert report.n_failed == 0 and report.n_analysed == 3
        assert len(list((tmp_path / "out").glob("*.overlay.png"))) == 3
    else:  # the scheduler gives up at once: reported, never silently dropped
        # (every task the dead worker held, running or queued, counts as having killed it)
        assert report.n_failed >= 1 and report.n_failed + report.n_analysed == 3
        stem = key.split("-", 1)[1].rsplit("-", 1)[0]
        failed = {
            f["error"].split("the worker analysing ")[1].split(" died")[0] for f in report.failures
        }
        assert stem in failed
        for failure in report.failures:
            assert failure["image"].endswith(".tif") and "died" in failure["error"]
        for name in failed:
            assert not (tmp_path / "out" / f"{name}.json").exists()
