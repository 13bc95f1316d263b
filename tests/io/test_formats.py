"""The formats labs have, written by their own writers and read back: pixel size, channels,
scenes, levels, lazy reads, and a clear error naming file and format for damaged files."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ienfd.io import (
    ImageReadError,
    SectionImage,
    describe_image,
    open_lazy,
    probe_image,
    read_section,
)
from tests.io._formats import (
    write_czi,
    write_jpeg,
    write_ome_zarr,
    write_png,
    write_svs,
)
from tests.io._tiffs import brightfield_rgb, fluorescence_channels

ROOT = Path(__file__).resolve().parents[2]
Sample = tuple[dict[str, Any], np.ndarray]
"""A sample's TIFF result and its pixels."""
Writer = Callable[[Path, np.ndarray, float], tuple[Path, list[str]]]
"""Writes pixels at a pixel size; returns the file and the extra ``ienfd analyze`` options."""
SAMPLES = ROOT / "sample_images"


def _big_channels() -> np.ndarray:
    """(2, 384, 512) two-channel fluorescence (three pyramid levels above 64 pixels)."""
    return np.tile(fluorescence_channels(2), (1, 4, 4))


def _big_rgb() -> np.ndarray:
    """(300, 400, 3) bright-field-like RGB (tiled levels need a few tiles)."""
    return np.tile(brightfield_rgb(), (4, 4, 1))[:300, :400].copy()


# -- Aperio SVS ---------------------------------------------------------------------


def test_svs_pixel_size_from_mpp_and_levels(tmp_path: Path) -> None:
    f = write_svs(tmp_path / "slide.svs", _big_rgb(), 0.2520, compression="zlib")
    info = probe_image(f)
    assert info.format_name == "Aperio SVS"
    assert info.pixel_size is not None
    assert (info.pixel_size.row_um, info.pixel_size.source) == (0.252, "aperio-mpp")
    assert info.shapes == ((300, 400, 3), (150, 200, 3), (75, 100, 3))
    image = read_section(f)
    assert image.modality == "brightfield" and image.pixel_size_um == pytest.approx(0.252)
    np.testing.assert_array_equal(image.rgb, _big_rgb())  # zlib: lossless
    assert not any("image series" in w for w in image.warnings)  # a thumbnail is no section
    low = read_section(f, level=1)
    assert low.shape == (150, 200) and low.pixel_size_um == pytest.approx(0.504)


def test_svs_without_mpp_has_no_pixel_size(tmp_path: Path) -> None:
    f = write_svs(tmp_path / "slide.svs", _big_rgb(), None, compression="zlib")
    assert probe_image(f).pixel_size is None
    with pytest.raises(ImageReadError, match="no pixel size in the file"):
        read_section(f)
    assert read_section(f, pixel_size_um=0.5).pixel_size.source == "user"


def test_a_pixel_size_that_overrides_the_files_is_noted(tmp_path: Path) -> None:
    f = write_svs(tmp_path / "slide.svs", _big_rgb(), 0.252, compression="zlib")

    def overrides(image: SectionImage) -> list[str]:
        return [w for w in image.warnings if "given by the user replaces" in w]

    assert overrides(read_section(f)) == []
    # Within 1 % of the metadata: the same size, no note.
    assert overrides(read_section(f, pixel_size_um=0.253)) == []
    image = read_section(f, pixel_size_um=0.3)
    assert image.pixel_size_um == pytest.approx(0.3) and image.pixel_size.source == "user"
    (note,) = overrides(image)
    assert "pixel size 0.3 µm" in note and "the 0.252 µm the file records" in note
    # The given size is the full resolution's at any level, as the metadata's is.
    assert overrides(read_section(f, level=1, pixel_size_um=0.252)) == []
    assert len(overrides(read_section(f, level=1, pixel_size_um=0.504))) == 1


def test_svs_lazy_equals_eager(tmp_path: Path) -> None:
    f = write_svs(tmp_path / "slide.svs", _big_rgb(), 0.5, compression="zlib")
    data, axes = open_lazy(f, level=1)
    assert axes == "YXS"
    np.testing.assert_array_equal(data.compute(), read_section(f, level=1).rgb)


