"""Points found on a turned or mirrored image, taken back to the image's own pixels."""

from __future__ import annotations

import numpy as np


def unturn(
    points: np.ndarray, shape: tuple[int, int], turns: int, flip: bool = False
) -> np.ndarray:
    """(row, col) points of ``np.rot90(a[:, ::-1] if flip else a, turns)`` in the pixels of ``a``.

    ``shape`` is the shape of ``a``.
    """
    points = np.asarray(points, dtype=float)
    for j in reversed(range(turns)):
        before = shape if j % 2 == 0 else shape[::-1]  # the array's shape before turn j
        points = np.column_stack([points[:, 1], before[1] - 1 - points[:, 0]])
    if flip:
        points = np.column_stack([points[:, 0], shape[1] - 1 - points[:, 1]])
    return points
