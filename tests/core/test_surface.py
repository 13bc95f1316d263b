"""The epidermal surface: traced along the outer surface only, cut edge to cut edge.

Small masks at 1.5 µm per pixel (the junction's working resolution): an
epidermis with a wavy surface along row ~40 and a wavy junction along row
~90, over columns 30-369, with dermis below it down to row 180.
"""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.core import analyze_section, trace_junction
from ienfd.core._junction import _bridge_notches, _trim_cut_edges
from ienfd.core._polyline import polyline_length, resample_polyline
from ienfd.synthetic import SectionSpec, generate_section
from tests.core._orientation import unturn

SPACING = 1.5
SHAPE = (200, 400)
ROWS, COLS = np.mgrid[: SHAPE[0], : SHAPE[1]]
TOP = 40 + 5 * np.sin(COLS / 40)
INSIDE = (COLS >= 30) & (COLS < 370)


def _masks(turn: int = 0) -> tuple[np.ndarray, np.ndarray]:
    epidermis = (ROWS >= TOP) & (ROWS < 90 + 8 * np.sin(COLS / 25)) & INSIDE
    tissue = (ROWS >= TOP) & (ROWS < 180) & INSIDE
    return np.rot90(epidermis, turn), np.rot90(tissue, turn)


def _true_surface() -> np.ndarray:
    cols = np.arange(30.0, 370.0)
    return np.column_stack([40 + 5 * np.sin(cols / 40), cols])


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_the_surface_runs_along_the_top_only(turn: int) -> None:
    epidermis, tissue = _masks(turn)
    (trace,) = trace_junction(epidermis, tissue, spacing=SPACING)
    found = unturn(trace.surface, SHAPE, turn)
    true = _true_surface()
    # Along the top: every vertex within 3 pixels of the true surface...
    gaps = np.min(np.hypot(*(found[:, None, :] - true[None, :, :]).transpose(2, 0, 1)), axis=1)
    assert gaps.max() < 3.0
    # ... and from cut edge to cut edge: its length within 3 % of the true one.
    assert polyline_length(found) == pytest.approx(polyline_length(true), rel=0.03)


def test_a_slit_in_the_surface_is_bridged_not_followed() -> None:
    epidermis, tissue = _masks()
    epidermis[30:70, 200:204] = False  # a split 6 µm wide, 40 µm deep
    (trace,) = trace_junction(epidermis, tissue, spacing=SPACING)
    assert trace.surface[:, 0].max() < 47  # never more than a few pixels below the top
    true_length = polyline_length(_true_surface())
    assert polyline_length(trace.surface) == pytest.approx(true_length, rel=0.03)


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
def test_a_wide_bite_into_the_epidermis_mask_is_bridged_a_bulge_is_kept(turn: int) -> None:
    # A pale patch under the surface missed by the mask: a bite 60 µm wide and 33 µm deep,
    # open to the outside, too wide for the slit rule (benchmark section bf10, 0.5 µm).
    epidermis, tissue = _masks()
    epidermis[30:62, 180:220] = False
    (trace,) = trace_junction(np.rot90(epidermis, turn), np.rot90(tissue, turn), spacing=SPACING)
    found = unturn(trace.surface, SHAPE, turn)
    assert found[:, 0].max() < 47
    true_length = polyline_length(_true_surface())
    assert polyline_length(found) == pytest.approx(true_length, rel=0.03)
    # The same shape standing out of the epidermis (a ridge of it, tissue all round) is
    # surface, followed up and down: the straight line across it runs inside the mask.
    epidermis, tissue = _masks()
    epidermis[10:45, 180:220] = True
    tissue[10:45, 180:220] = True
    (trace,) = trace_junction(np.rot90(epidermis, turn), np.rot90(tissue, turn), spacing=SPACING)
    found = unturn(trace.surface, SHAPE, turn)
    assert found[:, 0].min() < 13
    assert polyline_length(found) > polyline_length(_true_surface()) + 40


def test_cut_edges_are_trimmed_from_a_surface_that_runs_down_them() -> None:
    # The rest of an outline: up the left cut edge, along the top, down the right one.
    top = np.column_stack([np.full(300, 10.0), np.arange(0.0, 300.0)])
    left = np.column_stack([np.arange(60.0, 10.0, -1.0), np.zeros(50)])
    right = np.column_stack([np.arange(11.0, 61.0), np.full(50, 299.0)])
    rest = np.concatenate([left, top, right])
    dej = np.column_stack([np.full(280, 60.0), np.arange(10.0, 290.0)])
    surface = _trim_cut_edges(rest, dej, spacing=1.0)
    assert surface[:, 0].max() <= 12  # none of the cut edges below the corners
    assert polyline_length(surface) == pytest.approx(299, abs=25)


def test_bridging_keeps_a_smooth_surface_as_it_is() -> None:
    cols = np.arange(0.0, 500.0)
    surface = np.column_stack([50 + 20 * np.sin(cols / 60), cols])
    np.testing.assert_array_equal(_bridge_notches(surface, spacing=1.0), surface)
    # A notch 4 µm wide and 30 µm deep at column 250 is cut across.
    notch = np.concatenate(
        [
            surface[:250],
            np.column_stack([np.arange(50.0, 80.0), np.full(30, 250.0)]),
            np.column_stack([np.arange(80.0, 50.0, -1.0), np.full(30, 254.0)]),
            surface[254:],
        ]
    )
    bridged = _bridge_notches(notch, spacing=1.0)
    assert bridged[:, 0].max() < 75
    assert polyline_length(bridged) == pytest.approx(polyline_length(surface), rel=0.02)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 8])
def test_the_surface_of_a_generated_section_matches_its_truth(seed: int) -> None:
    spec = SectionSpec(seed=seed, length_um=500, pixel_size_um=0.6, rotation_deg=20.0 * seed)
    section = generate_section(spec)
    result = analyze_section(section.image, spacing=spec.pixel_size_um)
    truth = section.truth
    assert result.surface_length_um == pytest.approx(truth["surface_length_um"], rel=0.05)
    # No surface point far inside the (living) epidermis.
    points = np.concatenate([resample_polyline(line, 1.0) for line in result.surface])
    idx = np.clip(np.round(points).astype(int), 0, np.array(section.epidermis_mask.shape) - 1)
    inside = section.epidermis_mask[idx[:, 0], idx[:, 1]]
    true_surface = np.asarray(truth["surface"], dtype=float)
    depth = np.min(
        np.hypot(*(points[inside][:, None, :] - true_surface[None]).transpose(2, 0, 1)), axis=1
    )
    assert depth.max(initial=0.0) * spec.pixel_size_um < 30.0
