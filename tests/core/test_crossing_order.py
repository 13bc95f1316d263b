"""Crossings are listed in order along the junction, so that the overlay numbers them so.

The frame of the counting tests: 1 µm pixels, epidermis above row 100, DEJ
along row 99.5 from column 0 to 399.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import line

from ienfd.core import count_crossings
from ienfd.core._counting import order_along_junction

SHAPE = (200, 400)


def _frame(tips: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton of fibres rising from row 180 to (tip row, column), and the epidermis."""
    skeleton = np.zeros(SHAPE, dtype=bool)
    for tip_row, col in tips:
        rr, cc = line(180, col, tip_row, col)
        skeleton[rr, cc] = True
    epidermis = np.zeros(SHAPE, dtype=bool)
    epidermis[:100] = True
    return skeleton, epidermis


def test_count_crossings_lists_the_crossings_along_the_junction() -> None:
    # The fibre reaching highest is labelled first (raster order), so without
    # ordering the list would start at column 330.
    tips = [(60, 40), (50, 110), (30, 190), (70, 260), (10, 330)]
    skeleton, epidermis = _frame(tips)
    dej = [np.array([[99.5, 0.0], [99.5, 399.0]])]
    found = count_crossings(skeleton, epidermis, dej, spacing=1.0)
    assert found.crossings[:, 1] == pytest.approx([40, 110, 190, 260, 330], abs=1.5)
    # The DEJ drawn the other way round gives the same order: the section's
    # long axis points to increasing column.
    reverse = count_crossings(skeleton, epidermis, [dej[0][::-1]], spacing=1.0)
    np.testing.assert_allclose(reverse.crossings, found.crossings)


def test_order_follows_the_arc_length_of_a_winding_junction() -> None:
    # A junction that runs right, turns down and comes back left (a U on its
    # side): arc length, not column, sets the order.
    t = np.linspace(0, np.pi, 400)
    dej = np.column_stack([100 + 80 * (1 - np.cos(t)), 200 + 150 * np.sin(t)])
    truth = np.array([20, 90, 160, 230, 300, 370])
    points = dej[truth] + np.array([0.4, -0.3])  # just off the junction
    shuffled = np.random.default_rng(0).permutation(len(points))
    order = order_along_junction(points[shuffled], [dej])
    assert shuffled[order].tolist() == list(range(len(points)))


def test_pieces_are_taken_in_order_along_the_section() -> None:
    # The longer piece, listed first, lies on the right: the left piece's
    # crossings come first, each piece run left to right.
    right = np.array([[50.0, 500.0], [51.0, 400.0], [52.0, 300.0]])  # vertex counts differ
    left = np.array([[48.0, 0.0], [50.0, 200.0]])
    points = np.array([[51.0, 450.0], [49.0, 20.0], [51.0, 350.0], [49.0, 150.0]])
    assert order_along_junction(points, [right, left]).tolist() == [1, 3, 2, 0]


def test_a_vertical_section_is_ordered_by_row() -> None:
    dej = [np.array([[400.0, 30.0], [0.0, 30.0]])]
    points = np.array([[300.0, 30.0], [100.0, 31.0], [200.0, 30.0]])
    assert order_along_junction(points, dej).tolist() == [1, 2, 0]


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_the_order_turns_with_the_section(turn: int) -> None:
    """Rotated by 90° steps, the order is the same walk along the junction (or its reverse)."""
    t = np.linspace(0, 1, 200)
    dej = np.column_stack([100 + 30 * np.sin(6 * t), 50 + 400 * t])
    points = dej[[170, 10, 120, 60]]
    size = 600.0

    def rotate(p: np.ndarray) -> np.ndarray:
        for _ in range(turn):
            p = np.column_stack([size - p[:, 1], p[:, 0]])  # np.rot90's point mapping
        return p

    order = order_along_junction(rotate(points), [rotate(dej)]).tolist()
    assert order in ([1, 3, 2, 0], [0, 2, 3, 1])


def test_without_a_junction_or_with_one_point_the_order_is_kept() -> None:
    points = np.array([[5.0, 9.0], [1.0, 2.0], [3.0, 3.0]])
    assert order_along_junction(points, []).tolist() == [0, 1, 2]
    assert order_along_junction(points[:1], [np.array([[0.0, 0.0], [0.0, 9.0]])]).tolist() == [0]
    assert order_along_junction(np.zeros((0, 2)), [np.zeros((0, 2))]).tolist() == []
