"""A real ``ienfd batch --workers 2`` ends without tracebacks from the cluster's shutdown."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


def test_batch_on_two_workers_prints_no_traceback(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for name in ("brightfield_sg.ome.tif", "fluorescence.ome.tif", "brightfield_dab_rot42.tif"):
        shutil.copy(SAMPLES / name, images / name)
    code = "import sys; from ienfd.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["batch", str(images), "--out", str(tmp_path / "out"), "--workers", "2"]
    # The workers are processes of their own: their stderr is this process's, as in a shell.
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "3 of 3 section(s) done" in done.stdout
    assert "Traceback" not in done.stderr
    assert "distributed." not in done.stderr  # no log line of the cluster's at all
