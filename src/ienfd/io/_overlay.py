"""Quality-control overlay: the section with its junction, surface and counted fibres.

:func:`save_overlay` draws one PNG per analysed section so that a person can
check, crossing by crossing, what the automatic count counted.  It uses
matplotlib's object API only (:class:`matplotlib.figure.Figure` with the Agg
canvas), never ``pyplot``, so it is safe in threads, batch jobs and notebooks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ienfd.io._types import SectionImage
from ienfd.io._write import _atomic_path

__all__ = ["OverlayInfo", "OverlayResult", "save_overlay"]

# Bright colours, each drawn with a black outline: visible on white glass, on
# pink/brown/blue-grey bright-field tissue and on a dark fluorescence field,
# and distinct from the green (fibre) and magenta (membrane) false colours.
DEJ_COLOUR = "#ff9f1c"  # orange, solid
SURFACE_COLOUR = "#00d5ff"  # cyan, dashed
CROSSING_COLOUR = "#ffe600"  # yellow disc with its number
FRAGMENT_COLOUR = "#ff3b3b"  # red open square
SHORT_FIBRE_COLOUR = "#ffffff"  # white open triangle
OUTLINE = "black"

_DPI = 100
_MARGIN_PX = 30  # left and right
_TOP_PX = 70  # two title lines
_BOTTOM_PX = 64  # legend, two rows
_MIN_AXES_PX = (480, 800)  # small images are enlarged to at least this (rows, cols)
_MIN_FIG_W_PX = 960  # room for the title and the legend
_MAX_SIDE_PX = 16_000  # longest side of the displayed image (Agg limit is 2**16)


class OverlayResult(Protocol):
    """What :func:`save_overlay` reads from a result (e.g. ``ienfd.core.SectionResult``).

    Coordinates are (row, col) in pixels of the full-resolution image.
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
    """

    path: str
    png_shape: tuple[int, int]
    image_shape: tuple[int, int]
    factor: int
    scale: float
    origin: tuple[float, float]

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
    disc numbered 1..K, excluded intraepidermal fragments (red open squares)
    and fibres that stop short of the junction (white open triangles), each
    outlined in black; a legend; and a title with the counts, the lengths and
    the density.

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
        Images with more pixels are shown block-averaged by an integer factor
        so that at most this many are drawn (markers keep their places).

    Returns
    -------
    OverlayInfo
        PNG size and the mapping from image to PNG coordinates.

    Raises
    ------
    TypeError
        `image` is not an array, a sequence of arrays or a SectionImage.
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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise TypeError(f"max_pixels must be an int, got {max_pixels!r}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
    planes, kind = _planes(image)
    rows, cols = planes[0].shape[:2]
    factor = max(1, math.ceil(math.sqrt(rows * cols / max_pixels)))
    factor = max(factor, math.ceil(max(rows, cols) / _MAX_SIDE_PX))
    if kind == "rgb":
        display = _to_unit(_block_mean(planes[0][..., :3], factor), planes[0].dtype)
    else:
        fibre = _stretch(_block_mean(planes[0], factor))
        membrane = (
            _stretch(_block_mean(planes[1], factor)) if len(planes) > 1 else np.zeros_like(fibre)
        )
        display = np.stack([membrane, fibre, membrane], axis=-1)
    d_rows, d_cols = display.shape[:2]

    # Axes size in PNG pixels: one displayed pixel per PNG pixel, small images enlarged.
    zoom = max(1.0, min(_MIN_AXES_PX[0] / d_rows, _MIN_AXES_PX[1] / d_cols))
    ax_h, ax_w = round(d_rows * zoom), round(d_cols * zoom)
    fig_w = max(ax_w + 2 * _MARGIN_PX, _MIN_FIG_W_PX)
    fig_h = ax_h + _TOP_PX + _BOTTOM_PX
    fig = Figure(figsize=(fig_w / _DPI, fig_h / _DPI), dpi=_DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    left = (fig_w - ax_w) / 2
    ax = fig.add_axes((left / fig_w, _BOTTOM_PX / fig_h, ax_w / fig_w, ax_h / fig_h))
    # Extent in input-image pixel-edge coordinates: everything is drawn in the
    # coordinates of the full-resolution image, whatever the downsampling.
    extent = (-0.5, d_cols * factor - 0.5, d_rows * factor - 0.5, -0.5)
    ax.imshow(display, extent=extent, interpolation="nearest" if zoom > 1 else "antialiased")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("auto")  # the axes box already has the image's aspect ratio
    ax.set_axis_off()

    handles = _draw_results(ax, result)
    lines = [] if title is None else [str(title)]
    lines.append(_summary_line(result, factor))
    fig.suptitle("\n".join(lines), y=1 - 8 / fig_h, va="top", fontsize=11)
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize=9,
        bbox_to_anchor=(0.5, 4 / fig_h),
    )

    canvas.draw()
    # The PNG row axis points down, display coordinates point up.
    x0, y0 = ax.transData.transform((-0.5, -0.5))
    x1, _ = ax.transData.transform((factor * d_cols - 0.5, -0.5))
    scale = (x1 - x0) / (factor * d_cols)
    info = OverlayInfo(
        path=os.fspath(path),
        png_shape=(fig_h, fig_w),
        image_shape=(int(rows), int(cols)),
        factor=factor,
        scale=float(scale),
        origin=(float(fig_h - y0), float(x0)),
    )
    with _atomic_path(path) as tmp, open(tmp, "wb") as fh:
        canvas.print_png(fh)
    return info


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
    """Mean over `factor` x `factor` blocks (partial blocks at the far edges), as float32."""
    if factor == 1:
        return np.asarray(plane, dtype=np.float32)
    starts_r = np.arange(0, plane.shape[0], factor)
    starts_c = np.arange(0, plane.shape[1], factor)
    sums = np.add.reduceat(plane, starts_r, axis=0, dtype=np.float64)
    sums = np.add.reduceat(sums, starts_c, axis=1)
    n_r = np.diff(np.append(starts_r, plane.shape[0]))
    n_c = np.diff(np.append(starts_c, plane.shape[1]))
    counts = np.outer(n_r, n_c)
    if sums.ndim == 3:
        counts = counts[..., None]
    return (sums / counts).astype(np.float32)


def _to_unit(rgb: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Bright-field RGB to [0, 1] for display."""
    if dtype.kind in "ui":
        top = float(np.iinfo(dtype).max)
    else:
        finite = rgb[np.isfinite(rgb)]
        top = max(1.0, float(finite.max())) if finite.size else 1.0
    out: np.ndarray = np.clip(np.nan_to_num(rgb / top), 0.0, 1.0)
    return out


