"""The epidermis, the dermal-epidermal junction (DEJ) and the epidermal surface.

Everything here works on a low-resolution copy of the section (about 1-2 µm
per pixel), where the epidermis is a band tens of pixels thick. Polylines are
returned in the coordinates of the array they were found in; the caller maps
them to full resolution.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage import filters, measure, morphology

from ienfd.core._polyline import polyline_length, resample_polyline
from ienfd.core._preprocess import block_mean, expand_blocks, robust_scale

__all__ = [
    "JunctionTrace",
    "polyline_length",
    "refine_junction",
    "segment_epidermis_brightfield",
    "segment_epidermis_fluorescence",
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


def _disk(radius_px: float) -> np.ndarray:
    return morphology.disk(max(1, round(radius_px)))


def _largest_components(mask: np.ndarray, *, keep_fraction: float) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= keep_fraction * sizes.max()) + 1
    return np.isin(labels, keep)


def suppress_fibres(
    signal: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    clear_um: float = 6.0,
    k: float = 4.0,
) -> np.ndarray:
    """Tissue signal with fibres, bundles and other stain-dense objects removed.

    Stained objects (thin ridges above the local median, and the densest 3% of
    the tissue) get zero weight, and the signal is re-estimated from the rest by
    normalised convolution: ``G(s * w) / G(w)``. Knutsson, H. & Westin, C.-F.
    (1993), CVPR, :DOI:`10.1109/CVPR.1993.341081`.

    Parameters
    ----------
    signal : (m, n) or (m, n, C) ndarray
        Optical density (bright-field) or intensity (fluorescence): higher = more stain.
    tissue : (m, n) ndarray of bool
    spacing : float
        Pixel size in µm.
    clear_um : float
        Objects narrower than this are removed; also the smoothing scale.
    k : float
        Robust standard deviations above the local median that mark stain.

    Returns
    -------
    clean : ndarray of float32, the shape of ``signal``
    """
    signal = signal.astype(np.float32)
    stack = signal if signal.ndim == 3 else signal[..., None]
    total = stack.mean(axis=-1)
    size = max(3, round(clear_um / spacing) | 1)
    # Separable median (rows, then columns): a thin ridge of any orientation is
    # removed by one of the two passes, at a fifth of the cost of the 2-D median.
    floor = ndi.median_filter(ndi.median_filter(total, size=(1, size)), size=(size, 1))
    residual = total - floor
    if tissue.sum() < 100:
        return signal
    _, noise = robust_scale(residual[tissue])
    stain = (residual > k * noise) | (total > np.percentile(total[tissue], 97))
    weight = (tissue & ~ndi.binary_dilation(stain)).astype(np.float32)
    sigma = 0.5 * clear_um / spacing
    norm = ndi.gaussian_filter(weight, sigma)
    # The wide fallback is smooth: compute it on a copy reduced by about sigma.
    step = max(1, round(sigma))
    full = (slice(0, weight.shape[0]), slice(0, weight.shape[1]))
    wide_norm = ndi.gaussian_filter(block_mean(weight, step), 4 * sigma / step)
    clean = np.empty_like(stack)
    for c in range(stack.shape[-1]):
        # Inside thick objects (nerve bundles) the local estimate has no support:
        # fall back to a wider one, then to the tissue's median.
        typical = float(np.median(stack[..., c][weight > 0])) if weight.any() else 0.0
        weighted = stack[..., c] * weight
        smooth = ndi.gaussian_filter(weighted, sigma) / np.maximum(norm, 1e-6)
        wide_sum = ndi.gaussian_filter(block_mean(weighted, step), 4 * sigma / step)
        wide = np.where(wide_norm > 0.02, wide_sum / np.maximum(wide_norm, 1e-6), typical)
        clean[..., c] = np.where(norm > 0.05, smooth, expand_blocks(wide, step, *full))
    return clean if signal.ndim == 3 else clean[..., 0]


def segment_epidermis_brightfield(
    od: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float = 4.0,
    opening_um: float = 6.0,
    edge_distance_um: float = 60.0,
    max_hole_um2: float = 400.0,
) -> np.ndarray:
    """Segment the living epidermis of a bright-field section.

    The epidermis is denser and differently coloured than the papillary dermis
    and the stratum corneum, and lies along one edge of the tissue. Which
    colour separates it best depends on stain and counterstain, so several
    features are tried (mean optical density, each channel's, and chroma);
    each is thresholded inside the tissue (Otsu), opened to remove fibres,
    reduced to the band along the tissue edge, and scored by how well it
    separates from the dermis next to it (Fisher's criterion). The best band
    wins.

    Parameters
    ----------
    od : (m, n, C) or (m, n) ndarray
        Low-resolution optical density per RGB channel, with fibres removed
        (:func:`suppress_fibres`). Fluorescence passes (fibre, membrane)
        intensities; the membrane's inverse is tried too (collagen IV is in the
        dermis, not the epidermis).
    tissue : (m, n) ndarray of bool
    spacing : float
        Pixel size of ``od`` in µm.
    smooth_um : float
        Scale of the features, in µm.
    opening_um : float
        Radius of the opening that removes fibres and bundles' thin parts, in µm.
    edge_distance_um : float
        The epidermis lies within this distance of the tissue edge (the stratum
        corneum may separate the two).
    max_hole_um2 : float
        Holes up to this area inside the epidermis mask are filled.

    Returns
    -------
    epidermis : (m, n) ndarray of bool
    """
    od = od.astype(np.float32)
    if od.ndim == 2:
        od = od[..., None]
    if tissue.sum() < 100:
        return np.zeros_like(tissue)
    channels = [od[..., k] for k in range(od.shape[-1])]
    features = [np.mean(channels, axis=0)]
    if len(channels) == 3:
        features += [*channels, np.max(channels, axis=0) - np.min(channels, axis=0)]
    elif len(channels) == 2:
        # Fluorescence: the epidermis is brighter in the fibre channel's diffuse
        # signal and darker in collagen IV (which lies in the dermis). The mean
        # and the membrane's own sign would also pick the dermis as a band.
        features = [channels[0], -channels[1]]
    return _best_band(
        features,
        tissue,
        spacing=spacing,
        smooth_um=smooth_um,
        opening_um=opening_um,
        edge_distance_um=edge_distance_um,
        max_hole_um2=max_hole_um2,
    )[0]


def _best_band(
    features: list[np.ndarray],
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float,
    opening_um: float,
    edge_distance_um: float,
    max_hole_um2: float,
    max_thickness_um: float = 250.0,
    max_coverage: float = 0.7,
    search_um: float = 3.0,
) -> tuple[np.ndarray, float]:
    """The edge band, over several features, best separated from the dermis.

    Each feature's band is scored by Fisher's criterion against the tissue
    beneath it times the fraction of the tissue outline it runs along. Bands
    thicker than ``max_thickness_um`` on average (area over the length of edge
    covered), or running along more than ``max_coverage`` of the outline (an
    epidermis lines one side of a section), are the dermis or the whole
    section, not an epidermis.

    The search over features runs on a copy at about ``search_um`` per pixel;
    the winning feature's band is then drawn again at full resolution (the
    component that overlaps the coarse winner most).
    """
    factor = max(1, round(search_um / spacing))
    if min(tissue.shape) < 32 * factor:
        factor = 1
    coarse_tissue = block_mean(tissue.astype(np.float32), factor) > 0.5 if factor > 1 else tissue
    coarse = [block_mean(f, factor) for f in features] if factor > 1 else features
    winner, score, k = _search_bands(
        coarse,
        coarse_tissue,
        spacing=spacing * factor,
        smooth_um=smooth_um,
        opening_um=opening_um,
        edge_distance_um=edge_distance_um,
        max_hole_um2=max_hole_um2,
        max_thickness_um=max_thickness_um,
        max_coverage=max_coverage,
    )
    if factor == 1 or k < 0:
        return (winner if factor == 1 else np.zeros_like(tissue)), score
    guide = expand_blocks(winner, factor, slice(0, tissue.shape[0]), slice(0, tissue.shape[1]))
    candidates = _edge_bands(
        ndi.gaussian_filter(features[k], smooth_um / spacing),
        tissue,
        spacing=spacing,
        opening_um=opening_um,
        edge_distance_um=edge_distance_um,
        max_hole_um2=max_hole_um2,
        edge=_rim(tissue),
    )
    overlaps = [np.count_nonzero(c & guide) for c in candidates]
    if overlaps and max(overlaps) > 0:
        return candidates[int(np.argmax(overlaps))], score
    return guide & tissue, score


def _rim(tissue: np.ndarray) -> np.ndarray:
    """The tissue's one-pixel outline (tissue pixels with a background 4-neighbour)."""
    return tissue & ~ndi.binary_erosion(tissue, iterations=1, border_value=0)


