"""A junction drawn by a person, in place of the junction search.

When the automatic junction is wrong, a technician draws it (in QuPath or
napari) and the fibres are counted across the drawn line by the same rule.
This module turns what was drawn into what the counting needs: the DEJ and
surface polylines and, for every fibre pixel, whether it lies in the
epidermis.

All coordinates are (row, col) pixels of the full-resolution image; shapely
geometries are built on (row, col) pairs as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import shapely
import shapely.ops

from ienfd.core._frame import Frame
from ienfd.core._junction import trace_junction
from ienfd.core._preprocess import block_mean, block_to_full

__all__ = ["GivenJunction"]

# The epidermis is taken to reach at most this far from a drawn DEJ when only
# the DEJ is drawn: above the thickest epidermis the quality checks accept
# (200 µm, docs/algorithm.md "Quality checks").
_MAX_THICKNESS_UM = 250.0
# Sides of a drawn DEJ whose tissue fractions (within _MAX_THICKNESS_UM) differ
# by less than this cannot be told apart: the result says so.
_SIDE_MARGIN = 0.1


@dataclass(frozen=True)
class GivenJunction:
    """A drawn junction: the DEJ as lines, the epidermis as a mask, or both.

    Parameters
    ----------
    dej : tuple of (K, 2) ndarray
        DEJ polylines, (row, col) pixels of the full-resolution image.
    surface : tuple of (L, 2) ndarray
        Epidermal surface polylines, optional. With only a DEJ, the surface
        tells which side of it is the epidermis; without it, the side with
        glass nearer to the line is.
    epidermis : (M, N) ndarray of bool, or shapely Polygon / MultiPolygon, optional
        The epidermis painted at full resolution, or outlined (vertices in
        (row, col) pixels). With no DEJ lines, the DEJ is the part of its
        outline that faces the dermis.
    source : str
        Where it came from (a file's sha256, "napari", ...), recorded with the result.

    Examples
    --------
    >>> import numpy as np
    >>> given = GivenJunction(dej=(np.array([[10.0, 0.0], [10.0, 300.0]]),))
    >>> len(given.dej), given.epidermis is None
    (1, True)
    """

    dej: tuple[np.ndarray, ...] = ()
    surface: tuple[np.ndarray, ...] = ()
    epidermis: np.ndarray | shapely.Geometry | None = None
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("dej", "surface"):
            lines = tuple(np.asarray(line, dtype=float) for line in getattr(self, name))
            for line in lines:
                if line.ndim != 2 or line.shape[1] != 2 or len(line) < 2:
                    raise ValueError(
                        f"a given {name} line must be a (K, 2) array of (row, col) vertices "
                        f"with K >= 2, got shape {line.shape}"
                    )
                if not np.isfinite(line).all():
                    raise ValueError(f"a given {name} line has NaN or infinite vertices")
            object.__setattr__(self, name, lines)
        epidermis = self.epidermis
        if isinstance(epidermis, shapely.Geometry):
            if not isinstance(epidermis, shapely.Polygon | shapely.MultiPolygon):
                epidermis = shapely.union_all(
                    [g for g in getattr(epidermis, "geoms", []) if isinstance(g, shapely.Polygon)]
                )
            empty = epidermis.is_empty or epidermis.area == 0
        elif epidermis is not None:
            epidermis = np.asarray(epidermis)
            if epidermis.ndim != 2:
                raise ValueError(
                    f"a given epidermis must be a 2-D mask, got shape {epidermis.shape}"
                )
            epidermis = epidermis.astype(bool, copy=False)
            empty = not epidermis.any()
        object.__setattr__(self, "epidermis", epidermis)
        if not self.dej and (epidermis is None or empty):
            raise ValueError("a given junction needs DEJ lines or a non-empty epidermis")

    def turned(self, frame: Frame) -> GivenJunction:
        """The junction in an analysis ``frame`` of the image (:func:`ienfd.core.analyze_section`).

        Raises
        ------
        ValueError
            A painted mask of another shape than the image's.
        """
        _check_mask_shape(self.epidermis, frame.shape)
        if frame.identity:
            return self
        epidermis = self.epidermis
        if isinstance(epidermis, np.ndarray):
            epidermis = frame.array(epidermis)
        elif epidermis is not None:
            # shapely coordinates here are (row, col), as everywhere in ienfd.
            epidermis = shapely.transform(epidermis, frame.points)
        return GivenJunction(
            dej=tuple(frame.points(line) for line in self.dej),
            surface=tuple(frame.points(line) for line in self.surface),
            epidermis=epidermis,
            source=self.source,
        )

    def in_window(self, rows: slice, cols: slice, shape: tuple[int, int]) -> GivenJunction:
        """The junction in the frame of a window of an image of ``shape``.

        Lines and outlines are moved by the window's first pixel; a painted
        mask, which must have the image's shape, is cut to the window.

        Raises
        ------
        ValueError
            A painted mask of another shape than the image's.
        """
        _check_mask_shape(self.epidermis, shape)
        if not (rows.start or cols.start) and (rows.stop, cols.stop) == tuple(shape):
            return self
        shift = np.array([rows.start, cols.start], dtype=float)
        epidermis = self.epidermis
        if isinstance(epidermis, np.ndarray):
            epidermis = epidermis[rows, cols]
        elif epidermis is not None:
            epidermis = shapely.transform(epidermis, lambda xy: xy - shift)
        return GivenJunction(
            dej=tuple(line - shift for line in self.dej),
            surface=tuple(line - shift for line in self.surface),
            epidermis=epidermis,
            source=self.source,
        )


def _check_mask_shape(epidermis: object, shape: tuple[int, int]) -> None:
    if isinstance(epidermis, np.ndarray) and epidermis.shape != tuple(shape):
        raise ValueError(
            f"the given epidermis mask has shape {epidermis.shape}, "
            f"the image {tuple(shape)}: they must match"
        )


@dataclass(frozen=True)
class GivenGeometry:
    """What the counting needs from a given junction (full-resolution pixels).

    ``epidermis_lr`` (the epidermis at the low resolution) is computed on
    first use: a recount across drawn lines does not need it.
    """

    dej: list[np.ndarray]
    surface: list[np.ndarray]
    make_epidermis_lr: Callable[[], np.ndarray] = field(repr=False)
    inside: Callable[[np.ndarray], np.ndarray] = field(repr=False)
    warnings: list[str] = field(default_factory=list)

    @cached_property
    def epidermis_lr(self) -> np.ndarray:
        """(m, n) bool: the epidermis on the low-resolution grid of the tissue."""
        return self.make_epidermis_lr()


def given_geometry(
    given: GivenJunction,
    tissue_lr: np.ndarray,
    *,
    factor: int,
    spacing: float,
    shape: tuple[int, int],
    min_junction_um: float,
    smooth_um: float,
) -> GivenGeometry:
    """DEJ, surface, low-resolution epidermis and inside test of a given junction.

    Parameters
    ----------
    given : GivenJunction
    tissue_lr : (m, n) ndarray of bool
        The tissue at the analysis' low resolution (``factor`` pixels a block).
    factor : int
        Block size of the low resolution.
    spacing : float
        Full-resolution pixel size in µm.
    shape : (int, int)
        Full-resolution image shape.
    min_junction_um, smooth_um : float
        As for :func:`ienfd.core.trace_junction`, where the DEJ is traced
        from a given epidermis.
    """
    _check_mask_shape(given.epidermis, shape)
    spacing_lr = spacing * factor
    warnings: list[str] = []
    make_lr: Callable[[], np.ndarray]
    if isinstance(given.epidermis, np.ndarray):
        mask = given.epidermis

        def make_lr() -> np.ndarray:
            return _to_lr(mask, factor, tissue_lr.shape)

        def inside(points: np.ndarray) -> np.ndarray:
            rows = np.clip(np.round(points[:, 0]).astype(int), 0, shape[0] - 1)
            cols = np.clip(np.round(points[:, 1]).astype(int), 0, shape[1] - 1)
            return np.asarray(mask[rows, cols], dtype=bool)

    else:
        polygon = given.epidermis
        within = np.ones(tissue_lr.shape[:2], dtype=bool)
        if polygon is None:
            # Derived from the DEJ: its side up to 250 µm deep, less the glass beyond
            # the surface. A drawn outline is taken as it is.
            polygon = _epidermis_polygon(
                given, tissue_lr, factor=factor, spacing=spacing, warnings=warnings
            )
            within = tissue_lr
        shapely.prepare(polygon)
        outline = polygon

        def make_lr() -> np.ndarray:
            return _rasterise(outline, factor, tissue_lr.shape) & within

        def inside(points: np.ndarray) -> np.ndarray:
            return np.asarray(shapely.contains_xy(outline, points[:, 0], points[:, 1]), dtype=bool)

    if given.dej and given.surface:  # both lines drawn: nothing to trace
        return GivenGeometry(list(given.dej), list(given.surface), make_lr, inside, warnings)
    # The outline of the epidermis, split as for a found one: the part facing
    # deep tissue is the DEJ, the rest less the cut edges the surface.
    epidermis_lr = make_lr()
    traces = trace_junction(
        epidermis_lr,
        tissue_lr | epidermis_lr,
        spacing=spacing_lr,
        min_length_um=min_junction_um,
        smooth_um=smooth_um,
    )
    dej = list(given.dej) or [block_to_full(t.dej, factor) for t in traces]
    surface = list(given.surface) or [block_to_full(t.surface, factor) for t in traces]
    if not dej:
        raise ValueError(
            "the given epidermis has no outline facing the dermis of at least "
            f"{min_junction_um:g} µm: no DEJ to count across"
        )
    if not surface:
        warnings.append("no epidermal surface drawn or found beside the given DEJ")
    return GivenGeometry(dej, surface, lambda: epidermis_lr, inside, warnings)


def _to_lr(mask: np.ndarray, factor: int, shape_lr: tuple[int, ...]) -> np.ndarray:
    """A full-resolution mask at the low resolution: blocks at least half inside."""
    lr = block_mean(mask.astype(np.float32), factor) >= 0.5
    out = np.zeros(shape_lr[:2], dtype=bool)
    rows, cols = min(lr.shape[0], out.shape[0]), min(lr.shape[1], out.shape[1])
    out[:rows, :cols] = lr[:rows, :cols]
    return out


def _rasterise(geometry: shapely.Geometry, factor: int, shape_lr: tuple[int, ...]) -> np.ndarray:
    """Pixels of the low-resolution grid whose centre lies in a (multi)polygon.

    Point location in the prepared geometry (logarithmic in its vertices):
    the outlines of buffered junctions have thousands.
    """
    out = np.zeros(shape_lr[:2], dtype=bool)
    if geometry.is_empty:
        return out
    offset = (factor - 1) / 2.0  # the inverse of block_to_full
    r0, c0, r1, c1 = (np.asarray(geometry.bounds) - offset) / factor
    rows = np.arange(max(0, int(np.floor(r0))), min(out.shape[0], int(np.ceil(r1)) + 1))
    cols = np.arange(max(0, int(np.floor(c0))), min(out.shape[1], int(np.ceil(c1)) + 1))
    if not len(rows) or not len(cols):
        return out
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    shapely.prepare(geometry)
    hit = shapely.contains_xy(geometry, rr * factor + offset, cc * factor + offset)
    out[rr[hit], cc[hit]] = True
    return out


def _epidermis_polygon(
    given: GivenJunction,
    tissue_lr: np.ndarray,
    *,
    factor: int,
    spacing: float,
    warnings: list[str],
) -> shapely.Geometry:
    """The epidermis beside drawn DEJ lines: their epidermal side, up to 250 µm deep."""
    reach = _MAX_THICKNESS_UM / spacing
    pieces = []
    for line in given.dej:
        left, right = _sides(line, reach)
        if given.surface:
            surface = shapely.MultiPoint(np.concatenate(given.surface))
            near = [shapely.intersection(side, surface) for side in (left, right)]
            counts = [len(shapely.get_coordinates(p)) for p in near]
            chosen = left if counts[0] >= counts[1] else right
        else:
            # Past the epidermal surface comes glass, past the DEJ the dermis
            # goes on: the side with less tissue is the epidermis.
            fractions = [_tissue_fraction(side, tissue_lr, factor) for side in (left, right)]
            chosen = left if fractions[0] <= fractions[1] else right
            if abs(fractions[0] - fractions[1]) < _SIDE_MARGIN:
                warnings.append(
                    "the two sides of the given DEJ hold nearly as much tissue "
                    f"({fractions[0]:.2f}, {fractions[1]:.2f}): the epidermis side may be "
                    "wrong; draw the surface too"
                )
        # Not past the line's ends: beyond a cut end the extension runs through dermis.
        pieces.append(shapely.intersection(chosen, _buffer(line, reach, cap_style="flat")))
    return shapely.make_valid(shapely.union_all(pieces))


def _buffer(line: np.ndarray, distance: float, cap_style: str = "round") -> shapely.Geometry:
    return shapely.buffer(shapely.LineString(line), distance, cap_style=cap_style)


def _sides(line: np.ndarray, reach: float) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The two sides of a polyline, each within ``reach`` pixels of it.

    The line, extended straight on at both ends, cuts its neighbourhood in
    pieces; a piece belongs to the side whose probes (points a pixel off the
    line, along its normals) it holds most of.
    """
    start_dir = _unit(line[0] - line[min(len(line) - 1, 5)])
    end_dir = _unit(line[-1] - line[max(0, len(line) - 6)])

    def extended(by: float) -> shapely.LineString:
        ends = [line[0] + start_dir * by], [line[-1] + end_dir * by]
        return shapely.LineString(np.concatenate([ends[0], line, ends[1]]))

    region = shapely.buffer(extended(reach), reach, cap_style="flat")
    # The cutting line runs past the region's flat ends, or it would not cut.
    cut = shapely.ops.split(region, extended(1.5 * reach))
    tangents = np.gradient(line, axis=0)
    normals = np.stack([-tangents[:, 1], tangents[:, 0]], axis=1)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    left_probes = shapely.points(line + normals)
    right_probes = shapely.points(line - normals)
    left: list[shapely.Geometry] = []
    right: list[shapely.Geometry] = []
    for piece in getattr(cut, "geoms", [cut]):
        shapely.prepare(piece)
        n_left = int(shapely.contains(piece, left_probes).sum())
        n_right = int(shapely.contains(piece, right_probes).sum())
        if n_left == n_right == 0:
            continue
        (left if n_left > n_right else right).append(piece)
    return shapely.union_all(left), shapely.union_all(right)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.hypot(*vector))
    return vector / norm if norm > 0 else np.array([0.0, 0.0])


def _tissue_fraction(area: shapely.Geometry, tissue_lr: np.ndarray, factor: int) -> float:
    mask = _rasterise(area, factor, tissue_lr.shape)
    return float(tissue_lr[mask].mean()) if mask.any() else 1.0
