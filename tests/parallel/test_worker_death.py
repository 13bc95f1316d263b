"""A worker killed mid-task does not lose its section: dask runs it again elsewhere."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ienfd.parallel import BatchReport, batch_client, run_batch
from ienfd.workflow import collect_inputs, default_pipeline
from tests.parallel.conftest import write_good_sections

pytestmark = [pytest.mark.dask, pytest.mark.slow]


def test_section_survives_its_worker_being_killed(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    write_good_sections(inputs)
    rows = collect_inputs(str(inputs))
    with batch_client(workers=2) as client:
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
                if any(str(k).startswith("section-") for k in keys):
                    victim = address
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
    assert report.n_failed == 0
    assert report.n_analysed == 3
    assert len(list((tmp_path / "out").glob("*.overlay.png"))) == 3
