"""Counting again across an edited junction from the fibres an analysis traced."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ienfd.core import GivenJunction, analyze_section, count_crossings, recount_section
from ienfd.synthetic import SectionSpec, generate_section, random_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def analysed():  # type: ignore[no-untyped-def]
    section = generate_section(SectionSpec(seed=5, length_um=700, pixel_size_um=0.6))
    return section, analyze_section(section.image, spacing=0.6)


def _whole_region_count(trace, inside, dej, surface):  # type: ignore[no-untyped-def]
    """count_crossings once over the trace's whole region (what recount_section splits up).

    The lines are in the image's pixels; the trace, and the count, in the
    analysis frame (``trace.frame``): the second value places its points in
    the image.
    """
    p = trace.parameters
    origin = np.asarray(trace.origin, float)
    epidermis = np.zeros(trace.skeleton.shape, dtype=bool)
    ridge = np.zeros(trace.skeleton.shape, dtype=np.float32)
    pts = trace.points
    epidermis[pts[:, 0], pts[:, 1]] = inside
    ridge[pts[:, 0], pts[:, 1]] = trace.ridge  # the rule reads the ridge on the skeleton only
    found = count_crossings(
        trace.skeleton, epidermis, [trace.in_trace_frame(line) - origin for line in dej],
        spacing=trace.spacing, **p.counting_rule(trace.modality),
        surface=[trace.in_trace_frame(line) - origin for line in surface], ridge=ridge,
        dermal_ridge=trace.dermal_ridge,  # the analysis' dermal fibres, kept across edits
    )  # fmt: skip
    back = trace.frame.points_back if trace.frame is not None else np.asarray
    return found, lambda points: back(points + origin)


def _sorted(points: np.ndarray) -> np.ndarray:
    return points[np.lexsort((points[:, 1], points[:, 0]))]


def test_the_unedited_junction_recounts_the_analysis(analysed) -> None:  # type: ignore[no-untyped-def]
    _, result = analysed
    again = recount_section(
        result.trace, GivenJunction(dej=tuple(result.dej), surface=tuple(result.surface))
    )
    assert again.count == result.count > 0
    np.testing.assert_allclose(_sorted(again.crossings), _sorted(result.crossings))
    assert again.dej_length_um == pytest.approx(result.dej_length_um)
    assert again.traced_fraction == 1.0 and again.warnings == []


@pytest.mark.parametrize("shift_um", [-15.0, -6.0, 6.0, 15.0])
def test_piece_by_piece_equals_one_count_over_the_region(analysed, shift_um: float) -> None:  # type: ignore[no-untyped-def]
    _, result = analysed
    dej = [line.copy() for line in result.dej]
    k = len(dej[0]) // 2
    dej[0][k - 60 : k + 60, 0] += shift_um / 0.6  # a stretch of the DEJ moved up or down
    junction = GivenJunction(dej=tuple(dej), surface=tuple(result.surface))
    again = recount_section(result.trace, junction)
    moved = again.basis.inside != result.trace.basis.inside
    assert moved.any()  # fibre pixels changed side, only near the moved stretch
    stretch = result.trace.in_trace_frame(dej[0][k - 61 : k + 61])  # the trace's frame
    assert np.hypot(
        *(result.trace.points[moved] + result.trace.origin - stretch.mean(0)).T
    ).max() < (np.hypot(*(stretch[-1] - stretch[0])) / 2 + 2 * abs(shift_um) / 0.6)
    whole, place = _whole_region_count(result.trace, again.basis.inside, again.dej, again.surface)
    # In the same order: along the junction.
    np.testing.assert_allclose(again.crossings, place(whole.crossings))
    np.testing.assert_array_equal(again.fragments, place(whole.fragments))
    np.testing.assert_allclose(again.short_fibres, place(_sorted(whole.short_fibres)))
    assert again.secondary_branches == whole.secondary_branches
    # The trace reused the counts of the groups the edit did not reach: a fresh
    # trace, counting every group, finds the same.
    fresh = recount_section(replace(result.trace), junction)
    np.testing.assert_allclose(fresh.crossings, again.crossings)
    np.testing.assert_allclose(fresh.fragments, again.fragments)


def _generated(seed: int, modality: str):  # type: ignore[no-untyped-def]
    spec = replace(random_spec(seed, appearance="wide"), modality=modality, length_um=600,
                   pixel_size_um=0.6)  # fmt: skip
    section = generate_section(spec)
    if modality == "brightfield":
        return analyze_section(section.image, spacing=0.6)
    fibre, membrane = section.image
    return analyze_section(fibre, spacing=0.6, membrane=membrane)


def _real_crop():  # type: ignore[no-untyped-def]
    """The committed real-tissue crop with drawn fibres (tests/data/real_skin)."""
    spec = importlib.util.spec_from_file_location(
        "real_tissue_sections", ROOT / "scripts" / "real_tissue_sections.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("real_tissue_sections", module)
    spec.loader.exec_module(module)
    rgb, _ = module.build_test_section(seed=1, target_pixel_size_um=0.6)
    return analyze_section(rgb, spacing=0.6)


@pytest.mark.parametrize(
    "make",
    [
        # Seed 4 has a fragment more than 40 µm from the DEJ, seed 6 crowds of
        # pieces across the groups recount_section counts one by one.
        pytest.param(lambda: _generated(4, "brightfield"), id="wide-4-brightfield"),
        pytest.param(lambda: _generated(6, "brightfield"), id="wide-6-brightfield"),
        pytest.param(lambda: _generated(4, "fluorescence"), id="wide-4-fluorescence"),
        pytest.param(lambda: _generated(6, "fluorescence"), id="wide-6-fluorescence"),
        pytest.param(_real_crop, id="real-tissue-crop"),
    ],
)
def test_recount_of_the_unedited_junction_is_the_analysis(make) -> None:  # type: ignore[no-untyped-def]
    """Crossings and fragments by the same rule: the surface and ridge tests included."""
    result = make()
    again = recount_section(
        result.trace, GivenJunction(dej=tuple(result.dej), surface=tuple(result.surface))
    )
    assert len(result.fragments) > 0
    np.testing.assert_allclose(again.crossings, result.crossings, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(again.fragments, result.fragments)
    np.testing.assert_allclose(_sorted(again.short_fibres), _sorted(result.short_fibres))
    assert again.secondary_branches == result.secondary_branches


def test_a_junction_moved_below_a_crossing_loses_it(analysed) -> None:  # type: ignore[no-untyped-def]
    _, result = analysed
    crossing = result.crossings[0]
    dej = [line.copy() for line in result.dej]
    line = dej[0]
    near = np.hypot(*(line - crossing).T) < 25 / 0.6  # the DEJ within 25 µm of the crossing
    # Down into the dermis, away from the epidermis (the surface lies on the other side).
    away = line[near].mean(axis=0) - np.concatenate(result.surface).mean(axis=0)
    line[near] += 12 / 0.6 * away / np.hypot(*away)
    again = recount_section(
        result.trace, GivenJunction(dej=tuple(dej), surface=tuple(result.surface))
    )
    distance = np.hypot(*(again.crossings - crossing).T).min() if again.count else np.inf
    assert distance * 0.6 > 10  # no crossing left where the DEJ was moved
    assert again.dej_length_um > result.dej_length_um


def test_a_painted_epidermis_recounts_like_the_analysis_with_it(analysed) -> None:  # type: ignore[no-untyped-def]
    section, result = analysed
    painted = GivenJunction(epidermis=section.epidermis_mask)
    again = recount_section(result.trace, painted)
    assert abs(again.count - section.truth["count"]) <= 2
    assert again.dej_length_um == pytest.approx(section.truth["dej_length_um"], rel=0.1)


def test_a_junction_outside_the_traced_band_is_reported(analysed) -> None:  # type: ignore[no-untyped-def]
    _, result = analysed
    surface = np.concatenate(result.surface).mean(axis=0)
    dej = result.dej[0]
    away = dej.mean(axis=0) - surface
    moved = dej + 120 / 0.6 * away / np.hypot(*away)  # 120 µm into the dermis
    again = recount_section(
        result.trace, GivenJunction(dej=(moved,), surface=tuple(result.surface))
    )
    assert again.traced_fraction < 0.5
    assert any("outside the band where fibres were traced" in w for w in again.warnings)


def test_lines_that_do_not_pair_are_taken_as_drawn(analysed) -> None:  # type: ignore[no-untyped-def]
    _, result = analysed
    line = result.dej[0]
    half = len(line) // 2
    split = GivenJunction(dej=(line[:half], line[half:]), surface=tuple(result.surface))
    again = recount_section(result.trace, split)  # two pieces where there was one
    assert len(again.dej) == 2
    assert abs(again.count - result.count) <= 2


@pytest.mark.parametrize("painted", [False, True], ids=["lines", "painted"])
def test_a_section_analysed_on_a_window_of_it_recounts_in_the_image_s_pixels(painted) -> None:  # type: ignore[no-untyped-def]
    # At 0.5 µm a block is 3 pixels; 2 rows and 2 columns over are dropped,
    # one on each side, so the analysis' window (and its block grid) starts
    # at pixel (1, 1) of the image.
    section = generate_section(SectionSpec(seed=5, length_um=500, pixel_size_um=0.5))
    image = section.image
    rows, cols = (n - (n - 2) % 3 for n in image.shape[:2])  # 2 over a whole block
    image = image[:rows, :cols]
    result = analyze_section(image, spacing=0.5)
    assert result.trace is not None
    assert (result.trace.window[0].start, result.trace.window[1].start) == (1, 1)
    assert result.trace.shape == image.shape[:2]
    if painted:  # the true epidermis, painted at the image's shape
        given = GivenJunction(epidermis=section.epidermis_mask[:rows, :cols])
    else:
        given = GivenJunction(dej=tuple(result.dej), surface=tuple(result.surface))
    again = recount_section(result.trace, given)
    assert again.traced_fraction > 0.95
    if painted:
        assert abs(again.count - section.truth["count"]) <= 1
        assert again.dej_length_um == pytest.approx(section.truth["dej_length_um"], rel=0.05)
        # A mask of the window's shape is not one of the image's.
        with pytest.raises(ValueError, match="mask has shape"):
            recount_section(
                result.trace,
                GivenJunction(epidermis=section.epidermis_mask[1 : rows - 1, 1 : cols - 1]),
            )
    else:
        np.testing.assert_allclose(_sorted(again.crossings), _sorted(result.crossings))
        np.testing.assert_allclose(again.dej[0], result.dej[0])
