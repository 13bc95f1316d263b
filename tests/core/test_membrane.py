"""The basement membrane line of a collagen IV channel, on small arrays.

A low-resolution section (1.5 µm pixels) with glass above row 20 and a
basement membrane with rete ridges beneath the surface: the epidermis is the
tissue between the surface and the line. Each test draws one way the line
can be broken or confused, in the four orientations that matter.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core._membrane import _epidermis_from_membrane, _line_paths, _main_path

SPACING = 1.5
SHAPE = (200, 400)
SURFACE_ROW = 20

ORIENTATIONS = [(0, False), (1, False), (2, True), (3, True)]


def _junction_rows(cols: np.ndarray) -> np.ndarray:
    """Rete ridges: the junction dips 30 px below its 60-px level every 80 px."""
    phase = (cols % 80) / 80.0
    ridge = np.clip(1.5 - 6.0 * np.abs(phase - 0.5), 0.0, 1.0)
    return SURFACE_ROW + 40.0 + 30.0 * ridge


def _line_image(points: np.ndarray, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """A bright line of Gaussian profile (sigma 1 px) through dense (row, col) points."""
    mask = np.zeros(shape, dtype=bool)
    rc = np.round(points).astype(int)
    keep = (rc[:, 0] >= 0) & (rc[:, 0] < shape[0]) & (rc[:, 1] >= 0) & (rc[:, 1] < shape[1])
    mask[rc[keep, 0], rc[keep, 1]] = True
    distance = ndi.distance_transform_edt(~mask)
    return np.exp(-(distance**2) / 2.0)


def _junction_points(step: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Dense points along the junction, in order, and their arc length in px."""
    cols = np.arange(0.0, SHAPE[1], 1.0)
    vertices = np.column_stack([_junction_rows(cols), cols])
    pieces = []
    for a, b in itertools.pairwise(vertices):
        n = max(2, int(np.ceil(np.hypot(*(b - a)) / step)))
        pieces.append(a + np.linspace(0.0, 1.0, n, endpoint=False)[:, None] * (b - a))
    points = np.concatenate(pieces)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])
    return points, arc


