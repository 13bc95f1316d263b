"""read_section on well-formed files: layouts, channels, modality, pixel size, pyramids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from ienfd.io import ImageReadError, PixelSize, read_section
from tests.io._tiffs import (
    COLS,
    ROWS,
    brightfield_rgb,
    fluorescence_channels,
    write_imagej,
    write_ome,
    write_plain,
)

OME_UM = {"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5}


# -- bright-field ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_ome_rgb(tmp_path: Path, dtype: type) -> None:
    rgb = brightfield_rgb(dtype)
    f = write_ome(tmp_path / "bf.ome.tif", rgb, "YXS", **OME_UM)
    img = read_section(f)
    assert img.modality == "brightfield"
    assert img.rgb is not None and img.fibre is None and img.membrane is None
    assert img.rgb.dtype == dtype and img.rgb.shape == (ROWS, COLS, 3)
    np.testing.assert_array_equal(img.rgb, rgb)
    assert img.pixel_size == PixelSize(0.5, 0.5, "ome")
    assert img.path == str(f) and img.level == 0 and img.warnings == []


@pytest.mark.parametrize(
    ("unit", "pixel_um"), [("CENTIMETER", 0.5), ("INCH", 0.25), ("MILLIMETER", 0.4)]
)
def test_plain_rgb_resolution_tags(tmp_path: Path, unit: str, pixel_um: float) -> None:
    rgb = brightfield_rgb()
    f = write_plain(tmp_path / "bf.tif", rgb, pixel_um=pixel_um, unit=unit, photometric="rgb")
    img = read_section(f)
    assert img.modality == "brightfield"
    np.testing.assert_array_equal(img.rgb, rgb)
    assert img.pixel_size.source == "tiff-resolution"
    assert img.pixel_size_um == pytest.approx(pixel_um, rel=1e-6)


def test_planar_rgb(tmp_path: Path) -> None:
    rgb = brightfield_rgb()
    f = write_plain(
        tmp_path / "planar.tif",
        np.moveaxis(rgb, -1, 0),
        pixel_um=0.5,
        photometric="rgb",
        planarconfig="separate",
    )
    with tifffile.TiffFile(f) as tif:
        assert tif.series[0].axes == "SYX"
    img = read_section(f)
    assert img.rgb is not None and img.rgb.flags.c_contiguous
    np.testing.assert_array_equal(img.rgb, rgb)


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    rgba = brightfield_rgb(alpha=True)
    f = write_plain(tmp_path / "rgba.tif", rgba, pixel_um=0.5, photometric="rgb")
    img = read_section(f)
    np.testing.assert_array_equal(img.rgb, rgba[..., :3])


def test_imagej_rgb(tmp_path: Path) -> None:
    rgb = brightfield_rgb()
    f = write_imagej(tmp_path / "ij.tif", rgb, "YXS", unit="micron", resolution=(2.0, 2.0))
    img = read_section(f)
    assert img.modality == "brightfield"
    assert img.pixel_size == PixelSize(0.5, 0.5, "imagej")


def test_compressed_tiled_rgb(tmp_path: Path) -> None:
    rgb = brightfield_rgb()
    f = write_plain(
        tmp_path / "z.tif", rgb, pixel_um=0.5, photometric="rgb", compression="zlib", tile=(32, 32)
    )
    np.testing.assert_array_equal(read_section(f).rgb, rgb)


# -- fluorescence ---------------------------------------------------------------------


def test_ome_two_channels_by_name(tmp_path: Path) -> None:
    data = fluorescence_channels(2)
    f = write_ome(
        tmp_path / "if.ome.tif", data, "CYX", Channel={"Name": ["Col IV", "PGP9.5"]}, **OME_UM
    )
    img = read_section(f)
    assert img.modality == "fluorescence" and img.rgb is None
    assert img.channel_names == ("Col IV", "PGP9.5")
    assert (img.fibre_channel, img.membrane_channel) == (1, 0)
    np.testing.assert_array_equal(img.fibre, data[1])
    np.testing.assert_array_equal(img.membrane, data[0])
    assert img.fibre is not None and img.fibre.dtype == np.uint16
    assert img.warnings == []


@pytest.mark.parametrize(
    ("fibre", "membrane", "expected"),
    [
        (0, 2, (0, 2)),
        ("2", "0", (2, 0)),
        ("pgp9.5", "COL IV", (1, 2)),
        ("UCHL1", None, (0, 2)),
        (None, "uchl1", (1, 0)),
    ],
)
def test_channel_selection(
    tmp_path: Path,
    fibre: int | str | None,
    membrane: int | str | None,
    expected: tuple[int, int],
) -> None:
    data = fluorescence_channels(3)
    names = ["UCHL1", "PGP9.5", "Col IV"]
    f = write_ome(tmp_path / "c.ome.tif", data, "CYX", Channel={"Name": names}, **OME_UM)
    img = read_section(f, fibre_channel=fibre, membrane_channel=membrane)
    assert (img.fibre_channel, img.membrane_channel) == expected
    np.testing.assert_array_equal(img.fibre, data[expected[0]])
    np.testing.assert_array_equal(img.membrane, data[expected[1]])


def test_channel_name_with_dapi_first(tmp_path: Path) -> None:
    data = fluorescence_channels(3)
    names = ["DAPI", "collagen IV", "PGP 9.5"]
    f = write_ome(tmp_path / "c.ome.tif", data, "CYX", Channel={"Name": names}, **OME_UM)
    img = read_section(f)
    assert (img.fibre_channel, img.membrane_channel) == (2, 1)
    assert img.warnings == []


def test_channels_assumed_without_names(tmp_path: Path) -> None:
    data = fluorescence_channels(2)
    f = write_imagej(tmp_path / "ij.tif", data, "CYX", unit="um", resolution=(2.0, 2.0))
    img = read_section(f)
    assert (img.fibre_channel, img.membrane_channel) == (0, 1)
    assert img.channel_names == ()
    assert any("fibre channel assumed to be channel 0" in w for w in img.warnings)
    assert any("membrane (collagen IV) channel assumed to be channel 1" in w for w in img.warnings)


def test_imagej_labels_are_channel_names(tmp_path: Path) -> None:
    data = fluorescence_channels(2)
    f = write_imagej(
        tmp_path / "ij.tif",
        data,
        "CYX",
        unit="micron",
        resolution=(2.5, 2.5),
        Labels=["ColIV", "PGP9.5"],
    )
    img = read_section(f, membrane_channel="coliv")
    assert img.channel_names == ("ColIV", "PGP9.5")
    assert (img.fibre_channel, img.membrane_channel) == (1, 0)
    assert img.pixel_size == PixelSize(0.4, 0.4, "imagej")


def test_ome_interleaved_channels_last(tmp_path: Path) -> None:
    data = fluorescence_channels(2)
    f = tmp_path / "yxc.ome.tif"
    tifffile.imwrite(
        f,
        np.moveaxis(data, 0, -1).copy(),
        photometric="minisblack",
        planarconfig="contig",
        metadata={"axes": "YXS", **OME_UM},
    )
    img = read_section(f)
    assert img.modality == "fluorescence"
    np.testing.assert_array_equal(img.fibre, data[0])
    np.testing.assert_array_equal(img.membrane, data[1])


@pytest.mark.parametrize("writer", ["ome", "imagej"])
def test_z_stack_is_max_projected(tmp_path: Path, writer: str) -> None:
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 4000, size=(3, 2, ROWS, COLS)).astype(np.uint16)
    if writer == "ome":
        f = write_ome(tmp_path / "z.ome.tif", stack, "ZCYX", **OME_UM)
    else:
        f = write_imagej(tmp_path / "z.tif", stack, "ZCYX", unit="um", resolution=(2.0, 2.0))
    img = read_section(f, fibre_channel=0, membrane_channel=1)
    np.testing.assert_array_equal(img.fibre, stack[:, 0].max(axis=0))
    np.testing.assert_array_equal(img.membrane, stack[:, 1].max(axis=0))
    assert any("maximum-intensity projection" in w and "3" in w for w in img.warnings)


def test_minisblack_samples_are_channels(tmp_path: Path) -> None:
    data = fluorescence_channels(2, np.uint8)
    f = write_plain(
        tmp_path / "s.tif",
        data,
        pixel_um=0.5,
        photometric="minisblack",
        planarconfig="separate",
    )
    img = read_section(f)
    assert img.modality == "fluorescence"
    np.testing.assert_array_equal(img.fibre, data[0])
    np.testing.assert_array_equal(img.membrane, data[1])


def test_single_dark_channel_is_fluorescence(tmp_path: Path) -> None:
    data = fluorescence_channels(1)[0]
    f = write_ome(tmp_path / "one.ome.tif", data, "YX", **OME_UM)
    img = read_section(f)
    assert img.modality == "fluorescence"
    np.testing.assert_array_equal(img.fibre, data)
    assert img.membrane is None and img.membrane_channel is None
    assert img.warnings == []


def test_bright_greyscale_as_fluorescence_when_asked(tmp_path: Path) -> None:
    grey = brightfield_rgb()[..., 0]
    f = write_plain(tmp_path / "g.tif", grey, pixel_um=0.5)
    img = read_section(f, modality="fluorescence")
    np.testing.assert_array_equal(img.fibre, grey)


def test_rgb_read_as_fluorescence(tmp_path: Path) -> None:
    rgb = brightfield_rgb()
    f = write_plain(tmp_path / "rgb.tif", rgb, pixel_um=0.5, photometric="rgb")
    img = read_section(f, modality="fluorescence", fibre_channel="green", membrane_channel="red")
    np.testing.assert_array_equal(img.fibre, rgb[..., 1])
    np.testing.assert_array_equal(img.membrane, rgb[..., 0])
    assert any("RGB image analysed as fluorescence" in w for w in img.warnings)


def test_channel_options_ignored_for_brightfield(tmp_path: Path) -> None:
    f = write_plain(tmp_path / "rgb.tif", brightfield_rgb(), pixel_um=0.5, photometric="rgb")
    img = read_section(f, fibre_channel="PGP9.5")
    assert img.modality == "brightfield"
    assert any("ignored" in w for w in img.warnings)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_other_numeric_dtypes_load(tmp_path: Path, dtype: type) -> None:
    data = fluorescence_channels(2).astype(dtype)
    f = write_ome(tmp_path / "f.ome.tif", data, "CYX", **OME_UM)
    img = read_section(f)
    assert img.fibre is not None and img.fibre.dtype == dtype


def test_constant_image_loads(tmp_path: Path) -> None:
    f = write_ome(tmp_path / "blank.ome.tif", np.zeros((2, ROWS, COLS), np.uint8), "CYX", **OME_UM)
    img = read_section(f)
    assert img.fibre is not None and not img.fibre.any()


def test_multiple_series_reads_first(tmp_path: Path) -> None:
    f = tmp_path / "two.tif"
    with tifffile.TiffWriter(f) as tw:
        tw.write(brightfield_rgb(), photometric="rgb", resolution=(2e4, 2e4), resolutionunit=3)
        tw.write(np.zeros((70, 70), np.uint8))
    img = read_section(f)
    assert img.rgb is not None and img.rgb.shape == (ROWS, COLS, 3)
    assert any("2 image series" in w for w in img.warnings)


# -- pixel size -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (0.5, None),
        (0.5, "µm"),
        (500.0, "nm"),
        (0.0005, "mm"),
        (0.00005, "cm"),
        (5e-7, "m"),
        (5000.0, "Å"),
        (0.5 / 25400, "in"),
    ],
)
def test_ome_units(tmp_path: Path, value: float, unit: str | None) -> None:
    meta: dict[str, object] = {"PhysicalSizeX": value, "PhysicalSizeY": value}
    if unit is not None:
        meta.update(PhysicalSizeXUnit=unit, PhysicalSizeYUnit=unit)
    f = write_ome(tmp_path / "u.ome.tif", brightfield_rgb(), "YXS", **meta)
    size = read_section(f).pixel_size
    assert size.source == "ome"
    assert (size.row_um, size.col_um) == pytest.approx((0.5, 0.5), rel=1e-9)


@pytest.mark.parametrize(("unit", "factor"), [("um", 1.0), ("nm", 1e-3), ("mm", 1e3)])
def test_imagej_units(tmp_path: Path, unit: str, factor: float) -> None:
    per_unit = factor / 0.5  # pixels per unit for a 0.5 µm pixel
    f = write_imagej(
        tmp_path / "ij.tif",
        fluorescence_channels(2),
        "CYX",
        unit=unit,
        resolution=(per_unit, per_unit),
    )
    assert read_section(f).pixel_size_um == pytest.approx(0.5)


def test_ome_beats_resolution_tags(tmp_path: Path) -> None:
    f = tmp_path / "both.ome.tif"
    tifffile.imwrite(
        f,
        brightfield_rgb(),
        photometric="rgb",
        resolution=(1e4, 1e4),  # 1 µm per pixel in cm units
        resolutionunit="CENTIMETER",
        metadata={"axes": "YXS", **OME_UM},
    )
    assert read_section(f).pixel_size == PixelSize(0.5, 0.5, "ome")


def test_user_pixel_size_overrides_metadata(tmp_path: Path) -> None:
    f = write_ome(tmp_path / "bf.ome.tif", brightfield_rgb(), "YXS", **OME_UM)
    assert read_section(f, pixel_size_um=0.325).pixel_size == PixelSize(0.325, 0.325, "user")


def test_user_pixel_size_when_file_has_none(tmp_path: Path) -> None:
    f = write_plain(tmp_path / "bare.tif", brightfield_rgb(), photometric="rgb")
    assert read_section(f, pixel_size_um=0.5).pixel_size == PixelSize(0.5, 0.5, "user")


def test_slight_anisotropy_is_kept(tmp_path: Path) -> None:
    f = write_ome(
        tmp_path / "a.ome.tif", brightfield_rgb(), "YXS", PhysicalSizeX=0.50, PhysicalSizeY=0.51
    )
    assert read_section(f).pixel_size == PixelSize(0.51, 0.50, "ome")


def test_resolution_unit_none_is_not_a_pixel_size(tmp_path: Path) -> None:
    f = tmp_path / "none.tif"
    tifffile.imwrite(
        f, brightfield_rgb(), photometric="rgb", resolution=(2.0, 2.0), resolutionunit="NONE"
    )
    with pytest.raises(ImageReadError, match="no pixel size"):
        read_section(f)


# -- pyramids -------------------------------------------------------------------------


def write_pyramid(path: Path, data: np.ndarray, axes: str, n_sub: int = 1) -> Path:
    photometric = "rgb" if "S" in axes else "minisblack"
    with tifffile.TiffWriter(path) as tw:
        tw.write(
            data,
            subifds=n_sub,
            tile=(32, 32),
            photometric=photometric,
            metadata={"axes": axes, **OME_UM},
        )
        for k in range(1, n_sub + 1):
            step = 2**k
            level = data[::step, ::step] if axes == "YXS" else data[:, ::step, ::step]
            tw.write(level, tile=(32, 32), photometric=photometric, subfiletype=1)
    return path


def test_pyramid_levels(tmp_path: Path) -> None:
    rgb = np.tile(brightfield_rgb(), (2, 2, 1))  # 192 x 256
    f = write_pyramid(tmp_path / "pyr.ome.tif", rgb, "YXS")
    full = read_section(f)
    half = read_section(f, level=1)
    np.testing.assert_array_equal(full.rgb, rgb)
    np.testing.assert_array_equal(half.rgb, rgb[::2, ::2])
    assert half.level == 1
    assert half.pixel_size == PixelSize(1.0, 1.0, "ome")
    assert read_section(f, level=1, pixel_size_um=0.25).pixel_size == PixelSize(0.5, 0.5, "user")


def test_pyramid_fluorescence_level(tmp_path: Path) -> None:
    data = np.tile(fluorescence_channels(2), (1, 2, 2))
    f = write_pyramid(tmp_path / "pyr.ome.tif", data, "CYX")
    img = read_section(f, level=1)
    np.testing.assert_array_equal(img.fibre, data[0, ::2, ::2])
    assert img.pixel_size_um == pytest.approx(1.0)


def test_plain_tiff_pages_are_channels_when_its_metadata_says_so(tmp_path: Path) -> None:
    """A plain 2-page TIFF whose description names the axes (tifffile's ``{"axes": "CYX"}``)
    reads as fibre + membrane channels; without it the stack is refused
    (tests/io/test_read_errors.py, "page stack")."""
    data = fluorescence_channels(2)
    path = write_plain(
        tmp_path / "plain2.tif",
        data,
        pixel_um=0.5,
        photometric="minisblack",
        metadata={"axes": "CYX"},
    )
    image = read_section(path)
    assert image.modality == "fluorescence"
    np.testing.assert_array_equal(image.fibre, data[0])
    np.testing.assert_array_equal(image.membrane, data[1])
    assert any("assumed" in w for w in image.warnings)
    assert image.pixel_size.source == "tiff-resolution"
