"""Open polylines of (row, col) vertices: length and even resampling."""

from __future__ import annotations

import numpy as np

__all__ = ["polyline_length", "resample_polyline"]


def polyline_length(points: np.ndarray) -> float:
    """Length of an open polyline of (row, col) vertices, in pixels."""
    if len(points) < 2:
        return 0.0
    return float(np.sum(np.hypot(*np.diff(points, axis=0).T)))


def resample_polyline(polyline: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` pixels along a (K, 2) polyline, from its start.

    Examples
    --------
    >>> resample_polyline(np.array([[0.0, 0.0], [0.0, 2.0]]), 0.5)[:, 1].tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    seg = np.hypot(*np.diff(polyline, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] == 0:
        return polyline[:1]
    s = np.arange(0.0, arc[-1] + step, step)
    return np.stack([np.interp(s, arc, polyline[:, k]) for k in range(2)], axis=1)
