"""Tracing the junction and the surface from an epidermis mask."""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.core import analyze_section
from ienfd.core._junction import _faces_deep_tissue, pieces_at_surface, trace_junction
from ienfd.core._polyline import polyline_length
from ienfd.synthetic import generate_section, random_spec

SPACING = 1.5


def _masks(*, glass_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epidermis, tissue, junction row per column): an epidermis 45 px thick over dermis."""
    rows, cols = 200, 400
    tissue = np.ones((rows, cols), dtype=bool)
    tissue[:glass_rows] = False
    junction = glass_rows + 45 + np.round(6 * np.sin(np.arange(cols) / 20)).astype(int)
    r = np.arange(rows)[:, None]
    epidermis = (r >= glass_rows) & (r < junction[None, :])
    return epidermis, tissue, junction


@pytest.mark.parametrize("glass_rows", [30, 0])
@pytest.mark.parametrize("k", range(4))
def test_the_junction_is_the_side_facing_the_dermis(glass_rows: int, k: int) -> None:
    # With glass above, and with none (the frame cuts the surface): the DEJ
    # runs along the epidermis's lower side, never along the frame or the glass.
    epidermis, tissue, junction = _masks(glass_rows=glass_rows)
    traces = trace_junction(
        np.ascontiguousarray(np.rot90(epidermis, k)),
        np.ascontiguousarray(np.rot90(tissue, k)),
        spacing=SPACING,
    )
    assert len(traces) == 1
    dej = traces[0].dej
    # Back to the unrotated frame.
    shape = epidermis.shape
    for _ in range(k):
        shape = shape[::-1]
    for _ in range(k):
        shape = shape[::-1]
        dej = np.stack([dej[:, 1], shape[1] - 1 - dej[:, 0]], axis=1)
    cols = np.clip(np.round(dej[:, 1]).astype(int), 0, epidermis.shape[1] - 1)
    off = np.abs(dej[:, 0] - (junction[cols] - 0.5))
    inner = (dej[:, 1] > 10) & (dej[:, 1] < epidermis.shape[1] - 10)
    assert np.median(off[inner]) < 2.0
    assert polyline_length(dej) > 0.9 * epidermis.shape[1]


def _orient(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """``a`` turned by ``k`` quarter turns, then mirrored left-right if ``flip``."""
    a = np.rot90(a, k)
    return np.ascontiguousarray(a[:, ::-1] if flip else a)


def _ridge_at_frame() -> tuple[np.ndarray, np.ndarray]:
    """(epidermis, tissue): glass above, deep rete ridges, the first cut by the frame's border."""
    rows, cols = 200, 400
    tissue = np.ones((rows, cols), dtype=bool)
    tissue[:30] = False
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    epidermis = (r >= 30) & (r < 75) & (c >= 0)
    epidermis |= (r >= 30) & (r < 150) & (c < 20)  # a ridge the left border cuts
    epidermis |= (r >= 30) & (r < 150) & (c >= 200) & (c < 220)
    return epidermis, tissue


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("k", range(4))
def test_the_junction_runs_down_a_ridge_the_frame_cuts(k: int, flip: bool) -> None:
    # The dermis beside the cut ridge runs on past the frame: its side and its
    # tip are junction, up to the border. Before, the normals that left the
    # frame within the dermis depth (50 µm) were taken for glass, and the
    # junction was cut off there (or traced in pieces).
    epidermis, tissue = _ridge_at_frame()

    traces = trace_junction(_orient(epidermis, k, flip), _orient(tissue, k, flip), spacing=1.0)
    assert len(traces) == 1
    dej = traces[0].dej
    # Along the top: 380 px; the free ridge: 2 x 75 + 20; the cut ridge's side
    # and tip: 75 + 20. Corners are rounded by the smoothing.
    assert polyline_length(dej) > 0.9 * (380 + 170 + 95)
    shape = np.array(_orient(tissue, k, flip).shape) - 1
    ends = np.stack([dej[0], dej[-1]])
    # Both ends at the frame's border: one across the top junction, one at the
    # cut ridge's tip.
    assert np.all(np.min(np.minimum(ends, shape - ends), axis=1) < 4)


