"""``ienfd synth``: files, metadata and truth written through the io writers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tifffile

from ienfd.cli import main


def test_synth_writes_sections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["synth", str(tmp_path), "--n", "3", "--seed", "4", "--kind", "mixed"]
    args += ["--length", "200", "--pixel-size", "0.6"]
    assert main(args) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 6  # one line per file
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "synth_000.ome.tif",
        "synth_000.truth.json",
        "synth_001.tif",
        "synth_001.truth.json",
        "synth_002.tif",
        "synth_002.truth.json",
    ]
    for stem, image in (("synth_000", "synth_000.ome.tif"), ("synth_002", "synth_002.tif")):
        truth = json.loads((tmp_path / f"{stem}.truth.json").read_text())
        assert truth["image"] == image
        assert truth["count"] == len(truth["crossings"])
        assert truth["pixel_size_um"] == 0.6
        with tifffile.TiffFile(tmp_path / image) as tif:
            shape = tif.series[0].shape
            plane = shape[:2] if truth["modality"] == "brightfield" else shape[1:]
            assert list(plane) == truth["shape"]
    with tifffile.TiffFile(tmp_path / "synth_002.tif") as tif:
        assert tif.is_imagej


def test_synth_same_seed_same_files(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        assert main(["synth", str(tmp_path / sub), "--seed", "9", "--length", "150"]) == 0
    a = json.loads((tmp_path / "a" / "synth.truth.json").read_text())
    b = json.loads((tmp_path / "b" / "synth.truth.json").read_text())
    assert a == b


def test_synth_bad_pixel_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", str(tmp_path), "--pixel-size", "5"]) == 2
    assert "pixel_size_um" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_synth_set_overrides(tmp_path: Path) -> None:
    args = ["synth", str(tmp_path / "o"), "--length", "200", "--set", "noise=0.001"]
    args += ["--set", "modality=fluorescence", "--set", "membrane_strength=0"]
    assert main(args) == 0
    truth = json.loads((tmp_path / "o" / "synth.truth.json").read_text())
    assert truth["spec"]["noise"] == 0.001
    assert truth["modality"] == "fluorescence"
    assert truth["spec"]["membrane_strength"] == 0


@pytest.mark.parametrize("bad", ["noise", "colour=red", "noise=9"])
def test_synth_bad_set(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", str(tmp_path / "o"), "--set", bad]) == 2
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_synth_appearance_through_set(tmp_path: Path) -> None:
    args = ["synth", str(tmp_path / "s"), "--n", "2", "--seed", "3", "--length", "200"]
    args += ["--pixel-size", "0.7", "--set", "appearance=stress"]
    assert main(args) == 0
    for i in range(2):
        truth = json.loads((tmp_path / "s" / f"synth_00{i}.truth.json").read_text())
        assert truth["appearance"]["stress_factors"]
    bad = ["synth", str(tmp_path / "b"), "--set", "appearance=extreme"]
    assert main(bad) == 2
    assert not (tmp_path / "b").exists()
