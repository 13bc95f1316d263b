"""A batch killed midway (SIGKILL to the whole process group) and resumed gives the same
table as an uninterrupted run, redoing only what was not finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.io import write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section
from ienfd.workflow import SECTION_COLUMNS
from tests.parallel.conftest import PIXEL_UM, write_good_sections

pytestmark = [pytest.mark.dask, pytest.mark.slow]


def _results(out: Path) -> list[Path]:
    return [p for p in out.glob("*.json") if p.name != "run.json"]


def test_killed_run_resumes_to_the_uninterrupted_table(
    tmp_path: Path, client: object, section_folder: Path
) -> None:
    inputs = tmp_path / "in"
    write_good_sections(inputs)
    for seed in (21, 22, 23):  # 6 sections in all, each its own image (copies count once)
        modality = "fluorescence" if seed == 23 else "brightfield"
        spec = SectionSpec(
            modality=modality, length_um=400, pixel_size_um=PIXEL_UM, noise=0.01, seed=seed
        )
        section = generate_section(spec)
        write_section_tiff(
            inputs / f"more_{seed}.ome.tif",
            section.image,
            pixel_size_um=PIXEL_UM,
            kind="ome",
            channel_names=section.channel_names if modality == "fluorescence" else None,
        )
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ienfd.cli",
            "batch",
            str(inputs),
            "--out",
            str(killed),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: scheduler, nanny and worker die too
    )
    try:
        deadline = time.monotonic() + 120
        while not _results(killed) and time.monotonic() < deadline:
            assert proc.poll() is None, "the batch ended before it could be killed"
            time.sleep(0.05)
        assert _results(killed), "no result within 120 s"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    n_done = len(_results(killed))
    assert 1 <= n_done < 6
    assert not (killed / "sections.csv").exists()  # the tables come at the end only
    for result in _results(killed):  # every result left behind is whole
        json.loads(result.read_text())

    address = client.scheduler.address  # type: ignore[attr-defined]
    assert main(["batch", str(inputs), "--out", str(killed), "--scheduler", address, "-q"]) == 0
    resumed = pd.read_csv(killed / "sections.csv")
    assert resumed["skipped"].sum() == n_done  # only the unfinished ones were analysed

    whole = tmp_path / "whole"
    assert main(["batch", str(inputs), "--out", str(whole), "--scheduler", address, "-q"]) == 0
    uninterrupted = pd.read_csv(whole / "sections.csv")
    columns = [c for c in SECTION_COLUMNS if c != "skipped"]
    pd.testing.assert_frame_equal(resumed[columns], uninterrupted[columns])
    for result in _results(whole):
        a = json.loads(result.read_text())
        b = json.loads((killed / result.name).read_text())
        a.pop("elapsed_s"), b.pop("elapsed_s")
        assert a == b
    assert not list(killed.glob(".*.tmp"))  # half-written temporaries of the kill removed
