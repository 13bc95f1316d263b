"""Compare what the analysis found with a synthetic section's known truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["SectionScore", "score_section"]


@dataclass(frozen=True)
class SectionScore:
    """Agreement of one analysed section with its truth.

    Attributes
    ----------
    true_count, found_count : int
    matched : int
        Found crossings paired one-to-one with true ones within the tolerance.
    dej_length_error : float
        (found - true) / true DEJ length.
    """

    true_count: int
    found_count: int
    matched: int
    dej_length_error: float

    @property
    def false_positives(self) -> int:
        """Found crossings with no true crossing within the tolerance."""
        return self.found_count - self.matched

    @property
    def false_negatives(self) -> int:
        """True crossings with no found crossing within the tolerance."""
        return self.true_count - self.matched


def score_section(
    crossings: np.ndarray,
    dej_length_um: float,
    truth: dict[str, Any],
    *,
    tolerance_um: float = 10.0,
) -> SectionScore:
    """Match found crossings to true ones and compare the DEJ length.

    Crossings are paired one-to-one so that as many pairs as possible lie
    within ``tolerance_um`` of each other, and among such pairings the one of
    least total distance (Hungarian assignment on distances, where a pair
    beyond the tolerance costs more than all pairs within it together). A
    plain least-total-distance assignment can trade two matches for one: one
    extra point at an end of the junction shifts every pair along it by one.

    Parameters
    ----------
    crossings : (K, 2) array_like
        Found (row, col) crossing points, in pixels of the truth's image.
    dej_length_um : float
        Found DEJ length.
    truth : dict
        A truth record from :func:`generate_section` (``crossings``,
        ``dej_length_um``, ``pixel_size_um``).
    tolerance_um : float
        Largest distance between a found and a true crossing that matches.

    Returns
    -------
    SectionScore

    Examples
    --------
    >>> truth = {"crossings": [{"row": 10.0, "col": 10.0}, {"row": 50.0, "col": 10.0}],
    ...          "dej_length_um": 200.0, "pixel_size_um": 0.5}
    >>> s = score_section([[12.0, 11.0], [90.0, 90.0]], 205.0, truth)
    >>> (s.matched, s.false_positives, s.false_negatives, round(s.dej_length_error, 3))
    (1, 1, 1, 0.025)
    """
    if tolerance_um <= 0:
        raise ValueError(f"tolerance_um must be > 0, got {tolerance_um}")
    found = np.asarray(crossings, dtype=float).reshape(-1, 2)
    true = np.array([[c["row"], c["col"]] for c in truth["crossings"]], dtype=float).reshape(-1, 2)
    matched = 0
    if len(found) and len(true):
        dist = np.hypot(found[:, None, 0] - true[None, :, 0], found[:, None, 1] - true[None, :, 1])
        within = dist * truth["pixel_size_um"] <= tolerance_um
        # Out-of-tolerance pairs cost more than every within-tolerance pair together.
        beyond = 1.0 + float(dist[within].sum())
        rows, cols = linear_sum_assignment(np.where(within, dist, beyond))
        matched = int(np.sum(within[rows, cols]))
    true_length = float(truth["dej_length_um"])
    return SectionScore(
        true_count=len(true),
        found_count=len(found),
        matched=matched,
        dej_length_error=(dej_length_um - true_length) / true_length,
    )