def _search_bands(
    features: list[np.ndarray],
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float,
    opening_um: float,
    edge_distance_um: float,
    max_hole_um2: float,
    max_thickness_um: float,
    max_coverage: float,
) -> tuple[np.ndarray, float, int]:
    """Best band over ``features``: (band, score, index of its feature or -1)."""
    best, best_score, best_k = np.zeros_like(tissue), -np.inf, -1
    edge = _rim(tissue)
    for k, feature in enumerate(features):
        feature = ndi.gaussian_filter(feature, smooth_um / spacing)
        for candidate in _edge_bands(
            feature,
            tissue,
            spacing=spacing,
            opening_um=opening_um,
            edge_distance_um=edge_distance_um,
            max_hole_um2=max_hole_um2,
            edge=edge,
        ):
            distance_um = ndi.distance_transform_edt(~candidate) * spacing
            coverage, thickness = _edge_coverage(
                candidate, edge, distance_um, spacing=spacing, edge_distance_um=edge_distance_um
            )
            if thickness > max_thickness_um or coverage > max_coverage:
                continue  # the dermis, or the whole section: not an epidermal band
            score = _band_contrast(feature, candidate, tissue, distance_um) * coverage
            if score > best_score:
                best, best_score, best_k = candidate, score, k
    return best, best_score, best_k


