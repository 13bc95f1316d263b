"""read_section on bad input: every failure is an ImageReadError naming the file."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
import pytest
import tifffile

from ienfd.io import ImageReadError, read_section
from tests.io._tiffs import (
    ROWS,
    brightfield_rgb,
    claim_size,
    fluorescence_channels,
    write_imagej,
    write_ome,
    write_plain,
)

OME_UM = {"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5}


def _rgb(tmp_path: Path, **kwargs: Any) -> Path:
    return write_plain(tmp_path / "good.tif", brightfield_rgb(), photometric="rgb", **kwargs)


def truncated(tmp_path: Path) -> Path:
    f = _rgb(tmp_path, pixel_um=0.5)
    data = f.read_bytes()
    out = tmp_path / "truncated.tif"
    out.write_bytes(data[: len(data) // 2])
    return out


def truncated_tiles(tmp_path: Path) -> Path:
    f = _rgb(tmp_path, pixel_um=0.5, compression="zlib", tile=(32, 32))
    data = f.read_bytes()
    out = tmp_path / "truncated_tiles.tif"
    out.write_bytes(data[: len(data) - 200])
    return out


def corrupt_middle(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    noisy = rng.integers(0, 255, size=(ROWS, 128, 3), dtype=np.uint8)
    f = write_plain(
        tmp_path / "c.tif",
        noisy,
        pixel_um=0.5,
        photometric="rgb",
        compression="zlib",
        tile=(32, 32),
    )
    data = bytearray(f.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 512] = b"\xff" * 512
    out = tmp_path / "corrupt.tif"
    out.write_bytes(bytes(data))
    return out


def truncated_stack(writer: str) -> Callable[[Path], Path]:
    """A 4-plane, 2-channel z-stack cut at three quarters: later pages missing."""

    def make(tmp_path: Path) -> Path:
        stack = np.ones((4, 2, ROWS, 128), np.uint16)
        if writer == "ome":
            f = write_ome(tmp_path / "z.ome.tif", stack, "ZCYX", **OME_UM)
        else:
            f = write_imagej(tmp_path / "z.tif", stack, "ZCYX", unit="um", resolution=(2.0, 2.0))
        data = f.read_bytes()
        out = tmp_path / f"cut_{f.name}"
        out.write_bytes(data[: len(data) * 3 // 4])
        return out

    return make


def png_file(tmp_path: Path) -> Path:
    out = tmp_path / "slide.png"
    out.write_bytes(imagecodecs.png_encode(brightfield_rgb()))
    return out


def text_file(tmp_path: Path) -> Path:
    out = tmp_path / "notes.tif"
    out.write_text("this is not an image\n")
    return out


def empty_file(tmp_path: Path) -> Path:
    out = tmp_path / "empty.tif"
    out.write_bytes(b"")
    return out


def one_pixel(tmp_path: Path) -> Path:
    return write_ome(tmp_path / "dot.ome.tif", np.zeros((1, 1, 3), np.uint8), "YXS", **OME_UM)


def narrow(tmp_path: Path) -> Path:
    return write_ome(tmp_path / "narrow.ome.tif", np.zeros((2, 200, 40), np.uint8), "CYX", **OME_UM)


def no_pixel_size(tmp_path: Path) -> Path:
    return write_plain(tmp_path / "bare.tif", brightfield_rgb(), photometric="rgb")


def dpi72(tmp_path: Path) -> Path:
    f = tmp_path / "dpi72.tif"
    tifffile.imwrite(
        f, brightfield_rgb(), photometric="rgb", resolution=(72, 72), resolutionunit="INCH"
    )
    return f


def anisotropic(tmp_path: Path) -> Path:
    return write_ome(
        tmp_path / "aniso.ome.tif", brightfield_rgb(), "YXS", PhysicalSizeX=0.5, PhysicalSizeY=0.6
    )


def unknown_unit(tmp_path: Path) -> Path:
    meta = {**OME_UM, "PhysicalSizeXUnit": "furlong", "PhysicalSizeYUnit": "furlong"}
    return write_ome(tmp_path / "furlong.ome.tif", brightfield_rgb(), "YXS", **meta)


def float_with(value: float) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        data = fluorescence_channels(2).astype(np.float32)
        data[0, 5, 5] = value
        return write_ome(tmp_path / "float.ome.tif", data, "CYX", **OME_UM)

    return make


def bool_image(tmp_path: Path) -> Path:
    return write_plain(tmp_path / "mask.tif", np.zeros((ROWS, 128), bool), pixel_um=0.5)


def complex_image(tmp_path: Path) -> Path:
    return write_plain(tmp_path / "fft.tif", np.zeros((ROWS, 128), np.complex64), pixel_um=0.5)


def time_series(tmp_path: Path) -> Path:
    data = np.zeros((2, 2, ROWS, 128), np.uint16)
    return write_imagej(tmp_path / "t.tif", data, "TCYX", unit="um", resolution=(2.0, 2.0))


def page_stack(tmp_path: Path) -> Path:
    data = fluorescence_channels(12)
    return write_plain(tmp_path / "stack.tif", data, pixel_um=0.5, photometric="minisblack")


def three_pages(tmp_path: Path) -> Path:
    """Three pages and nothing saying whether they are channels, planes or sections."""
    data = fluorescence_channels(3)
    return write_plain(
        tmp_path / "three.tif", data, pixel_um=0.5, photometric="minisblack", metadata=None
    )


def palette(tmp_path: Path) -> Path:
    colormap = np.zeros((3, 256), np.uint16)
    return write_plain(
        tmp_path / "palette.tif",
        np.zeros((ROWS, 128), np.uint8),
        pixel_um=0.5,
        photometric="palette",
        colormap=colormap,
    )


def directory(tmp_path: Path) -> Path:
    out = tmp_path / "folder.tif"
    out.mkdir()
    return out


def missing(tmp_path: Path) -> Path:
    return tmp_path / "nowhere.tif"


def bright_grey(tmp_path: Path) -> Path:
    return write_plain(tmp_path / "grey.tif", brightfield_rgb()[..., 0], pixel_um=0.5)


def two_channels(tmp_path: Path) -> Path:
    names = {"Channel": {"Name": ["PGP9.5", "Col IV"]}}
    return write_ome(tmp_path / "if.ome.tif", fluorescence_channels(2), "CYX", **names, **OME_UM)


def float_rgb(tmp_path: Path) -> Path:
    data = brightfield_rgb().astype(np.float32) / 255
    return write_plain(tmp_path / "frgb.tif", data, pixel_um=0.5, photometric="rgb")


CASES: list[tuple[str, Callable[[Path], Path], dict[str, Any], str]] = [
    ("missing", missing, {}, "no such file"),
    ("directory", directory, {}, "not a regular file"),
    ("png without a pixel size", png_file, {}, "no pixel size: PNG files do not record"),
    ("text", text_file, {}, "not a TIFF file"),
    ("empty", empty_file, {}, "not a TIFF file"),
    ("truncated", truncated, {}, "truncated TIFF"),
    ("truncated tiles", truncated_tiles, {}, "truncated TIFF"),
    ("corrupt", corrupt_middle, {}, "corrupt or truncated TIFF"),
    ("truncated OME stack", truncated_stack("ome"), {}, "truncated TIFF: the file is cut short"),
    ("truncated ImageJ stack", truncated_stack("imagej"), {}, "corrupt or truncated TIFF"),
    ("1x1", one_pixel, {}, "1x1 image"),
    ("narrow", narrow, {}, "200x40 image"),
    ("grey as bright-field", bright_grey, {"modality": "brightfield"}, "greyscale image passed"),
    ("bright grey auto", bright_grey, {}, "greyscale image: bright-field analysis needs an RGB"),
    ("channels as bright-field", two_channels, {"modality": "brightfield"}, "2-channel non-RGB"),
    ("unknown channel", two_channels, {"fibre_channel": "GFP"}, "unknown fibre channel 'GFP'"),
    ("index out of range", two_channels, {"membrane_channel": 5}, "membrane channel 5 is out"),
    ("same channel", two_channels, {"fibre_channel": 1, "membrane_channel": "col iv"}, "both"),
    ("no pixel size", no_pixel_size, {}, "no pixel size in the file"),
    ("72 dpi", dpi72, {}, "implausible pixel size 352.778"),
    ("anisotropic", anisotropic, {}, "anisotropic pixels"),
    ("unknown unit", unknown_unit, {}, "'furlong' is not a length unit"),
    ("nan", float_with(np.nan), {}, "NaN or infinite"),
    ("inf", float_with(np.inf), {}, "NaN or infinite"),
    ("bool", bool_image, {}, "boolean images are not supported"),
    ("complex", complex_image, {}, "complex-valued images"),
    ("time series", time_series, {}, "time series with 2 time points"),
    ("page stack", page_stack, {}, "stack of 12 pages"),
    ("3 pages", three_pages, {}, "unsupported layout: a stack of 3 pages with no metadata"),
    ("3 pages with size", three_pages, {"pixel_size_um": 0.5}, "a stack of 3 pages"),
    ("3 pages, channels given", three_pages, {"fibre_channel": 0}, "a stack of 3 pages"),
    ("palette", palette, {}, "PALETTE is not supported"),
    ("float rgb", float_rgb, {}, "float32 RGB image"),
    ("level", two_channels, {"level": 1}, "level 1 requested but the file has 1"),
    ("max bytes", two_channels, {"max_bytes": 1000}, "image too large"),
]


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [pytest.param(make, kwargs, msg, id=name) for name, make, kwargs, msg in CASES],
)
def test_bad_input(
    tmp_path: Path, make: Callable[[Path], Path], kwargs: dict[str, Any], message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(ImageReadError, match=re.escape(message)) as info:
        read_section(path, **kwargs)
    assert str(info.value).startswith(f"{path}: ")
    assert info.value.path == str(path)
    assert isinstance(info.value, ValueError)


def test_unknown_channel_lists_available(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match=r"available channels: 0 'PGP9.5', 1 'Col IV'"):
        read_section(two_channels(tmp_path), fibre_channel="GFP")


def test_index_out_of_range_without_names(tmp_path: Path) -> None:
    f = write_imagej(
        tmp_path / "ij.tif", fluorescence_channels(2), "CYX", unit="um", resolution=(2.0, 2.0)
    )
    with pytest.raises(ImageReadError, match=r"indices 0-1 \(the file names none\)"):
        read_section(f, fibre_channel=2)


def test_absurd_header_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 12-kB file whose tags claim 100000 x 100000 RGB: refused from the header."""
    f = _rgb(tmp_path, pixel_um=0.5, metadata=None)
    claim_size(f, 100_000, 100_000)
    assert f.stat().st_size < 100_000

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("pixels were read")

    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", no_reading)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", no_reading)
    with pytest.raises(
        ImageReadError,
        match=r"\(100000, 100000, 3\).*30,000,000,000 bytes.*region by region \(open_lazy\)",
    ) as info:
        read_section(f)
    assert str(f) in str(info.value)


