"""``ienfd analyze`` on the formats beyond TIFF, run as a user runs it: a PNG with
``--pixel-size``, an OME-Zarr folder, and ``--scene`` picking one image of a multi-scene file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
import tifffile

from ienfd.io import write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section
from tests.io._formats import write_czi, write_ome_zarr, write_png

from ._run import run_ienfd

PIXEL_UM = 0.6

pytestmark = pytest.mark.slow  # each test runs the command line a few times


def _section(
    modality: Literal["brightfield", "fluorescence"], seed: int, length_um: float
) -> np.ndarray:
    spec = SectionSpec(
        modality=modality, length_um=length_um, pixel_size_um=PIXEL_UM, noise=0.01, seed=seed
    )
    return np.asarray(generate_section(spec).image)


def _record(out: Path, stem: str) -> dict[str, Any]:
    return json.loads((out / f"{stem}.json").read_text())


def _same_analysis(a: dict[str, Any], b: dict[str, Any]) -> None:
    for key in ("modality", "pixel_size_um", "count", "dej_length_um", "image_shape"):
        assert a[key] == b[key], key


@pytest.fixture(scope="module")
def fluorescence() -> tuple[np.ndarray, np.ndarray]:
    """Two different (C, Y, X) sections: another seed and length, so another shape."""
    return _section("fluorescence", 3, 250), _section("fluorescence", 4, 320)


def test_analyze_a_png_with_pixel_size(tmp_path: Path) -> None:
    rgb = _section("brightfield", 3, 250)
    png = write_png(tmp_path / "camera.png", rgb)
    tif = tmp_path / "camera_tiff.tif"
    write_section_tiff(tif, rgb, pixel_size_um=PIXEL_UM, kind="tiff")

    done = run_ienfd("analyze", png, "--pixel-size", str(PIXEL_UM), "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    record = _record(tmp_path / "out", "camera")
    assert record["image"] == str(png) and record["pixel_size_source"] == "user"
    assert (tmp_path / "out" / "camera.overlay.png").is_file()
    assert str(png) in done.stdout

    ref = run_ienfd("analyze", tif, "--out", tmp_path / "ref", "--no-overlay", "-q")
    assert ref.returncode == 0, ref.stderr
    _same_analysis(record, _record(tmp_path / "ref", "camera_tiff"))  # PNG is lossless

    bare = run_ienfd("analyze", png, "--out", tmp_path / "bare", "-q")
    assert bare.returncode == 1
    assert "camera.png" in bare.stderr and "--pixel-size UM" in bare.stderr
    assert not (tmp_path / "bare" / "camera.json").exists()


def test_analyze_an_ome_zarr_folder(
    tmp_path: Path, fluorescence: tuple[np.ndarray, np.ndarray]
) -> None:
    zarr = write_ome_zarr(
        tmp_path / "stack.ome.zarr", fluorescence[0], pixel_um=PIXEL_UM, labels=["PGP9.5", "ColIV"]
    )
    done = run_ienfd("analyze", zarr, "--out", tmp_path / "out", "--no-overlay")
    assert done.returncode == 0, done.stderr
    record = _record(tmp_path / "out", "stack")  # the stem drops .ome.zarr
    assert record["modality"] == "fluorescence" and record["pixel_size_source"] == "ome-zarr"
    assert record["pixel_size_um"] == pytest.approx(PIXEL_UM)
    assert record["channels"]["names"] == ["PGP9.5", "ColIV"]


def test_scene_picks_one_image_of_an_ome_tiff(
    tmp_path: Path, fluorescence: tuple[np.ndarray, np.ndarray]
) -> None:
    first, second = fluorescence
    both = tmp_path / "two.ome.tif"
    with tifffile.TiffWriter(both, ome=True) as tif:
        for name, data in (("leg", first), ("thigh", second)):
            tif.write(
                data,
                metadata={
                    "axes": "CYX",
                    "Name": name,
                    "PhysicalSizeX": PIXEL_UM,
                    "PhysicalSizeY": PIXEL_UM,
                    "Channel": {"Name": ["PGP9.5", "ColIV"]},
                },
            )
    alone = tmp_path / "thigh_alone.tif"
    write_section_tiff(alone, second, pixel_size_um=PIXEL_UM, kind="ome")
    ref = run_ienfd("analyze", alone, "--out", tmp_path / "ref", "--no-overlay", "-q")
    assert ref.returncode == 0, ref.stderr
    thigh = _record(tmp_path / "ref", "thigh_alone")

    runs = {}
    for label, extra in (("name", ["--scene", "thigh"]), ("index", ["--scene", "1"]), ("none", [])):
        out = tmp_path / label
        done = run_ienfd("analyze", both, "--out", out, "--no-overlay", "-q", *extra)
        assert done.returncode == 0, done.stderr
        runs[label] = _record(out, "two")
    _same_analysis(runs["name"], thigh)
    _same_analysis(runs["index"], thigh)
    assert runs["name"]["scene"] == runs["index"]["scene"] == "thigh"
    assert runs["none"]["image_shape"] == list(first.shape[1:]) != thigh["image_shape"]
    assert "scene" not in runs["none"]  # only written when one was asked for

    missing = run_ienfd("analyze", both, "--out", tmp_path / "bad", "--scene", "2", "-q")
    assert missing.returncode == 1
    assert "two.ome.tif" in missing.stderr and "scene 2" in missing.stderr
    empty = run_ienfd("analyze", both, "--out", tmp_path / "bad", "--scene", " ")
    assert empty.returncode == 2 and "--scene" in empty.stderr


def test_scene_of_a_czi(tmp_path: Path, fluorescence: tuple[np.ndarray, np.ndarray]) -> None:
    czi = write_czi(
        tmp_path / "two.czi",
        fluorescence[0],
        pixel_um=PIXEL_UM,
        channel_names=["PGP9.5", "ColIV"],
        scenes=2,
    )
    done = run_ienfd("analyze", czi, "--scene", "1", "--out", tmp_path / "out", "--no-overlay")
    assert done.returncode == 0, done.stderr
    record = _record(tmp_path / "out", "two")
    assert record["scene"] and record["pixel_size_source"] == "czi-scaling"
    assert record["image_shape"] == list(fluorescence[0].shape[1:])


@pytest.mark.dask
def test_batch_finds_png_and_czi_and_keys_the_scene(
    tmp_path: Path, fluorescence: tuple[np.ndarray, np.ndarray]
) -> None:
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    write_png(inputs / "cam.png", _section("brightfield", 3, 250))
    names = ["PGP9.5", "ColIV"]
    write_czi(inputs / "two.czi", fluorescence[0], pixel_um=PIXEL_UM, channel_names=names, scenes=2)
    batch = ("batch", inputs, "--out", out, "--pixel-size", str(PIXEL_UM), "--workers", "1")

    first = run_ienfd(*batch, "--no-overlay")
    assert first.returncode == 0, first.stderr
    # Each scene of the two-scene CZI is a section of its own.
    assert sorted(p.name for p in out.glob("*.json")) == [
        "cam.json",
        "run.json",
        "two_scene01.json",
        "two_scene02.json",
    ]
    scenes = [_record(out, f"two_scene0{k}") for k in (1, 2)]
    assert [r["reader_options"]["scene"] for r in scenes] == [0, 1]
    assert scenes[0]["section"] == "scene1" and scenes[1]["section"] == "scene2"
    assert scenes[0]["batch_key"] != scenes[1]["batch_key"]
    run = json.loads((out / "run.json").read_text())
    assert [i.get("scene") for i in run["inputs"] if i["image"].endswith("two.czi")] == [0, 1]

    (inputs / "cam.png").unlink()
    again = run_ienfd(*batch, "--no-overlay")
    assert again.returncode == 0
    assert again.stdout.count("skipped (done earlier") == 2, again.stdout
    other = run_ienfd(*batch, "--no-overlay", "--scene", "1")
    assert other.returncode == 0, other.stderr
    assert "two.czi  ok" in other.stdout  # one scene asked for: the file's own stem
    record = _record(out, "two")
    assert record["scene"] and record["reader_options"]["scene"] == 1
