"""The epidermis: an edge band of the tissue, found from its stain or its membrane.

Works on a low-resolution copy of the section (about 1-2 µm per pixel), where
the epidermis is a band tens of pixels thick.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
from scipy import ndimage as ndi
from skimage import filters, morphology

from ienfd.core._membrane import _epidermis_from_membrane
from ienfd.core._morphology import binary_erosion, binary_opening
from ienfd.core._preprocess import (
    block_mean,
    channel_max,
    channel_mean,
    channel_min,
    expand_blocks,
    suppress_fibres,
)
from ienfd.core._tissue import fill_holes, pieces_touching

__all__ = ["frame_filled", "segment_epidermis_brightfield", "segment_epidermis_fluorescence"]

logger = logging.getLogger(__name__)

_CROSS = ndi.generate_binary_structure(2, 1)


def _disk(radius_px: float) -> np.ndarray:
    return morphology.disk(max(1, round(radius_px)))


#: How far inside the tissue's edge the epidermis may begin (the stratum corneum
#: may lie between): the band search's reach, and how near the tissue's edge a
#: piece's surface must lie (:func:`ienfd.core._junction.pieces_at_surface`).
EDGE_DISTANCE_UM = 60.0


def segment_epidermis_brightfield(
    od: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float = 4.0,
    opening_um: float = 6.0,
    edge_distance_um: float = EDGE_DISTANCE_UM,
    max_hole_um2: float = 400.0,
) -> np.ndarray:
    """Segment the living epidermis of a bright-field section.

    The epidermis is denser and differently coloured than the papillary dermis
    and the stratum corneum, and lies along one edge of the tissue. Which
    colour separates it best depends on stain and counterstain, so several
    features are tried (mean optical density, each channel's, and chroma);
    each is thresholded inside the tissue (Otsu; where that takes a faint
    epidermis with the dermis, the upper of three classes' thresholds, see
    :func:`_search_bands`), opened to remove fibres,
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
    od = np.asarray(od, dtype=np.float32)  # only read: no copy of float32
    if od.ndim == 2:
        od = od[..., None]
    if tissue.sum() < 100:
        return np.zeros_like(tissue)
    channels = [od[..., k] for k in range(od.shape[-1])]
    # The channels' mean, and their spread, from whole planes: the values of
    # numpy's reductions over the stacked channels, without stacking them.
    features = [channel_mean(od)]
    if len(channels) == 3:
        features += [*channels, channel_max(od) - channel_min(od)]
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
    min_thickness_um: float = 20.0,
    max_thickness_um: float = 250.0,
    typical_thickness_um: float = 45.0,
    max_coverage: float = 0.7,
    search_um: float = 3.0,
) -> tuple[np.ndarray, float]:
    """The edge band, over several features, best separated from the dermis.

    Each feature's band is scored by Fisher's criterion against the tissue
    beneath it times the fraction of the tissue outline it runs along. Bands
    thinner than ``min_thickness_um`` on average (area over the length of edge
    covered), thicker than ``max_thickness_um`` on average or across
    themselves (:func:`_local_thickness`), or running along more than
    ``max_coverage`` of the outline (an epidermis lines one side of a
    section), are the stratum corneum alone, the dermis or the whole section,
    not an epidermis. The thickness across matters where glass lines the
    tissue on several sides: a dermis brighter than the epidermis (an
    autofluorescent dermis in the fibre channel) then covers the most edge
    and is thin on average over it (independent development sections 406 and
    454: a dermis 350-400 µm deep taken as the epidermis, the surface drawn
    along the dermis's cut edge). The epidermis is 50-100 µm thick (SPEC); 20 µm allows
    for thin, tangentially cut or elderly skin. A band thinner than
    ``typical_thickness_um`` has its score scaled by its thickness over that:
    where a detached stratum corneum (10-25 µm) and the epidermis beneath it
    separate from what lies under them about equally well, the thicker band
    is the epidermis. Without it, which of the two won turned with the image
    (ienfd's wide development section 61002 at 1.5x its pixel size: a score
    of 2.605 against 2.556 in one orientation, 2.549 against 2.552 in the
    next). 45 µm was chosen on the independent generator's development
    sections (seeds 100-339): 40 µm righted fewer of them, 50 µm moved one
    junction 83 % long.

    The search over features runs on a copy at about ``search_um`` per pixel;
    the winning feature's band is then drawn again at full resolution, at the
    same threshold (Otsu's, or the upper of three classes', :func:`_search_bands`),
    from the components that lie at least 30 % inside the coarse winner.
    """
    factor = max(1, round(search_um / spacing))
    if min(tissue.shape) < 32 * factor:
        factor = 1
    coarse_tissue = block_mean(tissue.astype(np.float32), factor) > 0.5 if factor > 1 else tissue
    coarse = [block_mean(f, factor) for f in features] if factor > 1 else features
    search = functools.partial(
        _search_bands,
        coarse,
        coarse_tissue,
        spacing=spacing * factor,
        smooth_um=smooth_um,
        opening_um=opening_um,
        edge_distance_um=edge_distance_um,
        max_hole_um2=max_hole_um2,
        min_thickness_um=min_thickness_um,
        max_thickness_um=max_thickness_um,
        typical_thickness_um=typical_thickness_um,
        max_coverage=max_coverage,
    )
    winner, score, k, classes = search()
    if frame_filled(coarse_tissue):
        # Hardly any glass: a micrograph the tissue fills, its surface cut by
        # the frame. The band may run along the frame's border; the better
        # scored of the two searches wins.
        framed = search(frame=True)
        if framed[2] >= 0 and framed[1] > score:
            winner, score, k, classes = framed
            logger.info("no epidermis along glass; found one along the frame's edge")
    if factor == 1 or k < 0:
        return (winner if factor == 1 else np.zeros_like(tissue)), score
    guide = expand_blocks(winner, factor, slice(0, tissue.shape[0]), slice(0, tissue.shape[1]))
    dense = _dense(
        ndi.gaussian_filter(features[k], smooth_um / spacing),
        tissue,
        spacing=spacing,
        opening_um=opening_um,
        max_hole_um2=max_hole_um2,
        classes=classes,
    )
    # The pieces the coarse winner was made of (one, or several together),
    # whether or not each runs along the edge on its own at this resolution:
    # where a detached stratum corneum lies between the glass and the
    # epidermis, the edge is nearer the stratum corneum.
    labels, n = ndi.label(dense)
    if n:
        inside = np.bincount(labels[guide], minlength=n + 1)
        area = np.bincount(labels.ravel(), minlength=n + 1)
        keep = inside > 0.3 * area
        keep[0] = False
        if keep.any():
            return keep[labels], score
    return guide & tissue, score