def _edge_bands(
    feature: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    opening_um: float,
    edge_distance_um: float,
    max_hole_um2: float,
    edge: np.ndarray,
) -> list[np.ndarray]:
    """Dense components along the tissue edge, each a candidate epidermis."""
    threshold = filters.threshold_otsu(feature[tissue])
    dense = (feature > threshold) & tissue
    dense = ndi.binary_opening(dense, structure=_disk(opening_um / spacing))
    # Fill only cell-sized holes: a plexus fibre may close off papillary dermis.
    dense = morphology.remove_small_holes(dense, max_size=int(max_hole_um2 / spacing**2))
    return _edge_components(dense, edge, spacing=spacing, edge_distance_um=edge_distance_um)


def _edge_coverage(
    band: np.ndarray,
    edge: np.ndarray,
    distance_um: np.ndarray,
    *,
    spacing: float,
    edge_distance_um: float,
) -> tuple[float, float]:
    """Fraction of the tissue outline along the band, and the band's mean thickness.

    An epidermis runs along one long side of the section (about 0.3-0.5 of the
    outline) and is tens of µm thick; a nerve bundle or gland near the edge
    covers far less, and the dermis is far thicker. The thickness is the band's
    area over the length of outline it covers, in µm. ``edge`` is the tissue
    outline (its one-pixel rim).
    """
    if not band.any() or not edge.any():
        return 0.0, np.inf
    near = distance_um <= edge_distance_um
    covered = int((edge & near).sum())
    thickness = band.sum() * spacing / max(covered, 1)
    return covered / int(edge.sum()), float(thickness)


def _band_contrast(
    feature: np.ndarray, band: np.ndarray, tissue: np.ndarray, distance_um: np.ndarray
) -> float:
    """Fisher's criterion between a band and the tissue within 40 µm beneath it.

    ``distance_um`` is the distance of every pixel from the band, in µm.
    """
    if band.sum() < 20:
        return -np.inf
    near = distance_um <= 40.0
    beneath = near & tissue & ~band
    if beneath.sum() < 20:
        return -np.inf
    a, b = feature[band], feature[beneath]
    return float((a.mean() - b.mean()) ** 2 / (a.var() + b.var() + 1e-12))


def _edge_components(
    candidate: np.ndarray, edge: np.ndarray, *, spacing: float, edge_distance_um: float
) -> list[np.ndarray]:
    """The components of ``candidate`` that run along the tissue edge (``edge``, its rim).

    Each tissue-edge pixel is given to its nearest candidate component if one is
    within ``edge_distance_um``; components covering at least a quarter as much
    edge as the best one are returned, most coverage first.
    """
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


