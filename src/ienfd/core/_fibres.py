"""Fibre enhancement and segmentation, computed only where fibres can count."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from scipy import ndimage as ndi
from skimage import morphology

from ienfd.core._counting import _STEP, _neighbour_table, point_components, skeleton_points
from ienfd.core._morphology import binary_closing
from ienfd.core._polyline import resample_polyline

__all__ = ["enhance_fibres", "iter_blocks", "segment_fibres", "threshold_base", "tubeness"]


def iter_blocks(
    band: np.ndarray, factor: int, full_shape: tuple[int, int], *, block: int = 256
) -> Iterator[tuple[slice, slice]]:
    """Full-resolution blocks whose low-resolution footprint touches ``band``.

    Parameters
    ----------
    band : (m, n) ndarray of bool
        Low-resolution mask of where to work; low-resolution pixel ``(i, j)``
        covers full-resolution rows ``i*factor .. (i+1)*factor - 1``.
    factor : int
        Reduction factor between ``band`` and the full image.
    full_shape : (int, int)
        Shape of the full-resolution image.
    block : int
        Block size in full-resolution pixels.
    """
    step = max(1, block // factor)
    for i0 in range(0, band.shape[0], step):
        for j0 in range(0, band.shape[1], step):
            if band[i0 : i0 + step, j0 : j0 + step].any():
                r0, c0 = i0 * factor, j0 * factor
                r1 = min(full_shape[0], (i0 + step) * factor)
                c1 = min(full_shape[1], (j0 + step) * factor)
                if i0 + step >= band.shape[0]:
                    r1 = full_shape[0]
                if j0 + step >= band.shape[1]:
                    c1 = full_shape[1]
                yield slice(r0, r1), slice(c0, c1)


def enhance_fibres(
    get_tile: Callable[[slice, slice], np.ndarray],
    blocks: list[tuple[slice, slice]],
    full_shape: tuple[int, int],
    *,
    region: tuple[slice, slice],
    spacing: float,
    fibre_width_um: tuple[float, ...] = (0.8, 1.6),
    edges: bool = True,
) -> np.ndarray:
    """Ridge (tubeness) response of thin bright fibres, block by block.

    Parameters
    ----------
    get_tile : callable
        ``get_tile(rows, cols)`` returns the fibre signal (bright fibres on a
        darker background, float) of the full-resolution region; it is called
        with regions slightly larger than each block (the filter's support).
    blocks : list of (slice, slice)
        Where to compute, from :func:`iter_blocks`.
    full_shape : (int, int)
        Shape of the full-resolution image.
    region : (slice, slice)
        The full-resolution region the returned array covers (it holds every block).
    spacing : float
        Pixel size in µm.
    fibre_width_um : tuple of float
        Fibre widths to enhance; the Gaussian scales are ``width / (2 sqrt 3)``
        µm, the scale whose second derivative best matches a bar of that width.
    edges : bool
        Damp the responses of edges (Notes). The analysis does in bright-field,
        where nuclei and the basal layer's border are in the signal, and not in
        fluorescence, where the PGP 9.5 channel holds neither and the check
        cost more crossings than it saved (Notes).

    Returns
    -------
    response : ndarray of float32, the shape of ``region``
        Sato tubeness, with edges damped (see below) if ``edges``; 0 outside the blocks.

    Notes
    -----
    Tubeness answers the inner side of any step edge as it answers a line:
    the rim of a nucleus, of a pigment granule or of the darker basal layer
    curves down just like a fibre's profile. A fibre is denser than the
    tissue on *both* of its sides, an edge on one side only. So every strong
    response (above the 90th percentile of the responses of all blocks, one
    cut for the whole section) is checked across the ridge: the smoothed
    signal is read ``2 sigma + 1`` pixels to either side along the Hessian's
    eigenvector, and the response is scaled by ``min(drop) / (0.25 max(drop))``
    clipped to [0, 1], where ``drop`` is the centre minus each side. A fibre
    keeps its response while its weaker side is at least a quarter as far
    below it as its stronger side; an edge loses it. The weak majority of
    responses, which set the segmentation thresholds (median and MAD), are
    untouched. The idea of asking for contrast on both sides of a line is
    that of Koller, T. M. et al. (1995), "Multiscale detection of curvilinear
    structures in 2-D and 3-D image data", Proc. ICCV, 864-869.

    On the classic development sections (seeds 90000-90039) the check lowered
    the bright-field count error and raised the fluorescence one (summed
    absolute error 2 -> 5 fibres on their 21 fluorescence sections): breaking a
    fibre where it runs beside brighter tissue splits it into pieces that are
    then counted apart. Fluorescence has no nuclei or basal border in its fibre
    channel to remove, so the analysis uses it in bright-field only.

    References
    ----------
    Sato, Y. et al. (1998), Med Image Anal 2:143, :DOI:`10.1016/S1361-8415(98)80009-1`.
    """
    sigmas = [max(0.6, w / (2 * np.sqrt(3)) / spacing) for w in fibre_width_um]
    # Gaussian support (truncated at 4 sigma) and two pixels for the Hessian's
    # central differences, plus, with the edge check, the sides it reads
    # (2 sigma + 1 pixels out, interpolated: one more): tiles then agree
    # exactly at seams. Without the check the smaller tiles suffice.
    widest = max(sigmas)
    margin = int(np.ceil(6 * widest)) + 4 if edges else int(np.ceil(4 * widest)) + 3
    o_r, o_c = region[0].start, region[1].start
    response = np.zeros((region[0].stop - o_r, region[1].stop - o_c), dtype=np.float32)
    smoothed: list[tuple[int, int, list[np.ndarray]]] = []
    for rows, cols in blocks:
        r0, r1 = max(0, rows.start - margin), min(full_shape[0], rows.stop + margin)
        c0, c1 = max(0, cols.start - margin), min(full_shape[1], cols.stop + margin)
        tile = get_tile(slice(r0, r1), slice(c0, c1)).astype(np.float32)
        smooth = [
            ndi.gaussian_filter(tile, sigma, mode="reflect", truncate=4.0) for sigma in sigmas
        ]
        ridge = tubeness(tile, sigmas, smoothed=smooth)
        response[rows.start - o_r : rows.stop - o_r, cols.start - o_c : cols.stop - o_c] = ridge[
            rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0
        ]
        if edges:
            smoothed.append((r0, c0, smooth))
    cut = _edge_check_cut(response) if edges else None
    if cut is None:
        return response
    for (rows, cols), (r0, c0, smooth) in zip(blocks, smoothed, strict=True):
        view = response[rows.start - o_r : rows.stop - o_r, cols.start - o_c : cols.stop - o_c]
        rr, cc = np.nonzero(view > cut)
        if rr.size:
            view[rr, cc] = _damp_edges(smooth, sigmas, rr + rows.start - r0, cc + cols.start - c0)
    return response


# Responses above this percentile (of all blocks' positive responses) get the edge check.
_EDGE_CHECK_PERCENTILE = 90.0
# A fibre's weaker side must drop at least this fraction of its stronger side's drop.
_EDGE_SIDE_RATIO = 0.25


def _edge_check_cut(response: np.ndarray) -> float | None:
    """The response above which :func:`_damp_edges` checks a pixel (one cut per section).

    ``response`` is 0 outside the blocks, so its positive values are the blocks'.
    """
    positive = response[response > 0]
    if positive.size == 0:
        return None
    # All of them, not a subsample: the cut must not depend on the section's orientation.
    return float(np.percentile(positive, _EDGE_CHECK_PERCENTILE))


def _damp_edges(
    smoothed: list[np.ndarray], sigmas: list[float], rr: np.ndarray, cc: np.ndarray
) -> np.ndarray:
    """Tubeness at tile pixels ``(rr, cc)``, each scale scaled by its two-sided contrast.

    Returns the maximum over scales of ``sigma**2 * max(-lambda_min, 0)``
    times the side factor of :func:`enhance_fibres`' Notes, from the Hessian
    by the same central differences as :func:`tubeness`, at these pixels only.
    """
    best = np.zeros(rr.size, dtype=np.float32)
    for smooth, sigma in zip(smoothed, sigmas, strict=True):

        def at(dr: int, dc: int, smooth: np.ndarray = smooth) -> np.ndarray:
            return _sample(smooth, rr + dr, cc + dc)

        centre = at(0, 0)
        h_rr = (at(2, 0) - 2 * centre + at(-2, 0)) / 4
        h_cc = (at(0, 2) - 2 * centre + at(0, -2)) / 4
        h_rc = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / 4
        smallest = (h_rr + h_cc) / 2 - np.sqrt(h_rc**2 + ((h_rr - h_cc) / 2) ** 2)
        # The eigenvector of the smaller eigenvalue points across the ridge;
        # of its two closed forms take the better conditioned.
        v1r, v1c = h_rc, smallest - h_rr
        v2r, v2c = smallest - h_cc, h_rc
        first = np.hypot(v1r, v1c) >= np.hypot(v2r, v2c)
        vr = np.where(first, v1r, v2r)
        vc = np.where(first, v1c, v2c)
        norm = np.hypot(vr, vc)
        flat = norm <= 0
        vr = np.where(flat, 1.0, vr / np.where(flat, 1.0, norm))
        vc = np.where(flat, 0.0, vc / np.where(flat, 1.0, norm))
        d = 2 * sigma + 1
        side_a = ndi.map_coordinates(smooth, [rr + d * vr, cc + d * vc], order=1, mode="nearest")
        side_b = ndi.map_coordinates(smooth, [rr - d * vr, cc - d * vc], order=1, mode="nearest")
        drop_a, drop_b = centre - side_a, centre - side_b
        weak, strong = np.minimum(drop_a, drop_b), np.maximum(drop_a, drop_b)
        factor = np.clip(weak / np.maximum(_EDGE_SIDE_RATIO * strong, 1e-30), 0.0, 1.0)
        value = (sigma**2) * np.maximum(-smallest, 0) * factor
        np.maximum(best, value.astype(np.float32), out=best)
    return best


def tubeness(
    image: np.ndarray, sigmas: list[float], *, smoothed: list[np.ndarray] | None = None
) -> np.ndarray:
    """Sato tubeness of bright ridges in 2-D, from finite-difference Hessians.

    For each scale the image is smoothed once and differentiated by central
    differences (what ``skimage.feature.hessian_matrix`` does with
    ``use_gaussian_derivatives=False``, value for value, written out here
    because importing ``skimage.feature`` loads ``scipy.stats``, half a second
    of every ``ienfd analyze``), which is several times faster than
    Gaussian-derivative kernels and indistinguishable at fibre scales. In 2-D,
    Sato's measure reduces to ``sigma**2 * max(-lambda_min, 0)``, the scale-
    normalised curvature across a bright ridge; the maximum over scales is kept.

    Parameters
    ----------
    image : (M, N) ndarray of float32
    sigmas : list of float
        Gaussian scales in pixels.
    smoothed : list of ndarray, optional
        ``image`` already smoothed at each of ``sigmas`` (Gaussian, reflected
        border, truncated at 4 sigma), when the caller needs them too.

    Returns
    -------
    response : (M, N) ndarray of float32

    References
    ----------
    Sato, Y. et al. (1998), Med Image Anal 2:143, :DOI:`10.1016/S1361-8415(98)80009-1`.
    """
    out = np.zeros(image.shape, dtype=np.float32)
    for k, sigma in enumerate(sigmas):
        smooth = (
            ndi.gaussian_filter(image, sigma, mode="reflect", truncate=4.0)
            if smoothed is None
            else smoothed[k]
        )
        d_row = _gradient(smooth, 0)
        h_rr = _gradient(d_row, 0)
        h_rc = _gradient(d_row, 1)
        h_cc = _gradient(_gradient(smooth, 1), 1)
        del d_row, smooth
        # The smaller eigenvalue of [[h_rr, h_rc], [h_rc, h_cc]], in closed form,
        # (h_rr + h_cc) / 2 - sqrt(h_rc**2 + ((h_rr - h_cc) / 2)**2), the same
        # float32 operations in place.
        spread = np.subtract(h_rr, h_cc)
        spread /= 2
        np.multiply(spread, spread, out=spread)
        np.multiply(h_rc, h_rc, out=h_rc)
        h_rc += spread
        np.sqrt(h_rc, out=h_rc)
        smallest = np.add(h_rr, h_cc, out=h_rr)
        smallest /= 2
        smallest -= h_rc
        # sigma**2 * max(-smallest, 0), the scale-normalised curvature across a ridge.
        np.negative(smallest, out=smallest)
        np.maximum(smallest, 0, out=smallest)
        smallest *= sigma**2
        np.maximum(out, smallest, out=out)
    return out


def _sample(values: np.ndarray, rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """``values`` at pixels ``(rr, cc)``, clipped to the array (the nearest edge pixel)."""
    return values.take(np.ravel_multi_index((rr, cc), values.shape, mode="clip"))


def _gradient(values: np.ndarray, axis: int) -> np.ndarray:
    """``numpy.gradient(values, axis=axis)`` of a 2-D array, value for value, without temporaries.

    Central differences halved inside, one-sided differences at the two ends.
    """
    out = np.empty_like(values)
    if axis == 0:
        np.subtract(values[2:], values[:-2], out=out[1:-1])
        np.subtract(values[1], values[0], out=out[0])
        np.subtract(values[-1], values[-2], out=out[-1])
    else:
        np.subtract(values[:, 2:], values[:, :-2], out=out[:, 1:-1])
        np.subtract(values[:, 1], values[:, 0], out=out[:, 0])
        np.subtract(values[:, -1], values[:, -2], out=out[:, -1])
    inner = out[1:-1] if axis == 0 else out[:, 1:-1]
    inner /= 2
    return out


def segment_fibres(
    response: np.ndarray,
    band: np.ndarray,
    *,
    spacing: float,
    low: float = 5.0,
    high: float = 8.0,
    min_length_um: float = 3.0,
    close_um: float = 0.8,
    scale: tuple[float, float] | None = None,
    near: list[np.ndarray] | None = None,
    near_px: float = 0.0,
) -> np.ndarray:
    """Threshold the ridge response into a fibre mask and skeletonise it.

    Thresholds are in robust standard deviations of the response within the
    band (median + k * 1.4826 * MAD), so they follow the image's own noise and
    texture and do not depend on its intensity scale.

    Parameters
    ----------
    response : (M, N) ndarray
    band : (M, N) ndarray of bool
        Where fibres may be counted.
    spacing : float
        Pixel size in µm.
    low, high : float
        Hysteresis thresholds in robust standard deviations.
    min_length_um : float
        Skeleton pieces shorter than this are noise.
    close_um : float
        Closing radius that joins a fibre across small beading gaps.
    scale : (float, float), optional
        :func:`threshold_base` of ``response`` in ``band``, when the caller
        already has it (segmenting the same response at other thresholds).
    near : list of (K, 2) ndarray, optional
        Polylines (row, col): only the parts of the mask that can come within
        ``near_px`` pixels of their points resampled every half pixel are
        skeletonised, the rest of the skeleton is left empty (Notes).
    near_px : float
        That distance, in pixels.

    Returns
    -------
    skeleton : (M, N) ndarray of bool

    Notes
    -----
    With ``near``, every 8-connected piece of the skeleton that has a pixel
    within ``near_px`` of the resampled polylines is the same, pixel for
    pixel, as without it; pieces further away may be missing. Thinning
    decides each pixel from its 8 neighbours, and a pixel's foreground
    neighbours belong to its own 8-connected component of the closed mask,
    so each component thins alone; its skeleton lies inside it. Only the
    components with a pixel in the zone within ``near_px`` (plus a pixel's
    rounding) of the resampled points are thinned, and a skeleton pixel that
    near lies in one of them. Counting crossings of the junction needs only
    the pieces near it.
    """
    if scale is None:
        found = threshold_base(response, band)
        if found is None:
            return np.zeros(response.shape, dtype=bool)
        scale = found
    elif not band.any():
        return np.zeros(response.shape, dtype=bool)
    med, spread = scale
    weak = (response > med + low * spread) & band
    mask = _keep_components(weak, weak & (response > med + high * spread))
    if close_um > 0:
        radius = max(1, round(close_um / spacing))
        mask = binary_closing(mask, morphology.disk(radius)) | mask
    zone = None if near is None else _zone(near, near_px, mask.shape)
    skeleton = _skeletonize_apart(mask, zone=zone)
    min_px = max(2, round(min_length_um / spacing))
    # The 8-connected pieces from the skeleton's pixels alone (a few per cent of the region).
    points = skeleton_points(skeleton)
    piece = point_components(_neighbour_table(points, skeleton.shape))
    big = np.bincount(piece) > min_px
    kept = np.zeros(skeleton.shape, dtype=bool)
    keep = points[big[piece]]
    kept[keep[:, 0], keep[:, 1]] = True
    return kept


def _apart(mask: np.ndarray, *, min_area: int = 4096) -> list[tuple[slice, slice]]:
    """Boxes that hold every pixel of ``mask``, no pixel of one touching another's (XY cut).

    A box is split along its empty rows, then its empty columns, again in each
    part, until a part has no empty row or column inside it or is smaller than
    ``min_area`` pixels. Two pixels in different boxes are never 8-neighbours:
    an empty row or column lay between them.
    """
    boxes = []
    todo = [(0, 0, mask)]
    while todo:
        r0, c0, part = todo.pop()
        rows = np.flatnonzero(part.any(axis=1))
        if len(rows) == 0:
            continue
        cols = np.flatnonzero(part.any(axis=0))
        row_runs = _runs(rows)
        col_runs = _runs(cols)
        area = (rows[-1] + 1 - rows[0]) * (cols[-1] + 1 - cols[0])
        if (len(row_runs) == 1 and len(col_runs) == 1) or area <= min_area:
            boxes.append(
                (slice(r0 + rows[0], r0 + rows[-1] + 1), slice(c0 + cols[0], c0 + cols[-1] + 1))
            )
            continue
        for a, b in row_runs:
            for c, d in col_runs:
                todo.append((r0 + a, c0 + c, part[a:b, c:d]))
    return boxes


def _runs(index: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of the runs of consecutive values in a sorted index."""
    gaps = np.flatnonzero(np.diff(index) > 1)
    starts = [int(index[0]), *(int(v) for v in index[gaps + 1])]
    stops = [*(int(v) + 1 for v in index[gaps]), int(index[-1]) + 1]
    return list(zip(starts, stops, strict=True))


def threshold_base(response: np.ndarray, band: np.ndarray) -> tuple[float, float] | None:
    """Median and robust standard deviation (1.4826 MAD) of ``response`` in ``band``.

    The base of :func:`segment_fibres`' thresholds; the deviation is at least
    a millionth of the largest response. None for an empty band.
    """
    values = response[band]
    if values.size == 0:
        return None
    # ``values`` is a copy: the medians may reorder it, and |values - med| may
    # overwrite it (the same numbers as new arrays would hold).
    largest = float(values.max())
    med = float(np.median(values, overwrite_input=True))
    np.subtract(values, med, out=values)
    mad = 1.4826 * float(np.median(np.abs(values, out=values), overwrite_input=True))
    return med, max(mad, 1e-6 * max(largest, 1e-12))


def _zone(lines: list[np.ndarray], distance: float, shape: tuple[int, int]) -> np.ndarray:
    """The pixels within ``distance`` of ``lines`` resampled every half pixel (and a bit more).

    The same resampling as the junction's in :func:`count_crossings`. Each
    resampled point is rounded to its pixel (at most ``sqrt(2) / 2`` away)
    and the disk of radius ``distance + 1`` around it marked: every pixel
    within ``distance`` of a resampled point is in it.
    """
    zone = np.zeros(shape, dtype=bool)
    dense = [resample_polyline(line, _STEP) for line in lines if len(line)]
    if not dense:
        return zone
    centres = np.unique(np.round(np.concatenate(dense)).astype(np.int64), axis=0)
    reach = int(np.floor(distance + 1.0))
    for dr in range(-reach, reach + 1):
        span = int(np.floor(np.sqrt(max((distance + 1.0) ** 2 - dr * dr, 0.0))))
        for dc in range(-span, span + 1):
            rr, cc = centres[:, 0] + dr, centres[:, 1] + dc
            ok = (rr >= 0) & (rr < shape[0]) & (cc >= 0) & (cc < shape[1])
            zone[rr[ok], cc[ok]] = True
    return zone


def _skeletonize_apart(mask: np.ndarray, *, zone: np.ndarray | None = None) -> np.ndarray:
    """:func:`skimage.morphology.skeletonize` of a sparse mask, value for value, part by part.

    The thinning decides each pixel from its 8 neighbours, so parts of the mask
    that never touch (:func:`_apart`) thin independently; each is thinned in its
    own box (with a border of background), not the whole region: on a fibre
    mask of a few per cent of a region about half the time. With ``zone``,
    only the 8-connected components of the mask that have a pixel in
    ``zone`` are thinned (the same way); the rest of the skeleton is empty.
    """
    skeleton = np.zeros(mask.shape, dtype=bool)
    for rows, cols in _apart(mask):
        if zone is None:
            part = np.pad(mask[rows, cols], 1)
            skeleton[rows, cols] = morphology.skeletonize(part)[1:-1, 1:-1]
            continue
        # Only the 8-connected components with a pixel in the zone, each
        # group of them thinned in its own smaller box.
        own = mask[rows, cols]
        touching = zone[rows, cols] & own
        if not touching.any():
            continue
        labels, n = ndi.label(own, structure=np.ones((3, 3), dtype=bool))
        chosen = np.zeros(n + 1, dtype=bool)
        chosen[labels[touching]] = True
        chosen[0] = False
        kept = chosen[labels]
        for sub_rows, sub_cols in _apart(kept):
            part = np.pad(kept[sub_rows, sub_cols], 1)
            skeleton[rows, cols][sub_rows, sub_cols] = morphology.skeletonize(part)[1:-1, 1:-1]
    return skeleton


def _keep_components(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Hysteresis: the components of ``weak`` (4-connected) that hold a ``strong`` pixel.

    The same result as :func:`skimage.filters.apply_hysteresis_threshold` on
    the masks, from the weak pixels and their neighbours only: skimage's
    version labels the whole region and sums the labels in float64, about 20
    bytes per pixel, which made it the memory peak of a section.
    """
    # The pieces from the weak pixels alone (a few per cent of the region),
    # linked to their right and lower neighbours: 4-connected.
    points = skeleton_points(weak)
    piece = point_components(_neighbour_table(points, weak.shape, _RIGHT_AND_DOWN))
    keep = np.zeros(int(piece.max(initial=-1)) + 1, dtype=bool)
    keep[piece[strong[points[:, 0], points[:, 1]]]] = True
    kept = np.zeros(weak.shape, dtype=bool)
    chosen = points[keep[piece]]
    kept[chosen[:, 0], chosen[:, 1]] = True
    return kept


_RIGHT_AND_DOWN = np.array([(0, 1), (1, 0)])