#: Below this fraction of the tissue's outline against glass, the frame's border
#: is tried as the surface too (:func:`_best_band`). A section with glass along
#: its surface has at least that side against glass: a third or more of the
#: outline of a frame it crosses (real H&E W0043340: 0.34 with its strip of
#: glass, 0.07 and less in the crops of it without).
_FRAME_FILLED = 0.25


def frame_filled(tissue: np.ndarray) -> bool:
    """Whether the tissue fills the frame: less than a quarter of its outline is against glass.

    Then the frame's border may be the surface (the stratum corneum cut by
    the frame), and which side of the epidermis faces the surface cannot be
    checked against glass.
    """
    return bool(_rim(tissue).sum() < _FRAME_FILLED * _outline_length(tissue))


def _rim(tissue: np.ndarray, *, frame: bool = False) -> np.ndarray:
    """The tissue's edge against glass: tissue pixels with a background 4-neighbour.

    Where the frame cuts the tissue there is no glass, and no surface: the
    frame's border is not part of this rim (an epidermis is never found along
    it), but it is part of the outline that coverage is a fraction of
    (:func:`_outline_length`). With ``frame``, the frame's border is part of
    the rim too: for a micrograph the tissue fills, with no glass along its
    surface (:func:`_best_band` tries it when :func:`frame_filled`).
    """
    return tissue & ~binary_erosion(tissue, _CROSS, border_value=int(not frame))


def _outline_length(tissue: np.ndarray) -> int:
    """Pixels of the tissue's whole outline, the frame's border included."""
    return int((tissue & ~binary_erosion(tissue, _CROSS)).sum())


