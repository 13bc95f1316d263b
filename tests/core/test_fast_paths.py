"""The core's faster equivalents of numpy, scipy and scikit-image calls give the same values.

Each replaces a library call on the analysis' hot path; the analysis' results
must not move, so each is compared value for value with the call it replaces,
on random masks and images of many shapes (edges included).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import morphology

from ienfd.core._morphology import (
    binary_closing,
    binary_dilation,
    binary_erosion,
    binary_opening,
    diamond,
)
from ienfd.core._preprocess import channel_max, channel_mean, channel_min, median_filter_line
from ienfd.core._tissue import fill_holes, pieces_touching


def _masks(seed: int, n: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(n):
        shape = tuple(int(v) for v in rng.integers(1, 48, 2))
        smooth = ndi.gaussian_filter(rng.random(shape), rng.uniform(0.3, 3.0))
        masks.append(smooth > rng.uniform(0.3, 0.7))
    return masks


# Disks (the openings and closings), diamonds (a cross repeated), the cross
# and the square, and a footprint whose rows are not centred runs (an X).
_FOOTPRINTS = [
    *[morphology.disk(r) for r in (1, 2, 3, 4, 6)],
    *[diamond(k) for k in (0, 1, 3)],
    ndi.generate_binary_structure(2, 1),
    np.ones((3, 3), dtype=bool),
    np.eye(5, dtype=bool) | np.eye(5, dtype=bool)[::-1],
]


@pytest.mark.parametrize("k", range(len(_FOOTPRINTS)))
def test_binary_morphology_is_scipys(k: int) -> None:
    footprint = _FOOTPRINTS[k]
    for mask in _masks(k):
        for border in (0, 1):
            expected = ndi.binary_erosion(mask, footprint, border_value=border)
            assert np.array_equal(binary_erosion(mask, footprint, border_value=border), expected)
        assert np.array_equal(
            binary_dilation(mask, footprint), ndi.binary_dilation(mask, footprint)
        )
        assert np.array_equal(binary_opening(mask, footprint), ndi.binary_opening(mask, footprint))
        assert np.array_equal(binary_closing(mask, footprint), ndi.binary_closing(mask, footprint))


@pytest.mark.parametrize("radius", [1, 2, 5, 20])
def test_diamond_dilation_is_the_repeated_cross(radius: int) -> None:
    for mask in _masks(radius + 100, 40):
        expected = ndi.binary_dilation(mask, iterations=radius)
        assert np.array_equal(binary_dilation(mask, diamond(radius)), expected)


@pytest.mark.parametrize(
    ("footprint", "match"),
    [
        (np.array([[1, 1, 0]] * 3, dtype=bool), "point-symmetric"),
        (np.ones((2, 2), dtype=bool), "odd side"),
        (np.zeros((3, 3), dtype=bool), "at least one pixel"),
    ],
)
def test_binary_morphology_refuses_a_footprint_it_cannot_follow(
    footprint: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        binary_closing(np.ones((5, 5), dtype=bool), footprint)


def test_fill_holes_is_scipys() -> None:
    for mask in _masks(7, 200):
        assert np.array_equal(fill_holes(mask), ndi.binary_fill_holes(mask))
    ring = np.zeros((9, 9), dtype=bool)
    ring[2:7, 2:7] = True
    ring[4, 4] = False
    assert fill_holes(ring)[4, 4]


@pytest.mark.parametrize("connectivity", [1, 2])
def test_pieces_touching_is_binary_reconstruction(connectivity: int) -> None:
    structure = ndi.generate_binary_structure(2, connectivity)
    rng = np.random.default_rng(connectivity)
    for mask, seed in zip(_masks(11, 120), _masks(12, 120), strict=True):
        seed = seed[: mask.shape[0], : mask.shape[1]]
        seed = np.pad(seed, [(0, a - b) for a, b in zip(mask.shape, seed.shape, strict=True)])
        seed &= rng.random(mask.shape) < 0.1
        expected = morphology.reconstruction(
            (mask & seed).astype(np.uint8), mask.astype(np.uint8), footprint=structure
        )
        found = pieces_touching(mask, seed, structure=structure)
        assert np.array_equal(found, expected.astype(bool))
    # Two pieces that touch only at a corner are one with 8-connectivity.
    corner = np.zeros((4, 4), dtype=bool)
    corner[0, 0] = corner[1, 1] = True
    start = np.zeros_like(corner)
    start[0, 0] = True
    assert pieces_touching(corner, start, structure=structure)[1, 1] == (connectivity == 2)


@pytest.mark.parametrize("size", [3, 5, 7])
@pytest.mark.parametrize("axis", [0, 1])
def test_median_filter_line_is_scipys(size: int, axis: int) -> None:
    rng = np.random.default_rng(size + 10 * axis)
    for shape in [(1, 9), (9, 1), (4, 4), (5, 5), (37, 61), (200, 3)]:
        image = rng.normal(size=shape).astype(np.float32)
        image[rng.random(shape) < 0.2] = 0.5  # ties
        window = [1, 1]
        window[axis] = size
        expected = ndi.median_filter(image, size=tuple(window))
        assert np.array_equal(median_filter_line(image, size, axis=axis), expected)


@pytest.mark.parametrize("channels", [1, 3])
def test_channel_reductions_are_numpys(channels: int) -> None:
    rng = np.random.default_rng(channels)
    image = (rng.lognormal(size=(123, 77, channels)) - 1.0).astype(np.float32)
    assert np.array_equal(channel_mean(image), image.mean(axis=-1))
    assert channel_mean(image).dtype == np.float32
    assert np.array_equal(channel_max(image), image.max(axis=-1))
    wide = image.astype(np.float64)
    assert np.array_equal(channel_mean(wide), wide.mean(axis=-1))
    assert np.array_equal(channel_min(image), image.min(axis=-1))
    # What the epidermis search computed them as: reductions of the stacked planes.
    planes = [image[..., k] for k in range(channels)]
    assert np.array_equal(channel_mean(image), np.mean(planes, axis=0))
    assert np.array_equal(channel_max(image), np.max(planes, axis=0))
    assert np.array_equal(channel_min(image), np.min(planes, axis=0))


def test_skeletonize_part_by_part_is_skimages() -> None:
    from skimage.morphology import skeletonize

    from ienfd.core._fibres import _apart, _skeletonize_apart

    for mask in _masks(11, 150):
        assert np.array_equal(_skeletonize_apart(mask), skeletonize(mask))
        # Boxes as small as one pixel: every pixel in exactly one box.
        cover = np.zeros(mask.shape, dtype=int)
        for rows, cols in _apart(mask, min_area=1):
            cover[rows, cols] += 1
        assert cover.max(initial=0) <= 1
        assert (cover[mask] == 1).all()


def test_hysteresis_is_skimages() -> None:
    from skimage.filters import apply_hysteresis_threshold

    from ienfd.core._fibres import _keep_components

    rng = np.random.default_rng(3)
    for _ in range(100):
        shape = tuple(int(v) for v in rng.integers(1, 60, 2))
        image = ndi.gaussian_filter(rng.random(shape), rng.uniform(0.5, 2.0))
        low, high = np.quantile(image, [0.6, 0.9])
        expected = apply_hysteresis_threshold(image, low, high)
        assert np.array_equal(_keep_components(image > low, image > high), expected)


def test_point_labels_are_ndimages() -> None:
    from skimage.morphology import skeletonize

    from ienfd.core._counting import _boxes, _label_points, _neighbour_table, skeleton_points

    rng = np.random.default_rng(4)
    for k, mask in enumerate(_masks(5, 120)):
        skeleton = skeletonize(mask) if k % 2 else mask
        member_image = rng.random(mask.shape) < 0.7
        points = skeleton_points(skeleton)
        assert np.array_equal(points, np.argwhere(skeleton))
        member = member_image[points[:, 0], points[:, 1]]
        labels, n = _label_points(_neighbour_table(points, skeleton.shape), member)
        expected, n_expected = ndi.label(skeleton & member_image, structure=np.ones((3, 3)))
        assert n == n_expected
        assert np.array_equal(labels, expected[points[:, 0], points[:, 1]])
        assert _boxes(points, labels, n) == ndi.find_objects(expected)


def test_edge_distance_is_the_distance_transforms() -> None:
    from ienfd.core._qc import _edge_distance

    rng = np.random.default_rng(6)
    for k, mask in enumerate(_masks(8, 120)):
        if k % 7 == 0:
            mask[:] = True  # only the frame's edge is outside
        points = np.stack([rng.integers(0, s, 40) for s in mask.shape], axis=1)
        expected = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        assert np.array_equal(_edge_distance(mask, points), expected[points[:, 0], points[:, 1]])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
@pytest.mark.parametrize("factor", [1, 2, 3, 5, 17])
def test_block_mean_is_the_float32_sum(dtype: type, factor: int) -> None:
    from ienfd.core._preprocess import block_mean

    rng = np.random.default_rng(factor)
    shape = (97, 131, 3)
    if np.dtype(dtype).kind == "f":
        image = rng.random(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        image = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    m, n = shape[0] // factor, shape[1] // factor
    expected = np.zeros((m, n, 3), dtype=np.float32)  # the float32 sum it always was
    for i in range(factor):
        for j in range(factor):
            expected += image[i : m * factor : factor, j : n * factor : factor]
    expected /= factor * factor
    got = block_mean(image, factor)
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)


def test_expand_blocks_is_the_gather() -> None:
    from ienfd.core._preprocess import expand_blocks

    rng = np.random.default_rng(12)
    for k in range(200):
        factor = int(rng.integers(1, 6))
        m, n = (int(v) for v in rng.integers(1, 30, 2))
        reduced = rng.random((m, n)) if k % 3 else rng.random((m, n, 3)) > 0.5
        r0 = int(rng.integers(0, m * factor + 5))
        c0 = int(rng.integers(0, n * factor + 5))
        rows = slice(r0, int(rng.integers(r0 + 1, m * factor + 10)))
        cols = slice(c0, int(rng.integers(c0 + 1, n * factor + 10)))
        r = np.minimum(np.arange(rows.start, rows.stop) // factor, m - 1)
        c = np.minimum(np.arange(cols.start, cols.stop) // factor, n - 1)
        assert np.array_equal(expand_blocks(reduced, factor, rows, cols), reduced[np.ix_(r, c)])


def _plain_optical_density(
    rgb: np.ndarray, coef: np.ndarray, offset: tuple[int, int], full_shape: tuple[int, int],
    order: int, per_channel: bool, floor: float,
) -> np.ndarray:  # fmt: skip
    """optical_density written plainly: a full-size float32 sum of every term, then logs."""
    r = (np.arange(rgb.shape[0]) + offset[0] + 0.5) / full_shape[0]
    c = (np.arange(rgb.shape[1]) + offset[1] + 0.5) / full_shape[1]
    coef = coef if per_channel else coef.mean(axis=1, keepdims=True)
    log_i0 = np.zeros((rgb.shape[0], rgb.shape[1], coef.shape[1]), dtype=np.float32)
    terms = [(i, j) for i in range(order + 1) for j in range(order + 1 - i)]
    for k, (i, j) in enumerate(terms):
        log_i0 += (r[:, None, None] ** i * c[None, :, None] ** j * coef[k]).astype(np.float32)
    log_i = np.log(np.clip(rgb.astype(np.float32), floor, None))
    if per_channel:
        return log_i0 - log_i
    return log_i0[..., 0] - np.mean(log_i, axis=-1, dtype=np.float32)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("per_channel", [False, True])
def test_optical_density_is_the_plain_sum(dtype: type, per_channel: bool) -> None:
    from ienfd.core._preprocess import optical_density

    rng = np.random.default_rng(int(per_channel) + 2 * np.dtype(dtype).itemsize)
    for order in (0, 1, 2):
        for shape in [(1, 1, 3), (7, 1, 3), (1, 9, 3), (37, 53, 3)]:
            top = 255 if dtype == np.uint8 else 4000
            rgb = (rng.random(shape) * top).astype(dtype)
            rgb[0, 0] = 0  # clipped at the floor
            coef = rng.normal(size=((order + 1) * (order + 2) // 2, 3)) * 0.2 + np.log(top)
            expected = _plain_optical_density(
                rgb, coef, (3, 11), (90, 140), order, per_channel, 1.5
            )
            got = optical_density(
                rgb,
                coef,
                offset=(3, 11),
                full_shape=(90, 140),
                order=order,
                per_channel=per_channel,
                floor=1.5,
            )
            assert got.dtype == np.float32
            assert np.array_equal(got, expected)


def _edge_components_from_distance_map(
    candidate: np.ndarray, edge: np.ndarray, spacing: float, edge_distance_um: float
) -> list[np.ndarray]:
    """The epidermis search's edge components as first written: scipy's whole distance map."""
    labels, n = ndi.label(candidate)
    if n == 0:
        return []
    dist, (ir, ic) = ndi.distance_transform_edt(labels == 0, return_indices=True)
    er, ec = np.nonzero(edge & (dist * spacing <= edge_distance_um))
    coverage = np.bincount(labels[ir[er, ec], ic[er, ec]], minlength=n + 1)
    coverage[0] = 0
    if coverage.max() == 0:
        return []
    order = np.argsort(-coverage)
    return [labels == k for k in order if k > 0 and coverage[k] >= 0.25 * coverage.max()][:4]


def test_edge_components_are_those_of_the_distance_map() -> None:
    from ienfd.core._epidermis import _edge_components, _rim

    rng = np.random.default_rng(17)
    tissues = _masks(18, n=40)
    checked = 0
    for k, tissue in enumerate(tissues):
        tissue = np.pad(tissue, 3)
        edge = _rim(tissue)
        smooth = ndi.gaussian_filter(rng.random(tissue.shape), rng.uniform(0.5, 2.0))
        candidate = tissue & (smooth > np.median(smooth))
        # Distances at and around the limit: whole pixels (1.0, ties between
        # components) and fractions of them.
        for spacing, limit in ((1.0, 3.0), (1.0, 5.0), (0.7, 2.1), (3.0, 60.0)):
            got = _edge_components(candidate, edge, spacing=spacing, edge_distance_um=limit)
            expected = _edge_components_from_distance_map(candidate, edge, spacing, limit)
            assert len(got) == len(expected), k
            assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
            checked += len(got)
    assert checked > 50


def _fibre_section(kind: str, orientation: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A ridge response, its epidermis and its junction, turned by one of the 8 symmetries.

    Fibres crossing the junction, fibres running beside it just under it,
    fibres far from it on both sides and noise; the junction is wavy and
    horizontal or diagonal before the turn.
    """
    from ienfd.core._fibres import tubeness

    from ._phantom import draw_segments

    rng = np.random.default_rng(orientation + (0 if kind == "wavy" else 50))
    shape = (260, 300)
    cols = np.arange(shape[1], dtype=float)
    if kind == "wavy":
        dej_rows = 130 + 12 * np.sin(cols / 25)
    else:
        dej_rows = 40 + 0.6 * cols
    segments = []
    for c in rng.uniform(20, 280, 7):
        d = float(np.interp(c, cols, dej_rows))
        tilt = rng.uniform(-15, 15)
        segments.append((d + rng.uniform(25, 60), c, d - rng.uniform(15, 45), c + tilt))
    for c in rng.uniform(20, 240, 6):  # beside the junction, just under it
        d = float(np.interp(c, cols, dej_rows)) + rng.uniform(5, 8)
        segments.append((d, c, d + rng.uniform(-4, 4), c + rng.uniform(15, 40)))
    for _ in range(14):  # anywhere, mostly far from it
        r, c = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        segments.append((r, c, r + rng.uniform(-40, 40), c + rng.uniform(-40, 40)))
    clipped = [
        tuple(int(np.clip(round(v), 0, n - 1)) for v, n in zip(s, shape * 2, strict=True))
        for s in segments
    ]
    drawn = draw_segments(shape, *clipped).astype(np.float32)  # type: ignore[arg-type]
    # Beads: short gaps along the fibres.
    drawn[rng.random(shape) < 0.08] = 0
    image = ndi.gaussian_filter(drawn, 0.8) + 0.04 * rng.standard_normal(shape).astype(np.float32)
    response = tubeness(image.astype(np.float32), [0.6, 1.0])
    rr = np.arange(shape[0])[:, None]
    epidermis = rr < dej_rows[None, :]
    dej = np.column_stack([dej_rows, cols])
    dej = dej[(dej[:, 0] >= 0) & (dej[:, 0] <= shape[0] - 1)]
    m, n = shape
    if orientation & 1:
        response, epidermis, dej = response[::-1], epidermis[::-1], dej * [-1, 1] + [m - 1, 0]
    if orientation & 2:
        response, epidermis = response[:, ::-1], epidermis[:, ::-1]
        dej = dej * [1, -1] + [0, n - 1]
    if orientation & 4:
        response, epidermis, dej = response.T, epidermis.T, dej[:, ::-1]
    return np.ascontiguousarray(response), np.ascontiguousarray(epidermis), [dej]