def test_an_epidermis_the_frame_cuts_has_no_junction_along_the_border() -> None:
    # The outline that runs along the frame's border is not junction, even
    # where tissue lies beyond (the border cuts the epidermis and the dermis).
    epidermis, tissue = _masks(glass_rows=30)[:2]
    traces = trace_junction(epidermis, tissue, spacing=SPACING)
    dej = traces[0].dej
    # The junction is the epidermis's lower side only: it never climbs the
    # left or right border (cols 0 and 399) towards the glass.
    on_border = (dej[:, 1] < 1.5) | (dej[:, 1] > epidermis.shape[1] - 2.5)
    assert not np.any(on_border & (dej[:, 0] < 60))


def _body_in_dermis() -> tuple[np.ndarray, np.ndarray]:
    """(epidermis mask with a dense body deep in the dermis, tissue): glass above."""
    epidermis, tissue, _ = _masks(glass_rows=30)
    r = np.arange(tissue.shape[0])[:, None]
    c = np.arange(tissue.shape[1])[None, :]
    body = ((r - 150) / 18.0) ** 2 + ((c - 200) / 120.0) ** 2 < 1  # a nerve trunk
    return epidermis | body, tissue


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("k", range(4))
def test_a_piece_deep_in_the_dermis_is_left_out(k: int, flip: bool) -> None:
    epidermis, tissue = _body_in_dermis()
    traces = trace_junction(_orient(epidermis, k, flip), _orient(tissue, k, flip), spacing=SPACING)
    assert len(traces) == 2  # the trunk's outline faces deep tissue all round
    kept = pieces_at_surface(traces, _orient(tissue, k, flip), spacing=SPACING)
    assert len(kept) == 1
    # The one kept is the epidermis under the glass (traced as without the trunk).
    (alone,) = trace_junction(
        _orient(_masks(glass_rows=30)[0], k, flip), _orient(tissue, k, flip), spacing=SPACING
    )
    np.testing.assert_allclose(kept[0].dej, alone.dej)


def test_pieces_along_the_edge_are_all_kept_and_a_lone_inner_piece_too() -> None:
    epidermis, tissue = _body_in_dermis()
    # Glass below too, and a second epidermis along it (a fold, or the other
    # side of a narrow strip): both pieces face glass.
    tissue[185:] = False
    second = np.zeros_like(epidermis)
    second[150:185] = True
    both = trace_junction(
        (epidermis & (np.arange(200)[:, None] < 100)) | second,
        tissue,
        spacing=SPACING,
        dermis_depth_um=30.0,
    )
    assert len(both) == 2
    assert len(pieces_at_surface(both, tissue, spacing=SPACING)) == 2
    # Only the trunk found: nothing better to keep, and the checks of the
    # result speak for it.
    body_only = epidermis & (np.arange(200)[:, None] > 100)
    traces = trace_junction(body_only, _masks(glass_rows=30)[1], spacing=SPACING)
    assert len(traces) == 1
    assert pieces_at_surface(traces, _masks(glass_rows=30)[1], spacing=SPACING) == traces


