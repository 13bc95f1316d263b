"""The dermal-epidermal junction (DEJ) and the epidermal surface of an epidermis mask.

Works on a low-resolution copy of the section (about 1-2 µm per pixel).
Polylines are returned in the coordinates of the array they were found in; the
caller maps them to full resolution.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage import measure

from ienfd.core._epidermis import EDGE_DISTANCE_UM
from ienfd.core._polyline import (
    arc_length,
    away_from_ends,
    directions,
    polyline_length,
    resample_polyline,
)
from ienfd.core._qc import QualityLimits, _edge_distance
from ienfd.core._tissue import fill_holes

__all__ = ["JunctionTrace", "pieces_at_surface", "refine_junction", "trace_junction"]


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


def trace_junction(
    epidermis: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    min_length_um: float = 100.0,
    smooth_um: float = 2.0,
    dermis_depth_um: float = 50.0,
    extend_um: float = 60.0,
    edge_margin_um: float = 3.0,
) -> list[JunctionTrace]:
    """Trace the DEJ and the surface of each piece of epidermis.

    The outline of the epidermis is split into the part that faces the dermis
    (the DEJ) and the rest; the rest, less the two cut edges of the section, is
    the epidermal surface. An outline point faces the dermis when the tissue
    continues for ``dermis_depth_um`` along its outward normal (or on to the
    frame's border, past which it continues as far as anyone can tell): the
    stratum corneum is thin and gives way to glass, the dermis does not. The
    outline along the border itself is never junction. Every piece is
    returned, a dense body in the dermis too: :func:`pieces_at_surface` picks
    the pieces along the tissue's edge.

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
        At 30 µm the junction stopped short of the cut edges: 3.2 % short
        (median) on the independent generator's development sections, most
        of it at the ends; at 60 µm the median absolute length error there
        falls from 4.1 % to 3.2 % (docs/algorithm.md, step 6).
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
        is_dej = _faces_deep_tissue(
            contour,
            epidermis,
            tissue,
            depth_px=dermis_depth_um / spacing,
            min_in_px=_FRAME_MIN_TISSUE_UM / spacing,
        )
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
        # Other stretches of the outline facing deep tissue are junction the
        # longest run left out, never surface.
        deep = _circular_slice(is_dej, stop, start + len(contour))
        surface = _trim_cut_edges(rest, dej, spacing=spacing, facing_tissue=deep)
        surface = _bridge_bites(surface, epidermis, spacing=spacing)
        outline = np.concatenate([dej, rest])
        dej = _trim_end_faces(dej, _beside_junction(rest, dej, spacing=spacing))
        dej = _extend_to_edge(dej, core, max_px=extend_um / spacing, tangent_px=5.0 / spacing)
        traces.append(JunctionTrace(dej=dej, surface=surface, outline=outline))
    traces.sort(key=lambda t: -polyline_length(t.dej))
    return traces


def pieces_at_surface(
    traces: list[JunctionTrace],
    tissue: np.ndarray,
    *,
    spacing: float,
    within_um: float = EDGE_DISTANCE_UM,
    min_fraction: float = 0.5,
) -> list[JunctionTrace]:
    """The pieces of epidermis whose surface lies along the tissue's edge.

    The epidermis lines the outside of the skin: its surface faces glass,
    across at most a stratum corneum. A dense body the epidermis search took
    in deep in the dermis (a nerve trunk, a vessel wall, a hair follicle) is
    surrounded by tissue; its outline faces deep tissue all round, the
    junction is traced along it, and every fibre reaching it is counted.
    Such a piece has no surface, or one (the outline left over between runs
    of junction) that lies far from where the tissue ends. The frame's
    border counts as an edge: where the frame cuts the section, what lies
    beyond is unknown, and a piece of epidermis whose stratum corneum the
    frame cuts (beside another piece along glass) is kept; so, too, is a
    trunk the frame's border cuts. Holes in the tissue mask (a vessel's
    lumen) are tissue here, not an edge. Of the pieces along the edge, a body
    lying in the dermis beneath the main piece's junction is left out too
    (:func:`_without_pieces_beneath`): a trunk near the section's deep cut
    edge, or a second band behind the epidermis.

    Parameters
    ----------
    traces : list of JunctionTrace
        From :func:`trace_junction`, in the frame of ``tissue``.
    tissue : (m, n) ndarray of bool
        The tissue mask the traces were found in.
    spacing : float
        Pixel size of ``tissue`` in µm.
    within_um : float
        A surface vertex lies along the tissue's edge when the tissue ends
        (or the frame does) within this distance of it: the band search's
        reach (the stratum corneum may lie between).
    min_fraction : float
        A piece is kept when at least this fraction of its surface's
        vertices do (they are about a pixel apart: a fraction of its length).

    Returns
    -------
    list of JunctionTrace
        The pieces along the edge (less those beneath the main one), in their
        order; all of them when none is along the edge
        (the checks of the result then speak for it).

    Examples
    --------
    >>> tissue = np.zeros((60, 60), bool); tissue[10:, :] = True
    >>> epidermis = np.zeros_like(tissue); epidermis[10:25, :] = True
    >>> epidermis[40:50, 20:40] = True  # a dense body deep in the dermis
    >>> traces = trace_junction(epidermis, tissue, spacing=1.0, min_length_um=10,
    ...                         dermis_depth_um=5)
    >>> len(traces), len(pieces_at_surface(traces, tissue, spacing=1.0, within_um=5))
    (2, 1)
    """
    if len(traces) < 2:
        return traces  # nothing to choose between: kept whatever the test says
    filled = fill_holes(tissue)
    shape = np.array(tissue.shape) - 1

    def along_edge(trace: JunctionTrace) -> bool:
        if len(trace.surface) < 2:
            return False
        idx = np.clip(np.round(trace.surface).astype(int), 0, shape)
        return bool(np.mean(_edge_distance(filled, idx) * spacing <= within_um) >= min_fraction)

    kept = [t for t in traces if along_edge(t)]
    if not kept:
        return traces
    return _without_pieces_beneath(kept, spacing=spacing)


#: Along the main junction, this far from either of its ends a piece is
#: beside the main piece (another stretch of epidermis along the surface, past
#: a follicle or a tear), not beneath it (:func:`_without_pieces_beneath`).
_BENEATH_END_UM = 50.0


def _without_pieces_beneath(traces: list[JunctionTrace], *, spacing: float) -> list[JunctionTrace]:
    """The pieces along the edge, less the bodies in the dermis and the dermis.

    * A piece more than 200 µm thick (the median distance from its surface to
      its junction; the epidermis is 20-200 µm, :class:`QualityLimits`) is
      dermis, dense beyond a pale papillary layer, its "surface" the section's
      deep cut edge (independent development section 280): dropped when
      pieces of plausible thickness remain whose surfaces, or junctions,
      together are at least half as long as the longest thick piece's.
      Pieces shorter than that are bodies beneath a thick epidermis (a sole,
      an oblique cut), weighed by the next rule, and the thickness is a check
      of the result.
    * The main piece is then the one with the longest surface. A piece
      beneath its junction (most of its outline nearest the main junction,
      away from the junction's ends, and across it: within 30° of its normal,
      not past its end, and facing a stretch of it at least a quarter as
      long as its own junction) whose surface is less than half as long
      as the main one is a body in the dermis the junction faces: a nerve
      trunk or a vessel near the deep cut edge, its far side facing that
      edge's glass (section 276: two trunks, 146 crossings counted for 10).

    A second epidermis on the far side of a narrow strip (a fold) is as long
    as the first: it is kept. What the rules cannot tell: a thick piece kept
    for want of long enough plausible ones can be the main piece, and short
    pieces of true epidermis facing its junction are then dropped as bodies
    beneath it; the thickness check flags what is left.
    """
    if len(traces) < 2:
        return traces
    thickest = QualityLimits().thickness_um[1]
    is_plausible = [_thickness_um(t, spacing) <= thickest for t in traces]
    plausible = [t for t, ok in zip(traces, is_plausible, strict=True) if ok]
    thick = [t for t, ok in zip(traces, is_plausible, strict=True) if not ok]
    if (
        plausible
        and thick
        and any(
            sum(length(t) for t in plausible) >= 0.5 * max(length(t) for t in thick)
            for length in (_surface_length, _dej_length)
        )
    ):
        traces = plausible
    if len(traces) < 2:
        return traces
    return _without_bodies_beneath(traces, spacing=spacing)


def _without_bodies_beneath(traces: list[JunctionTrace], *, spacing: float) -> list[JunctionTrace]:
    """The pieces less those beneath the junction of the one with the longest surface."""
    main = max(traces, key=lambda t: polyline_length(t.surface))
    main_surface = polyline_length(main.surface)
    dej = main.dej
    along = arc_length(dej) * spacing
    interior = away_from_ends(dej, _BENEATH_END_UM / spacing)
    # The junction's direction at each vertex, over about 10 µm.
    tangent = directions(dej, max(1, round(5.0 / spacing)))
    n_dej = len(dej)
    tree = cKDTree(np.concatenate([dej, main.surface]))
    kept = []
    for trace in traces:
        if trace is not main and polyline_length(trace.surface) < 0.5 * main_surface:
            _, nearest = tree.query(trace.outline)
            on_dej = nearest < n_dej
            at = np.minimum(nearest, n_dej - 1)
            # Beneath: across the junction from its foot, not past its end.
            offset = trace.outline - dej[at]
            along_tangent = np.abs(np.sum(offset * tangent[at], axis=1))
            square = along_tangent <= 0.5 * np.hypot(*offset.T)
            beneath = on_dej & interior[at] & square
            # And along it: a body under the junction faces a stretch of it
            # as long as itself (its outline, the junction traced round it, is
            # about twice that); the next piece along a broken epidermis
            # faces only the turn of the main junction's end.
            span = np.ptp(along[at[beneath]]) if beneath.any() else 0.0
            if np.mean(beneath) >= 0.5 and span >= 0.25 * polyline_length(trace.dej) * spacing:
                continue
        kept.append(trace)
    return kept


def _surface_length(trace: JunctionTrace) -> float:
    """Length of a piece's surface, in pixels."""
    return polyline_length(trace.surface)


def _dej_length(trace: JunctionTrace) -> float:
    """Length of a piece's junction, in pixels."""
    return polyline_length(trace.dej)


def _thickness_um(trace: JunctionTrace, spacing: float) -> float:
    """Median distance from a piece's surface to its junction, in µm (inf without a surface)."""
    if len(trace.surface) == 0 or len(trace.dej) == 0:
        return float("inf")
    return float(np.median(cKDTree(trace.dej).query(trace.surface)[0])) * spacing


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

    arc = arc_length(line)
    k_head = min(int(np.searchsorted(arc, tangent_px)), len(line) - 1)
    k_tail = max(int(np.searchsorted(arc, arc[-1] - tangent_px)), 0)
    head = extension(line[0], line[k_head])[::-1]
    tail = extension(line[-1], line[k_tail])
    return np.concatenate([head, line, tail])


def _faces_deep_tissue(
    contour: np.ndarray,
    epidermis: np.ndarray,
    tissue: np.ndarray,
    *,
    depth_px: float,
    min_in_px: float = 3.0,
) -> np.ndarray:
    """Whether tissue continues for ``depth_px`` along each vertex's outward normal.

    Tissue that runs on to the frame's border continues beyond it as far as
    anyone can tell: where the frame cuts the dermis, a rete ridge or the
    junction near the border faces deep tissue too. A normal that leaves the
    frame must first cross tissue for ``min_in_px`` pixels inside it: the
    outline that runs along the border itself (an epidermis the frame cuts)
    starts outside the frame and never faces deep tissue.
    """
    smooth = ndi.gaussian_filter1d(contour, 2.0, axis=0, mode="wrap")
    tangent = np.gradient(smooth, axis=0)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    shape = np.array(epidermis.shape) - 1
    probe = np.round(contour + 2 * normal).astype(int)
    # A probe past the frame's border is outside the epidermis: the outline of
    # an epidermis the frame cuts runs along the border.
    in_frame = (probe >= 0).all(axis=1) & (probe <= shape).all(axis=1)
    probe = np.clip(probe, 0, shape)
    flip = epidermis[probe[:, 0], probe[:, 1]] & in_frame
    normal[flip] *= -1  # point away from the epidermis
    steps = np.arange(1.5, depth_px + 1.0)
    if not len(steps):
        return np.ones(len(contour), dtype=bool)
    points = contour[:, None, :] + steps[None, :, None] * normal[:, None, :]
    idx = np.round(points).astype(int)
    outside = (idx < 0).any(axis=-1) | (idx > shape).any(axis=-1)
    idx = np.clip(idx, 0, shape)
    inside = tissue[idx[..., 0], idx[..., 1]] & ~outside
    # From the first sample past the frame's border on, the normal's samples
    # are unknown tissue (a straight line that has left the frame stays out).
    beyond = np.logical_or.accumulate(outside, axis=1)
    leaves = beyond[:, -1]
    samples_in = np.argmax(beyond, axis=1)  # inside the frame, for the normals that leave it
    return np.asarray((inside | beyond).all(axis=1) & (~leaves | (samples_in >= min_in_px)))


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


def _beside_junction(rest: np.ndarray, dej: np.ndarray, *, spacing: float) -> np.ndarray:
    """The vertices of ``rest`` whose nearest DEJ point is not within 3 µm of an end of it.

    What the end faces of the junction are measured against
    (:func:`_trim_end_faces`): the outline opposite the junction, cut short
    where it passes the junction's ends.
    """
    if len(rest) < 3 or len(dej) < 3:
        return rest
    step = np.hypot(*np.diff(dej, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(step)])
    _, nearest = cKDTree(dej).query(rest)
    margin = 3.0 / spacing
    interior = (arc[nearest] > margin) & (arc[nearest] < arc[-1] - margin)
    if not interior.any():
        return rest
    first = int(np.argmax(interior))
    last = len(interior) - int(np.argmax(interior[::-1]))
    return rest[first:last]


def _trim_cut_edges(
    surface: np.ndarray,
    dej: np.ndarray,
    *,
    spacing: float,
    facing_tissue: np.ndarray | None = None,
    run_um: float = 30.0,
    straighten_um: float = 50.0,
) -> np.ndarray:
    """The outer surface alone: the rest of the outline less the cut edges at its ends.

    ``surface`` is the outline of the epidermis that is not junction, from
    one end of the junction round to the other: down the section's cut end,
    along the surface, up the other cut end. A vertex lies on the surface when
    it lies across the epidermis from the junction: the direction from its
    nearest junction point is within 60° of the junction's normal there
    (the junction smoothed over ``straighten_um``, so that rete ridges do not
    turn it), and the outline runs within 30° of square to that direction. On
    a cut edge the outline runs from the junction to the surface, or sits
    beside the junction's end. Vertices ``facing_tissue`` (deep tissue
    beyond them: junction left out of the longest run) are not surface. The
    surface starts at the first run of surface vertices at least ``run_um``
    long from each end; what lies between is kept (see
    :func:`_bridge_notches` for notches in it).
    """
    if len(surface) < 3 or len(dej) < 3:
        return surface
    coarse = resample_polyline(dej, 1.0 / spacing)  # a vertex every µm
    coarse = _smooth(coarse, straighten_um / spacing)
    tangent = np.gradient(coarse, axis=0)
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    distance, nearest = cKDTree(coarse).query(surface)
    away = (surface - coarse[nearest]) / np.maximum(distance, 1e-9)[:, None]
    along = np.gradient(_smooth(surface, 2.0 / spacing), axis=0)
    along /= np.maximum(np.hypot(*along.T), 1e-9)[:, None]
    across = np.abs(np.sum(away * normal[nearest], axis=1)) > _NORMAL_COS
    across &= np.abs(np.sum(away * along, axis=1)) < _ALONG_COS
    if facing_tissue is not None:
        across &= ~facing_tissue
    arc = arc_length(surface)
    first = _first_run(across, arc, run_um / spacing)
    from_end = _first_run(across[::-1], arc[-1] - arc[::-1], run_um / spacing)
    if first is None or from_end is None or len(surface) - from_end - first < 3:
        return surface
    return _bridge_notches(surface[first : len(surface) - from_end], spacing=spacing)


#: Tissue a normal must cross inside the frame before it leaves it, to face the
#: dermis beyond the frame's border (:func:`_faces_deep_tissue`): about three
#: pixels of the junction search's 1.5 µm grid.
_FRAME_MIN_TISSUE_UM = 4.5

# A surface vertex: |cos| of the angle between the direction from the junction
# and the junction's normal above this (within 60°), and between that
# direction and the outline below this (the outline within 30° of square to
# it). Chosen on classic seeds 1000-1019 and wide seeds 60000-60019.
_NORMAL_COS = 0.5
_ALONG_COS = 0.5


def _first_run(flags: np.ndarray, arc: np.ndarray, length: float) -> int | None:
    """Index of the first vertex of the first run of True spanning ``length`` of ``arc``."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if arc[stop - 1] - arc[start] >= length:
            return int(start)
    return None


def _bridge_notches(
    surface: np.ndarray, *, spacing: float, gap_um: float = 25.0, ratio: float = 3.0
) -> np.ndarray:
    """Close the narrow notches of the surface with a straight line across their mouth.

    A split in the stratum corneum, a fold or a pale patch missed by the
    epidermis mask leaves a narrow slit in the outline; the surface would run
    down into the epidermis and back. Where two vertices lie within
    ``gap_um`` of each other but the outline between them is more than
    ``ratio`` times longer (and longer than ``gap_um``), the outline between
    them is replaced by the straight line joining them.
    """
    if len(surface) < 4:
        return surface
    gap = gap_um / spacing
    pairs, chord, detour = _detours(surface, gap)
    pairs = pairs[(detour > ratio * chord) & (detour > gap)]
    if len(pairs) == 0:
        return surface
    return _shortcut(surface, pairs)


def _bridge_bites(
    surface: np.ndarray,
    epidermis: np.ndarray,
    *,
    spacing: float,
    mouth_um: float = 100.0,
    ratio: float = 2.0,
    open_fraction: float = 0.8,
) -> np.ndarray:
    """Close the wide bites of the surface into the epidermis mask.

    A pale patch of epidermis under the stratum corneum, missed by the
    epidermis mask and open to the outside, leaves a bite too wide for
    :func:`_bridge_notches`: the surface would run down into the epidermis,
    along the bite's floor and back up. Where two vertices lie within
    ``mouth_um`` of each other, the outline between them is more than
    ``ratio`` times longer, and the straight line joining them runs outside
    the epidermis over at least ``open_fraction`` of its length (the mouth of
    a bite, not a chord across a bulge of the epidermis), the outline between
    them is replaced by that line. A bite must be deep to pass: with
    ``ratio`` 2 a bite as deep as half its mouth.
    """
    if len(surface) < 4:
        return surface
    pairs, chord, detour = _detours(surface, mouth_um / spacing)
    pairs = pairs[(detour > ratio * chord) & (chord > 2.0)]
    if len(pairs) == 0:
        return surface
    # The chord's inner points (its ends lie on the outline itself).
    steps = np.linspace(0.15, 0.85, 8)
    start, stop = surface[pairs[:, 0]], surface[pairs[:, 1]]
    points = start[:, None, :] + steps[None, :, None] * (stop - start)[:, None, :]
    rows = np.clip(np.round(points[..., 0]).astype(int), 0, epidermis.shape[0] - 1)
    cols = np.clip(np.round(points[..., 1]).astype(int), 0, epidermis.shape[1] - 1)
    outside = ~epidermis[rows, cols]
    pairs = pairs[outside.mean(axis=1) >= open_fraction]
    if len(pairs) == 0:
        return surface
    return _shortcut(surface, pairs)


def _detours(surface: np.ndarray, within: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of vertices ``within`` pixels of each other, their distance and the arc between."""
    arc = arc_length(surface)
    pairs = cKDTree(surface).query_pairs(within, output_type="ndarray")
    chord = np.hypot(*(surface[pairs[:, 0]] - surface[pairs[:, 1]]).T)
    detour = np.abs(arc[pairs[:, 1]] - arc[pairs[:, 0]])
    return pairs, chord, detour


def _shortcut(surface: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The polyline with the vertices between each pair of ``pairs`` left out."""
    pairs = np.sort(pairs, axis=1)
    # Along the line, from each vertex straight on to its farthest partner.
    reach = np.full(len(surface), -1)
    np.maximum.at(reach, pairs[:, 0], pairs[:, 1])
    keep, k = [], 0
    while k < len(surface):
        keep.append(k)
        k = max(int(reach[k]), k + 1)
    return surface[keep]


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
        crosses halfway between the epidermal level (the lower quartile inside:
        basal nuclei do not raise it) and the dermal level ('edge').
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
        epi_level = np.percentile(profiles[:, inner], 25, axis=1)
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
