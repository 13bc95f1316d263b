"""Binary morphology by small symmetric footprints: scipy's values, row by row.

:func:`scipy.ndimage.binary_erosion` and its kin visit every footprint offset
of every pixel in a general loop. A footprint whose rows are runs centred on
its middle column (a disk, a diamond, a cross, a square) is a union of
horizontal segments: each segment's erosion (or dilation) is built up one
column shift at a time and shared by the rows of the same width, and the rows
are then combined with one shifted copy each. Whole-array boolean operations,
several times faster on the megapixel masks of the analysis, value for value.
Rows of any other shape fall back to one shifted copy per offset.
"""

from __future__ import annotations

import numpy as np

__all__ = ["binary_closing", "binary_dilation", "binary_erosion", "binary_opening", "diamond"]


def diamond(radius: int) -> np.ndarray:
    """The footprint ``|dr| + |dc| <= radius``: a cross dilated ``radius`` times.

    :func:`binary_dilation` by it is scipy's ``binary_dilation(mask,
    iterations=radius)`` (the 4-connected cross, repeated): every pixel within
    that many 4-steps, and a shortest path between two pixels of a rectangle
    stays inside it, so the image's edge changes nothing.
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    offsets = np.arange(-radius, radius + 1)
    return np.asarray(np.abs(offsets)[:, None] + np.abs(offsets)[None, :] <= radius)


def _check(mask: np.ndarray, footprint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mask = np.asarray(mask, dtype=bool)
    footprint = np.asarray(footprint, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    side = footprint.shape[0]
    if footprint.ndim != 2 or side % 2 == 0 or footprint.shape[1] != side:
        raise ValueError(f"footprint must be square with an odd side, got {footprint.shape}")
    if not np.array_equal(footprint, footprint[::-1, ::-1]):
        raise ValueError("footprint must be point-symmetric (dilation would reflect it)")
    if not footprint.any():
        raise ValueError("footprint must hold at least one pixel")
    return mask, footprint


def _combine(mask: np.ndarray, footprint: np.ndarray, *, erode: bool, border: bool) -> np.ndarray:
    """AND (erosion) or OR (dilation) of ``mask`` over the footprint's offsets.

    Pixels beyond the image's edge are ``border``.
    """
    op = np.logical_and if erode else np.logical_or
    r = footprint.shape[0] // 2
    m, n = mask.shape
    padded = np.full((m + 2 * r, n + 2 * r), border, dtype=bool)
    padded[r : r + m, r : r + n] = mask
    # Each row of the footprint: its half-width when it is a centred run, else its offsets.
    rows: list[tuple[int, int | None, np.ndarray]] = []
    for dr in range(-r, r + 1):
        cols = np.flatnonzero(footprint[dr + r]) - r
        if len(cols) == 0:
            continue
        w = int(cols[-1])
        centred = len(cols) == 2 * w + 1 and int(cols[0]) == -w
        rows.append((dr, w if centred else None, cols))
    widths = sorted({w for _, w, _ in rows if w is not None})
    # The run of half-width w along every padded row, for each width wanted.
    runs: dict[int, np.ndarray] = {}
    run = padded[:, r : r + n].copy()
    done = 0
    for w in widths:
        for k in range(done + 1, w + 1):
            op(run, padded[:, r - k : r - k + n], out=run)
            op(run, padded[:, r + k : r + k + n], out=run)
        done = w
        runs[w] = run.copy() if w != widths[-1] else run
    result = np.full((m, n), erode, dtype=bool)
    for dr, width, cols in rows:
        if width is not None:
            op(result, runs[width][r + dr : r + dr + m], out=result)
            continue
        for dc in cols:
            op(result, padded[r + dr : r + dr + m, r + dc : r + dc + n], out=result)
    return result


def binary_erosion(mask: np.ndarray, footprint: np.ndarray, *, border_value: int = 0) -> np.ndarray:
    """:func:`scipy.ndimage.binary_erosion` of a 2-D mask by ``footprint``, value for value.

    One iteration; ``footprint`` is square with an odd side and point-symmetric
    (it is its own reflection); ``border_value`` is what lies beyond the edge.
    """
    mask, footprint = _check(mask, footprint)
    return _combine(mask, footprint, erode=True, border=bool(border_value))


def binary_dilation(mask: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """:func:`scipy.ndimage.binary_dilation` of a 2-D mask by ``footprint``, value for value.

    One iteration, background beyond the edge; ``footprint`` as for :func:`binary_erosion`.
    """
    mask, footprint = _check(mask, footprint)
    return _combine(mask, footprint, erode=False, border=False)


def binary_opening(mask: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """:func:`scipy.ndimage.binary_opening` of a 2-D mask by ``footprint``, value for value."""
    mask, footprint = _check(mask, footprint)
    eroded = _combine(mask, footprint, erode=True, border=False)
    return _combine(eroded, footprint, erode=False, border=False)


def binary_closing(mask: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """:func:`scipy.ndimage.binary_closing` of a 2-D mask by ``footprint``, value for value.

    scipy erodes the dilation with background beyond the edge too: a mask
    touching the edge loses there what its dilation could not hold.
    """
    mask, footprint = _check(mask, footprint)
    grown = _combine(mask, footprint, erode=False, border=False)
    return _combine(grown, footprint, erode=True, border=False)