_SECTIONS = [(kind, k) for kind in ("wavy", "diagonal") for k in range(8)]


@pytest.mark.parametrize(("kind", "orientation"), _SECTIONS)
def test_segmenting_at_a_given_threshold_base_is_the_plain_segmentation(
    kind: str, orientation: int
) -> None:
    from ienfd.core._fibres import segment_fibres, threshold_base

    response, epidermis, _ = _fibre_section(kind, orientation)
    band = ndi.binary_dilation(epidermis, iterations=60) & ~ndi.binary_erosion(
        epidermis, iterations=60, border_value=1
    )
    base = threshold_base(response, band)
    assert base is not None
    for low, high in ((5.0, 8.0), (3.5, 5.6)):
        plain = segment_fibres(response, band, spacing=0.5, low=low, high=high)
        shared = segment_fibres(response, band, spacing=0.5, low=low, high=high, scale=base)
        assert plain.any()
        assert np.array_equal(shared, plain)
    assert threshold_base(response, np.zeros_like(band)) is None


def test_the_pruned_skeleton_keeps_every_piece_near_the_junction_and_its_count() -> None:
    from scipy.spatial import cKDTree

    from ienfd.core._counting import count_crossings
    from ienfd.core._fibres import segment_fibres, threshold_base
    from ienfd.core._polyline import resample_polyline

    spacing, tolerance_um = 0.5, 4.0
    near_px = tolerance_um / spacing
    crossings = pruned_away = kept_pieces = 0
    for kind, orientation in _SECTIONS:
        response, epidermis, dej = _fibre_section(kind, orientation)
        band = np.ones(response.shape, dtype=bool)
        base = threshold_base(response, band)
        for low, high in ((5.0, 8.0), (3.5, 5.6)):
            full = segment_fibres(response, band, spacing=spacing, low=low, high=high)
            pruned = segment_fibres(
                response,
                band,
                spacing=spacing,
                low=low,
                high=high,
                scale=base,
                near=dej,
                near_px=near_px,
            )
            assert not (pruned & ~full).any()
            # Whole pieces of the full skeleton, every one near the junction among them.
            labels, n = ndi.label(full, structure=np.ones((3, 3)))
            points = np.argwhere(full)
            tree = cKDTree(resample_polyline(dej[0], 0.5))
            distance, _ = tree.query(points)
            piece = labels[points[:, 0], points[:, 1]]
            nearest = np.full(n + 1, np.inf)
            np.minimum.at(nearest, piece, distance)
            for k in range(1, n + 1):
                kept = pruned[labels == k]
                assert kept.all() or not kept.any(), (kind, orientation, k)
                if nearest[k] <= near_px:
                    assert kept.all(), (kind, orientation, k)
                    kept_pieces += 1
            pruned_away += int(full.sum() - pruned.sum())
            expected = count_crossings(full, epidermis, dej, spacing=spacing)
            got = count_crossings(pruned, epidermis, dej, spacing=spacing)
            assert np.array_equal(got.crossings, expected.crossings), (kind, orientation)
            crossings += len(expected.crossings)
    # Not vacuous: crossings were counted, pieces near the junction kept, others dropped.
    assert crossings >= 2 * len(_SECTIONS)
    assert kept_pieces > 0 and pruned_away > 0