# -- CZI ----------------------------------------------------------------------------


def test_czi_channel_names_and_scaling(tmp_path: Path) -> None:
    data = fluorescence_channels(2)
    f = write_czi(tmp_path / "if.czi", data, pixel_um=0.31, channel_names=["DAPI", "PGP9.5"])
    info = probe_image(f)
    assert info.format_name == "CZI" and info.channel_names == ("DAPI", "PGP9.5")
    assert info.pixel_size is not None
    assert info.pixel_size.col_um == pytest.approx(0.31)
    assert info.pixel_size.source == "czi-scaling"
    image = read_section(f)
    assert image.fibre_channel == 1 and image.membrane_channel == 0  # PGP by name
    np.testing.assert_array_equal(image.fibre, data[1])
    by_name = read_section(f, fibre_channel="dapi", membrane_channel="PGP9.5")
    np.testing.assert_array_equal(by_name.fibre, data[0])


def test_czi_z_stack_is_projected(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 1000, size=(2, 3, 96, 128), dtype=np.uint16)
    f = write_czi(tmp_path / "z.czi", stack, pixel_um=0.5, channel_names=["PGP9.5", "ColIV"])
    assert probe_image(f).axes == "CZYX"
    image = read_section(f)
    np.testing.assert_array_equal(image.fibre, stack[0].max(axis=0))
    assert any("maximum-intensity projection" in w for w in image.warnings)


def test_czi_rgb_and_scenes(tmp_path: Path) -> None:
    rgb = brightfield_rgb()
    f = write_czi(tmp_path / "bf.czi", rgb, pixel_um=0.25, rgb=True, scenes=2)
    infos = describe_image(f)
    assert [i.scene for i in infos] == [0, 1] and len(infos[0].scenes) == 2
    for scene in (0, 1, "1"):
        image = read_section(f, scene=scene)
        assert image.modality == "brightfield" and image.pixel_size_um == pytest.approx(0.25)
        np.testing.assert_array_equal(image.rgb, rgb)  # red stays red (Bgr24 is B, G, R)
    assert read_section(f, scene=1).scene == infos[1].scenes[1]
    with pytest.raises(ImageReadError, match=r"scene 2 is out of range: the file has 2 scene"):
        read_section(f, scene=2)
    with pytest.raises(ImageReadError, match="unknown scene 'left'"):
        probe_image(f, scene="left")


def test_czi_lazy_equals_eager(tmp_path: Path) -> None:
    data = fluorescence_channels(2)
    f = write_czi(tmp_path / "if.czi", data, pixel_um=0.5, channel_names=["PGP9.5", "ColIV"])
    lazy, axes = open_lazy(f)
    assert axes == "CYX"
    np.testing.assert_array_equal(lazy.compute(), data)


def test_czi_scaling_in_micrometres_is_refused(tmp_path: Path) -> None:
    f = write_czi(tmp_path / "um.czi", fluorescence_channels(2), pixel_um=0.5e6)  # 0.5 "m"
    with pytest.raises(ImageReadError, match=r"may give µm where CZI expects metres") as info:
        read_section(f)
    assert info.value.remedy == "pixel_size_um"
    assert read_section(f, pixel_size_um=0.5).pixel_size_um == 0.5


def test_czi_without_scaling_needs_a_pixel_size(tmp_path: Path) -> None:
    f = write_czi(tmp_path / "none.czi", fluorescence_channels(2), pixel_um=None)
    with pytest.raises(ImageReadError, match=r"no CZI Scaling Distance"):
        read_section(f)


# -- OME-Zarr ---------------------------------------------------------------------


def test_ome_zarr_scale_units_and_labels(tmp_path: Path) -> None:
    data = _big_channels()
    f = write_ome_zarr(
        tmp_path / "if.ome.zarr", data, pixel_um=400.0, unit="nanometer", labels=["ColIV", "PGP9.5"]
    )
    info = probe_image(f)
    assert info.format_name == "OME-Zarr" and info.channel_names == ("ColIV", "PGP9.5")
    assert info.pixel_size is not None
    assert info.pixel_size.row_um == pytest.approx(0.4) and info.pixel_size.source == "ome-zarr"
    assert info.n_levels == 3
    image = read_section(f)
    assert (image.fibre_channel, image.membrane_channel) == (1, 0)
    np.testing.assert_array_equal(image.fibre, data[1])
    low = read_section(f, level=2)
    assert low.pixel_size_um == pytest.approx(1.6)


