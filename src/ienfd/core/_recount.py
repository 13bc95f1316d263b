"""Counting again across an edited junction, from the fibres the analysis traced.

The fibre trace (ridge filter, thresholds, skeleton) is the costly part of an
analysis, and it does not depend on where the junction is drawn, only on the
band around the epidermis where it was computed. :class:`FibreTrace` keeps
that skeleton with the section; :func:`recount_section` counts its crossings
of a junction drawn afterwards (:class:`ienfd.core.GivenJunction`) with the
same rule (:func:`ienfd.core.count_crossings`, with the surface and the ridge
response along the skeleton, so that fragments are judged as by the analysis)
and the same parameters, in a fraction of a second: what the napari plugin runs
after every edit of the DEJ. Across the analysis' own junction it finds exactly
the analysis' crossings and fragments.

Which fibre pixels lie in the epidermis is taken from a basis, the junction
the trace was last classified against (:class:`JunctionBasis`: the
analysis' own epidermis, or a painted one). Where the DEJ lines drawn now
pair with the basis' lines (one per piece), the epidermis is the basis'
with the strip between the old and the new line moved across: an edit
changes the count only where it moved the junction. Otherwise (pieces added
or removed, a painted epidermis) the epidermis is derived from what is drawn
as for ``analyze_section(junction=...)`` (:func:`ienfd.core.given_geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi
from skimage import measure

from ienfd.core._counting import (
    _FRAGMENT_CROWD_UM,
    _STEP,
    CrossingCount,
    count_crossings,
    order_along_junction,
)
from ienfd.core._frame import Frame
from ienfd.core._given import GivenJunction, given_geometry
from ienfd.core._polyline import arc_length, polyline_length, resample_polyline
from ienfd.core._preprocess import block_window

if TYPE_CHECKING:
    from ienfd.core._analyze import AnalysisParameters

__all__ = ["FibreTrace", "JunctionBasis", "Recount", "recount_section"]


@dataclass(frozen=True, eq=False)
class JunctionBasis:
    """A junction and the side of it each traced fibre pixel lies on.

    Attributes
    ----------
    dej : tuple of (K, 2) ndarray
        DEJ polylines, full-resolution (row, col) pixels in the frame of the
        trace (:attr:`FibreTrace.frame`).
    inside : (P,) ndarray of bool
        For each point of :attr:`FibreTrace.points`, whether it is in the epidermis.
    """

    dej: tuple[np.ndarray, ...]
    inside: np.ndarray

    def moved(self, shift: np.ndarray) -> JunctionBasis:
        """The same basis with its DEJ lines moved by ``shift`` (row, col) pixels."""
        return JunctionBasis(tuple(line + shift for line in self.dej), self.inside)


@dataclass(frozen=True, eq=False)
class FibreTrace:
    """The fibres an analysis traced, kept to count them again across another junction.

    Attributes
    ----------
    skeleton : (R, C) ndarray of bool
        Fibre centre lines over the analysed region (full resolution).
    origin : (int, int)
        Full-resolution (row, col) of the region's first pixel.
    shape : (int, int)
        Full-resolution shape of the section image (the analysis ran on its
        centred window of whole blocks, :attr:`window`).
    spacing : float
        Pixel size in µm.
    factor : int
        Block size of the analysis' low resolution (``tissue`` and ``band``).
    tissue : (m, n) ndarray of bool
        The tissue at the low resolution.
    band : (m, n) ndarray of bool
        Where fibres were traced (the epidermis and a dermal band below it),
        at the low resolution: a junction moved outside it has no fibres
        traced across it.
    parameters : AnalysisParameters
        Of the analysis (the counting rule's parameters are used again).
    modality : {'brightfield', 'fluorescence'}
        Of the analysis: the counting rule's dermal reach depends on it.
    basis : JunctionBasis, optional
        The analysis' junction and epidermis (what an edit is measured against).
    ridge : (P,) ndarray of float, optional
        The ridge (tubeness) response at each of :attr:`points`, which the
        counting rule compares fragments with the dermal fibres by. Without
        it, fragments are not tested for their ridge strength.
    frame : Frame, optional
        The turn and mirror of the image the analysis ran in
        (:func:`ienfd.core._frame.canonical_frame`). Everything above is in
        that frame; :func:`recount_section` takes and gives the image's own
        coordinates. None: the image's frame.
    """

    skeleton: np.ndarray
    origin: tuple[int, int]
    shape: tuple[int, int]
    spacing: float
    factor: int
    tissue: np.ndarray
    band: np.ndarray
    parameters: AnalysisParameters
    modality: str
    basis: JunctionBasis | None = None
    ridge: np.ndarray | None = None
    frame: Frame | None = None
    _points: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_points", np.argwhere(self.skeleton))

    @cached_property
    def window(self) -> tuple[slice, slice]:
        """The full-resolution window the analysis ran on: its blocks, centred on the image.

        Low-resolution pixel ``(i, j)`` of :attr:`tissue` and :attr:`band` covers
        ``factor`` pixels from ``window[0].start + i * factor`` and
        ``window[1].start + j * factor``.
        """
        return block_window(self.shape, self.factor)

    @property
    def image_shape(self) -> tuple[int, int]:
        """Rows and columns of the section image (:attr:`shape` is the analysis frame's)."""
        return self.shape if self.frame is None else self.frame.shape

    def in_trace_frame(self, points: np.ndarray) -> np.ndarray:
        """(K, 2) (row, col) image pixels in the frame of the trace (of :attr:`shape`)."""
        return np.asarray(points, float) if self.frame is None else self.frame.points(points)

    @property
    def points(self) -> np.ndarray:
        """(P, 2) int (row, col) of the skeleton pixels, in the region's frame."""
        return self._points

    @cached_property
    def components(self) -> tuple[np.ndarray, np.ndarray, list[tuple[slice, slice]]]:
        """The skeleton's 8-connected pieces: label image, each point's label, bounding boxes.

        Computed once, on the first recount: the pieces do not depend on the junction.
        """
        labels, _ = ndi.label(self.skeleton, structure=_EIGHT)
        boxes = [box for box in ndi.find_objects(labels) if box is not None]
        points = self.points
        return labels, labels[points[:, 0], points[:, 1]], boxes

    @cached_property
    def groups(self) -> list[_Group]:
        """The pieces in groups counted together, each in the small box that holds them."""
        boxes = self.components[2]
        labels = np.arange(1, len(boxes) + 1)
        order, starts, stops = self.piece_points
        return [
            _Group(
                window,
                members,
                np.concatenate([order[starts[m - 1] : stops[m - 1]] for m in members]),
            )
            for window, members in _groups(labels, boxes, self.skeleton.shape)
        ]

    @cached_property
    def dermal_ridge(self) -> float | None:
        """The median ridge response along the dermal fibres, as the analysis traced them.

        What a fragment's ridge strength is compared with (half of it, see
        :func:`ienfd.core.count_crossings`): a property of the section's
        stain, kept when the junction is edited. None without :attr:`ridge`
        or :attr:`basis`.
        """
        if self.ridge is None or self.basis is None or self.basis.inside.all():
            return None
        return float(np.median(self.ridge[~self.basis.inside]))

    @cached_property
    def counted(self) -> dict[int, tuple[bytes, CrossingCount]]:
        """The last count of each group, with what it depended on (reused when unchanged)."""
        return {}

    @cached_property
    def fragments_counted(self) -> dict[int, tuple[bytes, CrossingCount]]:
        """The last count of each group with its neighbours (for its fragments)."""
        return {}

    @cached_property
    def piece_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The points sorted by piece, and where each piece (labels 1..n) starts and stops.

        The points of piece ``m`` are ``order[starts[m - 1] : stops[m - 1]]``.
        """
        _, point_label, boxes = self.components
        labels = np.arange(1, len(boxes) + 1)
        order = np.argsort(point_label, kind="stable")
        starts = np.searchsorted(point_label[order], labels)
        stops = np.searchsorted(point_label[order], labels, side="right")
        return order, starts, stops

    @cached_property
    def piece_boxes(self) -> np.ndarray:
        """(n, 4) int: each piece's box, (row0, col0, row1, col1), stop exclusive."""
        boxes = self.components[2]
        return np.array(
            [[b[0].start, b[1].start, b[0].stop, b[1].stop] for b in boxes], dtype=int
        ).reshape(-1, 4)

    def traced_fraction(self, lines: list[np.ndarray]) -> float:
        """Fraction of the length of `lines` (full-resolution pixels) inside the traced band."""
        dense = [resample_polyline(np.asarray(line, float), 1.0) for line in lines if len(line)]
        if not dense:
            return 0.0
        corner = np.array([self.window[0].start, self.window[1].start], dtype=float)
        points = np.concatenate(dense) - corner
        rows = np.clip((points[:, 0] // self.factor).astype(int), 0, self.band.shape[0] - 1)
        cols = np.clip((points[:, 1] // self.factor).astype(int), 0, self.band.shape[1] - 1)
        return float(self.band[rows, cols].mean())


@dataclass(frozen=True)
class Recount:
    """The crossings of the traced fibres across a given junction.

    Coordinates are (row, col) pixels of the full-resolution image; ``basis``
    is in the frame of the trace (:attr:`FibreTrace.frame`), to be handed to
    the next :func:`recount_section` as it is.
    """

    crossings: np.ndarray
    fragments: np.ndarray
    short_fibres: np.ndarray
    secondary_branches: int
    dej: list[np.ndarray]
    surface: list[np.ndarray]
    dej_length_um: float
    surface_length_um: float
    traced_fraction: float
    warnings: list[str]
    basis: JunctionBasis = field(repr=False)

    @property
    def count(self) -> int:
        """Number of counted fibres."""
        return len(self.crossings)


_EIGHT = np.ones((3, 3), dtype=bool)

#: A junction with less than this fraction of its length inside the traced band is
#: said to leave it: fibres beyond were never traced.
_TRACED_ENOUGH = 0.95


def recount_section(
    trace: FibreTrace, junction: GivenJunction, *, basis: JunctionBasis | None = None
) -> Recount:
    """Count the traced fibres again across `junction`, by the analysis' rule.

    Parameters
    ----------
    trace : FibreTrace
        From an analysis of the section (``SectionResult.trace``).
    junction : GivenJunction
        The junction now: DEJ lines (and the surface), or a painted epidermis
        mask of the image's shape.
    basis : JunctionBasis, optional
        What the DEJ lines are an edit of (default ``trace.basis``, the
        analysis' junction; a painted epidermis' :attr:`Recount.basis` after
        a painting). Lines that pair with the basis' lines move the basis'
        epidermis by the strip between them; otherwise the epidermis is
        derived from the drawing.

    Returns
    -------
    Recount

    Raises
    ------
    ValueError
        The junction does not fit the section (a mask of another shape, an
        epidermis with no outline facing the dermis).

    Examples
    --------
    >>> from ienfd.core import analyze_section
    >>> from ienfd.synthetic import SectionSpec, generate_section
    >>> section = generate_section(SectionSpec(seed=1, length_um=400, pixel_size_um=0.6))
    >>> result = analyze_section(section.image, spacing=0.6)
    >>> same = recount_section(result.trace, GivenJunction(dej=tuple(result.dej),
    ...                                                    surface=tuple(result.surface)))
    >>> same.count == result.count
    True
    """
    params = trace.parameters
    basis = basis if basis is not None else trace.basis
    frame = trace.frame
    if frame is not None:
        junction = junction.turned(frame)
    origin = np.asarray(trace.origin, dtype=float)
    points = trace.points + origin
    pairs = _pair_lines(basis.dej, junction.dej) if basis is not None else None
    warnings: list[str] = []
    if junction.epidermis is None and basis is not None and pairs is not None:
        inside = basis.inside.copy()
        for old, new in pairs:
            inside ^= _in_strip(points, old, new)
        dej, surface = list(junction.dej), list(junction.surface)
    else:
        # The geometry is built on the analysis' block grid, in its window's frame.
        rows, cols = trace.window
        grid = np.array([rows.start, cols.start], dtype=float)
        given = given_geometry(
            junction.in_window(rows, cols, trace.shape),
            trace.tissue,
            factor=trace.factor,
            spacing=trace.spacing,
            shape=(rows.stop - rows.start, cols.stop - cols.start),
            min_junction_um=params.min_junction_um,
            smooth_um=params.junction_smooth_um,
        )
        inside = given.inside(points - grid) if len(points) else np.zeros(0, dtype=bool)
        dej = [line + grid for line in given.dej]
        surface = [line + grid for line in given.surface]
        warnings.extend(given.warnings)
    found = _count_by_piece(
        trace, inside, [line - origin for line in dej], [line - origin for line in surface]
    )
    traced = trace.traced_fraction(dej)
    if traced < _TRACED_ENOUGH:
        warnings.append(
            f"{100 * (1 - traced):.0f} % of the DEJ lies outside the band where fibres were "
            "traced: fibres crossing there are not counted (analyse again with this junction)"
        )
    crossings, fragments = found[0] + origin, found[1] + origin
    crossings = crossings[order_along_junction(crossings, dej)]
    fragments = fragments[order_along_junction(fragments, dej)]
    short_fibres = found[2] + origin
    next_basis = JunctionBasis(tuple(np.asarray(d, float) for d in dej), inside)
    dej_length_um = sum(polyline_length(line) for line in dej) * trace.spacing
    surface_length_um = sum(polyline_length(line) for line in surface) * trace.spacing
    if frame is not None:  # back to the image's pixels
        crossings, fragments, short_fibres = (
            frame.points_back(p) for p in (crossings, fragments, short_fibres)
        )
        dej = [frame.points_back(line) for line in dej]
        surface = [frame.points_back(line) for line in surface]
    return Recount(
        crossings=crossings,
        fragments=fragments,
        short_fibres=short_fibres,
        secondary_branches=found[3],
        dej=dej,
        surface=surface,
        dej_length_um=dej_length_um,
        surface_length_um=surface_length_um,
        traced_fraction=traced,
        warnings=warnings,
        basis=next_basis,
    )


def _pair_lines(
    old: tuple[np.ndarray, ...], new: tuple[np.ndarray, ...]
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Each new DEJ line with the old line it is an edit of, or None when they do not pair.

    Lines pair one to one when there are as many, each new line taken with
    the old line whose ends lie nearest its own (a line drawn the other way
    round is turned to run as the old one did).
    """
    if len(old) != len(new) or not old:
        return None
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    free = list(range(len(old)))
    for line in new:
        best, k_best, flip = np.inf, -1, False
        for k in free:
            same = np.hypot(*(old[k][0] - line[0])) + np.hypot(*(old[k][-1] - line[-1]))
            turned = np.hypot(*(old[k][0] - line[-1])) + np.hypot(*(old[k][-1] - line[0]))
            if min(same, turned) < best:
                best, k_best, flip = min(same, turned), k, turned < same
        free.remove(k_best)
        pairs.append((old[k_best], line[::-1] if flip else line))
    return pairs


#: Vertices closer than this (pixels) are one vertex: result files round the junction
#: to 0.1 pixel, so the line shown may differ from the one counted by 0.05.
_SAME_VERTEX_PX = 0.06


def _in_strip(points: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Which points lie between an old and a new version of a line (even-odd rule).

    Each stretch where the lines differ is closed into a ring (the new
    stretch run backwards); where they share their vertices nothing lies
    between them. With as many vertices, every run of moved vertices is a
    ring of its own (a vertex dragged makes a ring of two edges each side);
    otherwise one ring spans from the first to the last difference.
    """
    flipped = np.zeros(len(points), dtype=bool)
    spans: list[tuple[int, int, int]]
    if len(old) == len(new):
        moved = ~np.all(np.isclose(old, new, rtol=0, atol=_SAME_VERTEX_PX), axis=1)
        edges = np.diff(np.concatenate([[0], moved.astype(np.int8), [0]]))
        runs = zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)
        spans = [(int(a), int(b), int(b)) for a, b in runs]  # [first, stop) moved, in both
    else:
        n = min(len(old), len(new))
        same = np.all(np.isclose(old[:n], new[:n], rtol=0, atol=_SAME_VERTEX_PX), axis=1)
        start = int(np.argmin(same)) if not same.all() else n
        same_end = np.all(
            np.isclose(old[::-1][:n], new[::-1][:n], rtol=0, atol=_SAME_VERTEX_PX), axis=1
        )
        end = int(np.argmin(same_end)) if not same_end.all() else n
        start = min(start, n - end)
        spans = [(start, len(old) - end, len(new) - end)]
    for first, stop_old, stop_new in spans:
        a = max(int(first) - 1, 0)
        ring = np.concatenate([old[a : int(stop_old) + 1], new[a : int(stop_new) + 1][::-1]])
        if len(ring) < 3:
            continue
        low, high = ring.min(axis=0), ring.max(axis=0)
        box = np.flatnonzero(np.all((points >= low) & (points <= high), axis=1))
        if len(box):
            flipped[box] ^= measure.points_in_poly(points[box], ring)
    return flipped


#: Dermal fibre tips at most this far below the DEJ are reported as stopping short of it
#: (the default of :func:`ienfd.core.count_crossings`, which the analysis uses).
_SHORT_GAP_UM = 12.0
#: The counting rule compares distances from the DEJ with at most the short-fibre gap
#: (12 µm) and the rise into the epidermis (5 µm past the 4-µm tolerance); beyond this
#: reach, in µm, a fibre pixel is "far from the DEJ" whatever the distance. Each group
#: of pieces is counted against the DEJ within this reach of its box only.
_DEJ_REACH_UM = 40.0


@dataclass(frozen=True, eq=False)
class _Group:
    """Skeleton pieces counted together: their box, labels and points."""

    window: tuple[slice, slice]
    members: np.ndarray
    point_index: np.ndarray


def _count_by_piece(
    trace: FibreTrace, inside: np.ndarray, dej: list[np.ndarray], surface: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """:func:`count_crossings` of the trace, group of pieces by group of pieces.

    The counting rule looks at each connected piece of the skeleton on its own
    (its epidermal and dermal parts, their entry points, branches and tips),
    and at the DEJ and the surface only within a few tens of µm of it: so each
    group of pieces is counted in its own box, against the lines within
    :data:`_DEJ_REACH_UM` of that box. A group with no pixel in the epidermis
    and no DEJ within reach adds nothing; a group whose epidermal pixels and
    nearby line vertices are as at the last count keeps that count (an edit
    recounts only the groups near it).

    One test of the rule for fragments reaches beyond a group: a fragment is
    not one of a crowd of epidermal pieces, which may lie in the next group.
    A group that has fragments is counted again for them with every piece
    within the crowd's reach (:func:`_group_fragments`). The other, a
    fragment's ridge strength against the dermal fibres', compares with the
    section's dermal fibres as the analysis traced them
    (:attr:`FibreTrace.dermal_ridge`).
    """
    empty = np.zeros((0, 2))
    if not len(trace.points) or not any(len(line) >= 2 for line in dej):
        return empty, empty, empty, 0
    lines = [_Dense.of(line) for line in dej if len(line) >= 2]
    outer = [_Dense.of(line) for line in surface if len(line) >= 2]
    crossings, fragments, short, branches = [], [], [], 0
    for k, group in enumerate(trace.groups):
        found = _count_pieces(
            trace, trace.counted, k, group.members, group.window, inside, lines, outer
        )
        if found is None:
            continue
        offset = np.array([group.window[0].start, group.window[1].start], dtype=float)
        crossings.append(found.crossings + offset)
        short.append(found.short_fibres + offset)
        branches += found.secondary_branches
        if len(found.fragments):
            fragments.append(_group_fragments(trace, k, found, inside, lines, outer))

    def stack(parts: list[np.ndarray]) -> np.ndarray:
        found = np.concatenate(parts) if parts else empty
        return found[np.lexsort((found[:, 1], found[:, 0]))] if len(found) else empty

    return stack(crossings), stack(fragments), stack(short), branches


def _count_pieces(
    trace: FibreTrace,
    cache: dict[int, tuple[bytes, CrossingCount]],
    k: int,
    members: np.ndarray,
    window: tuple[slice, slice],
    inside: np.ndarray,
    dej: list[_Dense],
    surface: list[_Dense],
) -> CrossingCount | None:
    """:func:`count_crossings` of the skeleton pieces `members` (labels) in their `window`.

    Against the DEJ and surface within :data:`_DEJ_REACH_UM` of the window,
    with the ridge response along the skeleton. None when the pieces have no
    pixel in the epidermis and no DEJ within reach. ``cache[k]`` keeps the
    count with what it depended on (the pieces' sides, the lines' vertices
    near them), and is used again while they are unchanged.
    """
    order, starts, stops = trace.piece_points
    index = np.concatenate([order[starts[m - 1] : stops[m - 1]] for m in members])
    side = inside[index]
    (r0, r1), (c0, c1) = (window[0].start, window[0].stop), (window[1].start, window[1].stop)
    reach = _DEJ_REACH_UM / trace.spacing
    box = (r0 - reach, c0 - reach, r1 + reach, c1 + reach)
    near_dej = [(line, run) for line in dej for run in line.runs(box)]
    if not near_dej:
        if not side.any():
            return None
        near_dej = [_farther_than_reach(dej, box)]
    near_surface = [(line, run) for line in surface for run in line.runs(box)]
    key = b"|".join(
        [
            members.tobytes(),
            side.tobytes(),
            *(line.vertices[a : b + 1].tobytes() for line, (a, b) in near_dej),
            b"surface",
            *(line.vertices[a : b + 1].tobytes() for line, (a, b) in near_surface),
        ]
    )
    cached = cache.get(k)
    if cached is not None and cached[0] == key:
        return cached[1]
    skeleton = np.isin(trace.components[0][window], members)
    own = trace.points[index] - np.array([r0, c0])
    epidermis = np.zeros(skeleton.shape, dtype=bool)
    epidermis[own[:, 0], own[:, 1]] = side
    ridge = None
    if trace.ridge is not None and trace.dermal_ridge is not None:
        ridge = np.zeros(skeleton.shape, dtype=trace.ridge.dtype)
        ridge[own[:, 0], own[:, 1]] = trace.ridge[index]
    offset = np.array([r0, c0])
    params = trace.parameters
    found = count_crossings(
        skeleton,
        epidermis,
        [line.stretch(*run) - offset for line, run in near_dej],
        spacing=trace.spacing,
        **params.counting_rule(trace.modality),
        short_gap_um=_SHORT_GAP_UM,
        surface=[line.stretch(*run) - offset for line, run in near_surface],
        ridge=ridge,
        dermal_ridge=trace.dermal_ridge if ridge is not None else None,
    )
    cache[k] = (key, found)
    return found


def _group_fragments(
    trace: FibreTrace,
    k: int,
    found: CrossingCount,
    inside: np.ndarray,
    dej: list[_Dense],
    surface: list[_Dense],
) -> np.ndarray:
    """The fragments on the pieces of group `k`, as over the whole region (trace frame).

    `found` is the group's own count: its fragments are the right ones but
    for the crowd test (a fragment is not one of a crowd of epidermal pieces,
    :func:`count_crossings`), where pieces of other groups may be missing.
    When a piece of another group comes within the crowd's reach of a piece
    holding a fragment, those pieces and all within reach of them are counted
    again together, and the fragments on the pieces that held one are taken
    from that count.
    """
    group = trace.groups[k]
    labels = trace.components[0]
    boxes = trace.piece_boxes
    w = group.window
    offset = np.array([w[0].start, w[1].start])
    at = found.fragments.astype(int)
    held = np.unique(labels[w][at[:, 0], at[:, 1]])
    crowd = _FRAGMENT_CROWD_UM / trace.spacing + 1
    low, high = boxes[held - 1, :2].min(axis=0) - crowd, boxes[held - 1, 2:].max(axis=0) + crowd
    near = np.all(boxes[:, :2] < high, axis=1) & np.all(boxes[:, 2:] > low, axis=1)
    members = np.flatnonzero(near) + 1
    if np.isin(members, group.members).all():
        return found.fragments + offset
    r0, c0 = boxes[members - 1, :2].min(axis=0)
    r1, c1 = boxes[members - 1, 2:].max(axis=0)
    window = (slice(int(r0), int(r1)), slice(int(c0), int(c1)))
    wider = _count_pieces(trace, trace.fragments_counted, k, members, window, inside, dej, surface)
    assert wider is not None  # the pieces that held a fragment have epidermal pixels
    at = wider.fragments.astype(int)
    mine = np.isin(labels[window][at[:, 0], at[:, 1]], held)
    return wider.fragments[mine] + np.array([r0, c0], dtype=float)


@dataclass(frozen=True, eq=False)
class _Dense:
    """A polyline and its points every ``_STEP`` pixels, as the counting rule resamples it.

    Cut to a box, the resampled points are cut, not the vertices
    (:meth:`stretch`): the rule resamples the cut piece again, and gets the
    points it would get from the whole line.
    """

    vertices: np.ndarray
    arc: np.ndarray
    dense: np.ndarray

    @classmethod
    def of(cls, line: np.ndarray) -> _Dense:
        vertices = np.asarray(line, float)
        arc = arc_length(vertices)
        return cls(vertices, arc, resample_polyline(vertices, _STEP))

    def runs(self, box: tuple[float, float, float, float]) -> list[tuple[int, int]]:
        """(first, last) vertices of each stretch whose segments reach into `box`."""
        return _clip_runs(self.vertices, box)

    def stretch(self, first: int, last: int) -> np.ndarray:
        """The resampled points from vertex `first` to vertex `last` (one more each side)."""
        start = max(int(np.floor(self.arc[first] / _STEP)) - 1, 0)
        stop = min(int(np.ceil(self.arc[last] / _STEP)) + 1, len(self.dense) - 1)
        return self.dense[start : stop + 1]


def _farther_than_reach(
    lines: list[_Dense], box: tuple[float, float, float, float]
) -> tuple[_Dense, tuple[int, int]]:
    """A stretch of the line nearest a box that no line reaches into.

    Epidermal pieces more than :data:`_DEJ_REACH_UM` from the DEJ still need
    their distance from it, to be judged as fragments; every distance the rule
    compares is shorter than that reach, so any DEJ point farther away stands
    for the nearest one.
    """
    centre = np.array([box[0] + box[2], box[1] + box[3]]) / 2
    line = min(lines, key=lambda d: float(np.min(np.hypot(*(d.vertices - centre).T))))
    k = min(int(np.argmin(np.hypot(*(line.vertices - centre).T))), len(line.vertices) - 2)
    return line, (k, k + 1)


def _clip_runs(line: np.ndarray, box: tuple[float, float, float, float]) -> list[tuple[int, int]]:
    """(first, last) vertices of each stretch of a polyline whose segments reach into a box."""
    low = np.minimum(line[:-1], line[1:])
    high = np.maximum(line[:-1], line[1:])
    hit = (high[:, 0] >= box[0]) & (low[:, 0] <= box[2]) & (high[:, 1] >= box[1])
    hit &= low[:, 1] <= box[3]
    if not hit.any():
        return []
    edges = np.diff(np.concatenate([[0], hit.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _groups(
    wanted: np.ndarray, boxes: list[tuple[slice, slice]], shape: tuple[int, ...]
) -> list[tuple[tuple[slice, slice], np.ndarray]]:
    """Pieces (labels from 1) in groups, each with the box (1-pixel margin) that holds them.

    Pieces are taken in order of their boxes' centres along the section's
    longer side; a piece joins the current group while the group's box stays
    under 1.5 times the area of its members' boxes (plus 128 x 128 pixels).
    """
    if not len(wanted):
        return []
    box = np.array(
        [[b[0].start, b[1].start, b[0].stop, b[1].stop] for b in (boxes[k - 1] for k in wanted)]
    )
    axis = 0 if shape[0] >= shape[1] else 1
    order = np.argsort(box[:, axis] + box[:, axis + 2])
    groups: list[tuple[tuple[slice, slice], np.ndarray]] = []
    members: list[int] = []
    union = np.zeros(4, dtype=int)
    area = 0

    def close() -> None:
        r0, c0 = max(0, union[0] - 1), max(0, union[1] - 1)
        r1, c1 = min(shape[0], union[2] + 1), min(shape[1], union[3] + 1)
        groups.append(((slice(r0, r1), slice(c0, c1)), wanted[members]))

    for k in order:
        b = box[k]
        own = int((b[2] - b[0]) * (b[3] - b[1]))
        if members:
            grown = np.concatenate([np.minimum(union[:2], b[:2]), np.maximum(union[2:], b[2:])])
            if (grown[2] - grown[0]) * (grown[3] - grown[1]) <= 1.5 * (area + own) + 128 * 128:
                members.append(int(k))
                union, area = grown, area + own
                continue
            close()
        members, union, area = [int(k)], b.copy(), own
    close()
    return groups
