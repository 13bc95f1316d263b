"""probe_image reads metadata only; open_lazy is the lazy twin of reading a level."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
import tifffile

import ienfd.io._read
from ienfd.io import ImageReadError, PixelSize, open_lazy, probe_image, read_section
from tests.io._tiffs import (
    brightfield_rgb,
    claim_size,
    fluorescence_channels,
    write_ome,
    write_plain,
)
from tests.io.test_read import write_pyramid

OME_UM = {"PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5}


@pytest.fixture
def no_pixel_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pixels were read")

    for cls in (tifffile.TiffPageSeries, tifffile.TiffPage, tifffile.TiffFrame):
        monkeypatch.setattr(cls, "asarray", refuse)


def test_probe_pyramid(tmp_path: Path, no_pixel_reads: None) -> None:
    rgb = np.tile(brightfield_rgb(), (2, 2, 1))
    f = write_pyramid(tmp_path / "pyr.ome.tif", rgb, "YXS", n_sub=1)
    info = probe_image(f)
    assert info.shapes == ((192, 256, 3), (96, 128, 3))
    assert info.shape == (192, 256, 3) and info.n_levels == 2
    assert info.axes == "YXS" and info.dtype == np.uint8
    assert info.modality == "brightfield"
    assert info.pixel_size == PixelSize(0.5, 0.5, "ome")
    assert info.nbytes == 192 * 256 * 3


def test_probe_fluorescence_names(tmp_path: Path, no_pixel_reads: None) -> None:
    names = {"Channel": {"Name": ["PGP9.5", "Col IV"]}}
    f = write_ome(tmp_path / "if.ome.tif", fluorescence_channels(2), "CYX", **names, **OME_UM)
    info = probe_image(f)
    assert info.modality == "fluorescence" and info.axes == "CYX"
    assert info.channel_names == ("PGP9.5", "Col IV")


def test_probe_greyscale_modality_unknown_and_no_pixel_size(
    tmp_path: Path, no_pixel_reads: None
) -> None:
    f = write_plain(tmp_path / "g.tif", fluorescence_channels(1)[0])
    info = probe_image(f)
    assert info.modality is None and info.pixel_size is None


def test_probe_absurd_header_without_reading(tmp_path: Path, no_pixel_reads: None) -> None:
    f = write_plain(
        tmp_path / "wsi.tif", brightfield_rgb(), pixel_um=0.25, photometric="rgb", metadata=None
    )
    claim_size(f, 80_000, 100_000)
    info = probe_image(f)
    assert info.shape == (80_000, 100_000, 3) and info.nbytes == 24_000_000_000


def test_probe_not_a_tiff(tmp_path: Path) -> None:
    f = tmp_path / "x.tif"
    f.write_text("hello")
    with pytest.raises(ImageReadError, match=r"x\.tif: not a TIFF file"):
        probe_image(f)


@pytest.mark.parametrize("level", [0, 1])
def test_open_lazy_equals_eager(tmp_path: Path, level: int) -> None:
    pytest.importorskip("dask.array")
    from dask.array.utils import assert_eq

    rgb = np.tile(brightfield_rgb(), (2, 2, 1))
    f = write_pyramid(tmp_path / "pyr.ome.tif", rgb, "YXS", n_sub=1)
    data, axes = open_lazy(f, level=level)
    assert axes == "YXS"
    assert data.chunksize[:2] == (32, 32) and data.numblocks[0] > 1  # chunks are the tiles
    assert_eq(data, read_section(f, level=level).rgb)


def test_open_lazy_fluorescence_axes(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    stack = np.arange(3 * 2 * 96 * 128, dtype=np.uint16).reshape(3, 2, 96, 128)
    f = write_ome(tmp_path / "z.ome.tif", stack, "ZCYX", **OME_UM)
    data, axes = open_lazy(f)
    assert axes == "ZCYX"
    np.testing.assert_array_equal(data[:, 0].max(axis=0).compute(), stack[:, 0].max(axis=0))


def test_open_lazy_errors(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    with pytest.raises(ImageReadError, match="no such file"):
        open_lazy(tmp_path / "missing.tif")
    f = write_ome(tmp_path / "if.ome.tif", fluorescence_channels(2), "CYX", **OME_UM)
    with pytest.raises(ImageReadError, match="level 3 requested"):
        open_lazy(f, level=3)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(ienfd.io._read, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