def test_ome_zarr_rgb_is_brightfield(tmp_path: Path) -> None:
    rgb = brightfield_rgb()
    f = write_ome_zarr(tmp_path / "bf.ome.zarr", rgb, pixel_um=0.5, rgb=True, levels=1)
    image = read_section(f)
    assert image.modality == "brightfield"
    np.testing.assert_array_equal(image.rgb, rgb)


def test_ome_zarr_without_unit_has_no_pixel_size(tmp_path: Path) -> None:
    f = write_ome_zarr(tmp_path / "x.ome.zarr", fluorescence_channels(2), pixel_um=0.5, unit=None)
    assert probe_image(f).pixel_size is None
    with pytest.raises(ImageReadError, match="no scale in a length unit"):
        read_section(f)


def test_ome_zarr_lazy_equals_eager(tmp_path: Path) -> None:
    data = _big_channels()
    f = write_ome_zarr(tmp_path / "x.ome.zarr", data, pixel_um=0.5, labels=["PGP9.5", "ColIV"])
    lazy, axes = open_lazy(f, level=1)
    assert axes == "CYX"
    eager = read_section(f, level=1)
    np.testing.assert_array_equal(lazy.compute()[0], eager.fibre)


# -- PNG and JPEG -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_camera_files_need_a_pixel_size(tmp_path: Path, kind: str) -> None:
    rgb = brightfield_rgb()
    f = write_png(tmp_path / "a.png", rgb) if kind == "PNG" else write_jpeg(tmp_path / "a.jpg", rgb)
    info = probe_image(f)
    assert (info.format_name, info.pixel_size, info.modality) == (kind, None, "brightfield")
    with pytest.raises(ImageReadError, match=f"no pixel size: {kind} files do not record") as e:
        read_section(f)
    assert e.value.remedy == "pixel_size_um"
    image = read_section(f, pixel_size_um=0.65)
    assert image.pixel_size.source == "user" and image.rgb.shape == rgb.shape
    if kind == "PNG":
        np.testing.assert_array_equal(image.rgb, rgb)


def test_png_16_bit_grey_keeps_its_depth(tmp_path: Path) -> None:
    import imagecodecs

    grey = fluorescence_channels(1)[0]
    f = tmp_path / "grey.png"
    f.write_bytes(imagecodecs.png_encode(grey))
    image = read_section(f, pixel_size_um=0.5)
    assert image.fibre.dtype == np.uint16
    np.testing.assert_array_equal(image.fibre, grey)


# -- damaged files: the error names the file and the format ------------------------


def _truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _svs_truncated(d: Path) -> Path:
    return _truncate(write_svs(d / "s.svs", _big_rgb(), 0.5))


def _czi_truncated(d: Path) -> Path:
    f = write_czi(d / "t.czi", fluorescence_channels(2), pixel_um=0.5, channel_names=["a", "b"])
    return _truncate(f)


def _czi_garbage(d: Path) -> Path:
    f = d / "g.czi"
    f.write_bytes(b"this is not a czi file at all" * 10)
    return f


def _zarr_bad_json(d: Path) -> Path:
    f = write_ome_zarr(d / "b.ome.zarr", fluorescence_channels(2), pixel_um=0.5, levels=1)
    (f / "zarr.json").write_text("{ not json")
    return f


def _zarr_corrupt_chunk(d: Path) -> Path:
    f = write_ome_zarr(d / "c.ome.zarr", fluorescence_channels(2), pixel_um=0.5, levels=1)
    chunks = sorted(p for p in (f / "s0").rglob("*") if p.is_file() and p.name != "zarr.json")
    assert chunks
    chunks[0].write_bytes(b"\x00garbage" * 7)
    return f