def segment_epidermis_fluorescence(
    membrane: np.ndarray | None,
    fibre: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    line_sigma_um: float = 1.5,
    min_line_um: float = 150.0,
    gap_um: float = 40.0,
    opening_um: float = 10.0,
) -> tuple[np.ndarray, str]:
    """Segment the epidermis of a fluorescence section.

    The collagen IV channel draws the basement membrane (the DEJ) as a bright
    line. The longest line structures inside the tissue are linked across gaps,
    extended to the tissue edge, and used to cut the tissue in two. The
    epidermis is also found from the tissue itself, as in bright-field: an edge
    band brighter in the fibre channel's diffuse signal or darker in collagen IV
    (which lies in the dermis, not the epidermis). Of the membrane's cut, the
    side that overlaps that band is the epidermis (the thinner side when the
    band says nothing clear). The membrane's cut wins unless its band separates
    from the dermis far worse than the tissue band does (a broken or weak
    membrane line). The caller then snaps the junction onto the membrane ridge
    where there is one.

    Parameters
    ----------
    membrane : (m, n) ndarray or None
        Collagen IV intensity at low resolution, or None (fibre channel only).
    fibre : (m, n) ndarray
        PGP 9.5 intensity at low resolution.
    tissue : (m, n) ndarray of bool
    spacing : float
        Pixel size in µm.
    line_sigma_um : float
        Half-width of the membrane line (ridge filter scale).
    min_line_um : float
        The longest membrane line must be at least this long.
    gap_um : float
        Line pieces closer than this are joined.
    opening_um : float
        Radius of the opening that cleans the tissue band: wider than in
        bright-field, because the section's edge rim is dim in collagen IV too.

    Returns
    -------
    epidermis : (m, n) ndarray of bool
    method : {'membrane', 'tissue'}
        Which evidence was used.
    """
    stack = fibre if membrane is None else np.stack([fibre, membrane], axis=-1)
    clean = suppress_fibres(stack, tissue, spacing=spacing)
    tissue_band = segment_epidermis_brightfield(
        clean, tissue, spacing=spacing, opening_um=opening_um
    )
    if membrane is not None:
        split = _epidermis_from_membrane(
            membrane,
            tissue,
            spacing=spacing,
            line_sigma_um=line_sigma_um,
            min_line_um=min_line_um,
            gap_um=gap_um,
            tissue_band=tissue_band,
        )
        if split is not None:
            channels = [clean[..., 0], clean[..., 1], -clean[..., 1]]
            smooth = [ndi.gaussian_filter(c, 4.0 / spacing) for c in channels]
            to_split = ndi.distance_transform_edt(~split) * spacing
            to_band = ndi.distance_transform_edt(~tissue_band) * spacing
            score_split = max(_band_contrast(f, split, tissue, to_split) for f in smooth)
            score_band = max(_band_contrast(f, tissue_band, tissue, to_band) for f in smooth)
            if score_split >= 0.5 * score_band:
                return split, "membrane"
        logger.info("membrane channel gives no clear junction line; using the tissue")
    return tissue_band, "tissue"


def _epidermis_from_membrane(
    membrane: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    line_sigma_um: float,
    min_line_um: float,
    gap_um: float,
    tissue_band: np.ndarray | None = None,
) -> np.ndarray | None:
    image = membrane.astype(np.float32)
    sigma = max(line_sigma_um / spacing, 0.7)
    ridge = filters.sato(image, sigmas=[sigma], black_ridges=False, mode="reflect")
    inside = ndi.binary_erosion(tissue, iterations=2)
    if inside.sum() < 100:
        return None
    # Over the pixels with any ridge response: the epidermis has none (no
    # collagen IV), and its zeros would shrink the scale to the noise floor.
    responding = inside & (ridge > 0)
    if responding.sum() < 100:
        return None
    med, mad = robust_scale(ridge[responding])
    score = (ridge - med) / mad
    line = filters.apply_hysteresis_threshold(score, 4.0, 10.0) & ndi.binary_dilation(
        tissue, iterations=2
    )
    skeleton = morphology.skeletonize(line)
    skeleton = _junction_line_pieces(skeleton, spacing=spacing, min_line_um=min_line_um)
    if skeleton is None:
        return None
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
    if tissue_band is not None and tissue_band.any():
        # The side the tissue evidence calls epidermis, when it clearly says so
        # (a thin dermis or a long line end can make the dermis the thinner side).
        shared = np.bincount(regions[tissue_band].ravel(), minlength=n_regions + 1)
        iou = np.where(big, shared / (areas + tissue_band.sum() - shared + 1e-9), 0.0)
        if iou.max() >= 0.3:
            epidermis_label = int(np.argmax(iou))
    epidermis = regions == epidermis_label
    # Give the line itself to the epidermis up to its centre: the junction is the
    # membrane's centre line, found again at full resolution by the caller.
    epidermis |= cut & ndi.binary_dilation(epidermis, iterations=2)
    return epidermis


