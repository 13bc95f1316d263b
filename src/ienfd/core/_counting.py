"""The EFNS/PNS counting rule on a fibre skeleton.

Lauria, G. et al. (2010), European Federation of Neurological Societies /
Peripheral Nerve Society guideline on the use of skin biopsy in the diagnosis
of small fiber neuropathy, Eur J Neurol 17:903,
:DOI:`10.1111/j.1468-1331.2010.03023.x`:

* count each fibre that crosses the DEJ into the epidermis;
* a fibre branching inside the epidermis counts once;
* fibres branching in the dermis and crossing the DEJ separately count separately;
* fragments inside the epidermis that do not cross the DEJ, fibres that reach
  the DEJ without crossing it and dermal fibres running along it count nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ienfd.core._polyline import resample_polyline

__all__ = ["CrossingCount", "count_crossings", "order_along_junction", "skeleton_points"]

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class CrossingCount:
    """What the counting rule found on one skeleton.

    Attributes
    ----------
    crossings : (K, 2) ndarray of float
        (row, col) of each counted fibre where it crosses the DEJ, in order
        along the junction (:func:`order_along_junction`).
    fragments : (F, 2) ndarray of float
        A point on each epidermal fragment that does not cross the DEJ: a
        piece of the trace that looks like a piece of fibre (see
        :func:`count_crossings`), in order along the junction.
    short_fibres : (S, 2) ndarray of float
        The tip of each dermal fibre that reaches the DEJ without crossing it.
    secondary_branches : int
        Branch points inside the epidermis on counted fibres (not counted).
    epidermal_pieces : int
        Pieces of the trace in the epidermis that are not counted, fibre-like
        or not (the fragments and the pieces of texture, nuclei or noise
        rejected as fragments): how noisy the trace is.
    """

    crossings: np.ndarray
    fragments: np.ndarray
    short_fibres: np.ndarray
    secondary_branches: int
    epidermal_pieces: int = 0


_STEP = 0.5
"""Spacing, in pixels, of the resampled DEJ polylines used for distances."""


def _signed_distance(
    points: np.ndarray, dense_dej: list[np.ndarray], inside: np.ndarray
) -> np.ndarray:
    """Distance from ``points`` to the resampled DEJ polylines, positive in the epidermis."""
    # An unbalanced tree of the (curve-like) junction points answers the many
    # far queries of dermal skeleton points faster; the distances are the same.
    tree = cKDTree(np.concatenate(dense_dej), balanced_tree=False, compact_nodes=False)
    dist, _ = tree.query(points)
    return np.where(inside, dist, -dist)


# The 8 neighbours of a pixel, (row, col) offsets.
_OFFSETS = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc])


def skeleton_points(mask: np.ndarray) -> np.ndarray:
    """``np.argwhere(mask)`` of a 2-D mask: (K, 2) (row, col), in raster order.

    From the flat indices (one pass over the mask, then a division per point):
    several times faster than :func:`numpy.argwhere` on a sparse mask of
    megapixels.
    """
    flat = np.flatnonzero(mask)
    rows, cols = np.divmod(flat, mask.shape[1])
    return np.stack([rows, cols], axis=1)


def _neighbour_table(
    points: np.ndarray, shape: tuple[int, int], offsets: np.ndarray = _OFFSETS
) -> np.ndarray:
    """(K, J) index into ``points`` (raster order) of each point's neighbour at each of
    the J (row, col) ``offsets`` (default the 8 neighbours); -1 where none."""
    flat = points[:, 0] * shape[1] + points[:, 1]  # increasing: points are in raster order
    table = np.full((len(points), len(offsets)), -1, dtype=np.intp)
    if len(points) == 0:
        return table
    for j, (dr, dc) in enumerate(offsets):
        rows, cols = points[:, 0] + dr, points[:, 1] + dc
        inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        target = rows * shape[1] + cols
        at = np.minimum(np.searchsorted(flat, target), len(flat) - 1)
        hit = inside & (flat[at] == target)
        table[hit, j] = at[hit]
    return table


def point_components(table: np.ndarray, member: np.ndarray | None = None) -> np.ndarray:
    """Connected piece of every point (any numbering), linked by a neighbour table.

    ``member`` restricts the links to member points (the others each stand alone).
    """
    a = np.repeat(np.arange(len(table)), table.shape[1])
    b = table.ravel()
    keep = b >= 0
    if member is not None:
        keep &= member[a] & member[np.maximum(b, 0)]
    graph = coo_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), (a[keep], b[keep])),
        shape=(len(table), len(table)),
    )
    return np.asarray(connected_components(graph, directed=False)[1])


def _label_points(table: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, int]:
    """Labels of the 8-connected pieces of the ``member`` points, 0 for the others.

    Numbered as :func:`scipy.ndimage.label` numbers them, by each piece's first
    pixel in raster order (the points' order), from the points and their
    neighbour table alone: no pass over the whole image.
    """
    labels = np.zeros(len(member), dtype=np.int32)
    own = np.flatnonzero(member)
    if len(own) == 0:
        return labels, 0
    component = point_components(table, member)
    pieces, first = np.unique(component[own], return_index=True)
    # Rank the pieces by their first member (own is in raster order).
    rank = np.empty(len(pieces), dtype=np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(1, len(pieces) + 1, dtype=np.int32)
    labels[own] = rank[np.searchsorted(pieces, component[own])]
    return labels, len(pieces)


def _boxes(points: np.ndarray, labels: np.ndarray, n: int) -> list[tuple[slice, slice]]:
    """:func:`scipy.ndimage.find_objects` of a label image, from its labelled points.

    Every label 1..n must have a point (as :func:`_label_points` numbers them).
    """
    low = np.full((n + 1, 2), np.iinfo(np.intp).max, dtype=np.intp)
    high = np.full((n + 1, 2), -1, dtype=np.intp)
    np.minimum.at(low, labels, points)
    np.maximum.at(high, labels, points)
    return [
        (slice(int(low[k, 0]), int(high[k, 0]) + 1), slice(int(low[k, 1]), int(high[k, 1]) + 1))
        for k in range(1, n + 1)
    ]


def _cluster_entries(
    entries: np.ndarray,
    epi_labels: np.ndarray,
    epi_boxes: Sequence[tuple[slice, slice] | None],
    entry_points: np.ndarray,
    piece_of: np.ndarray,
    radius: int,
) -> np.ndarray:
    """Cluster label of every entry point: entries joined along their own piece.

    Entries are dilated by ``radius`` pixels and the dilation is kept on the
    piece's skeleton; connected parts are one cluster. Pieces never join (they
    are separate components of the epidermal skeleton), so the work is done in
    each piece's bounding box only, not over the whole image.
    """
    cluster_of = np.zeros(len(entry_points), dtype=np.int64)
    next_label = 0
    for piece in np.unique(piece_of):
        box = epi_boxes[piece - 1]
        assert box is not None  # every entry lies on a labelled piece
        r0, c0 = max(box[0].start - radius, 0), max(box[1].start - radius, 0)
        crop = (slice(r0, box[0].stop + radius), slice(c0, box[1].stop + radius))
        own = epi_labels[crop] == piece
        grown = ndi.binary_dilation(entries[crop] & own, iterations=radius) & own
        labels, n = ndi.label(grown, structure=_EIGHT)
        members = np.flatnonzero(piece_of == piece)
        local = entry_points[members] - np.array([r0, c0])
        cluster_of[members] = labels[local[:, 0], local[:, 1]] + next_label
        next_label += n
    return cluster_of


def count_crossings(
    skeleton: np.ndarray,
    epidermis: np.ndarray,
    dej: list[np.ndarray],
    *,
    spacing: float,
    min_depth_um: float = 5.0,
    min_dermal_um: float = 3.0,
    dej_tolerance_um: float = 4.0,
    merge_um: float = 10.0,
    rise_um: float = 25.0,
    rise_depth_um: float = 5.0,
    min_fragment_um: float = 3.0,
    short_gap_um: float = 12.0,
    end_margin_um: float = 5.0,
    surface: list[np.ndarray] | None = None,
    ridge: np.ndarray | None = None,
    dermal_ridge: float | None = None,
) -> CrossingCount:
    """Count the fibres that cross the DEJ into the epidermis.

    Parameters
    ----------
    skeleton : (M, N) ndarray of bool
        One-pixel-wide fibre centre lines.
    epidermis : (M, N) ndarray of bool
        Epidermis mask; its edge facing the dermis is the DEJ.
    dej : list of (K, 2) ndarray
        DEJ polylines (one per piece of epidermis) in the same (row, col) frame.
    spacing : float
        Pixel size in µm.
    min_depth_um : float
        A crossing counts only if the fibre reaches at least this far into the
        epidermis beyond the DEJ (a fibre stopping at the DEJ does not cross it)
        and ends there: its epidermal piece has a free end at least this deep
        (a dermal fibre dipping into the epidermis and out again does not).
    min_dermal_um : float
        ... and has at least this much skeleton on the dermal side (a fragment
        sitting on the DEJ is not a crossing).
    dej_tolerance_um : float
        Transitions of the skeleton into the epidermis count as DEJ crossings
        only within this distance of the DEJ (not at the epidermal surface).
    merge_um : float
        Entry points of one epidermal piece closer than this are one crossing:
        the junction is a band about one basal keratinocyte (~10 µm) wide, and a
        fibre's skeleton can touch it several times as it passes through.
    rise_um, rise_depth_um : float
        An entry counts only if the skeleton rises at least ``rise_depth_um``
        into the epidermis within ``rise_um`` along the fibre: a fibre crosses
        the DEJ, a dermal fibre running along it (and dipping into a slightly
        misplaced junction) does not.
    min_fragment_um : float
        Epidermal pieces shorter than this are noise, not fragments (nor
        counted among ``epidermal_pieces``); dermal pieces shorter than this
        are not tallied as fibres stopping short of the junction.
    short_gap_um : float
        Dermal fibre tips within this distance below the DEJ are reported as
        fibres stopping short of it.
    end_margin_um : float
        Crossings within this distance (along the DEJ) of a cut end of the
        section are not counted: the fibre cannot be followed there.
    surface : list of (L, 2) ndarray, optional
        The epidermal surface polylines, in the frame of ``skeleton``: pieces
        on the surface, or along it just under it, are not fragments.
    ridge : (M, N) ndarray, optional
        The ridge (tubeness) response the skeleton was traced on: a fragment
        is about as strong a ridge as the fibres of the dermis.
    dermal_ridge : float, optional
        That strength of the dermal fibres; default the median of ``ridge``
        along the skeleton outside the epidermis. Given when the skeleton is
        one part of a section (a recount), so that fragments are compared
        with the whole section's dermal fibres.

    Returns
    -------
    CrossingCount

    Notes
    -----
    An epidermal piece of the trace that does not cross the DEJ is a
    *fragment* only when it looks like a piece of fibre. Keratinocyte borders,
    nuclei, the stratum corneum's texture and noise are traced too; they are
    counted in ``epidermal_pieces`` but not reported as fragments. A fragment

    * is at least 5 µm long (about half a keratinocyte: shorter pieces are
      cell borders and nucleus rims as often as fibre);
    * is an open line, not a loop (a loop is the rim of a nucleus or a cell);
    * lies free in the epidermis: no closer to the DEJ than
      ``dej_tolerance_um`` (a piece touching the junction is a fibre dipping
      across it, already judged as a crossing) and at least 3 µm under the
      surface (the mask's edge);
    * does not run along the surface within 10 µm of it (the flattened cells
      of the stratum granulosum and the lamellae of the corneum run parallel
      to the surface; within 25°);
    * has a median ridge response at least half the median along the traced
      dermal fibres (the same stain and width; texture is fainter);
    * is not one of a crowd: at most 3 other uncounted epidermal pieces within
      30 µm (texture traces as dense pieces; fibre fragments are sparse).

    The tests without ``surface`` or ``ridge`` are skipped. The thresholds
    were chosen on synthetic tuning sections and measured on others
    (``scripts/measure_fragments.py``, docs/algorithm.md "Fragments").
    """
    if skeleton.shape != epidermis.shape:
        raise ValueError(
            "skeleton and epidermis must have one shape, got "
            f"{skeleton.shape} and {epidermis.shape}"
        )
    empty = np.zeros((0, 2))
    points = skeleton_points(skeleton)
    if len(points) == 0 or not any(len(line) >= 2 for line in dej):
        return CrossingCount(empty, empty, empty, 0)
    inside = epidermis[points[:, 0], points[:, 1]]
    dense_dej = [resample_polyline(line, _STEP) for line in dej]
    sd = _signed_distance(points.astype(float), dense_dej, inside) * spacing
    sd_image = np.zeros(skeleton.shape, dtype=np.float32)
    sd_image[points[:, 0], points[:, 1]] = sd

    # Everything below works on the skeleton's points and their neighbours (a
    # few thousand), never on the whole region: the pieces on each side of the
    # DEJ are labelled from the points (as ndi.label would, 8-connected).
    table = _neighbour_table(points, skeleton.shape)
    lab_e, n_epi = _label_points(table, inside)
    lab_d, n_derm = _label_points(table, ~inside)
    epi_labels = np.zeros(skeleton.shape, dtype=np.int32)
    epi_labels[points[:, 0], points[:, 1]] = lab_e
    # Per-piece statistics from the skeleton points only (label 0 = the other side).
    epi_depth = np.full(n_epi + 1, -np.inf)
    np.maximum.at(epi_depth, lab_e, np.where(lab_e > 0, sd, -np.inf))
    epi_depth = epi_depth[1:]
    epi_size = np.bincount(lab_e, minlength=n_epi + 1)[1:]
    derm_low = np.full(n_derm + 1, np.inf)
    np.minimum.at(derm_low, lab_d, np.where(lab_d > 0, sd, np.inf))
    derm_depth = -derm_low[1:]
    derm_top = np.full(n_derm + 1, -np.inf)
    np.maximum.at(derm_top, lab_d, np.where(lab_d > 0, sd, -np.inf))
    derm_top = derm_top[1:]
    derm_size = np.bincount(lab_d, minlength=n_derm + 1)[1:]

    # An intraepidermal fibre ends in the epidermis: a piece with no free end at
    # least min_depth_um inside is a dermal fibre passing through (in and out).
    # Neighbourhoods looked up at the skeleton's own pixels (a few thousand),
    # not filtered over the whole region: degree counts the pixel itself.
    linked = table >= 0
    degree = 1 + linked.sum(axis=1)  # the pixel itself and its skeleton neighbours
    touches_dermal = ~inside | (linked & ~inside[np.maximum(table, 0)]).any(axis=1)
    tips = inside & (degree == 2) & (sd >= min_depth_um)
    has_tip = np.zeros(n_epi + 1, dtype=bool)
    has_tip[np.unique(lab_e[tips])] = True
    has_tip[0] = False

    # Entry pixels: epidermal skeleton pixels touching dermal skeleton, near the DEJ.
    entry_points = points[inside & touches_dermal & (np.abs(sd) <= dej_tolerance_um)]
    entries = np.zeros(skeleton.shape, dtype=bool)
    entries[entry_points[:, 0], entry_points[:, 1]] = True
    piece_of = epi_labels[entry_points[:, 0], entry_points[:, 1]]
    epi_boxes = _boxes(points, lab_e, n_epi)
    cluster_of = _cluster_entries(
        entries,
        epi_labels,
        epi_boxes,
        entry_points,
        piece_of,
        max(1, round(0.5 * merge_um / spacing)),
    )

    # Dermal reach of every entry: the dermal piece it touches (the first in
    # the order (-1, -1), (-1, 0), ... (1, 1) of its neighbours).
    entry_table = table[inside & touches_dermal & (np.abs(sd) <= dej_tolerance_um)]
    derm_of = np.zeros(len(entry_points), dtype=np.int64)
    for j in range(entry_table.shape[1]):
        near = entry_table[:, j]
        found = np.where(near >= 0, lab_d[np.maximum(near, 0)], 0)
        derm_of = np.where(derm_of > 0, derm_of, found)

    candidates: dict[int, list[int]] = {}
    for k, cluster in enumerate(cluster_of):
        candidates.setdefault(int(cluster), []).append(k)

    min_dermal_px = min_dermal_um / spacing
    accepted: dict[int, list[np.ndarray]] = {}
    for members in candidates.values():
        piece = int(piece_of[members[0]])
        if piece == 0 or epi_depth[piece - 1] < min_depth_um or not has_tip[piece]:
            continue
        dermal = [int(derm_of[k]) for k in members if derm_of[k] > 0]
        if not dermal:
            continue
        reach_ok = any(
            derm_size[d - 1] >= min_dermal_px or derm_depth[d - 1] >= min_dermal_um for d in dermal
        )
        if not reach_ok:
            continue
        accepted.setdefault(piece, []).append(entry_points[members].mean(axis=0))

    crossings: list[np.ndarray] = []
    for piece, sites in accepted.items():
        box = epi_boxes[piece - 1]
        origin = np.array([box[0].start, box[1].start])
        rising = _rising_sites(
            epi_labels[box] == piece,
            sd_image[box],
            [site - origin for site in sites],
            spacing=spacing,
            rise_um=rise_um,
            rise_depth_um=rise_depth_um,
        )
        crossings.extend(r + origin for r in rising)

    crossings = [c for c in crossings if not _near_end(c, dense_dej, end_margin_um / spacing)]
    crossings = [crossings[k] for k in order_along_junction(_points(crossings), dej)]
    counted_pieces = set(accepted)
    # Fragments: epidermal pieces not counted that reach into the epidermis
    # and look like fibre.
    epi_low = np.full(n_epi + 1, np.inf)
    np.minimum.at(epi_low, lab_e, np.where(lab_e > 0, sd, np.inf))
    pieces = [
        (piece, box)
        for piece, box in enumerate(epi_boxes, start=1)
        if box is not None
        and piece not in counted_pieces
        and epi_size[piece - 1] >= min_fragment_um / spacing
        and epi_depth[piece - 1] >= min_depth_um
    ]
    fragments = _fibre_like_pieces(
        pieces,
        epi_labels,
        points[inside],
        lab_e[inside],
        sd[inside],
        epi_low[1:],
        spacing=spacing,
        dej_tolerance_um=dej_tolerance_um,
        surface=surface,
        ridge=ridge,
        dermal_ridge=_median_at(ridge, points[~inside]) if dermal_ridge is None else dermal_ridge,
    )
    fragments = [fragments[k] for k in order_along_junction(_points(fragments), dej)]

    # Fibres stopping short: dermal pieces whose highest point is just below the
    # DEJ, as long as an epidermal piece must be to be more than noise (not the
    # dermal reach a crossing needs: a stricter crossing rule does not hide them).
    short = []
    if n_derm:
        top = derm_top
        touches = set(np.unique(derm_of[derm_of > 0]).tolist())
        min_short_px = min_fragment_um / spacing
        for d in np.flatnonzero((top > -short_gap_um) & (derm_size >= min_short_px)) + 1:
            if d in touches:
                continue
            pix = points[lab_d == d]  # in raster order
            tip = pix[np.argmax(sd_image[pix[:, 0], pix[:, 1]])]
            short.append(tip.astype(float))

    # Secondary branches: clusters of touching fork pixels on counted pieces.
    forks = inside & (degree >= 4)
    clusters, _ = _label_points(table, forks)
    secondary = len(
        {
            int(c)
            for c, o in zip(clusters[forks], lab_e[forks], strict=True)
            if int(o) in counted_pieces
        }
    )

    return CrossingCount(
        _points(crossings), _points(fragments), _points(short), secondary, len(pieces)
    )


# What sets a fibre's fragment apart from the epidermis' texture (see the
# Notes of count_crossings).
_FRAGMENT_MIN_UM = 5.0
_FRAGMENT_SURFACE_MARGIN_UM = 3.0
_FRAGMENT_SURFACE_BAND_UM = 10.0
_FRAGMENT_PARALLEL_COS = 0.9  # |cos| of the angle to the surface: within about 25°
_FRAGMENT_RIDGE_FRACTION = 0.5
_FRAGMENT_CROWD_UM = 30.0
_FRAGMENT_CROWD = 3


def _median_at(image: np.ndarray | None, points: np.ndarray) -> float | None:
    if image is None or len(points) == 0:
        return None
    return float(np.median(image[points[:, 0], points[:, 1]]))


def _fibre_like_pieces(
    pieces: list[tuple[int, tuple[slice, slice]]],
    labels: np.ndarray,
    points: np.ndarray,
    point_label: np.ndarray,
    depth: np.ndarray,
    lowest: np.ndarray,
    *,
    spacing: float,
    dej_tolerance_um: float,
    surface: list[np.ndarray] | None,
    ridge: np.ndarray | None,
    dermal_ridge: float | None,
) -> list[np.ndarray]:
    """A point on each of the epidermal ``pieces`` that looks like a piece of fibre.

    ``points`` are the epidermal skeleton pixels, ``point_label`` their piece,
    ``depth`` their distance from the DEJ in µm; ``lowest[piece - 1]`` is the
    piece's smallest depth. The point is the piece's pixel nearest its centroid.
    """
    if not pieces:
        return []
    order = np.argsort(point_label, kind="stable")
    starts = np.searchsorted(point_label[order], [p for p, _ in pieces])
    stops = np.searchsorted(point_label[order], [p for p, _ in pieces], side="right")
    members = [order[a:b] for a, b in zip(starts, stops, strict=True)]
    centres = np.array([points[m].mean(axis=0) for m in members])
    crowd = cKDTree(centres).query_ball_point(centres, _FRAGMENT_CROWD_UM / spacing)
    surface_lines = [line for line in (surface or []) if len(line) >= 2]
    if surface_lines:
        dense = np.concatenate([resample_polyline(line, _STEP) for line in surface_lines])
        tangent = np.concatenate(
            [np.gradient(resample_polyline(line, _STEP), axis=0) for line in surface_lines]
        )
        tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
        surface_tree = cKDTree(dense)
    fragments = []
    for k, (piece, box) in enumerate(pieces):
        pix = points[members[k]]
        if len(pix) * spacing < _FRAGMENT_MIN_UM or len(crowd[k]) - 1 > _FRAGMENT_CROWD:
            continue
        if lowest[piece - 1] < dej_tolerance_um:
            continue
        own = labels[box] == piece
        if ndi.binary_fill_holes(own).sum() > own.sum():
            continue  # a loop: the rim of a nucleus or a cell
        if ridge is not None and dermal_ridge is not None:
            strength = float(np.median(ridge[pix[:, 0], pix[:, 1]]))
            if strength < _FRAGMENT_RIDGE_FRACTION * dermal_ridge:
                continue
        centre = centres[k]
        if surface_lines:
            below, nearest = surface_tree.query(pix)
            if below.min() * spacing < _FRAGMENT_SURFACE_MARGIN_UM:
                continue
            if below.min() * spacing < _FRAGMENT_SURFACE_BAND_UM and len(pix) > 2:
                _, vectors = np.linalg.eigh(np.cov((pix - centre).T))
                along = abs(float(vectors[:, -1] @ tangent[nearest[np.argmin(below)]]))
                if along > _FRAGMENT_PARALLEL_COS:
                    continue
        fragments.append(pix[np.argmin(np.hypot(*(pix - centre).T))].astype(float))
    return fragments


def _points(items: list[np.ndarray]) -> np.ndarray:
    return np.asarray(items, dtype=float).reshape(-1, 2)


def order_along_junction(points: np.ndarray, dej: list[np.ndarray]) -> np.ndarray:
    """Order points along the junction, as a pathologist follows it.

    The junction's pieces are put in order along the section's long axis (the
    first principal axis of all junction vertices, pointing to increasing
    column, or increasing row for a vertical section), each piece run in that
    direction; a point belongs to its nearest piece and is placed at the arc
    length of its projection onto it. Ties keep the given order.

    Parameters
    ----------
    points : (K, 2) array_like
        (row, col) of each point, e.g. the crossings.
    dej : list of (M, 2) array_like
        The junction's polylines, (row, col), in the same frame.

    Returns
    -------
    (K,) ndarray of int
        Indices into ``points``, first along the junction first. Without a
        junction, ``arange(K)``.

    Examples
    --------
    >>> dej = [np.array([[50.0, 0.0], [50.0, 100.0]]), np.array([[50.0, 300.0], [50.0, 200.0]])]
    >>> order_along_junction(np.array([[50.0, 250.0], [50.0, 10.0], [49.0, 90.0]]), dej).tolist()
    [1, 2, 0]
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    lines = [np.asarray(line, dtype=float).reshape(-1, 2) for line in dej]
    lines = [line for line in lines if len(line) >= 2]
    if len(pts) < 2 or not lines:
        return np.arange(len(pts))
    vertices = np.concatenate(lines)
    _, _, vt = np.linalg.svd(vertices - vertices.mean(axis=0), full_matrices=False)
    axis = vt[0]
    # Point the axis to increasing column (increasing row for a vertical section).
    key = axis[1] if abs(axis[1]) > 1e-9 else axis[0]
    axis = axis if key > 0 else -axis
    oriented = [line if float((line[-1] - line[0]) @ axis) >= 0 else line[::-1] for line in lines]
    oriented.sort(key=lambda line: float(line[0] @ axis))
    geoms = np.array([shapely.LineString(line[:, ::-1]) for line in oriented])  # x=col, y=row
    located = shapely.points(pts[:, ::-1])
    piece = np.argmin(shapely.distance(geoms[:, None], located[None, :]), axis=0)
    arc = shapely.line_locate_point(geoms[piece], located)
    return np.lexsort((np.arange(len(pts)), arc, piece))


def _near_end(point: np.ndarray, dense_dej: list[np.ndarray], margin: float) -> bool:
    """Whether the DEJ point nearest ``point`` lies within ``margin`` of a polyline end.

    ``dense_dej`` are the DEJ polylines resampled every ``_STEP`` pixels.
    """
    best, near = np.inf, False
    for dense in dense_dej:
        dist = np.hypot(*(dense - point).T)
        k = int(np.argmin(dist))
        if dist[k] < best:
            best = dist[k]
            arc = _STEP * k
            near = arc < margin or arc > _STEP * (len(dense) - 1) - margin
    return near


def _rising_sites(
    piece: np.ndarray,
    sd_image: np.ndarray,
    sites: list[np.ndarray],
    *,
    spacing: float,
    rise_um: float,
    rise_depth_um: float,
) -> list[np.ndarray]:
    """The sites from which the piece rises into the epidermis within ``rise_um``."""
    pix = np.argwhere(piece)
    index = -np.ones(piece.shape, dtype=np.int64)
    index[pix[:, 0], pix[:, 1]] = np.arange(len(pix))
    rows, cols, weights = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = pix
        b = pix + np.array([dr, dc])
        ok = (b[:, 0] < piece.shape[0]) & (b[:, 1] >= 0) & (b[:, 1] < piece.shape[1])
        a, b = a[ok], b[ok]
        j = index[b[:, 0], b[:, 1]]
        keep = j >= 0
        rows.append(index[a[keep, 0], a[keep, 1]])
        cols.append(j[keep])
        weights.append(np.full(int(keep.sum()), np.hypot(dr, dc)))
    graph = coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(pix), len(pix)),
    ).tocsr()
    tree = cKDTree(pix)
    _, starts = tree.query(np.asarray(sites))
    dist = dijkstra(graph, directed=False, indices=np.atleast_1d(starts), limit=rise_um / spacing)
    depth = sd_image[pix[:, 0], pix[:, 1]]
    rising = []
    for k, site in enumerate(sites):
        reach = np.isfinite(dist[k])
        if reach.any() and depth[reach].max() >= rise_depth_um + max(0.0, depth[starts[k]]):
            rising.append(site)
    return rising