def _search_bands(
    features: list[np.ndarray],
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float,
    opening_um: float,
    edge_distance_um: float,
    max_hole_um2: float,
    min_thickness_um: float,
    max_thickness_um: float,
    typical_thickness_um: float,
    max_coverage: float,
    frame: bool = False,
) -> tuple[np.ndarray, float, int, int]:
    """Best band over ``features``: (band, score, index of its feature or -1, its classes).

    A feature's bands are those denser than Otsu's threshold (``classes`` 2),
    or, when every one of those along the edge is thicker than
    ``max_thickness_um`` (on average or across itself), those denser than the
    upper threshold of three classes (:func:`skimage.filters.threshold_multiotsu`;
    ``classes`` 3).

    With ``frame`` (the frame's border may be the surface, :func:`_rim`), the
    dermis too runs along the border as a band; the epidermis is the band
    denser than the tissue beneath it in the first feature (bright-field: the
    mean optical density of the cell-dense epidermis against the paler dermis).
    """
    best, best_score, best_k, best_classes = np.zeros_like(tissue), -np.inf, -1, 2
    edge = _rim(tissue, frame=frame)
    outline = _outline_length(tissue)
    smoothed = [ndi.gaussian_filter(feature, smooth_um / spacing) for feature in features]
    for k, feature in enumerate(smoothed):
        # Otsu's threshold first; when every band it gives along the edge is
        # too thick (a faint epidermis barely denser than the dermis, taken
        # with it), the upper of three classes' thresholds splits them.
        for classes in (2, 3):
            pieces = _edge_bands(
                feature,
                tissue,
                spacing=spacing,
                opening_um=opening_um,
                edge_distance_um=edge_distance_um,
                max_hole_um2=max_hole_um2,
                edge=edge,
                classes=classes,
            )
            # An epidermis broken by a follicle, a fold or a dark trunk is still one
            # epidermis: its pieces together are a candidate too.
            candidates = [*pieces, np.logical_or.reduce(pieces)] if len(pieces) > 1 else pieces
            too_thick = bool(candidates)
            for candidate in candidates:
                distance_um = ndi.distance_transform_edt(~candidate) * spacing
                coverage, thickness = _edge_coverage(
                    candidate,
                    edge,
                    distance_um,
                    spacing=spacing,
                    edge_distance_um=edge_distance_um,
                    outline=outline,
                )
                # The dermis lining the tissue on several sides is thin on average
                # over the edge it covers, not across itself.
                across = (
                    thickness
                    if thickness > max_thickness_um
                    else max(thickness, _local_thickness(candidate, spacing=spacing))
                )
                too_thick &= across > max_thickness_um
                thin = thickness < min_thickness_um
                if thin or across > max_thickness_um or coverage > max_coverage:
                    # The stratum corneum alone, the dermis, or the whole section:
                    # not an epidermal band.
                    continue
                if frame and not _denser(smoothed[0], candidate, tissue, distance_um):
                    continue
                score = _band_contrast(feature, candidate, tissue, distance_um) * coverage
                score *= min(1.0, thickness / typical_thickness_um)
                if score > best_score:
                    best, best_score = candidate, score
                    best_k, best_classes = k, classes
            if not too_thick:
                break
    return best, best_score, best_k, best_classes


def _edge_bands(
    feature: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    opening_um: float,
    edge_distance_um: float,
    max_hole_um2: float,
    edge: np.ndarray,
    classes: int = 2,
) -> list[np.ndarray]:
    """Dense components along the tissue edge, each a candidate epidermis."""
    dense = _dense(
        feature,
        tissue,
        spacing=spacing,
        opening_um=opening_um,
        max_hole_um2=max_hole_um2,
        classes=classes,
    )
    return _edge_components(dense, edge, spacing=spacing, edge_distance_um=edge_distance_um)


