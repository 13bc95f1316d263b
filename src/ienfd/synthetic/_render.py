"""Rendering primitives: random fields, anti-aliased stamping, the frame mapping.

Everything here is vectorised over points or pixels; no per-pixel Python loops.
Pixel (i, j) has its centre at coordinate (i, j), in the canonical raster and in
the final image alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.interpolate import CubicSpline

# Standard deviation of unit white noise after a 1-D Gaussian filter of sigma 2.
_STD_AFTER_G2 = 1.0 / math.sqrt(2.0 * math.sqrt(math.pi) * 2.0)


def smooth_noise_1d(
    rng: np.random.Generator, x: np.ndarray, scale: float, amplitude: float
) -> np.ndarray:
    """Zero-mean smooth random function of `x` (correlation length ~`scale`, std ~`amplitude`)."""
    x = np.asarray(x, dtype=float)
    if x.size == 0 or amplitude == 0.0:
        return np.zeros_like(x)
    step = scale / 4.0
    lo = float(x.min()) - 8 * step
    n = int((float(x.max()) - lo) / step) + 10
    knots = lo + step * np.arange(n)
    w = ndimage.gaussian_filter1d(rng.standard_normal(n), 2.0, mode="reflect")
    w *= amplitude / _STD_AFTER_G2
    result: np.ndarray = CubicSpline(knots, w)(x)
    return result


def resize_linear(coarse: np.ndarray, shape: tuple[int, int], factor: float) -> np.ndarray:
    """Bilinear upsampling of `coarse` by `factor` to `shape` (separable, float32)."""
    rows = np.arange(shape[0]) / factor
    cols = np.arange(shape[1]) / factor
    i = np.minimum(rows.astype(np.intp), coarse.shape[0] - 2)
    a = (rows - i).astype(np.float32)[:, None]
    tmp = coarse[i] * (1 - a) + coarse[i + 1] * a
    j = np.minimum(cols.astype(np.intp), coarse.shape[1] - 2)
    b = (cols - j).astype(np.float32)[None, :]
    out: np.ndarray = tmp[:, j] * (1 - b) + tmp[:, j + 1] * b
    return out.astype(np.float32, copy=False)


def smooth_field(
    rng: np.random.Generator,
    shape: tuple[int, int],
    pixel_um: float,
    scale_um: float,
    *,
    anisotropy: float = 1.0,
) -> np.ndarray:
    """Zero-mean, unit-std Gaussian random field with correlation length `scale_um`.

    ``anisotropy > 1`` stretches the texture along the columns (the section's
    long axis in the canonical frame), e.g. for collagen bundles.
    """
    spacing = max(scale_um / 3.0, pixel_um)
    factor = spacing / pixel_um
    coarse_shape = (int(shape[0] / factor) + 3, int(shape[1] / factor) + 3)
    noise = rng.standard_normal(coarse_shape, dtype=np.float32)
    sigma = (1.0, 1.0 * anisotropy)
    noise = ndimage.gaussian_filter(noise, sigma, mode="reflect")
    noise -= noise.mean()
    noise /= noise.std() + 1e-12
    if factor == 1.0:
        return noise[: shape[0], : shape[1]].copy()
    return resize_linear(noise, shape, factor)


def _box_coverage(d: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Fraction of a unit pixel at distance `d` covered by a line of half-width `r`."""
    return np.clip(np.minimum(d + 0.5, r) - np.maximum(d - 0.5, -r), 0.0, 1.0)


def stamp_tubes(
    canvas: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    radii: np.ndarray,
    weights: np.ndarray,
) -> None:
    """Draw anti-aliased tubes into `canvas` (in place) by max-compositing discs.

    The centreline samples (`rows`, `cols`, pixel units) must be dense (step
    <= 0.5 px); each pixel gets the box-filtered coverage of the nearest
    sample's disc of radius `radii` (px) times `weights`.
    """
    if rows.size == 0:
        return
    flat = canvas.reshape(-1)
    n_rows, n_cols = canvas.shape
    half = np.ceil(radii + 1.0).astype(np.intp)
    for k in np.unique(half):
        sel = half == k
        r, c, rad, w = rows[sel], cols[sel], radii[sel], weights[sel]
        r0 = np.rint(r).astype(np.intp)
        c0 = np.rint(c).astype(np.intp)
        for dr in range(-k, k + 1):
            rr = r0 + dr
            for dc in range(-k, k + 1):
                cc = c0 + dc
                d = np.hypot(rr - r, cc - c)
                val = _box_coverage(d, rad) * w
                ok = (val > 1e-3) & (rr >= 0) & (rr < n_rows) & (cc >= 0) & (cc < n_cols)
                if np.any(ok):
                    np.maximum.at(flat, rr[ok] * n_cols + cc[ok], val[ok].astype(canvas.dtype))


def stamp_gaussians(
    canvas: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    sigma_along: np.ndarray,
    sigma_across: np.ndarray,
    angle: np.ndarray,
    weights: np.ndarray,
) -> None:
    """Add anisotropic Gaussian blobs to `canvas` (in place); sizes in px, angle in rad.

    `angle` is the direction of `sigma_along` measured from the column axis.
    """
    if rows.size == 0:
        return
    flat = canvas.reshape(-1)
    n_rows, n_cols = canvas.shape
    k = int(np.ceil(2.5 * max(float(sigma_along.max()), float(sigma_across.max()))))
    r0 = np.rint(rows).astype(np.intp)
    c0 = np.rint(cols).astype(np.intp)
    ca, sa = np.cos(angle), np.sin(angle)
    for dr in range(-k, k + 1):
        rr = r0 + dr
        for dc in range(-k, k + 1):
            cc = c0 + dc
            y, x = rr - rows, cc - cols
            along = x * ca + y * sa
            across = -x * sa + y * ca
            val = weights * np.exp(
                -0.5 * ((along / sigma_along) ** 2 + (across / sigma_across) ** 2)
            )
            ok = (val > 1e-3) & (rr >= 0) & (rr < n_rows) & (cc >= 0) & (cc < n_cols)
            if np.any(ok):
                np.add.at(flat, rr[ok] * n_cols + cc[ok], val[ok].astype(canvas.dtype))


