"""Open polylines of (row, col) vertices: length and even resampling."""

from __future__ import annotations

import numpy as np

__all__ = ["arc_length", "polyline_length", "resample_polyline"]


def polyline_length(points: np.ndarray) -> float:
    """Length of an open polyline of (row, col) vertices, in pixels."""
    if len(points) < 2:
        return 0.0
    return float(np.sum(np.hypot(*np.diff(points, axis=0).T)))


def arc_length(points: np.ndarray) -> np.ndarray:
    """Distance along an open polyline from its start to each vertex, in pixels (0 first).

    Examples
    --------
    >>> arc_length(np.array([[0.0, 0.0], [0.0, 3.0], [4.0, 3.0]])).tolist()
    [0.0, 3.0, 7.0]
    """
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])


def resample_polyline(polyline: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` pixels along a (K, 2) polyline, from its start.

    Examples
    --------
    >>> resample_polyline(np.array([[0.0, 0.0], [0.0, 2.0]]), 0.5)[:, 1].tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0]
    """
    arc = arc_length(polyline)
    if arc[-1] == 0:
        return polyline[:1]
    s = np.arange(0.0, arc[-1] + step, step)
    return np.stack([np.interp(s, arc, polyline[:, k]) for k in range(2)], axis=1)