def _dense(
    feature: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    opening_um: float,
    max_hole_um2: float,
    classes: int = 2,
) -> np.ndarray:
    """Tissue denser than Otsu's threshold in ``feature``, opened, its small holes filled.

    With ``classes`` 3, the threshold is the upper of multi-level Otsu's two
    (Liao, Chen & Chung (2001), J. Inf. Sci. Eng. 17:713): the densest of
    three classes.
    """
    if classes == 2:
        threshold = filters.threshold_otsu(feature[tissue])
    else:
        try:
            threshold = filters.threshold_multiotsu(feature[tissue], classes=classes)[-1]
        except ValueError:  # fewer distinct levels than classes: nothing to split
            return np.zeros_like(tissue)
    dense = (feature > threshold) & tissue
    dense = binary_opening(dense, _disk(opening_um / spacing))
    # Fill only cell-sized holes: a plexus fibre may close off papillary dermis.
    return np.asarray(morphology.remove_small_holes(dense, max_size=int(max_hole_um2 / spacing**2)))


def _edge_coverage(
    band: np.ndarray,
    edge: np.ndarray,
    distance_um: np.ndarray,
    *,
    spacing: float,
    edge_distance_um: float,
    outline: int,
) -> tuple[float, float]:
    """Fraction of the tissue outline along the band, and the band's mean thickness.

    An epidermis runs along one long side of the section (about 0.3-0.5 of the
    outline) and is tens of µm thick; a nerve bundle or gland near the edge
    covers far less, and the dermis is far thicker. The thickness is the band's
    area over the length of outline it covers, in µm. ``edge`` is the tissue's
    edge against glass (its one-pixel rim), ``outline`` the length in pixels
    of its whole outline.
    """
    if not band.any() or not edge.any():
        return 0.0, np.inf
    near = distance_um <= edge_distance_um
    covered = int((edge & near).sum())
    thickness = band.sum() * spacing / max(covered, 1)
    return covered / max(outline, 1), float(thickness)