def resample_polyline(points: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Resample an (N, 2) polyline at arc-length `step`; return points and their arc length."""
    seg = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return points[:1].copy(), np.zeros(1)
    n = max(2, int(np.ceil(s[-1] / step)) + 1)
    s_new = np.linspace(0.0, s[-1], n)
    out = np.column_stack([np.interp(s_new, s, points[:, 0]), np.interp(s_new, s, points[:, 1])])
    return out, s_new


@dataclass(frozen=True)
class FrameMap:
    """Affine mapping from the canonical frame (µm) to final image pixels.

    Canonical point ``(v, u)`` in µm (v = depth, u = along the section) has
    canonical raster coordinates ``((v - v0) / p, (u - u0) / p)``; the final
    pixel coordinates are ``matrix @ canonical_px + offset``.
    """

    matrix: np.ndarray
    offset: np.ndarray
    shape: tuple[int, int]
    pixel_size_um: float
    origin_um: tuple[float, float]

    @classmethod
    def build(
        cls,
        *,
        rotation_deg: float,
        flip: bool,
        pixel_size_um: float,
        origin_um: tuple[float, float],
        content_px: tuple[float, float, float, float],
        margin_px: float,
    ) -> FrameMap:
        """Rotation (counter-clockwise as displayed) after an optional left-right mirror.

        `content_px` = (row_min, row_max, col_min, col_max) of what must fit
        in the frame, in canonical raster coordinates.
        """
        theta = math.radians(rotation_deg)
        c, s = math.cos(theta), math.sin(theta)
        rot = np.array([[c, -s], [s, c]])
        mirror = np.diag([1.0, -1.0 if flip else 1.0])
        matrix = rot @ mirror
        r0, r1, c0, c1 = content_px
        corners = np.array([[r0, c0], [r0, c1], [r1, c0], [r1, c1]]) @ matrix.T
        lo = corners.min(axis=0)
        hi = corners.max(axis=0)
        offset = -lo + margin_px
        shape = tuple(math.ceil(x) + 1 for x in (hi - lo + 2 * margin_px))
        return cls(matrix, offset, (shape[0], shape[1]), pixel_size_um, origin_um)

    def to_pixels(self, v_um: np.ndarray, u_um: np.ndarray) -> np.ndarray:
        """Map canonical µm points to final (row, col) pixels; returns (N, 2)."""
        q = np.column_stack(
            [
                (np.asarray(v_um, float) - self.origin_um[0]) / self.pixel_size_um,
                (np.asarray(u_um, float) - self.origin_um[1]) / self.pixel_size_um,
            ]
        )
        result: np.ndarray = q @ self.matrix.T + self.offset
        return result

    def as_affine_um(self) -> list[list[float]]:
        """2 x 3 matrix mapping (v_um, u_um, 1) to (row, col) in the final image."""
        a = self.matrix / self.pixel_size_um
        b = self.offset - a @ np.asarray(self.origin_um)
        return [
            [float(a[0, 0]), float(a[0, 1]), float(b[0])],
            [float(a[1, 0]), float(a[1, 1]), float(b[1])],
        ]

    def warp(self, canonical: np.ndarray, *, cval: float, order: int = 1) -> np.ndarray:
        """Resample a canonical (M, N) raster into the final frame (float32)."""
        inv = np.linalg.inv(self.matrix)
        out: np.ndarray = ndimage.affine_transform(
            canonical,
            inv,
            offset=-inv @ self.offset,
            output_shape=self.shape,
            order=order,
            mode="constant",
            cval=cval,
            prefilter=False,
            output=np.float32,
        )
        return out


def stamp_ellipses(
    canvas: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    semi_along: np.ndarray,
    semi_across: np.ndarray,
    angle: np.ndarray,
    weights: np.ndarray,
) -> None:
    """Draw flat-topped, anti-aliased ellipses into `canvas` (in place, max-composited).

    Sizes are semi-axes in px; `angle` is the direction of `semi_along` from
    the column axis, in rad.  Used for nuclei, which have crisp outlines.
    """
    if rows.size == 0:
        return
    flat = canvas.reshape(-1)
    n_rows, n_cols = canvas.shape
    k = int(np.ceil(max(float(semi_along.max()), float(semi_across.max())) + 1.0))
    r0 = np.rint(rows).astype(np.intp)
    c0 = np.rint(cols).astype(np.intp)
    ca, sa = np.cos(angle), np.sin(angle)
    small = np.minimum(semi_along, semi_across)
    for dr in range(-k, k + 1):
        rr = r0 + dr
        for dc in range(-k, k + 1):
            cc = c0 + dc
            y, x = rr - rows, cc - cols
            along = (x * ca + y * sa) / semi_along
            across = (-x * sa + y * ca) / semi_across
            rho = np.sqrt(along**2 + across**2)
            val = np.clip(0.5 - (rho - 1.0) * small, 0.0, 1.0) * weights
            ok = (val > 1e-3) & (rr >= 0) & (rr < n_rows) & (cc >= 0) & (cc < n_cols)
            if np.any(ok):
                np.maximum.at(flat, rr[ok] * n_cols + cc[ok], val[ok].astype(canvas.dtype))
