"""Appearance helpers: chromogen hue, tears and folds, dotted membrane, optics, fibre floor.

Pure array functions used by the renderer when a section's appearance
parameters differ from their defaults.
"""

from __future__ import annotations

import math

import imagecodecs
import numpy as np
from scipy import ndimage

from ienfd.synthetic._canvas import Canvas
from ienfd.synthetic._geometry import Anatomy, Fibre
from ienfd.synthetic._render import resample_polyline, smooth_noise_1d

__all__ = [
    "BRIGHTFIELD_FIBRE_OD_FLOOR",
    "CountedFibres",
    "band_map",
    "jpeg_roundtrip",
    "membrane_dots",
    "rotate_hue",
    "vignette",
]

#: Least optical density a counted fibre adds to its background near its
#: crossing, in bright-field, whenever the appearance differs from the default.
BRIGHTFIELD_FIBRE_OD_FLOOR = 0.08


def rotate_hue(od: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate an (R, G, B) optical-density vector about the grey axis by `degrees`.

    Keeps the vector's length; components are kept >= 0.02.
    """
    if degrees == 0.0:
        return od.copy()
    k = np.ones(3) / math.sqrt(3.0)
    t = math.radians(degrees)
    rot = od * math.cos(t) + np.cross(k, od) * math.sin(t) + k * (k @ od) * (1 - math.cos(t))
    rot = np.clip(rot, 0.02, None)
    out: np.ndarray = rot * (np.linalg.norm(od) / np.linalg.norm(rot))
    return out


def band_map(cv: Canvas, bands: list[Fibre]) -> np.ndarray:
    """Anti-aliased coverage (0-1) of bands with a half-width per centreline sample (µm).

    Each band is drawn in its bounding box by a Euclidean distance transform
    from its centreline pixels, each pixel taking the half-width of the
    nearest centreline sample (wide bands cost no more than narrow ones).
    """
    canvas = np.zeros(cv.shape, np.float32)
    for b in bands:
        pts, s = resample_polyline(np.column_stack([b.v, b.u]), cv.p / 2.0)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(b.v), np.diff(b.u)))])
        half = np.interp(s, arc, b.radius) / cv.p
        rows, cols = cv.px(pts[:, 0], pts[:, 1])
        ext = float(half.max()) + 3
        r0, r1 = max(0, int(rows.min() - ext)), min(cv.shape[0], int(rows.max() + ext) + 2)
        c0, c1 = max(0, int(cols.min() - ext)), min(cv.shape[1], int(cols.max() + ext) + 2)
        if r1 - r0 < 2 or c1 - c0 < 2:
            continue
        inside = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
        if not np.any(inside):
            continue
        ri = np.rint(rows[inside]).astype(int).clip(r0, r1 - 1) - r0
        ci = np.rint(cols[inside]).astype(int).clip(c0, c1 - 1) - c0
        mask = np.ones((r1 - r0, c1 - c0), bool)
        mask[ri, ci] = False
        radius = np.zeros(mask.shape, np.float32)
        radius[ri, ci] = half[inside]
        dist, (ir, ic) = ndimage.distance_transform_edt(mask, return_indices=True)
        cover = np.clip(radius[ir, ic] + 0.5 - dist, 0.0, 1.0).astype(np.float32)
        sl = (slice(r0, r1), slice(c0, c1))
        canvas[sl] = np.maximum(canvas[sl], cover)
    return canvas


def membrane_dots(
    u: np.ndarray, dej: np.ndarray, rng: np.random.Generator, *, period_um: float = 2.2
) -> np.ndarray:
    """Punctate collagen IV: a row of dots along the DEJ arc (weights per column ``u``).

    Parameters
    ----------
    u, dej : (N,) ndarray
        Canonical columns (µm) and the DEJ depth at each.
    rng : numpy.random.Generator
        The appearance stream.
    period_um : float, optional
        Mean spacing of the dots along the arc.

    Returns
    -------
    weights : (N,) ndarray of float32
        0 between dots, up to about 1 on them; about a quarter of the dots missing.
    """
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(u), np.diff(dej)))])
    phase = arc / period_um + smooth_noise_1d(rng, arc, 8.0, 0.35)
    bump = (0.5 + 0.5 * np.cos(2 * np.pi * phase)) ** 6
    which = np.floor(phase + 0.5).astype(np.int64)
    which -= which.min()
    amp = rng.uniform(0.5, 1.3, int(which.max()) + 1) * (rng.random(int(which.max()) + 1) > 0.25)
    out: np.ndarray = (bump * amp[which]).astype(np.float32)
    return out


def vignette(shape: tuple[int, int], strength: float) -> np.ndarray:
    """Radial fall-off: 1 at the frame centre, ``1 - strength`` at the corners."""
    r = np.linspace(-1.0, 1.0, shape[0], dtype=np.float32)
    c = np.linspace(-1.0, 1.0, shape[1], dtype=np.float32)
    out: np.ndarray = 1.0 - strength * 0.5 * (r[:, None] ** 2 + c[None, :] ** 2)
    return out.astype(np.float32, copy=False)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Compress an (M, N, 3) uint8 image as JPEG at `quality` and decode it again."""
    data = imagecodecs.jpeg8_encode(rgb, level=int(quality))
    out: np.ndarray = imagecodecs.jpeg8_decode(data)
    return out


class CountedFibres:
    """The counted fibres near their DEJ crossings, for the visibility floor.

    Each counted fibre is sampled where it lies within 3 µm below to 5 µm
    above the DEJ.  Its contrast is the weakest, along those samples, of the
    peak (maximum over 3 x 3 pixels) of its signal after the optics' blur and
    a 2 x 2 mean (the worst case of the bilinear resampling into the image
    frame).  In bright-field the blur acts on transmittance, as in the
    renderer, so a thin dark line loses more optical density than a linear
    blur would say.

    Parameters
    ----------
    cv : Canvas
        The canonical raster.
    anat : Anatomy
        The counted fibres (kind ``'ienf'``, in crossing order).
    signal : (M, N) ndarray
        Unit fibre signal in the canonical raster (before blur).
    sigma_px : float
        Gaussian blur of the optics, in px.
    """

    def __init__(self, cv: Canvas, anat: Anatomy, signal: np.ndarray, sigma_px: float) -> None:
        self.sigma_px = sigma_px
        self.items: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        centres = []
        lay = anat.layers
        pad = int(3 * sigma_px) + 4
        for f in (f for f in anat.fibres if f.kind == "ienf"):
            h = lay.at(lay.dej, f.u) - f.v
            sel = (h >= -3.0) & (h <= 5.0)
            rows, cols = cv.px(f.v[sel], f.u[sel])
            ri = np.clip(np.rint(rows).astype(int), 0, cv.shape[0] - 1)
            ci = np.clip(np.rint(cols).astype(int), 0, cv.shape[1] - 1)
            r0, r1 = max(0, ri.min() - pad), min(cv.shape[0], ri.max() + pad + 1)
            c0, c1 = max(0, ci.min() - pad), min(cv.shape[1], ci.max() + pad + 1)
            patch = signal[r0:r1, c0:c1].astype(np.float64)
            self.items.append((patch, ri - r0, ci - c0))
            k = int(np.argmin(np.abs(h)))
            cr, cc = cv.px(f.v[k], f.u[k])
            centres.append((int(np.rint(cr)), int(np.rint(cc))))
        #: canonical (row, col) pixel of each crossing
        self.centres = np.array(centres, int).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.items)

    def _blur(self, patch: np.ndarray) -> np.ndarray:
        if self.sigma_px >= 0.2:
            patch = ndimage.gaussian_filter(patch, self.sigma_px, mode="nearest", truncate=3.0)
        out: np.ndarray = ndimage.uniform_filter(patch, size=2, mode="nearest")
        return out

    def contrast(self, gain: float, *, optical_density: bool) -> np.ndarray:
        """Weakest contrast of each counted fibre at `gain` x the unit signal.

        With `optical_density` the signal is optical density and the result is
        the optical density the fibre adds to a uniform background after the
        blur of transmittance; otherwise the blurred signal itself.
        """
        out = []
        for patch, ri, ci in self.items:
            if optical_density:
                seen = -np.log10(self._blur(np.power(10.0, -gain * patch)))
            else:
                seen = gain * self._blur(patch)
            peak = ndimage.maximum_filter(seen, size=3, mode="nearest")
            out.append(float(peak[ri, ci].min()))
        return np.array(out, float)

    def od_boost(self, gain: float, floor: float, *, limit: float = 30.0) -> float:
        """Least factor (1 to `limit`) on `gain` that lifts every fibre to `floor` OD."""
        if not self.items or self.contrast(gain, optical_density=True).min() >= floor:
            return 1.0
        lo, hi = 1.0, limit
        if self.contrast(gain * hi, optical_density=True).min() < floor:
            return hi
        for _ in range(30):  # bisection: the contrast grows with the gain
            mid = 0.5 * (lo + hi)
            if self.contrast(gain * mid, optical_density=True).min() >= floor:
                hi = mid
            else:
                lo = mid
        return hi