def test_tifffile_warning_while_reading_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tifffile only logs some data problems (missing segments); they must not pass."""
    f = _rgb(tmp_path, pixel_um=0.5)
    original = tifffile.TiffPageSeries.asarray

    def warn_then_read(self: tifffile.TiffPageSeries, **kwargs: Any) -> np.ndarray:
        logging.getLogger("tifffile").warning("read_segments: expected 3 segments, got 2")
        return original(self, **kwargs)

    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", warn_then_read)
    with pytest.raises(ImageReadError, match="tifffile reported: read_segments: expected 3"):
        read_section(f)


@pytest.mark.parametrize("value", [0, -0.5, float("nan"), float("inf"), 100, 1e4])
def test_pixel_size_argument_out_of_range(tmp_path: Path, value: float) -> None:
    with pytest.raises(ValueError, match="pixel_size_um must be a finite size"):
        read_section(tmp_path / "unused.tif", pixel_size_um=value)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"pixel_size_um": "0.5"}, TypeError, "pixel_size_um must be a number"),
        ({"pixel_size_um": True}, TypeError, "pixel_size_um must be a number"),
        ({"modality": "confocal"}, ValueError, "modality must be"),
        ({"level": -1}, ValueError, "level must be >= 0"),
        ({"level": 1.0}, TypeError, "level must be an int"),
        ({"fibre_channel": [0]}, TypeError, "fibre_channel must be a channel index"),
        ({"membrane_channel": 1.0}, TypeError, "membrane_channel must be a channel index"),
        ({"max_bytes": 0}, ValueError, "max_bytes must be > 0"),
    ],
)
def test_bad_arguments(
    tmp_path: Path, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        read_section(tmp_path / "unused.tif", **kwargs)


def test_user_pixel_size_just_below_limit_is_accepted(tmp_path: Path) -> None:
    f = two_channels(tmp_path)
    img = read_section(f, pixel_size_um=99.0)
    assert img.pixel_size_um == 99.0


# -- an OME-TIFF cut short or with broken OME-XML says so, whatever else is asked ------------


def _ome_section(tmp_path: Path) -> tuple[Path, bytes]:
    """A 2-channel OME-TIFF as tifffile writes it (its OME-XML stored after the pixels)."""
    path = write_ome(
        tmp_path / "whole.ome.tif",
        fluorescence_channels(2),
        "CYX",
        **OME_UM,
        Channel={"Name": ["PGP9.5", "Col IV"]},
    )
    return path, path.read_bytes()


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.8, 0.99])
@pytest.mark.parametrize("kwargs", [{}, {"pixel_size_um": 0.5}], ids=["metadata", "user-size"])
def test_a_truncated_ome_tiff_says_it_is_truncated(
    tmp_path: Path, fraction: float, kwargs: dict[str, Any]
) -> None:
    """Not 'no pixel size in the file'; nor, with a pixel size, bare pages read as channels."""
    _, data = _ome_section(tmp_path)
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ImageReadError, match=r"truncated TIFF: the file is cut short") as info:
        read_section(cut, **kwargs)
    assert f"ends at byte {cut.stat().st_size}" in str(info.value)
    assert "OME-XML" in str(info.value) and "no pixel size" not in str(info.value)


def _broken_xml(how: str) -> Callable[[bytes], bytes]:
    def broken(data: bytes) -> bytes:
        if how == "end tag":  # tifffile no longer sees an OME-TIFF at all
            return data.replace(b"</OME>", b"</OMX>")
        start = data.index(b"<OME")  # tifffile sees one, and cannot parse it
        return data[: start + 20] + b"<<<" + data[start + 23 :]

    return broken


@pytest.mark.parametrize("how", ["end tag", "bad token"])
@pytest.mark.parametrize("kwargs", [{}, {"pixel_size_um": 0.5}], ids=["metadata", "user-size"])
def test_broken_ome_xml_is_named(tmp_path: Path, how: str, kwargs: dict[str, Any]) -> None:
    _, data = _ome_section(tmp_path)
    bad = tmp_path / "bad.ome.tif"
    bad.write_bytes(_broken_xml(how)(data))
    with pytest.raises(ImageReadError, match=r"OME-XML is malformed: .*line 1, column \d+"):
        read_section(bad, **kwargs)


def test_a_cut_plain_tiff_says_truncated_before_asking_for_a_pixel_size(tmp_path: Path) -> None:
    """Its data lies beyond the end: that comes first, not 'no pixel size in the file'."""
    whole = _rgb(tmp_path)  # no pixel size at all
    data = whole.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"truncated TIFF: image data at byte"):
        read_section(cut)


def test_pages_written_as_channels_by_ienfd_read_back(tmp_path: Path) -> None:
    """write_section_tiff(kind='tiff') names the axes of its channels: not a refused stack."""
    from ienfd.io import write_section_tiff

    data = fluorescence_channels(2)
    path = tmp_path / "plain.tif"
    write_section_tiff(path, data, pixel_size_um=0.5, kind="tiff")
    image = read_section(path)
    np.testing.assert_array_equal(image.fibre, data[0])
    np.testing.assert_array_equal(image.membrane, data[1])
