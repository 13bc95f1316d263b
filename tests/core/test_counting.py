"""The EFNS/PNS counting rule on hand-drawn skeletons with known answers.

The frame: 1 µm pixels, epidermis above row 100 (rows 0-99), DEJ along row
99.5 from column 0 to 399, dermis below.
"""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.core import AnalysisParameters, count_crossings

from ._phantom import draw_segments

SHAPE = (200, 400)
DEJ = [np.array([[99.5, 0.0], [99.5, 399.0]])]


def _epidermis() -> np.ndarray:
    epidermis = np.zeros(SHAPE, dtype=bool)
    epidermis[:100] = True
    return epidermis


def _draw(*segments: tuple[int, int, int, int]) -> np.ndarray:
    return draw_segments(SHAPE, *segments)


def _count(skeleton: np.ndarray):  # type: ignore[no-untyped-def]
    return count_crossings(skeleton, _epidermis(), DEJ, spacing=1.0)


def test_a_fibre_crossing_the_dej_counts_once_at_its_crossing() -> None:
    found = _count(_draw((150, 100, 40, 100)))
    assert len(found.crossings) == 1
    row, col = found.crossings[0]
    assert abs(row - 99.5) <= 1.0 and abs(col - 100) <= 1.0


def test_a_fibre_branching_in_the_epidermis_counts_once() -> None:
    found = _count(_draw((150, 100, 30, 100), (60, 100, 30, 130), (70, 100, 40, 75)))
    assert len(found.crossings) == 1
    assert found.secondary_branches == 2


def test_fibres_branching_in_the_dermis_and_crossing_separately_count_twice() -> None:
    found = _count(_draw((180, 200, 140, 200), (140, 200, 40, 185), (140, 200, 40, 215)))
    assert len(found.crossings) == 2
    assert sorted(np.round(found.crossings[:, 1])) == pytest.approx([192, 208], abs=2)


def test_a_fragment_inside_the_epidermis_counts_nothing() -> None:
    found = _count(_draw((80, 250, 20, 250)))
    assert len(found.crossings) == 0
    assert len(found.fragments) == 1


def test_a_fibre_stopping_short_of_the_dej_counts_nothing() -> None:
    found = _count(_draw((180, 300, 106, 300)))
    assert len(found.crossings) == 0
    assert len(found.short_fibres) == 1


def test_a_fibre_reaching_the_dej_without_crossing_counts_nothing() -> None:
    # It pokes 2 µm into the epidermis: less than min_depth_um (5 µm).
    found = _count(_draw((180, 300, 98, 300)))
    assert len(found.crossings) == 0


def test_a_dermal_fibre_running_along_the_dej_counts_nothing() -> None:
    # Runs 3 µm below the DEJ, then dips 6 µm into the epidermis and out again
    # while staying nearly parallel to it (a misplaced junction in real images).
    found = _count(_draw((103, 20, 103, 150), (103, 150, 94, 190), (94, 190, 103, 230)))
    assert len(found.crossings) == 0


def test_a_crossing_at_the_cut_end_of_the_section_is_not_counted() -> None:
    found = _count(_draw((150, 2, 40, 2)))
    assert len(found.crossings) == 0


def test_the_whole_rule_on_one_frame() -> None:
    skeleton = _draw(
        (150, 100, 40, 100),  # counted
        (180, 200, 140, 200),
        (140, 200, 40, 185),
        (140, 200, 40, 215),  # two
        (80, 250, 20, 250),  # fragment
        (180, 300, 106, 300),  # short
    )
    found = _count(skeleton)
    assert len(found.crossings) == 3
    assert len(found.fragments) == 1
    assert len(found.short_fibres) == 1


def test_the_bright_field_rule_needs_a_dermal_reach_past_the_basal_layer() -> None:
    # A basal nucleus lying across the junction is traced 6 µm into the
    # dermis and 20 µm into the epidermis; a fibre comes up from 40 µm below.
    skeleton = _draw((106, 100, 80, 100), (140, 300, 60, 300))
    rule = AnalysisParameters().counting_rule
    for modality, expected in (("fluorescence", [100, 300]), ("brightfield", [300])):
        found = count_crossings(skeleton, _epidermis(), DEJ, spacing=1.0, **rule(modality))
        assert sorted(np.round(found.crossings[:, 1])) == pytest.approx(expected, abs=2)
    # A fibre end just below the junction, 8 µm long, is tallied alike under
    # either rule (the tally is not the crossing's reach).
    short = _draw((111, 200, 104, 200))
    for modality in ("fluorescence", "brightfield"):
        found = count_crossings(short, _epidermis(), DEJ, spacing=1.0, **rule(modality))
        assert len(found.short_fibres) == 1
    with pytest.raises(ValueError, match="modality"):
        rule("darkfield")


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="one shape"):
        count_crossings(np.zeros((10, 10), bool), np.zeros((10, 11), bool), DEJ, spacing=1.0)


def test_an_empty_skeleton_counts_zero_crossings() -> None:
    found = _count(np.zeros(SHAPE, dtype=bool))
    assert len(found.crossings) == 0 and found.secondary_branches == 0


def test_the_counting_module_docstring_examples_run() -> None:
    import doctest

    from ienfd.core import _counting

    result = doctest.testmod(_counting)
    assert result.attempted > 0
    assert result.failed == 0