def _zarr_no_multiscales(d: Path) -> Path:
    import zarr

    f = d / "plain.zarr"
    zarr.open_group(str(f), mode="w").create_array("a", shape=(8, 8), dtype="u1")
    return f


def _png_truncated(d: Path) -> Path:
    return _truncate(write_png(d / "t.png", brightfield_rgb()))


def _jpeg_truncated(d: Path) -> Path:
    return _truncate(write_jpeg(d / "t.jpg", brightfield_rgb()))


def _lif_garbage(d: Path) -> Path:
    f = d / "g.lif"
    f.write_bytes(b"\x70\x00\x00\x00" + b"\x01" * 200)
    return f


def _nd2_garbage(d: Path) -> Path:
    f = d / "g.nd2"
    f.write_bytes(b"\xda\xce\xbe\x0a" + b"\x01" * 200)
    return f


def _unknown(d: Path) -> Path:
    f = d / "notes.txt"
    f.write_text("hello")
    return f


DAMAGED = [
    ("svs truncated", _svs_truncated, r"Aperio SVS file: .*truncated"),
    ("czi truncated", _czi_truncated, r"corrupt or truncated CZI"),
    ("czi garbage", _czi_garbage, r"not a CZI file, or a corrupt or truncated one"),
    ("zarr bad json", _zarr_bad_json, r"corrupt OME-Zarr"),
    ("zarr corrupt chunk", _zarr_corrupt_chunk, r"corrupt or truncated OME-Zarr"),
    ("zarr no multiscales", _zarr_no_multiscales, r"not an OME-Zarr image"),
    ("png truncated", _png_truncated, r"corrupt or truncated PNG"),
    ("jpeg truncated", _jpeg_truncated, r"corrupt or truncated JPEG"),
    ("lif garbage", _lif_garbage, r"corrupt or truncated LIF"),
    ("nd2 garbage", _nd2_garbage, r"corrupt or truncated ND2"),
    ("unknown", _unknown, r"not an image format ienfd reads .* it reads TIFF"),
]


