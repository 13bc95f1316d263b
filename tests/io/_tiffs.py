"""Small synthetic section images written with tifffile, for the reader tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tifffile

ROWS, COLS = 96, 128


def brightfield_rgb(dtype: Any = np.uint8, alpha: bool = False) -> np.ndarray:
    """(ROWS, COLS, 3|4): white glass around a darker band of tissue."""
    top = np.iinfo(dtype).max
    img = np.full((ROWS, COLS, 4 if alpha else 3), int(top * 0.94), dtype=dtype)
    img[30:66, 10:118, :3] = np.array([0.55, 0.45, 0.5]) * top
    img[40:44, 20:100, :3] = int(top * 0.15)  # a dark fibre
    if alpha:
        img[..., 3] = top
    return img


def fluorescence_channels(n: int = 2, dtype: Any = np.uint16) -> np.ndarray:
    """(n, ROWS, COLS): dark background, each channel a distinct bright pattern."""
    rng = np.random.default_rng(7)
    top = np.iinfo(dtype).max if np.dtype(dtype).kind in "ui" else 4095
    img = rng.integers(0, 20, size=(n, ROWS, COLS)).astype(dtype)
    for c in range(n):
        img[c, 20 + 10 * c : 30 + 10 * c, 10:118] = min(1000 + 100 * c, int(top * 0.8) - c)
    return img


def write_ome(path: Path, data: np.ndarray, axes: str, **meta: Any) -> Path:
    """OME-TIFF with ``axes`` and extra OME metadata (PhysicalSizeX, Channel, ...)."""
    kwargs: dict[str, Any] = {}
    if "S" in axes:
        kwargs["photometric"] = "rgb"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": axes, **meta}, **kwargs)
    return path


def write_imagej(path: Path, data: np.ndarray, axes: str, **meta: Any) -> Path:
    """ImageJ hyperstack with ``axes``; ``resolution`` given as pixels per unit."""
    resolution = meta.pop("resolution", None)
    kwargs: dict[str, Any] = {}
    if "S" in axes:
        kwargs["photometric"] = "rgb"
    tifffile.imwrite(
        path, data, imagej=True, resolution=resolution, metadata={"axes": axes, **meta}, **kwargs
    )
    return path


def write_plain(
    path: Path,
    data: np.ndarray,
    *,
    pixel_um: float | None = None,
    unit: str = "CENTIMETER",
    **kwargs: Any,
) -> Path:
    """Plain TIFF; ``pixel_um`` is stored in X/YResolution with ResolutionUnit ``unit``."""
    if pixel_um is not None:
        per_unit = {"CENTIMETER": 1e4, "INCH": 25400.0, "MILLIMETER": 1e3, "MICROMETER": 1.0}
        res = per_unit[unit] / pixel_um
        kwargs.update(resolution=(res, res), resolutionunit=unit)
    tifffile.imwrite(path, data, **kwargs)
    return path


def claim_size(path: Path, rows: int, cols: int) -> None:
    """Patch a one-strip TIFF in place so its header claims ``rows x cols`` pixels.

    ImageLength, ImageWidth and RowsPerStrip change together, so the header stays
    self-consistent (one strip) while the file stays a few kilobytes. Write the
    file with ``metadata=None``: tifffile's shape description would contradict it.
    """
    with tifffile.TiffFile(path, mode="r+b") as tif:
        tags = tif.pages[0].tags
        assert len(tif.pages[0].dataoffsets) == 1
        tags["ImageWidth"].overwrite(cols)
        tags["ImageLength"].overwrite(rows)
        tags["RowsPerStrip"].overwrite(rows)
