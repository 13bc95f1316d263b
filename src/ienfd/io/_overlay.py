"""Quality-control overlay: the section with its junction, surface and counted fibres.

:func:`save_overlay` draws one PNG per analysed section so that a person can
check, crossing by crossing, what the automatic count counted. The picture is
drawn directly at display resolution with Pillow: the section is box-averaged
down to at most ``max_pixels`` pixels, reduced to a 240-colour palette (with
dithering), and the junction, surface and markers are drawn over it in 16
reserved, exact palette colours. That keeps a 10-megapixel section to a
fraction of a second and a PNG of about 1 MB, with no plotting library.

What is drawn, and where it comes from:

* crossings are numbered 1..K in their order along the junction (pieces of the
  junction in order along the section's long axis), each number on the
  dermis side of the junction, away from the fibres being checked;
* the surface and the junction as the result gives them (the overlay does not
  correct them);
* fragments that the result lists as small thin rings, so that they never hide
  the tissue under them;
* a "needs review" banner with the result's ``qc_reasons`` when set;
* a scale bar when the result carries ``pixel_size_um``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ienfd.io._types import SectionImage
from ienfd.io._write import _atomic_path

__all__ = ["OverlayInfo", "OverlayResult", "crossing_order", "save_overlay"]

# Bright colours, each drawn with a black outline: visible on white glass, on
# pink/brown/blue-grey bright-field tissue and on a dark fluorescence field,
# and distinct from the green (fibre) and magenta (membrane) false colours.
DEJ_COLOUR = "#ff9f1c"  # orange, solid
SURFACE_COLOUR = "#00d5ff"  # cyan, dashed
CROSSING_COLOUR = "#ffe600"  # yellow disc, its number in a yellow box
FRAGMENT_COLOUR = "#ff3b3b"  # small thin red ring
SHORT_FIBRE_COLOUR = "#ffffff"  # white open triangle
REVIEW_COLOUR = "#b3261e"  # banner of a result that needs review
OUTLINE = "black"

_MARGIN_PX = 30  # left and right of the image
_MIN_AXES_PX = (480, 800)  # small images are enlarged to at least this (rows, cols)
_MIN_FIG_W_PX = 960  # room for the title and the legend
_MAX_SIDE_PX = 16_000  # longest side of the displayed image
_N_IMAGE_COLOURS = 240  # palette entries for the section; the rest are the overlay's

# The overlay's own palette entries (index = _N_IMAGE_COLOURS + position).
_INK = (
    ("white", "#ffffff"),
    ("black", "#000000"),
    ("grey", "#555555"),
    ("light", "#f2f2f2"),
    ("dej", DEJ_COLOUR),
    ("surface", SURFACE_COLOUR),
    ("crossing", CROSSING_COLOUR),
    ("fragment", FRAGMENT_COLOUR),
    ("short", SHORT_FIBRE_COLOUR),
    ("review", REVIEW_COLOUR),
    ("review_bg", "#fde7e4"),
)
_IDX = {name: _N_IMAGE_COLOURS + i for i, (name, _) in enumerate(_INK)}


class OverlayResult(Protocol):
    """What :func:`save_overlay` reads from a result (e.g. ``ienfd.core.SectionResult``).

    Coordinates are (row, col) in pixels of the full-resolution image. Read
    too when present: ``needs_review`` (bool) and ``qc_reasons`` (list of str)
    for the review banner, ``pixel_size_um`` (float) for the scale bar.
    """

    @property
    def count(self) -> int: ...
    @property
    def crossings(self) -> np.ndarray: ...
    @property
    def fragments(self) -> np.ndarray: ...
    @property
    def short_fibres(self) -> np.ndarray: ...
    @property
    def dej(self) -> list[np.ndarray]: ...
    @property
    def surface(self) -> list[np.ndarray]: ...
    @property
    def dej_length_um(self) -> float: ...
    @property
    def surface_length_um(self) -> float: ...
    @property
    def density_per_mm(self) -> float: ...
    @property
    def length_basis(self) -> str: ...


@dataclass(frozen=True)
class OverlayInfo:
    """Where :func:`save_overlay` put things, for tests and for linking markers.

    Attributes
    ----------
    path : str
        The PNG written.
    png_shape : tuple of int
        (rows, cols) of the PNG in pixels.
    image_shape : tuple of int
        (rows, cols) of the input image.
    factor : int
        Downsampling factor of the displayed image (1 = every pixel shown).
    scale : float
        PNG pixels per input-image pixel.
    origin : tuple of float
        PNG (row, col) of the input image's pixel-edge corner (-0.5, -0.5).
    order : tuple of int
        ``order[k]`` is the index in ``result.crossings`` of the crossing
        numbered ``k + 1`` on the picture.
    """

    path: str
    png_shape: tuple[int, int]
    image_shape: tuple[int, int]
    factor: int
    scale: float
    origin: tuple[float, float]
    order: tuple[int, ...] = ()

    def to_png(self, points: np.ndarray) -> np.ndarray:
        """Map (K, 2) input-image (row, col) coordinates to PNG (row, col) coordinates.

        Parameters
        ----------
        points : (K, 2) array_like
            Pixel coordinates in the input image.

        Returns
        -------
        (K, 2) ndarray of float
            The same points in PNG pixel coordinates.
        """
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        return np.asarray(self.origin) + (pts + 0.5) * self.scale


def crossing_order(crossings: np.ndarray, dej: Sequence[np.ndarray]) -> np.ndarray:
    """Order crossings along the junction, as a pathologist follows it.

    The junction's pieces are put in order along the section's long axis (the
    first principal axis of all junction vertices, pointing to increasing
    column, or increasing row for a vertical section), each piece run in that
    direction; a crossing belongs to its nearest piece and is placed at the
    arc length of its projection onto it.

    Parameters
    ----------
    crossings : (K, 2) array_like
        (row, col) of each crossing.
    dej : sequence of (M, 2) array_like
        The junction's polylines, (row, col).

    Returns
    -------
    (K,) ndarray of int
        Indices into `crossings`, first crossing along the junction first.
        Without a junction (or with a single crossing), ``arange(K)``.

    Examples
    --------
    >>> import numpy as np
    >>> dej = [np.array([[50.0, 0.0], [50.0, 100.0]]), np.array([[50.0, 300.0], [50.0, 200.0]])]
    >>> crossing_order(np.array([[50.0, 250.0], [50.0, 10.0], [49.0, 90.0]]), dej).tolist()
    [1, 2, 0]
    """
    from ienfd.core._counting import order_along_junction

    return order_along_junction(crossings, list(dej))


def save_overlay(
    path: str | os.PathLike[str],
    image: np.ndarray | Sequence[np.ndarray | None] | SectionImage,
    result: OverlayResult,
    *,
    title: str | None = None,
    max_pixels: int = 4_000_000,
) -> OverlayInfo:
    """Write a PNG of a section with what the analysis found, atomically.

    Drawn over the image: the dermal-epidermal junction (orange line), the
    epidermal surface (cyan dashed line), every counted crossing as a yellow
    disc numbered 1..K in order along the junction (see
    :func:`crossing_order`), excluded intraepidermal fragments (small red
    rings) and fibres that stop short of the junction (white open triangles);
    above the image the title, the counts, the lengths and the density and,
    when the result needs review, a red banner with its reasons; below it a
    legend and a scale bar.

    Parameters
    ----------
    path : str or os.PathLike
        Target PNG; its folder must exist.  Written to a temporary file beside
        it and moved into place, so a failure never leaves a partial PNG.
    image : (M, N, 3) ndarray, (M, N) ndarray, sequence of arrays, or SectionImage
        Bright-field RGB (or RGBA; alpha ignored), shown as it is (integers
        scaled by their dtype's maximum, floats by 1 or their maximum); or
        fluorescence as an ``(M, N)`` fibre channel or a ``(fibre, membrane)``
        pair (membrane may be None), shown as a false-colour composite (fibre
        green, membrane magenta), each channel stretched between its 0.5th and
        99.9th percentiles; or the :class:`SectionImage` that was analysed.
    result : OverlayResult
        The analysis result, e.g. an :class:`ienfd.core.SectionResult`; its
        coordinates are (row, col) pixels of `image`.
    title : str, optional
        First title line, usually the image's file name; the second line
        always states count, lengths and density.
    max_pixels : int, optional
        Images with more pixels are shown box-averaged by an integer factor
        so that at most this many are drawn (markers keep their places).

    Returns
    -------
    OverlayInfo
        PNG size, the mapping from image to PNG coordinates and the order in
        which the crossings are numbered.

    Raises
    ------
    TypeError
        `image` is not an array, a sequence of arrays or a SectionImage, or
        `max_pixels` is not an int.
    ValueError
        `image` has an unsupported shape or is empty, the membrane's shape
        differs from the fibre's, `max_pixels` < 1, or a coordinate array of
        `result` is not (K, 2).
    OSError
        The PNG cannot be written.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from types import SimpleNamespace
    >>> res = SimpleNamespace(count=1, crossings=np.array([[40.0, 60.0]]),
    ...     fragments=np.zeros((0, 2)), short_fibres=np.zeros((0, 2)),
    ...     dej=[np.array([[40.0, 5.0], [40.0, 120.0]])], surface=[],
    ...     dej_length_um=57.5, surface_length_um=0.0, density_per_mm=17.4,
    ...     length_basis="dej")
    >>> f = os.path.join(tempfile.mkdtemp(), "overlay.png")
    >>> info = save_overlay(f, np.full((96, 128, 3), 200, np.uint8), res, title="demo")
    >>> info.factor, os.path.exists(f)
    (1, True)
    """
    from PIL import Image, ImageDraw

    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise TypeError(f"max_pixels must be an int, got {max_pixels!r}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
    planes, kind = _planes(image)
    # Every coordinate array is checked before any drawing.
    crossings = _points(result.crossings, "crossings")
    fragments = _points(result.fragments, "fragments")
    short = _points(result.short_fibres, "short_fibres")
    dej = [_points(line, f"dej[{i}]") for i, line in enumerate(result.dej)]
    surface = [_points(line, f"surface[{i}]") for i, line in enumerate(result.surface)]

    rows, cols = planes[0].shape[:2]
    factor = max(1, math.ceil(math.sqrt(rows * cols / max_pixels)))
    factor = max(factor, math.ceil(max(rows, cols) / _MAX_SIDE_PX))
    section = _display(planes, kind, factor)
    d_cols, d_rows = section.size
    zoom = max(1.0, min(_MIN_AXES_PX[0] / d_rows, _MIN_AXES_PX[1] / d_cols))
    ax_h, ax_w = round(d_rows * zoom), round(d_cols * zoom)
    if zoom > 1:
        section = section.resize((ax_w, ax_h), Image.Resampling.NEAREST)
    fig_w = max(ax_w + 2 * _MARGIN_PX, _MIN_FIG_W_PX)
    font_px = int(np.clip(round(fig_w / 120), 13, 20))

    # Header: title, summary and (when set) the review banner, wrapped to the width.
    chars = max(40, int(fig_w / (0.6 * font_px)) - 4)
    header: list[tuple[str, str, bool]] = []  # (text, ink, bold)
    if title is not None:
        header += [(t, "black", True) for t in textwrap.wrap(str(title), chars) or [""]]
    header += [(t, "black", False) for t in textwrap.wrap(_summary_line(result, factor), chars)]
    banner: list[str] = []
    if bool(getattr(result, "needs_review", False)):
        reasons = [str(r) for r in getattr(result, "qc_reasons", []) or []]
        text = "NEEDS REVIEW (confirm the count by eye): " + (
            "; ".join(reasons) if reasons else "no reason given"
        )
        banner = textwrap.wrap(text, chars - 2)
    line_h = round(font_px * 1.35)
    banner_h = len(banner) * line_h + (12 if banner else 0)
    top = 10 + len(header) * line_h + (8 + banner_h if banner else 0) + 12
    legend_h = 2 * line_h + 16
    fig_h = top + ax_h + legend_h
    left = (fig_w - ax_w) // 2

    canvas = Image.new("P", (fig_w, fig_h), _IDX["white"])
    canvas.putpalette(_palette(section))
    canvas.paste(section, (left, top))
    draw = ImageDraw.Draw(canvas)
    y = 10
    for text, ink, bold in header:
        draw.text((fig_w / 2, y), text, fill=_IDX[ink], font=_font(font_px, bold), anchor="ma")
        y += line_h
    if banner:
        y += 8
        draw.rectangle(
            (_MARGIN_PX // 2, y, fig_w - _MARGIN_PX // 2, y + banner_h),
            fill=_IDX["review_bg"],
            outline=_IDX["review"],
            width=3,
        )
        for i, text in enumerate(banner):
            draw.text(
                (fig_w / 2, y + 6 + i * line_h),
                text,
                fill=_IDX["review"],
                font=_font(font_px, True),
                anchor="ma",
            )

    scale = zoom / factor
    origin = (float(top), float(left))

    def to_xy(pts: np.ndarray) -> np.ndarray:  # (K, 2) (row, col) -> (K, 2) (x, y) in the PNG
        return np.column_stack(
            [origin[1] + (pts[:, 1] + 0.5) * scale, origin[0] + (pts[:, 0] + 0.5) * scale]
        )

    for line in surface:
        _dashed(draw, to_xy(line), _IDX["surface"])
    for line in dej:
        _polyline(draw, to_xy(line), _IDX["dej"], width=3)
    ring = max(3, font_px // 4)
    for x, yy in to_xy(fragments):
        draw.ellipse((x - ring, yy - ring, x + ring, yy + ring), outline=_IDX["fragment"], width=1)
    tri = max(11, font_px)
    for x, yy in to_xy(short):
        _triangle(draw, x, yy, tri)
    order = crossing_order(crossings, dej)
    _number_crossings(draw, crossings[order], dej, surface, to_xy, font_px)
    _legend(draw, fig_w, fig_h - legend_h, font_px, line_h, crossings, fragments, short)
    _scale_bar(draw, result, scale, fig_w, fig_h - legend_h + 4 + line_h, font_px)

    info = OverlayInfo(
        path=os.fspath(path),
        png_shape=(fig_h, fig_w),
        image_shape=(int(rows), int(cols)),
        factor=factor,
        scale=float(scale),
        origin=origin,
        order=tuple(int(i) for i in order),
    )
    with _atomic_path(path) as tmp, open(tmp, "wb") as fh:
        canvas.save(fh, format="PNG", compress_level=1)
    return info


def _display(planes: list[np.ndarray], kind: str, factor: int) -> Any:
    """The section at display resolution as a palette image of `_N_IMAGE_COLOURS` colours."""
    from PIL import Image

    first = planes[0]
    if kind == "rgb" and first.dtype == np.uint8:
        rgb = Image.fromarray(np.ascontiguousarray(first[..., :3]), mode="RGB")
        if factor > 1:
            rgb = rgb.reduce(factor)  # box average, partial boxes at the far edges
    else:
        if kind == "rgb":
            rgb8 = _to_byte(_to_unit(_block_mean(first[..., :3], factor), first.dtype))
        else:
            fibre = _to_byte(_stretch(_block_mean(first, factor)))
            membrane = (
                _to_byte(_stretch(_block_mean(planes[1], factor)))
                if len(planes) > 1
                else np.zeros_like(fibre)
            )
            rgb8 = np.stack([membrane, fibre, membrane], axis=-1)
        rgb = Image.fromarray(rgb8, mode="RGB")
    return rgb.quantize(_N_IMAGE_COLOURS, method=Image.Quantize.FASTOCTREE)


def _palette(section: Any) -> list[int]:
    from PIL import ImageColor

    pal = list(section.getpalette() or [])[: 3 * _N_IMAGE_COLOURS]
    pal += [0] * (3 * _N_IMAGE_COLOURS - len(pal))
    for _, colour in _INK:
        pal += list(ImageColor.getrgb(colour)[:3])
    return pal + [0] * (768 - len(pal))


@lru_cache(maxsize=8)
def _font(size: int, bold: bool) -> Any:
    """DejaVu Sans (shipped with matplotlib), else Pillow's own font."""
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")  # located, not imported (saves its start-up)
    if spec is not None and spec.origin is not None:
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        ttf = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / name
        try:
            return ImageFont.truetype(str(ttf), size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def _polyline(draw: Any, xy: np.ndarray, ink: int, *, width: int) -> None:
    """A line with a black outline one pixel wide on each side."""
    if len(xy) < 2:
        return
    flat = xy.ravel().tolist()
    draw.line(flat, fill=_IDX["black"], width=width + 2)
    draw.line(flat, fill=ink, width=width)


def _dashed(draw: Any, xy: np.ndarray, ink: int, on: float = 12.0, off: float = 7.0) -> None:
    """A dashed line (dashes of `on` PNG pixels, gaps of `off`) with a black outline."""
    if len(xy) < 2:
        return
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    if arc[-1] <= 0:
        return
    s = np.arange(0.0, arc[-1], 1.5)
    dense = np.column_stack([np.interp(s, arc, xy[:, 0]), np.interp(s, arc, xy[:, 1])])
    dash = np.floor(s / (on + off)).astype(int)
    inside = (s % (on + off)) < on
    for k in np.unique(dash[inside]):
        piece = dense[(dash == k) & inside]
        if len(piece) >= 2:
            _polyline(draw, piece, ink, width=2)


def _triangle(draw: Any, x: float, y: float, size: float) -> None:
    """An open white triangle with a black edge on both sides of its white line."""

    def corners(side: float) -> list[tuple[float, float]]:
        h = side * math.sqrt(3) / 2
        return [(x, y - 2 * h / 3), (x - side / 2, y + h / 3), (x + side / 2, y + h / 3)]

    draw.polygon(corners(size + 3.5), outline=_IDX["black"], width=4)
    draw.polygon(corners(size), outline=_IDX["short"], width=2)


def _number_crossings(
    draw: Any,
    crossings: np.ndarray,
    dej: list[np.ndarray],
    surface: list[np.ndarray],
    to_xy: Any,
    font_px: int,
) -> None:
    """Yellow discs numbered 1..K; each number on the dermis side of the junction."""
    if len(crossings) == 0:
        return
    xy = to_xy(crossings)
    normals = _dermis_normals(crossings, dej, surface)
    font = _font(max(11, font_px - 2), True)
    radius = max(4, font_px // 3)
    sizes = []
    for k in range(1, len(xy) + 1):
        x0, y0, x1, y1 = draw.textbbox((0, 0), str(k), font=font, anchor="mm")
        sizes.append((x1 - x0, y1 - y0))
    for k, (box, (lx, ly)) in enumerate(_place_numbers(xy, normals, sizes, font_px), start=1):
        x, y = xy[k - 1]
        draw.line((x, y, lx, ly), fill=_IDX["black"], width=3)  # a yellow leader, outlined
        draw.line((x, y, lx, ly), fill=_IDX["crossing"], width=1)
        draw.rectangle(box, fill=_IDX["crossing"], outline=_IDX["black"], width=1)
        draw.text((lx, ly), str(k), fill=_IDX["black"], font=font, anchor="mm")
    for x, y in xy:  # discs last: they stay on top of the leaders
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=_IDX["crossing"],
            outline=_IDX["black"],
            width=1,
        )


def _place_numbers(
    xy: np.ndarray,
    normals: np.ndarray,
    sizes: Sequence[tuple[float, float]],
    font_px: int,
    *,
    gap: float = 3.0,
) -> list[tuple[tuple[float, float, float, float], tuple[float, float]]]:
    """Where each crossing's number goes: its box (x0, y0, x1, y1) and its leader's end.

    The crossings ``xy`` (x, y) come in order along the junction; each number
    sits out along its normal ``normals[k]`` (row, col), on the dermis side.
    Where numbers would crowd (closer along the junction than their widths),
    the crowd's numbers are set side by side in the crossings' order on one
    straight line beyond all its crossings, parallel to the crowd's mean
    direction, each pushed on just far enough to clear the one before by
    ``gap`` pixels; the line lies further out the further they are pushed, so
    that the leaders fan out in order and neither cross each other nor run
    through another number.
    """
    n = len(xy)
    width = np.array([w for w, _ in sizes], dtype=float) + 6.0
    height = max((h for _, h in sizes), default=0.0) + 4.0
    out = normals[:, ::-1].astype(float)  # (x, y), into the dermis
    ends = xy + 2.2 * font_px * out
    # How far each number must move on along the junction to clear the one before (pushed
    # itself): a crowd is a run of numbers each pushed by the one before.
    push = 0.0
    start = 0
    for k in range(1, n + 1):
        if k < n:
            apart = float(np.hypot(*(xy[k] - xy[k - 1])))
            step = np.abs(xy[k] - xy[k - 1]) / max(apart, 1e-9)
            room = step @ [(width[k - 1] + width[k]) / 2, height] + gap  # boxes' extent that way
            push = max(0.0, push + room - apart)
            if push > 0:
                continue
        if k - start > 1:
            row, along = _crowd(xy[start:k], out[start:k], width[start:k], height, font_px, gap)
            if start > 0:  # centred, the row may reach back over the number before it
                row += _clear_of(xy[start - 1], ends[start - 1], width[start - 1], xy[start], row,
                                 width[start:k], height, along, gap)  # fmt: skip
            ends[start:k] = row
        start = k
    boxes = [_box(end, width[k], height) for k, end in enumerate(ends)]
    if n > 1:
        _untangle(xy, out, ends, boxes, font_px, gap)
    return [(box, (float(x), float(y))) for box, (x, y) in zip(boxes, ends, strict=True)]


def _untangle(
    xy: np.ndarray, out: np.ndarray, ends: np.ndarray, boxes: list[Any], font_px: int, gap: float
) -> None:
    """Move, in place, each number whose box or leader still touches an earlier one's.

    Where a crowd's row does not fit (the junction turns sharply under it),
    the number is pushed out along its own normal and on along the junction,
    step by step, to the first place clear of every earlier box and leader
    (the least touched one if none is: :func:`_move`).
    """
    import shapely  # loaded by the analysis already; kept out of ienfd.io's own import

    def shapes(k: int) -> tuple[Any, Any]:
        return shapely.box(*boxes[k]), shapely.LineString([xy[k], ends[k]])

    earlier = [shapely.union(*shapes(0))]  # every number placed so far, box and leader
    for k in range(1, len(xy)):
        box, leader = shapes(k)
        if shapely.intersects(earlier, shapely.union(box.buffer(gap - 0.5), leader)).any():
            _move(k, xy, out, ends, boxes, earlier, font_px, gap)
        earlier.append(shapely.union(*shapes(k)))


def _move(
    k: int,
    xy: np.ndarray,
    out: np.ndarray,
    ends: np.ndarray,
    boxes: list[Any],
    earlier: list[Any],
    font_px: int,
    gap: float,
) -> None:
    """Number ``k`` pushed out and on, step by step, to the first place clear of ``earlier``."""
    import shapely

    on = xy[k] - xy[k - 1]
    on /= max(float(np.hypot(*on)), 1e-9)
    w, h = boxes[k][2] - boxes[k][0], boxes[k][3] - boxes[k][1]
    fewest = -1
    for step in np.arange(0.0, 12.0, 0.25):
        end = xy[k] + (2.2 + 0.5 * step) * font_px * out[k] + step * font_px * on
        cand = _box(end, w, h)
        hits = int(shapely.intersects(earlier, shapely.box(*cand).buffer(gap)).sum())
        hits += int(shapely.intersects(earlier, shapely.LineString([xy[k], end])).sum())
        if fewest < 0 or hits < fewest:
            fewest, ends[k], boxes[k] = hits, end, cand
        if hits == 0:
            break


def _crowd(
    xy: np.ndarray, out: np.ndarray, width: np.ndarray, height: float, font_px: int, gap: float
) -> tuple[np.ndarray, np.ndarray]:
    """Leader ends of a crowd of numbers: side by side, in order, on one line (see above).

    Returns the ends and the row's direction, on along the junction.
    """
    normal = out.mean(axis=0)
    normal /= max(float(np.hypot(*normal)), 1e-9)
    tangent = np.array([-normal[1], normal[0]])
    if (xy[-1] - xy[0]) @ tangent < 0:
        tangent = -tangent
    u = (xy - xy[0]) @ tangent
    extent = np.abs(tangent[0]) * width + np.abs(tangent[1]) * height  # each box along the row
    place = u.copy()
    for k in range(1, len(xy)):
        place[k] = max(u[k], place[k - 1] + (extent[k - 1] + extent[k]) / 2 + gap)
    place -= (place - u).mean()  # the row centred on its crossings (the order is kept)
    push = np.abs(place - u).max()
    depth = float(((xy - xy[0]) @ normal).max())
    across = np.abs(normal) @ [width.max(), height]  # the boxes' extent out from the junction
    reach = depth + max(2.2 * font_px, 1.2 * push * across / extent.min())
    return xy[0] + reach * normal + place[:, None] * tangent, tangent


def _clear_of(
    before_xy: np.ndarray,
    before_end: np.ndarray,
    before_width: float,
    first_xy: np.ndarray,
    row: np.ndarray,
    width: np.ndarray,
    height: float,
    along: np.ndarray,
    gap: float,
) -> np.ndarray:
    """The shift along ``along`` that moves a crowd's row clear of the number before it."""
    import shapely  # loaded by the analysis already; kept out of ienfd.io's own import

    before = shapely.union(
        shapely.box(*_box(before_end, before_width, height)),
        shapely.LineString([before_xy, before_end]),
    )
    for shift in np.arange(0.0, 40.0 * height, 1.0):
        end = row[0] + shift * along
        mine = shapely.union(
            shapely.box(*_box(end, width[0], height)).buffer(gap - 0.5),
            shapely.LineString([first_xy, end]),
        )
        if not before.intersects(mine):
            return shift * along
    return np.zeros(2)


def _box(centre: np.ndarray, width: float, height: float) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) of that size centred on ``centre`` (x, y)."""
    x, y = float(centre[0]), float(centre[1])
    return (x - width / 2, y - height / 2, x + width / 2, y + height / 2)


def _dermis_normals(
    crossings: np.ndarray, dej: list[np.ndarray], surface: list[np.ndarray]
) -> np.ndarray:
    """Unit (row, col) vectors across the junction at each crossing, away from the surface.

    Without a junction the numbers go below-right; without a surface, to the
    side of increasing row.
    """
    out = np.tile([0.6, 0.8], (len(crossings), 1))
    lines = [line for line in dej if len(line) >= 2]
    if not lines:
        return out
    segments = np.concatenate([np.stack([line[:-1], line[1:]], axis=1) for line in lines])
    surface_pts = np.concatenate(surface) if any(len(s) for s in surface) else None
    for i, p in enumerate(crossings):
        a, b = segments[:, 0], segments[:, 1]
        ab = b - a
        t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum((ab**2).sum(1), 1e-12), 0, 1)
        nearest = a + t[:, None] * ab
        j = int(np.argmin(((nearest - p) ** 2).sum(1)))
        tangent = ab[j] / max(float(np.hypot(*ab[j])), 1e-12)
        normal = np.array([tangent[1], -tangent[0]])
        if surface_pts is not None:
            s = surface_pts[np.argmin(((surface_pts - p) ** 2).sum(1))]
            if float((p - s) @ normal) < 0:
                normal = -normal
        elif normal[0] < 0:
            normal = -normal
        out[i] = normal
    return out


def _legend(
    draw: Any,
    fig_w: int,
    y0: int,
    font_px: int,
    line_h: int,
    crossings: np.ndarray,
    fragments: np.ndarray,
    short: np.ndarray,
) -> None:
    """Two legend rows under the image: lines, then markers with their numbers."""
    font = _font(font_px - 1, False)
    items_1 = [("dej", "dermal-epidermal junction (DEJ)"), ("surface", "epidermal surface")]
    items_2 = [
        ("crossing", f"counted crossing, numbered along the DEJ ({len(crossings)})"),
        ("fragment", f"epidermal fragment, not counted ({len(fragments)})"),
        ("short", f"ends below the DEJ, not counted ({len(short)})"),
    ]
    gap, glyph = 2 * font_px, 2 * font_px
    for row, items in enumerate((items_1, items_2)):
        y = y0 + 8 + row * line_h + line_h // 2
        widths = [glyph + 6 + draw.textlength(t, font=font) for _, t in items]
        x = _MARGIN_PX
        for (kind, text), width in zip(items, widths, strict=True):
            g0, g1, mid = x, x + glyph, x + glyph / 2
            if kind == "dej":
                _polyline(draw, np.array([[g0, y], [g1, y]]), _IDX["dej"], width=3)
            elif kind == "surface":
                _dashed(draw, np.array([[g0, y], [g1, y]]), _IDX["surface"], on=9, off=5)
            elif kind == "crossing":
                r = max(4, font_px // 3)
                draw.ellipse((mid - r, y - r, mid + r, y + r), fill=_IDX["crossing"],
                             outline=_IDX["black"])  # fmt: skip
            elif kind == "fragment":
                r = max(3, font_px // 4)
                draw.ellipse((mid - r, y - r, mid + r, y + r), outline=_IDX["fragment"], width=1)
            else:
                _triangle(draw, mid, y, max(11, font_px))
            draw.text((g1 + 6, y), text, fill=_IDX["black"], font=font, anchor="lm")
            x += int(width + gap)


def _scale_bar(draw: Any, result: Any, scale: float, fig_w: int, y: int, font_px: int) -> None:
    """A bar of a round number of µm at the right of the legend (when the pixel size is known)."""
    pixel = getattr(result, "pixel_size_um", None)
    try:
        pixel = float(pixel)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return
    if not (math.isfinite(pixel) and pixel > 0):
        return
    px_per_um = scale / pixel
    target_um = 0.12 * (fig_w - 2 * _MARGIN_PX) / px_per_um
    choices = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    um = max([c for c in choices if c <= target_um] or [choices[0]])
    length = um * px_per_um
    x1 = fig_w - _MARGIN_PX
    x0 = x1 - length
    ym = y + font_px // 2 + 4
    draw.rectangle((x0, ym - 2, x1, ym + 2), fill=_IDX["black"])
    label = f"{um:g} µm" if um < 1000 else f"{um / 1000:g} mm"
    draw.text(((x0 + x1) / 2, ym - 4), label, fill=_IDX["black"], font=_font(font_px - 1, False),
              anchor="mb")  # fmt: skip


def _planes(
    image: np.ndarray | Sequence[np.ndarray | None] | SectionImage,
) -> tuple[list[np.ndarray], str]:
    """Return the arrays to show and 'rgb' or 'fluorescence'."""
    if isinstance(image, SectionImage):
        if image.rgb is not None:
            return _planes(image.rgb)
        return _planes((image.fibre, image.membrane))
    if isinstance(image, np.ndarray):
        if image.ndim == 3 and image.shape[2] in (3, 4):
            _check_plane(image[..., 0], "image")
            return [image], "rgb"
        if image.ndim == 2:
            _check_plane(image, "image")
            return [image], "fluorescence"
        raise ValueError(
            f"image has shape {image.shape}; accepted: (M, N, 3|4) RGB, an (M, N) fibre "
            "channel, or a (fibre, membrane) pair of (M, N) arrays"
        )
    if isinstance(image, (list, tuple)) and 1 <= len(image) <= 2:
        fibre = image[0]
        membrane = image[1] if len(image) == 2 else None
        if not isinstance(fibre, np.ndarray) or not (
            membrane is None or isinstance(membrane, np.ndarray)
        ):
            raise TypeError(
                "a (fibre, membrane) pair must hold numpy arrays (membrane may be None)"
            )
        _check_plane(fibre, "fibre")
        if membrane is None:
            return [fibre], "fluorescence"
        _check_plane(membrane, "membrane")
        if membrane.shape != fibre.shape:
            raise ValueError(
                f"membrane shape {membrane.shape} differs from the fibre shape {fibre.shape}"
            )
        return [fibre, membrane], "fluorescence"
    raise TypeError(
        "image must be an ndarray, a (fibre, membrane) pair or a SectionImage, "
        f"got {type(image).__name__}"
    )


def _check_plane(plane: np.ndarray, name: str) -> None:
    if plane.ndim != 2 or min(plane.shape) < 1:
        raise ValueError(f"{name} must be a non-empty (M, N) array, got shape {plane.shape}")
    if plane.dtype.kind not in "uif":
        raise ValueError(f"{name} has dtype {plane.dtype}; accepted: integer or float")


def _block_mean(plane: np.ndarray, factor: int) -> np.ndarray:
    """Mean over `factor` x `factor` blocks (partial blocks at the far edges), as float32.

    Whole blocks as the sum of the ``factor**2`` strided views of the image (no
    copy of it, and several times faster than a reduction over a reshaped
    view); the partial blocks at the bottom and right edges on their own.
    """
    if factor == 1:
        return np.asarray(plane, dtype=np.float32)
    rows, cols = plane.shape[:2]
    rest = plane.shape[2:]
    r0, c0 = rows // factor, cols // factor
    out = np.empty((-(-rows // factor), -(-cols // factor), *rest), np.float32)
    whole = out[:r0, :c0]
    whole[...] = 0
    for i in range(factor):
        for j in range(factor):
            whole += plane[i : r0 * factor : factor, j : c0 * factor : factor]
    whole /= factor * factor
    if r0 * factor < rows:  # the last, partial row of blocks
        bottom = plane[r0 * factor :, : c0 * factor].reshape(-1, c0, factor, *rest)
        out[r0, :c0] = bottom.mean(axis=(0, 2), dtype=np.float32)
    if c0 * factor < cols:  # the last, partial column of blocks
        right = plane[: r0 * factor, c0 * factor :].reshape(r0, factor, -1, *rest)
        out[:r0, c0] = right.mean(axis=(1, 2), dtype=np.float32)
    if r0 * factor < rows and c0 * factor < cols:
        out[r0, c0] = plane[r0 * factor :, c0 * factor :].mean(axis=(0, 1), dtype=np.float32)
    return out


def _to_unit(rgb: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Bright-field RGB to [0, 1] for display."""
    if dtype.kind in "ui":
        top = float(np.iinfo(dtype).max)
    else:
        finite = rgb[np.isfinite(rgb)]
        top = max(1.0, float(finite.max())) if finite.size else 1.0
    out: np.ndarray = np.clip(np.nan_to_num(rgb / top), 0.0, 1.0)
    return out


def _to_byte(unit: np.ndarray) -> np.ndarray:
    """[0, 1] floats to uint8, rounded."""
    out: np.ndarray = (unit * np.float32(255) + np.float32(0.5)).astype(np.uint8)
    return out


def _stretch(plane: np.ndarray) -> np.ndarray:
    """Contrast-stretch one fluorescence channel to [0, 1] between robust percentiles.

    The percentiles come from at most about a million evenly spread pixels.
    """
    step = max(1, math.ceil(math.sqrt(plane.size / 1_000_000)))
    sample = plane[::step, ::step]
    finite = sample[np.isfinite(sample)]
    if finite.size == 0 and step > 1:
        finite = plane[np.isfinite(plane)]
    if finite.size == 0:
        return np.zeros_like(plane)
    low, high = np.percentile(finite, [0.5, 99.9])
    if high <= low:
        high = float(finite.max())
    if high <= low:
        return np.zeros_like(plane)
    scaled = (plane - np.float32(low)) / np.float32(high - low)
    out: np.ndarray = np.clip(np.nan_to_num(scaled), 0.0, 1.0)
    return out


def _points(values: Any, name: str) -> np.ndarray:
    pts = np.asarray(values, dtype=float)
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"result.{name} must be a (K, 2) array of (row, col), got {pts.shape}")
    return pts


def _summary_line(result: OverlayResult, factor: int) -> str:
    basis = "DEJ" if result.length_basis == "dej" else result.length_basis
    text = (
        f"{int(result.count)} fibres crossing the DEJ; DEJ {result.dej_length_um / 1000:.3f} mm, "
        f"surface {result.surface_length_um / 1000:.3f} mm; "
        f"{result.density_per_mm:.2f} fibres/mm ({basis} length)"
    )
    if factor > 1:
        text += f"; shown at 1/{factor} resolution"
    return text
