"""``ienfd info``: what ienfd sees in files of each format, on real files, before any analysis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ienfd.cli import main
from tests.io._formats import write_czi, write_png, write_svs
from tests.io._tiffs import brightfield_rgb, fluorescence_channels


def test_info_lists_scenes_channels_and_pixel_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    czi = write_czi(
        tmp_path / "if.czi",
        fluorescence_channels(2),
        pixel_um=0.4,
        channel_names=["PGP9.5", "ColIV"],
        scenes=2,
    )
    png = write_png(tmp_path / "cam.png", brightfield_rgb())
    assert main(["info", str(czi), str(png)]) == 0
    out = capsys.readouterr().out
    assert f"{czi} [scene 0]" in out and f"{czi} [scene 1]" in out
    assert "0 'PGP9.5', 1 'ColIV'" in out
    assert "0.4 x 0.4 µm (rows x cols), from czi-scaling" in out
    assert "format      PNG" in out
    assert "pixel size  none in the file: give it (--pixel-size UM)" in out
    assert "modality    brightfield" in out


def test_info_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rgb = np.tile(brightfield_rgb(), (3, 3, 1))
    svs = write_svs(tmp_path / "slide.svs", rgb, 0.25, compression="zlib")
    assert main(["info", "--json", str(svs)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    item = json.loads(line)
    assert item["format"] == "Aperio SVS"
    assert item["pixel_size_um"] == [0.25, 0.25] and item["pixel_size_source"] == "aperio-mpp"
    assert item["levels"][0] == list(rgb.shape) and len(item["levels"]) >= 2
    assert item["modality"] == "brightfield"


def test_info_error_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.czi"
    bad.write_bytes(b"not a czi")
    good = write_png(tmp_path / "ok.png", brightfield_rgb())
    assert main(["info", str(bad), str(good)]) == 1
    captured = capsys.readouterr()
    assert f"ienfd info: error: {bad}: not a CZI file" in captured.err
    assert str(good) in captured.out  # the other files are still described
