"""``ienfd batch FOLDER`` names every entry it passed over (dangling link, FIFO, a folder named
like an image), on stderr and in run.json; an unreadable image is a failed input, not a skip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from ienfd.cli import main

pytestmark = [pytest.mark.dask, pytest.mark.slow]


def _batch(args: list[str], client: object) -> int:
    address = client.scheduler.address  # type: ignore[attr-defined]
    return main(["batch", *args, "--scheduler", address, "--no-overlay"])


def test_folder_batch_lists_what_it_skipped(
    section_folder: Path, client: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "leg_a.tif").write_bytes((section_folder / "leg_a.tif").read_bytes())
    os.symlink(inputs / "moved_away.tif", inputs / "dangling.tif")
    os.mkfifo(inputs / "pipe.ome.tif")
    (inputs / "x.tif").mkdir()
    out = tmp_path / "out"
    capsys.readouterr()
    assert _batch([str(inputs), "--out", str(out)], client) == 0  # skips are not failures
    printed = capsys.readouterr()
    assert f"ienfd batch: skipped {inputs / 'dangling.tif'}: a symbolic link to" in printed.err
    assert f"ienfd batch: skipped {inputs / 'pipe.ome.tif'}: a named pipe (FIFO)" in printed.err
    assert f"ienfd batch: skipped {inputs / 'x.tif'}: a folder named like an image" in printed.err
    assert "3 folder entries named like images skipped" in printed.out
    run = json.loads((out / "run.json").read_text())
    assert [(e["path"], e["reason"].split(",")[0]) for e in run["skipped_inputs"]] == [
        (str(inputs / "dangling.tif"), f"a symbolic link to {inputs / 'moved_away.tif'}"),
        (str(inputs / "pipe.ome.tif"), "a named pipe (FIFO)"),
        (str(inputs / "x.tif"), "a folder named like an image"),
    ]
    assert [Path(i["image"]).name for i in run["inputs"]] == ["leg_a.tif"]
    assert pd.read_csv(out / "sections.csv")["status"].tolist() == ["ok"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_image_is_a_failed_input_naming_the_permission(
    section_folder: Path, client: object, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    closed = inputs / "closed.tif"
    closed.write_bytes((section_folder / "leg_a.tif").read_bytes())
    closed.chmod(0)
    out = tmp_path / "out"
    try:
        assert _batch([str(inputs), "--out", str(out), "-q"], client) == 1
    finally:
        closed.chmod(0o644)
    run = json.loads((out / "run.json").read_text())
    assert "Permission denied" in run["inputs"][0]["error"]
    assert run["skipped_inputs"] == []
