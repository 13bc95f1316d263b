"""Synthetic whole-slide images written tile by tile (tests and benchmarks/bench_batch.py).

The slide is never held in memory: each tile is composed on demand from the
few sections placed on it, and tifffile writes the tiles (and a pyramid of
2x sub-resolutions, each made the same way from downsampled sections) as
they are yielded.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import tifffile

__all__ = ["downsample2", "write_slide"]


def downsample2(image: np.ndarray) -> np.ndarray:
    """2x2 block mean of an (M, N, 3) uint8 image (odd edges dropped)."""
    m, n = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    a = image[:m, :n].astype(np.float32)
    out = 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])
    return np.rint(out).astype(np.uint8)


def _tiles(
    shape: tuple[int, int],
    sections: Sequence[np.ndarray],
    corners: Sequence[tuple[int, int]],
    background: np.ndarray,
    tile: int,
) -> Iterator[np.ndarray]:
    rows, cols = shape
    for r0 in range(0, rows, tile):
        for c0 in range(0, cols, tile):
            t = np.empty((tile, tile, 3), np.uint8)
            t[:] = background
            for sec, (sr, sc) in zip(sections, corners, strict=True):
                a0, a1 = max(r0, sr), min(r0 + tile, sr + sec.shape[0], rows)
                b0, b1 = max(c0, sc), min(c0 + tile, sc + sec.shape[1], cols)
                if a0 < a1 and b0 < b1:
                    t[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0] = sec[
                        a0 - sr : a1 - sr, b0 - sc : b1 - sc
                    ]
            yield t


def write_slide(
    path: str | Path,
    shape: tuple[int, int],
    sections: Sequence[np.ndarray],
    corners: Sequence[tuple[int, int]],
    *,
    pixel_size_um: float | None,
    tile: int = 512,
    levels: int = 3,
) -> None:
    """Write an RGB OME-TIFF slide of ``shape`` with ``sections`` pasted at ``corners``.

    Parameters
    ----------
    path : str or Path
        Target file (BigTIFF, zlib, tiled).
    shape : tuple of int
        (rows, cols) of the full-resolution slide.
    sections : sequence of (M, N, 3) uint8 arrays
        Section images (with their own glass around the tissue).
    corners : sequence of (row, col)
        Top-left corner of each section on the slide.
    pixel_size_um : float or None
        Written as OME PhysicalSizeX/Y; None writes no pixel size.
    tile : int
        Tile side in pixels (a multiple of 16).
    levels : int
        Number of 2x sub-resolution levels (SubIFDs).
    """
    background = np.median(np.concatenate([s[0].reshape(-1, 3) for s in sections]), axis=0).astype(
        np.uint8
    )
    meta: dict[str, object] = {"axes": "YXS"}
    if pixel_size_um is not None:
        meta.update(
            PhysicalSizeX=pixel_size_um,
            PhysicalSizeXUnit="µm",
            PhysicalSizeY=pixel_size_um,
            PhysicalSizeYUnit="µm",
        )
    options = {"photometric": "rgb", "compression": "zlib", "tile": (tile, tile)}
    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        secs, cors, shp = list(sections), list(corners), shape
        for level in range(levels + 1):
            data = _tiles(shp, secs, cors, background, tile)
            if level == 0:
                tif.write(
                    data,
                    shape=(*shp, 3),
                    dtype=np.uint8,
                    subifds=levels or None,
                    metadata=meta,
                    **options,
                )
            else:
                tif.write(
                    data, shape=(*shp, 3), dtype=np.uint8, subfiletype=1, metadata=None, **options
                )
            secs = [downsample2(s) for s in secs]
            cors = [(r // 2, c // 2) for r, c in cors]
            shp = (math.ceil(shp[0] / 2), math.ceil(shp[1] / 2))