@pytest.mark.parametrize(
    ("make", "message"), [pytest.param(m, msg, id=name) for name, m, msg in DAMAGED]
)
def test_damaged_files_name_file_and_format(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(ImageReadError, match=message) as info:
        read_section(path, pixel_size_um=0.5)
    assert str(info.value).startswith(f"{path}: ")


def test_missing_reader_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = write_czi(tmp_path / "if.czi", fluorescence_channels(2), pixel_um=0.5)
    for name in [m for m in sys.modules if m.startswith("pylibCZIrw")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pylibCZIrw", None)  # import fails as if not installed
    with pytest.raises(ImageReadError, match=r"pip install 'ienfd\[formats\]'"):
        read_section(f)


# -- the same sections through `ienfd analyze`, format by format --------------------


def _analyze(path: Path, out: Path, *extra: str) -> dict[str, Any]:
    from ienfd.cli import main

    assert main(["analyze", str(path), "--out", str(out), "--no-overlay", "-q", *extra]) == 0
    (result,) = out.glob("*.json")
    return json.loads(result.read_text())


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    """The TIFF results and the pixels of a bright-field and a fluorescence sample."""
    out = tmp_path_factory.mktemp("tiff")
    found = {}
    for kind, name in (("bf", "brightfield_sg.ome.tif"), ("if", "fluorescence.ome.tif")):
        record = _analyze(SAMPLES / name, out / kind)
        image = read_section(SAMPLES / name)
        pixels = image.rgb if kind == "bf" else np.stack([image.fibre, image.membrane])
        found[kind] = (record, pixels)
    return found


def _svs(d: Path, px: np.ndarray, um: float) -> tuple[Path, list[str]]:
    return write_svs(d / "section.svs", px, um), []


def _czi(d: Path, px: np.ndarray, um: float) -> tuple[Path, list[str]]:
    names = ["PGP9.5", "ColIV"]
    return write_czi(d / "section.czi", px, pixel_um=um, channel_names=names), []


def _czi_rgb(d: Path, px: np.ndarray, um: float) -> tuple[Path, list[str]]:
    return write_czi(d / "section.czi", px, pixel_um=um, rgb=True), []


def _zarr(d: Path, px: np.ndarray, um: float) -> tuple[Path, list[str]]:
    labels = ["PGP9.5", "ColIV"]
    return write_ome_zarr(d / "section.ome.zarr", px, pixel_um=um, labels=labels), []


def _zarr_rgb(d: Path, px: np.ndarray, um: float) -> tuple[Path, list[str]]:
    return write_ome_zarr(d / "section.ome.zarr", px, pixel_um=um, rgb=True), []


def _png(d: Path, px: np.ndarray, um: float) -> tuple[Path, list[str]]:
    return write_png(d / "section.png", px), ["--pixel-size", str(um)]


def _jpeg(d: Path, px: np.ndarray, um: float) -> tuple[Path, list[str]]:
    return write_jpeg(d / "section.jpg", px), ["--pixel-size", str(um)]


WRITTEN = [
    ("svs", "bf", _svs, "aperio-mpp"),
    ("czi fluorescence", "if", _czi, "czi-scaling"),
    ("czi bright-field", "bf", _czi_rgb, "czi-scaling"),
    ("ome-zarr fluorescence", "if", _zarr, "ome-zarr"),
    ("ome-zarr bright-field", "bf", _zarr_rgb, "ome-zarr"),
    ("png", "bf", _png, "user"),
    ("jpeg", "bf", _jpeg, "user"),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "write", "source"),
    [pytest.param(k, w, s, id=name) for name, k, w, s in WRITTEN],
)
def test_analyze_counts_as_the_tiff(
    tmp_path: Path,
    samples: dict[str, Sample],
    kind: str,
    write: Writer,
    source: str,
) -> None:
    tiff_record, pixels = samples[kind]
    um = tiff_record["pixel_size_um"]
    path, extra = write(tmp_path, pixels, um)
    record = _analyze(path, tmp_path / "out", *extra)
    assert record["pixel_size_um"] == pytest.approx(um)
    assert record["modality"] == tiff_record["modality"]
    assert abs(record["count"] - tiff_record["count"]) <= 1
    assert record["dej_length_um"] == pytest.approx(tiff_record["dej_length_um"], rel=0.02)
    assert probe_image(path).pixel_size is None or probe_image(path).pixel_size.source == source


def test_docstring_examples_run() -> None:
    import doctest

    import ienfd.io._read

    failed, tried = doctest.testmod(ienfd.io._read, optionflags=doctest.ELLIPSIS)
    assert tried >= 3 and failed == 0


def test_czi_mosaic_lazy_in_small_chunks_equals_eager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CZI written as four tiles, read lazily in 48-pixel regions (across tile edges)."""
    from pylibCZIrw import czi

    import ienfd.io._czi

    rng = np.random.default_rng(5)
    whole = rng.integers(0, 4000, size=(2, 150, 170), dtype=np.uint16)
    f = tmp_path / "mosaic.czi"
    with czi.create_czi(str(f), exist_ok=True) as writer:
        for r0, c0 in ((0, 0), (0, 85), (75, 0), (75, 85)):
            for c in range(2):
                tile = whole[c, r0 : r0 + 75, c0 : c0 + 85]
                writer.write(np.ascontiguousarray(tile), plane={"C": c}, location=(c0, r0))
        writer.write_metadata(scale_x=0.5e-6, scale_y=0.5e-6)
    monkeypatch.setattr(ienfd.io._czi, "_CHUNK", 48)
    lazy, axes = open_lazy(f)
    assert axes == "CYX" and lazy.chunks[1][0] == 48
    np.testing.assert_array_equal(lazy.compute(), whole)
    image = read_section(f, fibre_channel=0, membrane_channel=1)
    np.testing.assert_array_equal(image.fibre, whole[0])


# -- OpenSlide (MRXS): the reader class on an SVS, which OpenSlide reads too ---------


def test_openslide_reader_matches_tifffile_on_an_svs(tmp_path: Path) -> None:
    """MRXS cannot be written here; the same OpenSlide reader is checked on an SVS."""
    from ienfd.io._openslide import OpenSlideSource

    rgb = _big_rgb()
    f = write_svs(tmp_path / "slide.svs", rgb, 0.2520, compression="zlib")
    with OpenSlideSource(str(f), "3DHistech MRXS", None) as source:
        assert source.pixel_size is not None
        assert source.pixel_size.col_um == pytest.approx(0.252)
        assert source.pixel_size.source == "openslide-mpp"
        assert source.level_shapes[0] == rgb.shape
        np.testing.assert_array_equal(source.read(0), rgb)
        level = len(source.level_shapes) - 1
        lazy = source.lazy(level).compute()
        np.testing.assert_array_equal(lazy, source.read(level))
        np.testing.assert_array_equal(lazy, read_section(f, level=level).rgb)


def test_mrxs_garbage_names_file_and_format(tmp_path: Path) -> None:
    f = tmp_path / "slide.mrxs"
    f.write_text("[GENERAL]\nnothing=here\n")
    with pytest.raises(ImageReadError, match=r"corrupt or truncated 3DHistech MRXS: OpenSlide"):
        read_section(f, pixel_size_um=0.5)


def test_ome_tiff_images_are_scenes(tmp_path: Path) -> None:
    """A multi-image OME-TIFF: each image is a scene, with its own channel names and size."""
    import tifffile

    first, second = fluorescence_channels(2), fluorescence_channels(2)[::-1].copy()
    f = tmp_path / "two.ome.tif"
    with tifffile.TiffWriter(f, ome=True) as tif:
        tif.write(
            first,
            metadata={
                "axes": "CYX",
                "Name": "leg",
                "PhysicalSizeX": 0.5,
                "PhysicalSizeY": 0.5,
                "Channel": {"Name": ["PGP9.5", "ColIV"]},
            },
        )
        tif.write(
            second,
            metadata={
                "axes": "CYX",
                "Name": "thigh",
                "PhysicalSizeX": 0.4,
                "PhysicalSizeY": 0.4,
                "Channel": {"Name": ["ColIV", "PGP9.5"]},
            },
        )
    infos = describe_image(f)
    assert [i.scenes for i in infos] == [("leg", "thigh")] * 2
    assert [i.channel_names for i in infos] == [("PGP9.5", "ColIV"), ("ColIV", "PGP9.5")]
    assert [i.pixel_size.col_um for i in infos if i.pixel_size] == [0.5, 0.4]
    image = read_section(f, scene="thigh")
    assert image.scene == "thigh" and image.pixel_size_um == 0.4
    np.testing.assert_array_equal(image.fibre, second[1])  # PGP9.5 is its channel 1
    lazy, axes = open_lazy(f, scene=1)
    assert axes == "CYX"
    np.testing.assert_array_equal(lazy.compute(), second)
    assert any("2 image series" in w for w in read_section(f).warnings)


def test_czi_levels_read_at_a_zoom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CZI levels 4x apart, read by libCZI at a zoom; lazily in small regions as eagerly."""
    import ienfd.io._czi

    monkeypatch.setattr(ienfd.io._czi, "MIN_LEVEL_SIDE", 64)
    monkeypatch.setattr(ienfd.io._czi, "_CHUNK", 24)
    rows, cols = np.mgrid[0:300, 0:260]
    smooth = (1000 + 3 * rows + 2 * cols).astype(np.uint16)  # a ramp: any fair zoom keeps it
    data = np.stack([smooth, smooth[::-1].copy()])
    f = write_czi(tmp_path / "ramp.czi", data, pixel_um=0.5, channel_names=["PGP9.5", "ColIV"])
    info = probe_image(f)
    assert info.shapes == ((2, 300, 260), (2, 75, 65))
    low = read_section(f, level=1)
    assert low.pixel_size_um == pytest.approx(2.0)
    assert np.abs(low.fibre.astype(int) - smooth[::4, ::4]).mean() < 8  # 4 px of ramp = 12-20
    lazy, _ = open_lazy(f, level=1)
    assert lazy.chunks[1] == (24, 24, 24, 3) and lazy.chunks[2] == (24, 24, 17)
    np.testing.assert_array_equal(lazy.compute()[0], low.fibre)
