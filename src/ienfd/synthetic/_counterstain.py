"""Bright-field counterstains: haematoxylin nuclei and eosin, in the canonical raster.

Haematoxylin stains nuclei blue-purple: keratinocytes (a dense palisade of
columnar basal nuclei, round spinous nuclei, flattened granular nuclei),
dermal fibroblasts, endothelial cells of vessels, Schwann cells in nerve
bundles and the epithelium of sweat-gland tubules.  Eosin stains the cytoplasm
and the extracellular matrix pink: collagen bundles of the dermis strongest,
the epidermis paler, the stratum corneum pink.

Nuclei are kept clear of the counted fibres near their DEJ crossings, so a
counterstained section has the same unambiguous truth as an unstained one.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from ienfd.synthetic._canvas import Canvas
from ienfd.synthetic._extras import Extras
from ienfd.synthetic._geometry import Anatomy
from ienfd.synthetic._render import smooth_field, stamp_ellipses

__all__ = ["EOSIN_OD", "HAEMATOXYLIN_OD", "eosin_map", "nuclei_map"]

# Optical-density colour vectors (R, G, B), Ruifrok & Johnston 2001,
# Anal Quant Cytol Histol 23:291.
HAEMATOXYLIN_OD = np.array([0.650, 0.704, 0.286])
EOSIN_OD = np.array([0.072, 0.990, 0.105])

# Nuclei keep this far (µm, beyond their own size) from counted fibres within
# NEAR_CROSSING_UM of the DEJ.
_FIBRE_CLEARANCE_UM = 0.8
_NEAR_CROSSING_UM = 8.0


class _Nuclei:
    """Collects nuclei (centre, semi-axes, angle, weight) in µm, then stamps them."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        v: np.ndarray,
        u: np.ndarray,
        along: np.ndarray,
        across: np.ndarray,
        angle: np.ndarray,
        weight: np.ndarray,
    ) -> None:
        n = len(v)
        self.parts.append(
            tuple(
                np.broadcast_to(np.asarray(x, float), (n,)).copy()
                for x in (v, u, along, across, angle, weight)
            )
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            return tuple(np.zeros(0) for _ in range(6))
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(6))


def _epidermal_nuclei(nuc: _Nuclei, anat: Anatomy, rng: np.random.Generator) -> None:
    lay = anat.layers
    # basal layer: a palisade of columnar nuclei standing on the DEJ
    pts, length = lay.curve_points(lay.dej)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    pos = np.cumsum(rng.uniform(4.0, 6.5, int(length / 4.0) + 2))
    pos = pos[pos < arc[-1]]
    u = np.interp(pos, arc, pts[:, 1])
    slope = np.interp(u, lay.u, np.gradient(lay.dej, lay.u))
    norm = np.hypot(1.0, slope)
    up_v, up_u = -1.0 / norm, slope / norm  # unit normal pointing into the epidermis
    lift = rng.uniform(2.6, 3.6, len(u))
    v = lay.at(lay.dej, u) + lift * up_v
    u = u + lift * up_u
    n = len(u)
    nuc.add(
        v,
        u,
        rng.uniform(2.8, 3.6, n),
        rng.uniform(1.6, 2.1, n),
        np.arctan2(up_v, up_u) + rng.normal(0.0, 0.15, n),
        rng.uniform(0.85, 1.0, n),
    )
    # spinous and granular layers
    u_lo, u_hi = float(lay.edge_left.min()), float(lay.edge_right.max())
    area = (u_hi - u_lo) * float(np.mean(lay.dej - lay.surface))
    n = int(rng.poisson(area / 70.0))
    u = rng.uniform(u_lo, u_hi, n)
    s, d = lay.at(lay.surface, u), lay.at(lay.dej, u)
    v = s + rng.uniform(0.0, 1.0, n) * (d - s)
    keep = (d - v > 7.5) & (v - s > 2.0)
    u, v, s = u[keep], v[keep], s[keep]
    n = len(u)
    granular = v - s < 9.0
    grad_s = np.interp(u, lay.u, np.gradient(lay.surface, lay.u))
    nuc.add(
        v,
        u,
        np.where(granular, rng.uniform(3.0, 4.0, n), rng.uniform(2.7, 3.5, n)),
        np.where(granular, rng.uniform(1.0, 1.4, n), rng.uniform(2.2, 2.9, n)),
        np.where(granular, np.arctan(grad_s), rng.uniform(0.0, np.pi, n)),
        np.where(granular, rng.uniform(0.8, 1.0, n), rng.uniform(0.5, 0.8, n)),
    )


