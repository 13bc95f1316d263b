"""The frame a section is analysed in: the same for every way it can lie on the scanner.

A slide can be scanned with the section turned by any multiple of 90° and
mirrored: eight images of one section. Pixel-grid steps (block averages,
thinning, tie-breaks in a search) are not exactly symmetric under those
turns, so an analysis run on each image as it comes can count one or two
fibres differently. :func:`canonical_frame` picks, from the image alone, the
turn and mirror that brings any of the eight images to the same array; the
analysis runs on that array and its coordinates are mapped back
(:meth:`Frame.points_back`). The eight images of a section are then analysed
on identical pixels and give identical results.

The frame is chosen from the image's shape and the first moments of its
tissue signal: the longer side along the columns (landscape), the tissue's
mass below and right of the image centre. The moments are computed in
integers for integer images, so the choice is exact; an image whose tissue
mass is centred (a first moment of exactly 0) keeps the first frame in a
fixed order for that axis, and a square image whose two moments are equal
in size is not turned.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Literal

import numpy as np

__all__ = ["Frame", "canonical_frame"]


@dataclass(frozen=True)
class Frame:
    """A turn and mirror of an image: transpose, then flip rows, then flip columns.

    Parameters
    ----------
    shape : (int, int)
        Rows and columns of the image (before the transform).
    transpose : bool
        Rows and columns swapped first.
    flip_rows, flip_cols : bool
        Then the rows, and the columns, in reverse order.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(6).reshape(2, 3)
    >>> frame = Frame((2, 3), transpose=True, flip_rows=True)
    >>> turned = frame.array(image)
    >>> point = np.array([[0.0, 2.0]])  # holds image[0, 2] == 2
    >>> r, c = frame.points(point)[0].astype(int)
    >>> int(turned[r, c]), frame.points_back(frame.points(point)).tolist()
    (2, [[0.0, 2.0]])
    """

    shape: tuple[int, int]
    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    @property
    def identity(self) -> bool:
        """True when the analysis frame is the image's own."""
        return not (self.transpose or self.flip_rows or self.flip_cols)

    @property
    def turned_shape(self) -> tuple[int, int]:
        """Rows and columns in the analysis frame."""
        rows, cols = self.shape
        return (cols, rows) if self.transpose else (rows, cols)

    def array(self, array: np.ndarray) -> np.ndarray:
        """``array`` (image-shaped in its first two axes) in the analysis frame."""
        if self.identity:
            return array
        out = np.swapaxes(array, 0, 1) if self.transpose else array
        if self.flip_rows:
            out = out[::-1]
        if self.flip_cols:
            out = out[:, ::-1]
        return np.ascontiguousarray(out)

    def points(self, points: np.ndarray) -> np.ndarray:
        """(K, 2) (row, col) image pixels to the analysis frame."""
        out = np.array(points, dtype=float).reshape(-1, 2)
        return self._flipped(out[:, ::-1].copy() if self.transpose else out)

    def points_back(self, points: np.ndarray) -> np.ndarray:
        """(K, 2) (row, col) analysis-frame pixels to the image's."""
        out = self._flipped(np.array(points, dtype=float).reshape(-1, 2))
        return out[:, ::-1].copy() if self.transpose else out

    def _flipped(self, out: np.ndarray) -> np.ndarray:
        """Analysis-frame points flipped in place (the flips are their own inverse)."""
        rows, cols = self.turned_shape
        if self.flip_rows:
            out[:, 0] = rows - 1 - out[:, 0]
        if self.flip_cols:
            out[:, 1] = cols - 1 - out[:, 1]
        return out


def canonical_frame(image: np.ndarray, modality: Literal["brightfield", "fluorescence"]) -> Frame:
    """The frame that brings each of the eight turned and mirrored copies of `image` to one array.

    Parameters
    ----------
    image : (M, N) or (M, N, C) ndarray
    modality : {'brightfield', 'fluorescence'}
        Tissue is dark in bright-field and bright in fluorescence: the frame
        puts the tissue's mass below and right of the centre in both.

    Returns
    -------
    Frame

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((40, 60), dtype=np.uint8)
    >>> image[30:, 40:] = 200  # bright tissue at the lower right
    >>> turned = np.rot90(image)
    >>> frame = canonical_frame(turned, "fluorescence")
    >>> bool(np.array_equal(frame.array(turned), image))
    True
    """
    image = np.asarray(image)
    dtype = np.int64 if image.dtype.kind in "uib" else np.float64
    # Rows of (columns x channels): one fast reduction along each axis.
    flat = image.reshape(image.shape[0], -1)
    row_sums = flat.sum(axis=1, dtype=dtype)
    col_sums = flat.sum(axis=0, dtype=dtype).reshape(image.shape[1], -1).sum(axis=1)
    if modality == "brightfield":  # tissue is what absorbs light
        row_sums, col_sums = -row_sums, -col_sums
    # Moments about the centre, in half pixels so that they stay integers:
    # a constant added to every pixel does not change them.
    moment_r = row_sums @ (2 * np.arange(len(row_sums), dtype=dtype) - (len(row_sums) - 1))
    moment_c = col_sums @ (2 * np.arange(len(col_sums), dtype=dtype) - (len(col_sums) - 1))
    shape = (int(image.shape[0]), int(image.shape[1]))
    best: tuple[tuple[bool, object, object], Frame] | None = None
    for transpose, flip_rows, flip_cols in product((False, True), repeat=3):
        rows, cols = (shape[1], shape[0]) if transpose else shape
        m_r, m_c = (moment_c, moment_r) if transpose else (moment_r, moment_c)
        key = (cols >= rows, -m_r if flip_rows else m_r, -m_c if flip_cols else m_c)
        if best is None or key > best[0]:
            best = (key, Frame(shape, transpose, flip_rows, flip_cols))
    assert best is not None
    return best[1]
