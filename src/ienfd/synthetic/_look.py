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
    "band_map",
    "counted_fibre_peaks",
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


def counted_fibre_peaks(
    cv: Canvas, anat: Anatomy, signal: np.ndarray, sigma_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weakest blurred fibre signal of each counted fibre near its DEJ crossing.

    Each counted fibre is sampled where it lies within 3 µm below to 5 µm
    above the DEJ; at each sample the blurred `signal` is read as the maximum
    of the 3 x 3 pixels around it (the peak of the line profile), and the
    fibre's value is the minimum along those samples.

    Parameters
    ----------
    cv : Canvas
        The canonical raster.
    anat : Anatomy
        The counted fibres (kind ``'ienf'``, in crossing order).
    signal : (M, N) ndarray
        Fibre signal in the canonical raster (before blur).
    sigma_px : float
        Gaussian blur of the optics, in px (0 = none).

    Returns
    -------
    peaks : (K,) ndarray
        One value per counted fibre.
    centres : (K, 2) ndarray of int
        Canonical pixel (row, col) of each crossing.
    """
    lay = anat.layers
    peaks, centres = [], []
    pad = int(3 * sigma_px) + 4
    for f in (f for f in anat.fibres if f.kind == "ienf"):
        h = lay.at(lay.dej, f.u) - f.v
        sel = (h >= -3.0) & (h <= 5.0)
        rows, cols = cv.px(f.v[sel], f.u[sel])
        ri = np.clip(np.rint(rows).astype(int), 0, cv.shape[0] - 1)
        ci = np.clip(np.rint(cols).astype(int), 0, cv.shape[1] - 1)
        r0, r1 = max(0, ri.min() - pad), min(cv.shape[0], ri.max() + pad + 1)
        c0, c1 = max(0, ci.min() - pad), min(cv.shape[1], ci.max() + pad + 1)
        patch = signal[r0:r1, c0:c1].astype(np.float32)
        if sigma_px >= 0.2:
            patch = ndimage.gaussian_filter(patch, sigma_px, mode="nearest", truncate=3.0)
        patch = ndimage.maximum_filter(patch, size=3, mode="nearest")
        peaks.append(float(patch[ri - r0, ci - c0].min()))
        k = int(np.argmin(np.abs(h)))
        cr, cc = cv.px(f.v[k], f.u[k])
        centres.append((int(np.rint(cr)), int(np.rint(cc))))
    return np.array(peaks, float), np.array(centres, int).reshape(-1, 2)