def _junction_line_pieces(
    skeleton: np.ndarray, *, spacing: float, min_line_um: float
) -> np.ndarray | None:
    """The pieces of a membrane skeleton that can belong to the junction line.

    The basement membrane is one long open curve; vessel walls are small rings
    and ring clusters. A piece is kept when its extent (bounding-box diagonal)
    is at least a quarter of the largest piece's and its skeleton is not much
    longer than that extent allows for a wavy line (rete ridges).
    """
    labels, n = ndi.label(skeleton, structure=np.ones((3, 3)))
    if n == 0:
        return None
    boxes = ndi.find_objects(labels)
    extent = np.array([np.hypot(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes])
    size = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(float)
    linear = size <= 3.0 * extent
    candidates = linear & (extent * spacing >= 20.0)
    if not candidates.any():
        return None
    longest = extent[candidates].max()
    if longest * spacing < min_line_um:
        return None
    keep = np.flatnonzero(candidates & (extent >= 0.25 * longest)) + 1
    return np.isin(labels, keep)


def _link_line(skeleton: np.ndarray, tissue: np.ndarray, *, gap_px: float) -> np.ndarray:
    """Join line pieces across gaps and extend the free ends to the tissue edge."""
    out = skeleton.copy()
    labels, _n = ndi.label(skeleton, structure=np.ones((3, 3)))
    neighbours = ndi.convolve(skeleton.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant")
    ends = np.argwhere(skeleton & (neighbours == 2))
    end_labels = labels[ends[:, 0], ends[:, 1]]
    free_ends = []
    linked: set[int] = set()
    for k, end in enumerate(ends):
        if k in linked:
            continue
        dist = np.hypot(*(ends - end).T)
        dist[(end_labels == end_labels[k]) | (dist > gap_px)] = np.inf
        for j in sorted(linked):
            dist[j] = np.inf
        j = int(np.argmin(dist))
        if np.isfinite(dist[j]):
            _draw_segment(out, end, ends[j])
            linked.update((k, j))
        else:
            free_ends.append(end)
    points = np.argwhere(skeleton)
    point_labels = labels[points[:, 0], points[:, 1]]
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
            r, c = round(position[0]), round(position[1])
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
    dermis_depth_um: float = 50.0,
    extend_um: float = 30.0,
    edge_margin_um: float = 3.0,
) -> list[JunctionTrace]:
    """Trace the DEJ and the surface of each piece of epidermis.

    The outline of the epidermis is split into the part that faces the dermis
    (the DEJ) and the rest; the rest, less the two cut edges of the section, is
    the epidermal surface. An outline point faces the dermis when the tissue
    continues for ``dermis_depth_um`` along its outward normal: the stratum
    corneum is thin and gives way to glass, the dermis does not.

    Parameters
    ----------
    epidermis, tissue : (m, n) ndarray of bool
    spacing : float
        Pixel size in µm.
    min_length_um : float
        Junctions shorter than this are ignored (debris, tangential cuts).
    smooth_um : float
        Gaussian smoothing of the traced polylines along their length, in µm.
    dermis_depth_um : float
        How far tissue must continue beyond the epidermis for the junction.
    extend_um : float
        The junction is extended along its end tangents to the cut edges of
        the section (where the tissue ends), by at most this much at each end:
        near a cut edge the outline turns and no longer faces deep tissue.
    edge_margin_um : float
        The tissue mask is eroded by this much before extending (it is a
        smoothed threshold that spills past the true edge).

    Returns
    -------
    traces : list of JunctionTrace
        Longest junction first. Empty when no junction is found.
    """
    padded = np.pad(epidermis.astype(np.float32), 2)
    padded = ndi.gaussian_filter(padded, 0.7)
    # The tissue mask is smoothed and spills a few µm past the cut edges.
    core = ndi.binary_erosion(tissue, iterations=max(1, round(edge_margin_um / spacing)))
    traces = []
    for contour in measure.find_contours(padded, 0.5):
        contour = contour - 2
        if len(contour) < 10 or not np.allclose(contour[0], contour[-1]):
            continue
        contour = contour[:-1]
        is_dej = _faces_deep_tissue(contour, epidermis, tissue, depth_px=dermis_depth_um / spacing)
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
        outline = np.concatenate([dej, rest])
        dej = _trim_end_faces(dej, surface)
        dej = _extend_to_edge(dej, core, max_px=extend_um / spacing, tangent_px=5.0 / spacing)
        traces.append(JunctionTrace(dej=dej, surface=surface, outline=outline))
    traces.sort(key=lambda t: -polyline_length(t.dej))
    return traces


def _extend_to_edge(
    line: np.ndarray, tissue: np.ndarray, *, max_px: float, tangent_px: float
) -> np.ndarray:
    """Extend both ends of ``line`` straight on until they leave ``tissue``."""
    if len(line) < 3:
        return line
    shape = np.array(tissue.shape) - 1

    def extension(end: np.ndarray, inner: np.ndarray) -> np.ndarray:
        direction = end - inner
        norm = np.hypot(*direction)
        if norm < 1e-6:
            return np.zeros((0, 2))
        direction /= norm
        steps = np.arange(1.0, max_px + 1.0)
        points = end + steps[:, None] * direction
        idx = np.round(points).astype(int)
        ok = (idx >= 0).all(axis=1) & (idx <= shape).all(axis=1)
        ok &= tissue[np.clip(idx[:, 0], 0, shape[0]), np.clip(idx[:, 1], 0, shape[1])]
        stop = int(np.argmin(ok)) if not ok.all() else len(ok)
        return points[:stop]

    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(line, axis=0).T))])
    k_head = min(int(np.searchsorted(arc, tangent_px)), len(line) - 1)
    k_tail = max(int(np.searchsorted(arc, arc[-1] - tangent_px)), 0)
    head = extension(line[0], line[k_head])[::-1]
    tail = extension(line[-1], line[k_tail])
    return np.concatenate([head, line, tail])