def _stretch(plane: np.ndarray) -> np.ndarray:
    """Contrast-stretch one fluorescence channel to [0, 1] between robust percentiles."""
    finite = plane[np.isfinite(plane)]
    if finite.size == 0:
        return np.zeros_like(plane)
    low, high = np.percentile(finite, [0.5, 99.9])
    if high <= low:
        high = float(finite.max())
    if high <= low:
        return np.zeros_like(plane)
    out: np.ndarray = np.clip(np.nan_to_num((plane - low) / (high - low)), 0.0, 1.0)
    return out


def _points(values: Any, name: str) -> np.ndarray:
    pts = np.asarray(values, dtype=float)
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"result.{name} must be a (K, 2) array of (row, col), got {pts.shape}")
    return pts


def _draw_results(ax: Any, result: OverlayResult) -> list[Any]:
    """Draw junction, surface and markers; return the legend handles."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    outline = [patheffects.Stroke(linewidth=3.2, foreground=OUTLINE), patheffects.Normal()]
    for i, line in enumerate(result.surface):
        pts = _points(line, f"surface[{i}]")
        ax.plot(
            pts[:, 1],
            pts[:, 0],
            color=SURFACE_COLOUR,
            lw=1.4,
            ls=(0, (5, 3)),
            path_effects=outline,
            zorder=3,
        )
    for i, line in enumerate(result.dej):
        pts = _points(line, f"dej[{i}]")
        ax.plot(pts[:, 1], pts[:, 0], color=DEJ_COLOUR, lw=1.4, path_effects=outline, zorder=3)
    marker_outline = [patheffects.Stroke(linewidth=2.6, foreground=OUTLINE), patheffects.Normal()]
    # Not counted: fragments (squares) and fibres stopping short (triangles), hollow;
    # one style per kind for the markers and their legend entry.
    hollow: dict[str, Any] = {
        "ls": "none",
        "ms": 9,
        "mfc": "none",
        "mew": 1.4,
        "path_effects": marker_outline,
    }
    not_counted = (
        ("fragments", "s", FRAGMENT_COLOUR, "epidermal fragment, not counted"),
        ("short_fibres", "^", SHORT_FIBRE_COLOUR, "ends below DEJ, not counted"),
    )
    not_counted_handles = []
    for name, marker, colour, label in not_counted:
        pts = _points(getattr(result, name), name)
        ax.plot(pts[:, 1], pts[:, 0], marker=marker, mec=colour, zorder=4, **hollow)
        not_counted_handles.append(
            Line2D([], [], marker=marker, mec=colour, label=f"{label} ({len(pts)})", **hollow)
        )
    crossings = _points(result.crossings, "crossings")
    ax.plot(
        crossings[:, 1],
        crossings[:, 0],
        ls="none",
        marker="o",
        ms=7,
        mfc=CROSSING_COLOUR,
        mec=OUTLINE,
        mew=1.0,
        zorder=5,
    )
    for k, (r, c) in enumerate(crossings, start=1):
        ax.annotate(
            str(k),
            xy=(c, r),
            xytext=(5, 4) if k % 2 else (5, -13),  # alternate: neighbours stay legible
            textcoords="offset points",
            fontsize=8,
            fontweight="bold",
            color="black",
            bbox={
                "boxstyle": "round,pad=0.15",
                "fc": CROSSING_COLOUR,
                "ec": OUTLINE,
                "lw": 0.5,
                "alpha": 0.85,
            },
            zorder=6,
            annotation_clip=False,
        )
    return [
        Line2D(
            [],
            [],
            color=DEJ_COLOUR,
            lw=1.4,
            path_effects=outline,
            label="dermal-epidermal junction (DEJ)",
        ),
        Line2D(
            [],
            [],
            color=SURFACE_COLOUR,
            lw=1.4,
            ls=(0, (5, 3)),
            path_effects=outline,
            label="epidermal surface",
        ),
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            ms=7,
            mfc=CROSSING_COLOUR,
            mec=OUTLINE,
            label=f"counted crossing ({len(crossings)})",
        ),
        *not_counted_handles,
    ]


def _summary_line(result: OverlayResult, factor: int) -> str:
    basis = "DEJ" if result.length_basis == "dej" else result.length_basis
    text = (
        f"{result.count} fibres crossing the DEJ; DEJ {result.dej_length_um / 1000:.3f} mm, "
        f"surface {result.surface_length_um / 1000:.3f} mm; "
        f"{result.density_per_mm:.2f} fibres/mm ({basis} length)"
    )
    if factor > 1:
        text += f"; shown at 1/{factor} resolution"
    return text
