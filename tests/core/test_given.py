"""Counting across a junction drawn by a person (analyze_section(junction=...))."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from ienfd.core import AnalysisParameters, GivenJunction, analyze_section
from ienfd.synthetic import SectionSpec, generate_section, score_section
from tests.core.test_real_tissue import _real_tissue_module


@pytest.fixture(scope="module")
def section():  # type: ignore[no-untyped-def]
    return generate_section(SectionSpec(seed=3, length_um=500, pixel_size_um=0.6))


def _lines(truth: dict, key: str) -> tuple[np.ndarray, ...]:  # type: ignore[type-arg]
    return (np.asarray(truth[key], dtype=float),)


def _score(result, truth):  # type: ignore[no-untyped-def]
    return score_section(result.crossings, result.dej_length_um, truth)


@pytest.mark.parametrize("drawn", ["dej", "dej+surface", "mask", "polygon"])
def test_true_junction_gives_the_true_crossings(section, drawn: str) -> None:  # type: ignore[no-untyped-def]
    truth = section.truth
    mask = section.epidermis_mask
    if drawn == "dej":
        given = GivenJunction(dej=_lines(truth, "dej"))
    elif drawn == "dej+surface":
        given = GivenJunction(dej=_lines(truth, "dej"), surface=_lines(truth, "surface"))
    elif drawn == "mask":
        given = GivenJunction(epidermis=mask)
    else:
        contour = max(__import__("skimage").measure.find_contours(mask.astype(float), 0.5), key=len)
        given = GivenJunction(epidermis=shapely.Polygon(contour))
    result = analyze_section(section.image, spacing=0.6, junction=given)
    score = _score(result, truth)
    assert result.junction_method == "given"
    assert truth["count"] >= 4
    assert score.matched >= truth["count"] - 1
    assert result.count <= truth["count"] + 1
    # Drawn lines are the DEJ itself; a drawn epidermis gives it within a few %.
    assert abs(score.dej_length_error) < (0.001 if drawn.startswith("dej") else 0.05)
    assert not result.needs_review, result.qc_reasons


def test_the_epidermis_side_is_the_one_with_glass(section) -> None:  # type: ignore[no-untyped-def]
    # The same DEJ drawn in the other direction: the epidermis is still
    # found on the side that gives way to glass, and the count is the same.
    dej = _lines(section.truth, "dej")[0]
    forward = analyze_section(section.image, spacing=0.6, junction=GivenJunction(dej=(dej,)))
    backward = analyze_section(section.image, spacing=0.6, junction=GivenJunction(dej=(dej[::-1],)))
    assert forward.count == backward.count
    assert forward.epidermis_area_mm2 == pytest.approx(backward.epidermis_area_mm2, rel=0.02)
    # The living epidermis and its stratum corneum, not the dermis below the line.
    true_area = section.epidermis_mask.sum() * 0.6**2 / 1e6
    assert 0.9 * true_area < forward.epidermis_area_mm2 < 1.5 * true_area


def test_turning_the_section_and_its_drawing_changes_nothing(section) -> None:  # type: ignore[no-untyped-def]
    dej = _lines(section.truth, "dej")[0]
    surface = _lines(section.truth, "surface")[0]
    rows, cols = section.image.shape[:2]
    base = analyze_section(
        section.image, spacing=0.6, junction=GivenJunction(dej=(dej,), surface=(surface,))
    )
    # np.rot90 by one quarter: (r, c) -> (cols - 1 - c, r).
    turned = np.ascontiguousarray(np.rot90(section.image))

    def turn(points: np.ndarray) -> np.ndarray:
        return np.stack([cols - 1 - points[:, 1], points[:, 0]], axis=1)

    result = analyze_section(
        turned, spacing=0.6, junction=GivenJunction(dej=(turn(dej),), surface=(turn(surface),))
    )
    assert abs(result.count - base.count) <= 1
    assert result.dej_length_um == pytest.approx(base.dej_length_um, rel=1e-6)
    del rows


@pytest.mark.slow
def test_a_drawn_junction_rescues_real_tissue() -> None:
    # Real H&E tissue with drawn fibres, where the junction search finds about
    # half the junction: across its traced junction the count is the true one
    # within two fibres, with no false crossing, the same in every quarter turn.
    rts = _real_tissue_module()
    counts = []
    for k in range(4):
        rgb, truth = rts.build_test_section(seed=2, k=k, target_pixel_size_um=0.6)
        given = GivenJunction(dej=_lines(truth, "dej"), surface=_lines(truth, "surface"))
        result = analyze_section(rgb, spacing=0.6, junction=given)
        matched = score_section(result.crossings, result.dej_length_um, truth).matched
        assert abs(result.count - truth["count"]) <= 2, (k, result.count, truth["count"])
        assert matched >= result.count - 1
        counts.append(result.count)
    assert max(counts) - min(counts) <= 1


def test_result_records_the_drawing(section) -> None:  # type: ignore[no-untyped-def]
    given = GivenJunction(dej=_lines(section.truth, "dej"), source="abc123")
    out = analyze_section(section.image, spacing=0.6, junction=given).to_dict()
    assert out["junction_method"] == "given"
    assert out["junction_source"] == "abc123"
    searched = analyze_section(section.image, spacing=0.6).to_dict()
    assert "junction_source" not in searched


def test_bad_drawings_are_refused(section) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="needs DEJ lines or a non-empty epidermis"):
        GivenJunction()
    with pytest.raises(ValueError, match="needs DEJ lines or a non-empty epidermis"):
        GivenJunction(epidermis=np.zeros((5, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"\(K, 2\) array"):
        GivenJunction(dej=(np.array([1.0, 2.0, 3.0]),))
    with pytest.raises(ValueError, match="NaN"):
        GivenJunction(dej=(np.array([[0.0, 0.0], [np.nan, 1.0]]),))
    wrong_shape = GivenJunction(epidermis=np.ones((10, 10), dtype=bool))
    with pytest.raises(ValueError, match="must match"):
        analyze_section(section.image, spacing=0.6, junction=wrong_shape)


def test_a_drawn_epidermis_with_no_junction_facing_dermis_is_an_error(section) -> None:  # type: ignore[no-untyped-def]
    # A blob of "epidermis" in the glass: no outline faces deep tissue.
    mask = np.zeros(section.image.shape[:2], dtype=bool)
    mask[:20, :20] = True
    with pytest.raises(ValueError, match="no outline facing the dermis"):
        analyze_section(
            section.image,
            spacing=0.6,
            junction=GivenJunction(epidermis=mask),
            parameters=AnalysisParameters(),
        )