def _faces_deep_tissue(
    contour: np.ndarray, epidermis: np.ndarray, tissue: np.ndarray, *, depth_px: float
) -> np.ndarray:
    """Whether tissue continues for ``depth_px`` along each vertex's outward normal."""
    smooth = ndi.gaussian_filter1d(contour, 2.0, axis=0, mode="wrap")
    tangent = np.gradient(smooth, axis=0)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    shape = np.array(epidermis.shape) - 1
    probe = np.clip(np.round(contour + 2 * normal).astype(int), 0, shape)
    flip = epidermis[probe[:, 0], probe[:, 1]]
    normal[flip] *= -1  # point away from the epidermis
    steps = np.arange(1.5, depth_px + 1.0)
    points = contour[:, None, :] + steps[None, :, None] * normal[:, None, :]
    idx = np.round(points).astype(int)
    outside = (idx < 0).any(axis=-1) | (idx > shape).any(axis=-1)
    idx = np.clip(idx, 0, shape)
    inside = tissue[idx[..., 0], idx[..., 1]] & ~outside
    return np.asarray(inside.all(axis=1))


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
        for a, b in itertools.pairwise(bounds):
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


def _trim_end_faces(dej: np.ndarray, surface: np.ndarray, *, fraction: float = 0.4) -> np.ndarray:
    """Drop the ends of the DEJ that run up the epidermis's end towards the surface.

    Where tissue lies beyond the end of the epidermis (a fold of stratum
    corneum, a flap of dermis), the outline of the epidermis's end can pass
    for junction. Such an end comes ever closer to the surface (``surface``
    without the cut edges); a junction never does, except over dermal
    papillae, which lie between the ends. Runs at either end closer to the
    surface than ``fraction`` of the median epidermal thickness are dropped.
    """
    if len(dej) < 10 or len(surface) < 3:
        return dej
    dense = resample_polyline(surface, 0.5)
    depth, _ = cKDTree(dense).query(dej)
    thin = depth < fraction * float(np.median(depth))
    if thin.all():
        return dej
    first = int(np.argmin(thin))
    last = len(dej) - int(np.argmin(thin[::-1]))
    if last - first < 0.5 * len(dej):
        return dej  # not an end face: most of the line would go
    return dej[first:last]


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
    return JunctionTrace(
        dej=new_dej, surface=trace.surface, outline=np.concatenate([new_dej, rest])
    )