def _dermal_nuclei(nuc: _Nuclei, anat: Anatomy, extras: Extras, rng: np.random.Generator) -> None:
    lay = anat.layers
    u_lo, u_hi = float(lay.edge_left.min()), float(lay.edge_right.max())
    depth = float(np.mean(lay.bottom - lay.dej))
    # fibroblasts: spindles along the collagen, denser in the papillary dermis
    n = int(rng.poisson((u_hi - u_lo) * depth / 800.0))
    u = rng.uniform(u_lo, u_hi, n)
    d = lay.at(lay.dej, u)
    v = d + 1.5 + rng.power(0.6, n) * (lay.at(lay.bottom, u) - d - 1.5)
    nuc.add(
        v,
        u,
        rng.uniform(3.5, 6.0, n),
        rng.uniform(0.7, 1.1, n),
        rng.normal(0.0, 0.3, n),
        rng.uniform(0.8, 1.0, n),
    )
    # endothelium on vessel walls, epithelium of gland tubules
    for e in [*anat.ellipses, *extras.vessels]:
        ring = 1.0 if e.kind == "vessel" else 0.85
        k = max(2, int(2 * math.pi * max(e.a, e.b) / (9.0 if e.kind == "vessel" else 5.5)))
        t = rng.uniform(0, 2 * np.pi) + np.linspace(0, 2 * np.pi, k, endpoint=False)
        x, y = e.a * ring * np.cos(t), e.b * ring * np.sin(t)
        if e.kind == "vessel":
            inset = e.wall * 0.5
            x, y = x * (1 - inset / e.a), y * (1 - inset / e.b)
        ca, sa = math.cos(e.angle), math.sin(e.angle)
        uu = e.u + x * ca - y * sa
        vv = e.v + x * sa + y * ca
        dx, dy = -e.a * np.sin(t), e.b * np.cos(t)  # tangent of the outline
        tangent = np.arctan2(dx * sa + dy * ca, dx * ca - dy * sa)
        flat = e.kind == "vessel"
        nuc.add(
            vv,
            uu,
            np.full(k, 2.8 if flat else 2.2),
            np.full(k, 0.9 if flat else 1.9),
            tangent,
            rng.uniform(0.8, 1.0, k),
        )
    # Schwann cells along nerve bundles and trunks
    for b in [*anat.bundles, *extras.trunks]:
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(b.v), np.diff(b.u)))])
        r = float(b.radius.mean())
        k = int(rng.poisson(max(arc[-1], 2 * r) * r / 30.0)) + 1
        pos = rng.uniform(0, arc[-1], k)
        i = np.clip(np.searchsorted(arc, pos), 1, len(arc) - 1)
        dv, du = b.v[i] - b.v[i - 1], b.u[i] - b.u[i - 1]
        ang = np.arctan2(dv, du)
        off = rng.uniform(-0.85, 0.85, k) * b.radius[i]
        long_cut = arc[-1] > 2 * r
        nuc.add(
            b.v[i] + off * np.cos(ang),
            b.u[i] - off * np.sin(ang),
            np.full(k, 3.5 if long_cut else 1.6),
            np.full(k, 0.9 if long_cut else 1.4),
            ang,
            rng.uniform(0.7, 0.95, k),
        )


def nuclei_map(
    cv: Canvas, anat: Anatomy, extras: Extras, rng: np.random.Generator, *, lumen: np.ndarray
) -> tuple[np.ndarray, int]:
    """Haematoxylin-stained nuclei (0-1, with chromatin texture) and their number.

    Parameters
    ----------
    cv : Canvas
        The canonical raster.
    anat : Anatomy
        Layers, vessels, glands and bundles, and the counted fibres to keep clear of.
    extras : Extras
        Superficial vessels and trunks (get their own nuclei).
    rng : numpy.random.Generator
        The appearance stream.
    lumen : (M, N) ndarray
        Lumens of vessels and glands (0-1), where no nucleus lies.

    Returns
    -------
    nuclei : (M, N) ndarray of float32
    count : int
    """
    nuc = _Nuclei()
    _epidermal_nuclei(nuc, anat, rng)
    _dermal_nuclei(nuc, anat, extras, rng)
    v, u, along, across, angle, weight = nuc.arrays()
    lay = anat.layers
    near = [
        np.column_stack([f.v, f.u])[np.abs(lay.at(lay.dej, f.u) - f.v) <= _NEAR_CROSSING_UM]
        for f in anat.fibres
        if f.kind == "ienf"
    ]
    keep_pts = np.concatenate(near) if near else np.zeros((0, 2))
    if len(keep_pts) and len(v):
        dist, _ = cKDTree(keep_pts).query(np.column_stack([v, u]))
        ok = dist > np.maximum(along, across) + _FIBRE_CLEARANCE_UM
        v, u, along, across, angle, weight = (x[ok] for x in (v, u, along, across, angle, weight))
    canvas = np.zeros(cv.shape, np.float32)
    rows, cols = cv.px(v, u)
    stamp_ellipses(canvas, rows, cols, along / cv.p, across / cv.p, angle, weight)
    chromatin = smooth_field(rng, cv.shape, cv.p, 0.8)
    tissue = np.clip(cv.epi + cv.derm - np.clip(lumen, 0.0, 1.0), 0.0, 1.0)
    canvas *= np.clip(0.85 + 0.15 * chromatin, 0.55, 1.0) * tissue
    return canvas, len(v)


def eosin_map(
    cv: Canvas, t: dict[str, np.ndarray], ell: dict[str, np.ndarray], compact_corneum: bool
) -> np.ndarray:
    """Eosin optical density (before its strength): pink dermis, paler epidermis.

    Parameters
    ----------
    cv : Canvas
        The canonical raster (layer masks).
    t : dict of ndarray
        Tissue textures (collagen fields, clefts, cell borders, papillary weight).
    ell : dict of ndarray
        Vessel walls, lumens and gland epithelium.
    compact_corneum : bool
        A compact stratum corneum takes up more eosin than a basket-weave one.

    Returns
    -------
    eosin : (M, N) ndarray of float32
    """
    pap = t["papillary"]
    collagen = np.clip(0.17 + 0.06 * t["coll_coarse"] + 0.045 * t["coll_fine"], 0.03, None)
    derm = collagen * t["cleft"] * (0.7 + 0.3 * (1.0 - pap))
    lumen = np.clip(ell["lumen"], 0.0, 1.0)
    derm = derm * (1.0 - lumen) + 0.28 * ell["wall"] + 0.12 * ell["gland"]
    epi = 0.08 * (1.0 + 0.25 * t["cellnet"])
    corn = (0.22 if compact_corneum else 0.13) * (1.0 + 0.4 * t["lamellae"])
    out: np.ndarray = (cv.derm * derm + cv.epi * epi + cv.corn * corn).astype(np.float32)
    return out
