"""Open polylines of (row, col) vertices: length and even resampling."""

from __future__ import annotations

import numpy as np

__all__ = ["arc_length", "away_from_ends", "directions", "polyline_length", "resample_polyline"]


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


def directions(points: np.ndarray, step: int) -> np.ndarray:
    """Unit direction at each vertex: from the vertex ``step`` back to the one ``step`` on.

    Vertices near an end use the end itself.

    Examples
    --------
    >>> directions(np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0]]), 1).tolist()
    [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    """
    index = np.arange(len(points))
    ahead = points[np.minimum(index + step, len(points) - 1)]
    tangent = (ahead - points[np.maximum(index - step, 0)]).astype(float)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    return tangent


def away_from_ends(points: np.ndarray, margin: float) -> np.ndarray:
    """Whether each vertex lies more than ``margin`` pixels along the polyline from both ends.

    Examples
    --------
    >>> away_from_ends(np.array([[0.0, 0.0], [0.0, 2.0], [0.0, 4.0]]), 1.0).tolist()
    [False, True, False]
    """
    along = arc_length(points)
    return (along > margin) & (along < along[-1] - margin)


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
