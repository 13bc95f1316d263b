"""A clean bright-field phantom with exactly known crossings (for core tests)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import line


def brightfield_phantom(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(M, N, 3) uint8 section at 0.5 µm/px and the (K, 2) true crossings.

    Glass margin, a 15 µm stratum corneum, an 80 µm epidermis with rete ridges,
    papillary dermis with a subepidermal plexus 20 µm below the DEJ, and ten
    fibres rising from the plexus 50 µm into the epidermis.
    """
    rng = np.random.default_rng(seed)
    rows, cols = 900, 1800
    dej, epidermis, dermis, corneum = phantom_layers(rows, cols)
    od = np.zeros((rows, cols), np.float32)
    od[epidermis], od[dermis], od[corneum] = 0.35, 0.12, 0.15
    od += ndi.gaussian_filter(rng.normal(0, 0.06, od.shape), 2).astype(np.float32) * (
        epidermis | dermis
    )
    fibres = np.zeros_like(od)
    truth = []
    for c in range(250, cols - 250, 140):
        d = int(np.round(dej[0, c]))
        fibres[d - 100 : d + 40, c - 1 : c + 2] = 1
        truth.append((dej[0, c], c))
    for c in range(150, cols - 150):
        d = int(np.round(dej[0, c]))
        fibres[d + 40 : d + 43, c] = 1
    od += 1.2 * ndi.gaussian_filter(fibres, 0.7)
    rgb = np.stack([255 * np.exp(-od * k) for k in (1.0, 0.9, 0.7)], axis=-1)
    rgb += rng.normal(0, 2, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8), np.array(truth, dtype=float)


def phantom_layers(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(junction row per pixel, epidermis, dermis, stratum corneum) of the phantom's frame.

    The surface undulates about row 200, the junction 160 px below it with rete
    ridges; the tissue spans columns 100 to ``cols`` - 100 and ends at row 800.
    """
    rr, cc = np.mgrid[0:rows, 0:cols]
    surface = 200 + 10 * np.sin(cc / 150)
    dej = surface + 160 + 30 * np.sin(cc / 90)
    inside = (cc >= 100) & (cc < cols - 100)
    epidermis = (rr > surface) & (rr < dej) & inside
    dermis = (rr >= dej) & (rr < 800) & inside
    corneum = (rr > surface - 30) & (rr <= surface) & inside
    return dej, epidermis, dermis, corneum


def draw_segments(shape: tuple[int, int], *segments: tuple[int, int, int, int]) -> np.ndarray:
    """A one-pixel skeleton of straight segments (r0, c0, r1, c1) on a bool array of ``shape``."""
    skeleton = np.zeros(shape, dtype=bool)
    for r0, c0, r1, c1 in segments:
        rr, cc = line(r0, c0, r1, c1)
        skeleton[rr, cc] = True
    return skeleton