def _strip(rows: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(epidermis, tissue, row and column grids): a strip between glass, epidermis on top."""
    cols = 400
    tissue = np.zeros((rows, cols), dtype=bool)
    tissue[30 : rows - 15] = True
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    epidermis = (r >= 30) & (r < 75) & (c >= 0)
    return epidermis, tissue, np.broadcast_to(r, tissue.shape), np.broadcast_to(c, tissue.shape)


def _only_the_epidermis_is_kept(
    epidermis: np.ndarray, other: np.ndarray, tissue: np.ndarray, k: int, flip: bool = False
) -> None:
    """Two pieces are traced, and the one kept is the epidermis traced alone."""
    traces = trace_junction(
        _orient(epidermis | other, k, flip), _orient(tissue, k, flip), spacing=SPACING
    )
    assert len(traces) == 2
    (kept,) = pieces_at_surface(traces, _orient(tissue, k, flip), spacing=SPACING)
    (alone,) = trace_junction(
        _orient(epidermis, k, flip), _orient(tissue, k, flip), spacing=SPACING
    )
    np.testing.assert_allclose(kept.dej, alone.dej)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("k", range(4))
def test_a_body_near_the_deep_cut_edge_is_left_out(k: int, flip: bool) -> None:
    # A nerve trunk beneath the junction, near the section's deep cut edge:
    # its far side faces that edge's glass within the band search's reach,
    # so it has a "surface" along the edge; it is a body in the dermis the
    # junction faces all the same (independent development section 276).
    epidermis, tissue, r, c = _strip()
    body = ((r - 160) / 14.0) ** 2 + ((c - 200) / 90.0) ** 2 < 1
    _only_the_epidermis_is_kept(epidermis, body, tissue, k, flip)


@pytest.mark.parametrize("k", range(4))
def test_a_piece_thicker_than_any_epidermis_is_left_out(k: int) -> None:
    # Dense dermis beyond a pale papillary layer, found as a second band: its
    # "surface" is the section's deep cut edge, 300 µm from its junction
    # (independent development section 280). The epidermis is 20-200 µm.
    epidermis, tissue, r, _ = _strip(rows=330)
    dermis = (r >= 110) & (r < 315)
    _only_the_epidermis_is_kept(epidermis, dermis, tissue, k)


@pytest.mark.parametrize("k", range(4))
def test_a_thick_epidermis_is_kept_over_the_trunk_beneath_it(k: int) -> None:
    # An epidermis thicker than 200 µm (a sole, or a section cut obliquely)
    # with a trunk near the deep cut edge: the trunk is a body beneath the
    # junction before the thickness is weighed, so the epidermis stays (and
    # its thickness is a check of the result) rather than the trunk alone.
    rows, cols = 420, 900
    tissue = np.zeros((rows, cols), dtype=bool)
    tissue[30 : rows - 15] = True
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    epidermis = (r >= 30) & (r < 30 + round(230 / SPACING)) & (c >= 0)
    assert 30 + 230 / SPACING < 370
    body = ((r - 385) / 14.0) ** 2 + ((c - 450) / 70.0) ** 2 < 1
    _only_the_epidermis_is_kept(epidermis, body, tissue, k)


@pytest.mark.parametrize("k", range(4))
def test_a_piece_whose_surface_the_frame_cuts_is_kept(k: int) -> None:
    # Glass above the left half only: the frame cuts the right half's stratum
    # corneum. A follicle splits the epidermis; the right piece's surface runs
    # along the frame's border, not glass, and it is epidermis all the same.
    rows, cols = 200, 600
    tissue = np.ones((rows, cols), dtype=bool)
    tissue[:30, :300] = False
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    epidermis = ((r >= 30) & (r < 75) & (c < 280)) | ((r < 45) & (c >= 320))
    epidermis, tissue = (np.ascontiguousarray(np.rot90(a, k)) for a in (epidermis, tissue))
    traces = trace_junction(epidermis, tissue, spacing=1.0)
    assert len(traces) == 2
    assert len(pieces_at_surface(traces, tissue, spacing=1.0)) == 2


def test_a_trunk_beside_a_vessel_lumen_is_left_out() -> None:
    # The trunk's outline facing the lumen (a hole in the tissue mask, not
    # glass) is its only surface: 100 % of it is by a hole, none by the edge.
    epidermis, tissue = _body_in_dermis()
    r = np.arange(tissue.shape[0])[:, None]
    c = np.arange(tissue.shape[1])[None, :]
    tissue &= (r - 150) ** 2 + (c - 335) ** 2 >= 12**2  # the lumen, at the trunk's end
    traces = trace_junction(epidermis, tissue, spacing=SPACING)
    assert len(traces) == 2 and min(len(t.surface) for t in traces) >= 2
    (kept,) = pieces_at_surface(traces, tissue, spacing=SPACING)
    assert kept.dej[:, 0].mean() < 100  # the epidermis under the glass, not the trunk


@pytest.mark.parametrize("depth_px", [0.2, 2.0, 5.0])
def test_facing_deep_tissue_at_any_depth(depth_px: float) -> None:
    # A straight outline across a field of tissue faces tissue on both sides,
    # however short the depth asked for (an empty or one-sample normal too).
    tissue = np.ones((40, 40), dtype=bool)
    epidermis = np.zeros_like(tissue)
    epidermis[:20] = True
    contour = np.column_stack([np.full(20, 19.5), np.arange(10.0, 30.0)])
    assert _faces_deep_tissue(contour, epidermis, tissue, depth_px=depth_px).all()
    # Glass ten pixels beyond: deep tissue for these depths, not for 15.
    tissue[30:] = False
    assert _faces_deep_tissue(contour, epidermis, tissue, depth_px=depth_px).all()
    assert not _faces_deep_tissue(contour, epidermis, tissue, depth_px=15.0).any()


def test_the_next_piece_along_a_broken_epidermis_is_kept() -> None:
    # ienfd's wide development section 61009: the epidermis is broken in two,
    # and the first piece's junction turns down at the break. The second piece,
    # with a surface about half as long, lies across that turn from it, but it
    # faces only the turn, not a stretch of junction as long as itself: it is
    # the next stretch of epidermis, not a body beneath (both kept: 3 of 3
    # counted; dropping it counted 2 with a junction 27 % short). In the
    # analysis frame (canonical_frame) the junction now runs across the break
    # as one piece: whichever way it is found, none of it may be lost.
    spec = random_spec(61009, appearance="wide")
    section = generate_section(spec)
    result = analyze_section(section.image, spacing=spec.pixel_size_um)
    assert result.count == section.truth["count"]
    assert 0.9 < result.dej_length_um / section.truth["dej_length_um"] < 1.1


def _slanted_cut_ends() -> tuple[np.ndarray, np.ndarray]:
    """(epidermis, tissue): glass above, the section's two ends cut at 45°.

    Under the epidermis's ends the dermis thins to nothing, so the outline
    there no longer faces deep tissue: the junction's ends must be carried on
    to the cut edges (at the junction, about row 75, the tissue spans columns
    65-335).
    """
    rows, cols = 200, 400
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    tissue = (r >= 30) & (r < 190) & (c >= 20 + (r - 30)) & (c < 380 - (r - 30))
    junction = 75 + np.round(6 * np.sin(np.arange(cols) / 20)).astype(int)
    return tissue & (r < junction[None, :]), tissue


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("k", range(4))
def test_the_junction_reaches_cut_ends_where_the_dermis_thins(k: int, flip: bool) -> None:
    epidermis, tissue = _slanted_cut_ends()
    width = 335 - 65

    def span(extend_um: float) -> float:
        traces = trace_junction(
            _orient(epidermis, k, flip),
            _orient(tissue, k, flip),
            spacing=SPACING,
            extend_um=extend_um,
        )
        assert len(traces) == 1
        dej = traces[0].dej
        return float(np.ptp(dej[:, 1] if k % 2 == 0 else dej[:, 0]))

    # Within 8 µm of each cut edge (the tissue mask is eroded by 3 µm before
    # extending, and the edge slants); the 30 µm reach used before stopped
    # about 20 µm short of each.
    assert span(60.0) > width - 2 * 8 / SPACING
    assert span(30.0) < width - 2 * 15 / SPACING