def _section(
    membrane_points: np.ndarray, *, noise: float = 0.03, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(membrane image, tissue mask, true epidermis) of the test section."""
    rng = np.random.default_rng(seed)
    rows = np.arange(SHAPE[0])[:, None]
    tissue = np.broadcast_to(rows >= SURFACE_ROW, SHAPE).copy()
    epidermis = tissue & (rows < _junction_rows(np.arange(SHAPE[1]))[None, :])
    membrane = _line_image(membrane_points) + 0.05 * (tissue & ~epidermis)
    membrane = membrane + rng.normal(0.0, noise, SHAPE)
    return membrane.astype(np.float32), tissue, epidermis


def _find(membrane: np.ndarray, tissue: np.ndarray, k: int, flip: bool) -> np.ndarray | None:
    """The epidermis found in one orientation, turned back to the original one."""

    def turn(a: np.ndarray) -> np.ndarray:
        a = np.rot90(a, k)
        return np.fliplr(a) if flip else a

    found = _epidermis_from_membrane(
        np.ascontiguousarray(turn(membrane)),
        np.ascontiguousarray(turn(tissue)),
        spacing=SPACING,
        line_sigma_um=1.5,
        min_line_um=150.0,
        gap_um=40.0,
    )
    if found is None:
        return None
    if flip:
        found = np.fliplr(found)
    return np.rot90(found, -k)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def _spurs(points: np.ndarray, every: int, length: float, up: bool = True) -> np.ndarray:
    """Short straight side branches every ``every`` points, towards the surface (up)."""
    out = []
    for p in points[:: max(1, every)]:
        t = np.arange(0.0, length, 0.25)
        sign = -1.0 if up else 1.0
        out.append(np.column_stack([p[0] + sign * t, np.full_like(t, p[1]) + 0.3 * t]))
    return np.concatenate(out)


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_continuous_line_gives_the_epidermis(k: int, flip: bool) -> None:
    membrane, tissue, truth = _section(_junction_points()[0])
    found = _find(membrane, tissue, k, flip)
    assert found is not None
    assert _iou(found, truth) > 0.9


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_spurs_of_the_line_do_not_cut_the_epidermis(k: int, flip: bool) -> None:
    # Short branches off the line towards the surface (a fibre crossing the
    # membrane, a thick ridge tip's skeleton): their ends are not the line's
    # ends, and extending them would cut the epidermis across.
    line, _ = _junction_points()
    top = line[np.abs(line[:, 0] - (SURFACE_ROW + 40.0)) < 0.2]
    membrane, tissue, truth = _section(np.concatenate([line, _spurs(top, 90, 7.0)]))
    found = _find(membrane, tissue, k, flip)
    assert found is not None
    assert _iou(found, truth) > 0.9


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_a_dotted_line_is_linked_into_one_junction(k: int, flip: bool) -> None:
    # The line in 24-µm dashes with 9-µm gaps, each dash starting with a
    # short branch: the dashes are joined end to end, the branches ignored.
    line, arc = _junction_points()
    dashes = line[(arc % 22.0) < 16.0]
    starts = line[(arc % 22.0) < 0.25]
    membrane, tissue, truth = _section(np.concatenate([dashes, _spurs(starts, 1, 5.0)]))
    found = _find(membrane, tissue, k, flip)
    assert found is not None
    assert _iou(found, truth) > 0.85


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_a_nerve_trunk_wall_beneath_is_not_the_junction(k: int, flip: bool) -> None:
    # The collagen IV of a trunk's perineurium: a long ring, open at one
    # end, in the dermis beneath the junction. It is no part of the line.
    t = np.linspace(0.0, 2 * np.pi * 0.95, 4000)
    ring = np.column_stack([150.0 + 9.0 * np.sin(t), 200.0 + 150.0 * np.cos(t)])
    membrane, tissue, truth = _section(np.concatenate([_junction_points()[0], ring]))
    found = _find(membrane, tissue, k, flip)
    assert found is not None
    assert _iou(found, truth) > 0.9


def test_no_line_gives_none() -> None:
    membrane, tissue, _ = _section(np.empty((0, 2)))
    assert _find(membrane, tissue, 0, False) is None


def test_main_path_drops_the_spurs() -> None:
    piece = np.zeros((20, 40), dtype=bool)
    piece[10, 2:38] = True
    piece[3:10, 20] = True  # a spur
    path = _main_path(piece)
    assert {tuple(path[0]), tuple(path[-1])} == {(10, 2), (10, 37)}
    assert len(path) == 36


def test_a_closed_ring_is_not_a_line_piece() -> None:
    skeleton = np.zeros((120, 200), dtype=bool)
    t = np.linspace(0.0, 2 * np.pi, 2000)
    skeleton[
        np.round(60 + 20 * np.sin(t)).astype(int), np.round(100 + 80 * np.cos(t)).astype(int)
    ] = True
    assert _line_paths(skeleton, spacing=SPACING) == []
    skeleton[:] = False
    skeleton[60, 10:190] = True
    assert len(_line_paths(skeleton, spacing=SPACING)) == 1


def _glass_taken_in(offset: float) -> tuple[np.ndarray, np.ndarray]:
    """A 300-row frame of tissue whose junction lies ``offset`` rows below the usual one.

    Returns the membrane line's image and the epidermis side (above the line):
    everything is tissue, as when the glass beyond the surface was taken in.
    """
    shape = (300, SHAPE[1])
    points, _ = _junction_points()
    rows = np.arange(shape[0])[:, None]
    epidermis = np.broadcast_to(rows < offset + _junction_rows(np.arange(shape[1]))[None, :], shape)
    return _line_image(points + np.array([offset, 0.0]), shape), epidermis


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_the_side_without_collagen_iv_is_the_epidermis_though_thicker(k: int, flip: bool) -> None:
    # Glass beyond the surface taken in with the tissue: the epidermis side runs
    # to the frame, twice as thick as the dermis, and the thinner side was taken.
    line, epidermis = _glass_taken_in(140.0)
    rng = np.random.default_rng(3)
    membrane = line + 0.05 * ~epidermis + rng.normal(0.0, 0.01, line.shape)
    tissue = np.ones(line.shape, dtype=bool)
    found = _find(membrane.astype(np.float32), tissue, k, flip)
    assert found is not None
    assert _iou(found, epidermis) > 0.9


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
@pytest.mark.parametrize(
    ("level", "reach", "epidermis_side"), [(0.03, 110, True), (0.04, 300, False)]
)
def test_collagen_iv_decides_the_side_when_the_glass_is_well_below_the_dermis(
    k: int, flip: bool, level: float, reach: int, epidermis_side: bool
) -> None:
    # As above, on an uneven field: the glass taken in with the tissue (rows
    # above ``reach``) is at 0.03 where the dermis is at 0.05 (independent
    # generator seed 310: 0.112 against 0.219; under half was the rule, and
    # the thinner side, the dermis, was taken). With the whole epidermis side
    # at 0.04, within a third of the dermis, collagen IV does not decide and
    # the thinner side is taken.
    line, epidermis = _glass_taken_in(100.0)
    beyond = (np.arange(line.shape[0])[:, None] < reach) & epidermis
    rng = np.random.default_rng(3)
    membrane = line + 0.05 * ~epidermis + level * beyond + rng.normal(0.0, 0.005, line.shape)
    tissue = np.ones(line.shape, dtype=bool)
    found = _find(membrane.astype(np.float32), tissue, k, flip)
    assert found is not None
    assert (_iou(found, epidermis) > 0.9) == epidermis_side
    assert (_iou(found, ~epidermis) > 0.9) == (not epidermis_side)
