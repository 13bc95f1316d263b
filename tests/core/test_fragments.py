"""Fragments: uncounted epidermal pieces of the trace that look like pieces of fibre.

The frame: 1 µm pixels, the surface along row 20, the epidermis between it
and the DEJ along row 99.5, dermis below. A dermal fibre runs along row 150
(the reference for the ridge strength).
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import circle_perimeter

from ienfd.core import count_crossings

from ._phantom import draw_segments

SHAPE = (200, 400)
DEJ = [np.array([[99.5, 0.0], [99.5, 399.0]])]
SURFACE = [np.array([[20.0, 0.0], [20.0, 399.0]])]
DERMAL = (150, 10, 150, 390)


def _epidermis() -> np.ndarray:
    epidermis = np.zeros(SHAPE, dtype=bool)
    epidermis[20:100] = True
    return epidermis


def _draw(*segments: tuple[int, int, int, int]) -> np.ndarray:
    return draw_segments(SHAPE, *segments)


def _ridge(skeleton: np.ndarray, *, faint: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Ridge response 1 on the skeleton, 0.2 along ``faint`` (a box r0, c0, r1, c1)."""
    ridge = skeleton.astype(np.float32)
    if faint is not None:
        r0, c0, r1, c1 = faint
        ridge[r0:r1, c0:c1] *= 0.2
    return ridge


def _count(skeleton: np.ndarray, ridge: np.ndarray | None = None):  # type: ignore[no-untyped-def]
    return count_crossings(
        skeleton,
        _epidermis(),
        DEJ,
        spacing=1.0,
        surface=SURFACE,
        ridge=_ridge(skeleton) if ridge is None else ridge,
    )


def test_a_piece_of_fibre_free_in_the_epidermis_is_a_fragment() -> None:
    found = _count(_draw(DERMAL, (80, 200, 50, 215)))
    assert len(found.fragments) == 1 and len(found.crossings) == 0
    row, col = found.fragments[0]
    assert abs(row - 65) <= 1 and abs(col - 207) <= 1  # the piece's middle
    assert found.epidermal_pieces == 1


def test_a_piece_shorter_than_half_a_keratinocyte_is_not_a_fragment() -> None:
    found = _count(_draw(DERMAL, (60, 200, 57, 200)))  # 4 pixels of 1 µm: a trace piece only
    assert len(found.fragments) == 0
    assert found.epidermal_pieces == 1


def test_a_loop_is_the_rim_of_a_nucleus_not_a_fragment() -> None:
    skeleton = _draw(DERMAL)
    rr, cc = circle_perimeter(60, 200, 5)
    skeleton[rr, cc] = True
    assert len(_count(skeleton).fragments) == 0


def test_a_piece_touching_the_junction_is_not_a_fragment() -> None:
    # From 2 µm above the DEJ to 30 µm into the epidermis, with no dermal part:
    # a fibre whose crossing was not traced, not a free piece.
    found = _count(_draw(DERMAL, (97, 300, 70, 300)))
    assert len(found.fragments) == 0 and len(found.crossings) == 0
    assert len(_count(_draw(DERMAL, (92, 300, 65, 300))).fragments) == 1  # 7 µm above it


def test_a_piece_on_or_along_the_surface_is_texture() -> None:
    on_surface = _draw(DERMAL, (21, 100, 21, 130))
    along = _draw(DERMAL, (26, 100, 27, 130))  # 6 µm under the surface, parallel to it
    across = _draw(DERMAL, (26, 100, 46, 110))  # 6 µm under it too, but going down
    deep_along = _draw(DERMAL, (45, 100, 46, 130))  # parallel, but 25 µm under it
    assert len(_count(on_surface).fragments) == 0
    assert len(_count(along).fragments) == 0
    assert len(_count(across).fragments) == 1
    assert len(_count(deep_along).fragments) == 1


def test_a_faint_piece_is_not_a_fragment() -> None:
    skeleton = _draw(DERMAL, (80, 200, 50, 215))
    faint = _ridge(skeleton, faint=(40, 190, 90, 230))  # a fifth of the dermal fibre's ridge
    assert len(_count(skeleton, faint).fragments) == 0
    assert len(_count(skeleton).fragments) == 1


def test_a_crowd_of_pieces_is_texture_and_sparse_pieces_are_fragments() -> None:
    crowd = [(50, 100 + 6 * k, 60, 102 + 6 * k) for k in range(5)]  # within 24 µm
    found = _count(_draw(DERMAL, *crowd))
    assert len(found.fragments) == 0
    assert found.epidermal_pieces == 5
    sparse = [(50, 40 + 80 * k, 65, 46 + 80 * k) for k in range(5)]
    assert len(_count(_draw(DERMAL, *sparse)).fragments) == 5


def test_fragments_are_listed_along_the_junction() -> None:
    found = _count(_draw(DERMAL, (70, 300, 50, 300), (40, 60, 60, 60), (55, 180, 75, 185)))
    assert found.fragments[:, 1] == pytest.approx([60, 182, 300], abs=3)


def test_without_surface_or_ridge_those_tests_are_skipped() -> None:
    skeleton = _draw(DERMAL, (26, 100, 27, 130))
    found = count_crossings(skeleton, _epidermis(), DEJ, spacing=1.0)
    assert len(found.fragments) == 1


def test_the_fragment_tests_do_not_change_the_crossings() -> None:
    skeleton = _draw(
        (180, 100, 40, 100),  # a crossing fibre
        (180, 250, 30, 250),  # another
        (60, 300, 50, 330),  # a fragment
        (22, 150, 22, 200),  # surface texture
        DERMAL,
    )
    plain = count_crossings(skeleton, _epidermis(), DEJ, spacing=1.0)
    found = _count(skeleton)
    np.testing.assert_array_equal(found.crossings, plain.crossings)
    assert len(found.crossings) == 2
    assert len(plain.fragments) == 2 and len(found.fragments) == 1
    assert found.epidermal_pieces == plain.epidermal_pieces == 2
