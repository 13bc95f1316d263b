"""The epidermis, the dermal-epidermal junction (DEJ) and the epidermal surface.

Everything here works on a low-resolution copy of the section (about 1-2 µm
per pixel), where the epidermis is a band tens of pixels thick. Polylines are
returned in the coordinates of the array they were found in; the caller maps
them to full resolution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage import filters, measure, morphology

__all__ = [
    "JunctionTrace",
    "polyline_length",
    "segment_epidermis_brightfield",
    "segment_epidermis_fluorescence",
    "refine_junction",
    "trace_junction",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JunctionTrace:
    """DEJ and epidermal surface of one piece of epidermis.

    Attributes
    ----------
    dej : (K, 2) ndarray of float
        Ordered (row, col) vertices of the junction, cut edge to cut edge.
    surface : (L, 2) ndarray of float
        Ordered (row, col) vertices of the epidermal surface.
    outline : (P, 2) ndarray of float
        Closed outline of the piece of epidermis (DEJ, then the rest).
    """

    dej: np.ndarray
    surface: np.ndarray
    outline: np.ndarray


def polyline_length(points: np.ndarray) -> float:
    """Length of an open polyline of (row, col) vertices, in pixels."""
    if len(points) < 2:
        return 0.0
    return float(np.sum(np.hypot(*np.diff(points, axis=0).T)))


def _disk(radius_px: float) -> np.ndarray:
    return morphology.disk(max(1, round(radius_px)))


def _robust_scale(values: np.ndarray) -> tuple[float, float]:
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    return med, max(mad, 1e-6)


def _largest_components(mask: np.ndarray, *, keep_fraction: float) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= keep_fraction * sizes.max()) + 1
    return np.isin(labels, keep)


def segment_epidermis_brightfield(
    od: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float = 4.0,
    texture_um: float = 3.0,
    opening_um: float = 6.0,
    edge_distance_um: float = 60.0,
    fibre_clear_um: float = 6.0,
    max_hole_um2: float = 400.0,
) -> np.ndarray:
    """Segment the living epidermis of a bright-field section.

    The epidermis is denser and more textured than the papillary dermis and the
    stratum corneum. A density-plus-texture feature is thresholded inside the
    tissue (Otsu), thin structures (fibres, collagen) are removed by an opening,
    and only dense components that lie along the tissue edge are kept.

    Parameters
    ----------
    od : (m, n) ndarray
        Low-resolution optical density.
    tissue : (m, n) ndarray of bool
    spacing : float
        Pixel size of ``od`` in µm.
    smooth_um, texture_um : float
        Scales of the density and texture features, in µm.
    opening_um : float
        Radius of the opening that removes fibres and bundles' thin parts, in µm.
    edge_distance_um : float
        The epidermis lies within this distance of the tissue edge (the stratum
        corneum may separate the two).
    fibre_clear_um : float
        Width of the median filter that removes fibres from the features.
    max_hole_um2 : float
        Holes up to this area inside the epidermis mask are filled.

    Returns
    -------
    epidermis : (m, n) ndarray of bool
    """
    # A median filter wider than a fibre removes fibres and thin plexus lines
    # from the density and texture features (they are thin and sparse).
    od = ndi.median_filter(od.astype(np.float32), size=max(3, round(fibre_clear_um / spacing) | 1))
    density = ndi.gaussian_filter(od, smooth_um / spacing)
    texture = ndi.gaussian_filter(
        np.abs(od - ndi.gaussian_filter(od, texture_um / spacing)), smooth_um / spacing
    )
    inside = ndi.binary_erosion(tissue, iterations=1)
    values_d = density[inside]
    values_t = texture[inside]
    if values_d.size < 100:
        return np.zeros_like(tissue)
    med_d, mad_d = _robust_scale(values_d)
    med_t, mad_t = _robust_scale(values_t)
    feature = (density - med_d) / mad_d + 0.5 * (texture - med_t) / mad_t
    threshold = filters.threshold_otsu(feature[inside])
    dense = (feature > threshold) & tissue
    dense = ndi.binary_opening(dense, structure=_disk(opening_um / spacing))
    # Fill only cell-sized holes: a plexus fibre may close off papillary dermis.
    dense = morphology.remove_small_holes(dense, max_size=int(max_hole_um2 / spacing**2))
    return _keep_edge_band(dense, tissue, spacing=spacing, edge_distance_um=edge_distance_um)


def _keep_edge_band(
    candidate: np.ndarray, tissue: np.ndarray, *, spacing: float, edge_distance_um: float
) -> np.ndarray:
    """Keep the large components of ``candidate`` that run along the tissue edge."""
    labels, n = ndi.label(candidate)
    if n == 0:
        return candidate
    edge = tissue & ~ndi.binary_erosion(tissue, iterations=1)
    near_edge = ndi.distance_transform_edt(~edge) * spacing <= edge_distance_um
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    edge_sizes = np.bincount(labels[near_edge].ravel(), minlength=n + 1)
    ok = (edge_sizes > 0.3 * sizes) & (sizes > 0)
    ok[0] = False
    if not ok.any():
        return np.zeros_like(candidate)
    largest = sizes[ok].max()
    keep = np.flatnonzero(ok & (sizes >= 0.15 * largest))
    return np.isin(labels, keep)


def segment_epidermis_fluorescence(
    membrane: np.ndarray | None,
    fibre: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    line_sigma_um: float = 1.5,
    min_line_um: float = 150.0,
    gap_um: float = 40.0,
) -> tuple[np.ndarray, str]:
    """Segment the epidermis of a fluorescence section.

    The collagen IV channel draws the basement membrane (the DEJ) as a bright
    line. The longest line structures inside the tissue are linked across gaps,
    extended to the tissue edge, and used to cut the tissue in two; the thinner
    side is the epidermis. When the membrane channel is absent or too weak to
    give a line, the epidermis is found from the tissue itself, as in
    bright-field (the epidermis is denser in the fibre channel's diffuse signal).

    Returns
    -------
    epidermis : (m, n) ndarray of bool
    method : {'membrane', 'tissue'}
        Which evidence was used.
    """
    if membrane is not None:
        epidermis = _epidermis_from_membrane(
            membrane,
            tissue,
            spacing=spacing,
            line_sigma_um=line_sigma_um,
            min_line_um=min_line_um,
            gap_um=gap_um,
        )
        if epidermis is not None:
            return epidermis, "membrane"
        logger.info("membrane channel gives no junction line; falling back to the tissue")
    return (
        segment_epidermis_brightfield(fibre, tissue, spacing=spacing, smooth_um=6.0),
        "tissue",
    )


def _epidermis_from_membrane(
    membrane: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    line_sigma_um: float,
    min_line_um: float,
    gap_um: float,
) -> np.ndarray | None:
    image = membrane.astype(np.float32)
    sigma = max(line_sigma_um / spacing, 0.7)
    ridge = filters.sato(image, sigmas=[sigma], black_ridges=False, mode="reflect")
    inside = ndi.binary_erosion(tissue, iterations=2)
    if inside.sum() < 100:
        return None
    med, mad = _robust_scale(ridge[inside])
    score = (ridge - med) / mad
    line = filters.apply_hysteresis_threshold(score, 4.0, 10.0) & ndi.binary_dilation(
        tissue, iterations=2
    )
    skeleton = morphology.skeletonize(line)
    labels, n = ndi.label(skeleton, structure=np.ones((3, 3)))
    if n == 0:
        return None
    lengths = np.bincount(labels.ravel())[1:] * spacing
    longest = lengths.max()
    if longest < min_line_um:
        return None
    keep = np.flatnonzero(lengths >= max(0.1 * longest, 20.0)) + 1
    skeleton = np.isin(labels, keep)
    cut = _link_line(skeleton, tissue, gap_px=gap_um / spacing)
    cut = ndi.binary_dilation(cut, structure=np.ones((3, 3)))
    regions, n_regions = ndi.label(tissue & ~cut)
    if n_regions < 2:
        return None
    touching = ndi.binary_dilation(cut, structure=np.ones((3, 3)))
    areas = np.bincount(regions.ravel(), minlength=n_regions + 1).astype(float)
    contact = np.bincount(regions[touching].ravel(), minlength=n_regions + 1).astype(float)
    areas[0] = contact[0] = 0
    big = (areas >= 0.03 * areas[1:].sum()) & (contact >= 0.2 * contact[1:].max())
    if big.sum() < 2:
        return None
    thickness = np.where(big, areas / np.maximum(contact, 1), np.inf)
    epidermis_label = int(np.argmin(thickness))
    epidermis = regions == epidermis_label
    # Give the line itself to the epidermis up to its centre: the junction is the
    # membrane's centre line, found again at full resolution by the caller.
    epidermis |= cut & ndi.binary_dilation(epidermis, iterations=2)
    return epidermis


def _link_line(skeleton: np.ndarray, tissue: np.ndarray, *, gap_px: float) -> np.ndarray:
    """Join line pieces across gaps and extend the free ends to the tissue edge."""
    out = skeleton.copy()
    labels, n = ndi.label(skeleton, structure=np.ones((3, 3)))
    neighbours = ndi.convolve(skeleton.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant")
    ends = np.argwhere(skeleton & (neighbours == 2))
    points = np.argwhere(skeleton)
    point_labels = labels[points[:, 0], points[:, 1]]
    tree = cKDTree(points)
    free_ends = []
    for end in ends:
        own = labels[end[0], end[1]]
        dists, idx = tree.query(end, k=min(len(points), 64), distance_upper_bound=gap_px)
        idx = np.atleast_1d(idx)
        dists = np.atleast_1d(dists)
        candidates = [(d, i) for d, i in zip(dists, idx, strict=True) if np.isfinite(d) and point_labels[i] != own]
        if n > 1 and candidates:
            _, i = min(candidates)
            _draw_segment(out, end, points[i])
        else:
            free_ends.append(end)
    # Extend every free end along its local direction until it leaves the tissue.
    for end in free_ends:
        own = labels[end[0], end[1]]
        near = points[(point_labels == own) & (np.hypot(*(points - end).T) <= 8)]
        direction = end - near.mean(axis=0)
        norm = np.hypot(*direction)
        if norm < 1e-6:
            continue
        direction = direction / norm
        position = end.astype(float)
        for _ in range(int(4 * gap_px) + 10):
            position = position + direction
            r, c = int(round(position[0])), int(round(position[1]))
            if not (0 <= r < out.shape[0] and 0 <= c < out.shape[1]) or not tissue[r, c]:
                break
            out[r, c] = True
    return out


def _draw_segment(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> None:
    n = int(np.ceil(np.hypot(*(stop - start)))) + 1
    rows = np.round(np.linspace(start[0], stop[0], n)).astype(int)
    cols = np.round(np.linspace(start[1], stop[1], n)).astype(int)
    mask[rows, cols] = True


def trace_junction(
    epidermis: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    min_length_um: float = 100.0,
    smooth_um: float = 2.0,
) -> list[JunctionTrace]:
    """Trace the DEJ and the surface of each piece of epidermis.

    The outline of the epidermis is split into the part that faces the dermis
    (the DEJ) and the rest; the rest, less the two cut edges of the section, is
    the epidermal surface.

    Parameters
    ----------
    epidermis, tissue : (m, n) ndarray of bool
    spacing : float
        Pixel size in µm.
    min_length_um : float
        Junctions shorter than this are ignored (debris, tangential cuts).
    smooth_um : float
        Gaussian smoothing of the traced polylines along their length, in µm.

    Returns
    -------
    traces : list of JunctionTrace
        Longest junction first. Empty when no junction is found.
    """
    dermis = tissue & ~epidermis
    dermis = ndi.binary_opening(dermis, structure=_disk(3.0 / spacing))
    dermis = _largest_components(dermis, keep_fraction=0.2)
    facing_dermis = ndi.binary_dilation(dermis, structure=_disk(2.5 / spacing))
    padded = np.pad(epidermis.astype(np.float32), 2)
    padded = ndi.gaussian_filter(padded, 0.7)
    traces = []
    for contour in measure.find_contours(padded, 0.5):
        contour = contour - 2
        if len(contour) < 10 or not np.allclose(contour[0], contour[-1]):
            continue
        contour = contour[:-1]
        rr = np.clip(np.round(contour[:, 0]).astype(int), 0, tissue.shape[0] - 1)
        cc = np.clip(np.round(contour[:, 1]).astype(int), 0, tissue.shape[1] - 1)
        is_dej = facing_dermis[rr, cc]
        is_dej = _clean_runs(is_dej, min_run=max(2, round(4.0 / spacing)))
        start, stop = _longest_circular_run(is_dej)
        if stop - start < 2:
            continue
        dej = _circular_slice(contour, start, stop)
        if polyline_length(dej) * spacing < min_length_um:
            continue
        rest = _circular_slice(contour, stop, start + len(contour))
        dej = _smooth(dej, smooth_um / spacing)
        rest = _smooth(rest, smooth_um / spacing)
        surface = _trim_cut_edges(rest, dej, spacing=spacing)
        traces.append(JunctionTrace(dej=dej, surface=surface, outline=np.concatenate([dej, rest])))
    traces.sort(key=lambda t: -polyline_length(t.dej))
    return traces


def _clean_runs(flags: np.ndarray, *, min_run: int) -> np.ndarray:
    """Flip circular runs shorter than ``min_run`` (both values), short ones first."""
    out = flags.copy()
    for value in (False, True):
        n = len(out)
        if out.all() or not out.any():
            return out
        shift = int(np.argmax(out != out[0]))
        rolled = np.roll(out, -shift)
        edges = np.flatnonzero(np.diff(rolled.astype(np.int8))) + 1
        bounds = np.concatenate([[0], edges, [n]])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if rolled[a] == value and b - a < min_run:
                rolled[a:b] = not value
        out = np.roll(rolled, shift)
    return out


def _longest_circular_run(flags: np.ndarray) -> tuple[int, int]:
    """(start, stop) of the longest circular run of True; stop may exceed len."""
    n = len(flags)
    if flags.all():
        return 0, n
    if not flags.any():
        return 0, 0
    shift = int(np.argmin(flags))  # a False position
    rolled = np.roll(flags, -shift)
    edges = np.diff(np.concatenate([[0], rolled.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    k = int(np.argmax(stops - starts))
    return int(starts[k] + shift), int(stops[k] + shift)


def _circular_slice(points: np.ndarray, start: int, stop: int) -> np.ndarray:
    idx = np.arange(start, stop) % len(points)
    return points[idx]


def _smooth(points: np.ndarray, sigma: float) -> np.ndarray:
    if len(points) < 5 or sigma <= 0:
        return points
    return np.asarray(ndi.gaussian_filter1d(points, sigma, axis=0, mode="nearest"))


def _trim_cut_edges(surface: np.ndarray, dej: np.ndarray, *, spacing: float) -> np.ndarray:
    """Drop the cut edges: surface vertices whose nearest DEJ point is an end of it."""
    if len(surface) < 3 or len(dej) < 3:
        return surface
    step = np.hypot(*np.diff(dej, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(step)])
    tree = cKDTree(dej)
    _, nearest = tree.query(surface)
    margin = 3.0 / spacing
    interior = (arc[nearest] > margin) & (arc[nearest] < arc[-1] - margin)
    if not interior.any():
        return surface
    first = int(np.argmax(interior))
    last = len(interior) - int(np.argmax(interior[::-1]))
    return surface[first:last]


def refine_junction(
    trace: JunctionTrace,
    profile_image: np.ndarray,
    epidermis: np.ndarray,
    *,
    spacing: float,
    mode: str,
    search_um: float = 10.0,
    smooth_um: float = 6.0,
    scale: float = 1.0,
) -> JunctionTrace:
    """Move each DEJ vertex along its normal onto the junction seen in the image.

    Parameters
    ----------
    trace : JunctionTrace
        In the coordinates of ``epidermis``.
    profile_image : ndarray
        Bright-field: fibre-free optical density; the DEJ is where the profile
        crosses halfway between the epidermal and the dermal level ('edge').
        Fluorescence: the membrane channel; the DEJ is its maximum ('ridge').
    epidermis : ndarray of bool
        Tells which side of the junction the epidermis is on.
    spacing : float
        Pixel size of ``trace`` and ``epidermis`` in µm.
    mode : {'edge', 'ridge'}
    search_um : float
        How far along the normal to look, each way.
    smooth_um : float
        The offsets are smoothed along the junction over this length.
    scale : float
        ``profile_image`` pixels per ``trace`` pixel: profile coordinates are
        ``trace * scale + (scale - 1) / 2`` (1 when both are at one resolution).

    Returns
    -------
    JunctionTrace
        With the DEJ moved; the outline follows it.
    """
    if mode not in ("edge", "ridge"):
        raise ValueError(f"mode must be 'edge' or 'ridge', got {mode!r}")
    dej = trace.dej
    if len(dej) < 5:
        return trace
    tangent = np.gradient(dej, axis=0)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    probe = np.round(dej + (3.0 / spacing) * normal).astype(int)
    probe = np.clip(probe, 0, np.array(epidermis.shape) - 1)
    if np.mean(epidermis[probe[:, 0], probe[:, 1]]) < 0.5:
        normal = -normal  # make the normal point into the epidermis
    step_um = min(spacing, 0.5)
    offsets_um = np.arange(-search_um, search_um + step_um / 2, step_um)
    points = dej[:, None, :] + (offsets_um / spacing)[None, :, None] * normal[:, None, :]
    coords = points * scale + (scale - 1) / 2.0
    profiles = ndi.map_coordinates(
        profile_image.astype(np.float32), coords.reshape(-1, 2).T, order=1, mode="nearest"
    ).reshape(len(dej), len(offsets_um))
    if mode == "ridge":
        shift = offsets_um[np.argmax(profiles, axis=1)]
        contrast = profiles.max(axis=1) - np.median(profiles, axis=1)
        valid = contrast > 0
    else:
        inner = offsets_um >= 0.4 * search_um
        outer = offsets_um <= -0.4 * search_um
        epi_level = np.median(profiles[:, inner], axis=1)
        derm_level = np.median(profiles[:, outer], axis=1)
        mid = 0.5 * (epi_level + derm_level)
        valid = epi_level > derm_level
        above = profiles > mid[:, None]
        # first offset (from the dermal side) where the profile rises above the midpoint
        centre = len(offsets_um) // 2
        shift = np.zeros(len(dej))
        for k in np.flatnonzero(valid):
            crossings = np.flatnonzero(np.diff(above[k].astype(np.int8)) == 1)
            if crossings.size == 0:
                valid[k] = False
                continue
            j = crossings[np.argmin(np.abs(crossings - centre))]
            p0, p1 = profiles[k, j], profiles[k, j + 1]
            frac = (mid[k] - p0) / (p1 - p0) if p1 != p0 else 0.5
            shift[k] = offsets_um[j] + frac * step_um
    shift = np.where(valid, shift, 0.0)
    vertex_um = float(np.median(np.hypot(*np.diff(dej, axis=0).T))) * spacing
    shift = ndi.gaussian_filter1d(shift, smooth_um / max(vertex_um, 1e-6), mode="nearest")
    new_dej = dej + (shift / spacing)[:, None] * normal
    rest = trace.outline[len(dej) :]
    return JunctionTrace(dej=new_dej, surface=trace.surface, outline=np.concatenate([new_dej, rest]))