def _local_thickness(band: np.ndarray, *, spacing: float, percentile: float = 95.0) -> float:
    """The band's thickness across itself: twice a high percentile of its pixels' depth, in µm.

    A pixel's depth is its distance from the nearest pixel outside the band
    (the frame's border counts as outside). Across a band ``T`` thick the
    depths run from 0 to ``T / 2``. The mean thickness of
    :func:`_edge_coverage` (area over the edge covered) is fooled by a region
    that lines several sides of the tissue (the dermis of a section with glass
    beneath and beside it); this one is not.

    Parameters
    ----------
    band : (m, n) ndarray of bool
    spacing : float
        Pixel size in µm.
    percentile : float
        Of the depths: a few deeper pixels (a wider patch, a rete ridge's
        root) do not make the band thick, a wide region does.

    Returns
    -------
    thickness : float
        In µm; 0 for an empty band. A band rejected for it (over 250 µm in
        :func:`_search_bands`) has more than 5 % of its pixels over 125 µm
        from its edge: an epidermis cut so tangentially that a wide patch of
        it lies flat is rejected too.
    """
    rows = np.flatnonzero(band.any(axis=1))
    cols = np.flatnonzero(band.any(axis=0))
    if rows.size == 0:
        return 0.0
    # Within the band's bounding box and a ring of outside around it: the
    # nearest outside pixel of a pixel in the box lies in the box or on the ring.
    box = band[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    depth = ndi.distance_transform_edt(np.pad(box, 1))[1:-1, 1:-1]
    return 2.0 * float(np.percentile(depth[box], percentile)) * spacing


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


def _denser(
    feature: np.ndarray, band: np.ndarray, tissue: np.ndarray, distance_um: np.ndarray
) -> bool:
    """Whether ``feature`` is higher in the band than in the tissue within 40 µm beneath it."""
    beneath = (distance_um <= 40.0) & tissue & ~band
    return bool(band.any() and beneath.any() and feature[band].mean() > feature[beneath].mean())


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
    # The nearest component pixel of every pixel; the distance at the edge's
    # pixels only, as scipy computes it from the same indices (the square root
    # of the summed squared offsets, in float64): not a map of the whole frame.
    ir, ic = ndi.distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
    er, ec = np.nonzero(edge)
    nr, nc = ir[er, ec], ic[er, ec]
    d_row, d_col = (nr - er).astype(np.float64), (nc - ec).astype(np.float64)
    near = np.sqrt(d_row * d_row + d_col * d_col) * spacing <= edge_distance_um
    coverage = np.bincount(labels[nr[near], nc[near]], minlength=n + 1)
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


def without_outer_glass(
    epidermis: np.ndarray,
    tissue: np.ndarray,
    fibre: np.ndarray,
    *,
    spacing: float,
    min_thickness_um: float = 20.0,
    max_thickness_um: float = 200.0,
    check_above_um: float = 150.0,
    glass_ratio: float = 0.5,
    smooth_um: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The epidermis side of the membrane's cut, and the tissue, without the glass the mask took.

    The epidermis is a band 20-200 µm thick along the junction (SPEC). When the
    side of the cut is thicker than ``check_above_um`` (the 90th percentile of
    its pixels' distance from the dermis), the tissue mask may have taken in
    glass beyond the surface, dimmer than the epidermis but above the glass
    elsewhere (mounting medium, a camera's uneven field). The side is then
    split in its fibre channel, smoothed over ``smooth_um``, half-way between
    the level beyond ``check_above_um`` from the dermis (glass) and the level
    within ``min_thickness_um`` of it (epidermis), provided the glass is at
    most ``glass_ratio`` times as bright as the epidermis (a thick epidermis
    with no glass beyond it is about as bright throughout): the brighter part
    that borders the junction, its holes filled, is the epidermis when it is a
    band of plausible thickness, and the rest of the side is no longer tissue;
    otherwise both are returned as they are.

    ``check_above_um`` is below the 200 µm bound: a side 150-200 µm deep at
    its 90th percentile was, on the independent generator's development
    sections (seeds 400-519: 404 and 483), a 40-70 µm epidermis with glass
    beyond it, the surface drawn along the frame (glass 0.09-0.25 times as
    bright as the epidermis).

    Parameters
    ----------
    epidermis, tissue : (m, n) ndarray of bool
        The epidermis side of the junction and the tissue mask.
    fibre : (m, n) ndarray
        The fibre channel, at the same resolution, on its own robust scale
        (0 at its 2nd percentile, 1 at its 99.5th, as the analysis passes it):
        ``glass_ratio`` compares levels above that 0.
    spacing : float
        Pixel size in µm.
    min_thickness_um, max_thickness_um : float
        The plausible thickness of the epidermis band kept.
    check_above_um : float
        A side deeper than this (90th percentile) is checked for glass.
    glass_ratio : float
        The glass must be at most this fraction of the epidermis's brightness.
    smooth_um : float
        Scale of the brightness compared, in µm.

    Returns
    -------
    epidermis, tissue : (m, n) ndarray of bool
    """
    dermis = tissue & ~epidermis
    if not dermis.any() or epidermis.sum() < 100:
        return epidermis, tissue
    depth_um = ndi.distance_transform_edt(~dermis) * spacing
    junction = epidermis & (depth_um <= 1.5 * spacing)

    def thickness(band: np.ndarray) -> float:
        return float(np.percentile(depth_um[band], 90)) if band.any() else 0.0

    before = thickness(epidermis)
    if before <= check_above_um:
        return epidermis, tissue
    far = epidermis & (depth_um > check_above_um)
    near = epidermis & (depth_um <= min_thickness_um)
    if far.sum() < 50 or near.sum() < 50:
        return epidermis, tissue
    smoothed = ndi.gaussian_filter(fibre.astype(np.float32), smooth_um / spacing)
    glass, inner = float(np.median(smoothed[far])), float(np.median(smoothed[near]))
    # The channel's 0 is its 2nd percentile: an epidermis no brighter than
    # that tells glass from nothing.
    if inner <= 0 or glass > glass_ratio * inner:
        return epidermis, tissue
    bright = epidermis & (smoothed > 0.5 * (glass + inner))
    band = fill_holes(pieces_touching(bright, junction)) & epidermis
    after = thickness(band)
    if not min_thickness_um <= after <= max_thickness_um:
        return epidermis, tissue
    logger.info(
        "epidermis side %.0f µm thick: kept its brighter band along the junction (%.0f µm)",
        before,
        after,
    )
    return band, tissue & ~(epidermis & ~band)
