"""Writers: TIFF kinds round-trip through tifffile with their metadata; writes are atomic."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ienfd.io import _write as write_module
from ienfd.io import write_json, write_section_tiff

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (300, 280, 3), dtype=np.uint8)
FLUO = RNG.integers(0, 4096, (2, 300, 280), dtype=np.uint16)
OME_NS = "{http://www.openmicroscopy.org/Schemas/OME/2016-06}"


def _ome_pixels(path: Path) -> ET.Element:
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome
        xml = tif.ome_metadata
    assert xml is not None
    pixels = ET.fromstring(xml).find(f"{OME_NS}Image/{OME_NS}Pixels")
    assert pixels is not None
    return pixels


@pytest.mark.parametrize(("image", "axes"), [(RGB, "YXS"), (FLUO, "CYX")])
def test_ome_round_trip(tmp_path: Path, image: np.ndarray, axes: str) -> None:
    path = tmp_path / "a.ome.tif"
    names = ["PGP9.5", "ColIV"] if image.ndim == 3 and image.shape[0] == 2 else None
    write_section_tiff(path, image, pixel_size_um=0.42, kind="ome", channel_names=names)
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        assert series.axes == axes
        np.testing.assert_array_equal(series.asarray(), image)
    pixels = _ome_pixels(path)
    assert float(pixels.get("PhysicalSizeX", "nan")) == pytest.approx(0.42)
    assert float(pixels.get("PhysicalSizeY", "nan")) == pytest.approx(0.42)
    assert pixels.get("PhysicalSizeXUnit") == "µm"
    if names:
        got = [c.get("Name") for c in pixels.findall(f"{OME_NS}Channel")]
        assert got == names


def test_ome_pyramid(tmp_path: Path) -> None:
    path = tmp_path / "p.ome.tif"
    write_section_tiff(
        path,
        FLUO,
        pixel_size_um=0.5,
        kind="ome",
        channel_names=["PGP9.5", "ColIV"],
        pyramid_levels=2,
    )
    with tifffile.TiffFile(path) as tif:
        levels = tif.series[0].levels
        assert [lvl.shape for lvl in levels] == [(2, 300, 280), (2, 150, 140), (2, 75, 70)]
        assert len(tif.pages) == 2  # the sub-resolutions live in SubIFDs
        level1 = levels[1].asarray()
    expected = FLUO[:, ::2, ::2].astype(float)
    assert np.abs(level1.astype(float).mean() - expected.mean()) < 20


def test_plain_tiff_resolution_tags(tmp_path: Path) -> None:
    path = tmp_path / "b.tif"
    write_section_tiff(path, RGB, pixel_size_um=0.25, kind="tiff")
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        assert not tif.is_ome and not tif.is_imagej
        assert page.tags["ResolutionUnit"].value == tifffile.RESUNIT.CENTIMETER
        num, den = page.tags["XResolution"].value
        assert num / den == pytest.approx(1e4 / 0.25, rel=1e-6)  # pixels per cm
        num, den = page.tags["YResolution"].value
        assert num / den == pytest.approx(40000.0, rel=1e-6)
        assert "ImageDescription" not in page.tags
        np.testing.assert_array_equal(page.asarray(), RGB)


def test_imagej_hyperstack(tmp_path: Path) -> None:
    path = tmp_path / "c.tif"
    write_section_tiff(
        path, FLUO, pixel_size_um=0.4, kind="imagej", channel_names=["PGP9.5", "ColIV"]
    )
    with tifffile.TiffFile(path) as tif:
        assert tif.is_imagej
        meta = tif.imagej_metadata
        assert meta is not None
        assert meta["unit"] == "micron"
        assert meta["channels"] == 2
        assert meta.get("Labels") == ["PGP9.5", "ColIV"]
        num, den = tif.pages[0].tags["XResolution"].value
        assert den / num == pytest.approx(0.4, rel=1e-6)  # µm per pixel
        np.testing.assert_array_equal(tif.series[0].asarray(), FLUO)


@pytest.mark.parametrize("kind", ["ome", "tiff", "imagej"])
def test_no_pixel_size(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "n.tif"
    write_section_tiff(path, FLUO, pixel_size_um=None, kind=kind)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if "XResolution" in page.tags:
            assert page.tags["XResolution"].value in ((1, 1), (0, 1))
            assert page.tags["ResolutionUnit"].value == tifffile.RESUNIT.NONE
        if tif.is_ome:
            assert _ome_pixels(path).get("PhysicalSizeX") is None
        if tif.is_imagej:
            assert "unit" not in (tif.imagej_metadata or {})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "png", "pixel_size_um": 0.5}, "kind"),
        ({"kind": "ome", "pixel_size_um": -1.0}, "pixel_size_um"),
        ({"kind": "ome", "pixel_size_um": float("nan")}, "pixel_size_um"),
        ({"kind": "tiff", "pixel_size_um": 0.5, "pyramid_levels": 1}, "pyramid_levels"),
        ({"kind": "ome", "pixel_size_um": 0.5, "pyramid_levels": -1}, "pyramid_levels"),
        ({"kind": "ome", "pixel_size_um": 0.5, "channel_names": ["a"]}, "channel_names"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path: Path, kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    path = tmp_path / "x.tif"
    with pytest.raises(ValueError, match=match):
        write_section_tiff(path, FLUO, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_bad_image(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="ndarray"):
        write_section_tiff(tmp_path / "x.tif", [[1, 2]], pixel_size_um=1.0, kind="tiff")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        write_section_tiff(
            tmp_path / "x.tif", np.zeros((2, 2, 2, 2)), pixel_size_um=1.0, kind="tiff"
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["ome", "tiff", "imagej"])
def test_atomic_no_temp_left(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "s.tif"
    write_section_tiff(path, RGB, pixel_size_um=0.5, kind=kind)
    write_section_tiff(path, RGB, pixel_size_um=0.5, kind=kind)  # overwrite in place
    assert [p.name for p in tmp_path.iterdir()] == ["s.tif"]
    mode = path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_crash_mid_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "crash.tif"

    def boom(*args: object, **kwargs: object) -> None:
        Path(args[0]).write_bytes(b"II*\x00 half a file")  # type: ignore[arg-type]
        raise OSError("disk full")

    monkeypatch.setattr(write_module.tifffile, "imwrite", boom)
    with pytest.raises(OSError, match="disk full"):
        write_section_tiff(path, RGB, pixel_size_um=0.5, kind="tiff")
    assert list(tmp_path.iterdir()) == []


def test_crash_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keep.json"
    write_json(path, {"v": 1})

    class Unserialisable:
        pass

    with pytest.raises(TypeError, match="Unserialisable"):
        write_json(path, {"v": Unserialisable()})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_write_json_numpy(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    obj = {
        "count": np.int64(17),
        "density": np.float32(11.5),
        "flag": np.bool_(True),
        "arr": np.arange(3),
        "nested": [{"row": np.float64(1.25)}],
        "path": tmp_path,
    }
    write_json(path, obj)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("{\n  ")  # indent 2
    back = json.loads(text)
    assert back == {
        "count": 17,
        "density": 11.5,
        "flag": True,
        "arr": [0, 1, 2],
        "nested": [{"row": 1.25}],
        "path": str(tmp_path),
    }


def test_write_json_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_json(tmp_path / "nope" / "r.json", {})
