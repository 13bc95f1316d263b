"""Structures that change the look of a section but never its truth (canonical frame, µm).

Drawn after the anatomy from a random stream of their own, so that a section
with them has the same counted fibres, crossings, DEJ and surface as without:

- superficial nerve trunks and large vessels just below the DEJ, kept clear of
  every counted crossing and short-fibre end;
- tears (gaps in the dermis) and folds (bands of doubled tissue), kept
  >= 8 µm below the DEJ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ienfd.synthetic._geometry import U_STEP, Anatomy, Ellipse, Fibre
from ienfd.synthetic._render import smooth_noise_1d
from ienfd.synthetic._spec import SectionSpec

# Distance (µm) a superficial trunk or vessel keeps from every counted crossing.
CROSSING_CLEARANCE_UM = 5.0
# Distance (µm) a superficial trunk keeps from every short-fibre end.
SHORT_END_CLEARANCE_UM = 3.0
# Tears and folds stay at least this far (µm) below the DEJ.
DEJ_CLEARANCE_UM = 8.0


@dataclass
class Extras:
    """Appearance-only structures, in the canonical frame (µm)."""

    trunks: list[Fibre] = field(default_factory=list)
    vessels: list[Ellipse] = field(default_factory=list)
    tears: list[Fibre] = field(default_factory=list)  # centreline + half-width per sample
    folds: list[Fibre] = field(default_factory=list)
    gaps_um: list[float] = field(default_factory=list)  # realised DEJ gaps of trunks / vessels


def _min_v_below(lay_u: np.ndarray, dej: np.ndarray, u: np.ndarray, radius: float) -> np.ndarray:
    """Smallest depth v at each `u` where a disc of `radius` (µm) lies wholly below the DEJ.

    A disc centred at (v, u) misses the curve ``dej(u')`` and lies below it iff
    ``v >= dej(u') + sqrt(radius**2 - (u - u')**2)`` for every ``|u' - u| <= radius``.
    """
    n = math.ceil(radius / U_STEP)
    offsets = np.arange(-n, n + 1) * U_STEP
    lift = np.sqrt(np.clip(radius**2 - offsets**2, 0.0, None))
    out = np.empty(len(u))
    for k in range(0, len(u), 256):  # chunks keep the (points x window) array small
        uu = u[k : k + 256, None] + offsets[None, :]
        out[k : k + 256] = (np.interp(uu, lay_u, dej) + lift[None, :]).max(axis=1)
    return out


class _ExtrasBuilder:
    def __init__(self, rng: np.random.Generator, spec: SectionSpec, anat: Anatomy) -> None:
        self.rng, self.spec, self.anat = rng, spec, anat
        self.lay = anat.layers
        self.extras = Extras()
        keep = np.array(anat.crossings_um, float).reshape(-1, 2)
        ends = np.array(anat.short_ends_um, float).reshape(-1, 2)
        # points to keep clear of, with their clearance
        self.clear_pts = np.concatenate([keep, ends])
        self.clear_r = np.concatenate(
            [
                np.full(len(keep), CROSSING_CLEARANCE_UM),
                np.full(len(ends), SHORT_END_CLEARANCE_UM),
            ]
        )
        # occupied discs (v, u, r) of the anatomy's deep structures
        occ = [(e.v, e.u, max(e.a, e.b)) for e in anat.ellipses]
        for b in anat.bundles:
            every = max(1, int(b.radius.max()))
            occ += list(zip(b.v[::every], b.u[::every], b.radius[::every], strict=True))
        self.occupied: list[tuple[float, float, float]] = [
            (float(v), float(u), float(r)) for v, u, r in occ
        ]

    def count_for(self, per_mm: float) -> int:
        return int(self.rng.poisson(per_mm * self.spec.length_um / 1000.0))

    def _free(self, v: np.ndarray, u: np.ndarray, r: np.ndarray) -> bool:
        """No overlap (2 µm clearance) with the anatomy's vessels, glands and bundles."""
        if not self.occupied:
            return True
        occ = np.asarray(self.occupied)
        gap = np.hypot(v[:, None] - occ[None, :, 0], u[:, None] - occ[None, :, 1])
        return bool(np.all(gap > r[:, None] + occ[None, :, 2] + 2.0))

    def _push_clear(self, v: np.ndarray, u: np.ndarray, radius: float) -> np.ndarray:
        """Move a path deeper where it would come within clearance of a kept point."""
        if not len(self.clear_pts):
            return v
        for (pv, pu), c in zip(self.clear_pts, self.clear_r, strict=True):
            reach = radius + c
            du = u - pu
            near = np.abs(du) < reach
            if np.any(near):
                need = pv + np.sqrt(reach**2 - du[near] ** 2)
                v[near] = np.maximum(v[near], need)
        return v

    def trunks(self) -> None:
        """Thick nerve trunks following the DEJ at the asked-for gap."""
        rng, lay, spec = self.rng, self.lay, self.spec
        for _ in range(self.count_for(spec.superficial_trunks_per_mm)):
            for _attempt in range(20):
                r = float(rng.uniform(4.0, 12.0))
                gap = spec.superficial_gap_um * float(rng.uniform(0.7, 1.3))
                cross = rng.random() < 0.3
                length = float(rng.uniform(2.0, 6.0) if cross else rng.uniform(40.0, 250.0))
                length = min(length, spec.length_um - 2 * r)
                u0 = float(rng.uniform(r, spec.length_um - r - length))
                u = np.arange(u0, u0 + length + 0.25, 0.5)
                rr = r * np.clip(1 + smooth_noise_1d(rng, u, 40.0, 0.08), 0.85, 1.15)
                reach = float(rr.max()) + gap
                v = _min_v_below(lay.u, lay.dej, u, reach)
                if len(u) > 4:  # a trunk does not follow every papilla: running max, smoothed
                    v = ndimage.maximum_filter1d(v, size=int(30 / 0.5) | 1, mode="nearest")
                    v = ndimage.gaussian_filter1d(v, 8.0 / 0.5, mode="nearest")
                    v = np.maximum(v, _min_v_below(lay.u, lay.dej, u, reach))
                    v = v + smooth_noise_1d(rng, u, 50.0, 0.1 * gap)
                    v = np.maximum(v, _min_v_below(lay.u, lay.dej, u, reach))
                v = self._push_clear(v, u, float(rr.max()))
                if np.any(v + rr > lay.at(lay.bottom, u) - 2.0) or not self._free(v, u, rr):
                    continue
                self.occupied += list(zip(v[::4], u[::4], rr[::4], strict=True))
                weight = np.full(len(u), float(rng.uniform(0.8, 1.0)))
                self.extras.trunks.append(Fibre(v, u, rr, weight, "superficial_trunk"))
                self.extras.gaps_um.append(gap)
                break

    def vessels(self) -> None:
        """Large vessels right below the DEJ."""
        rng, lay, spec = self.rng, self.lay, self.spec
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        for _ in range(self.count_for(spec.superficial_vessels_per_mm)):
            for _attempt in range(20):
                b = float(rng.uniform(5.0, 15.0))
                a = b * float(rng.uniform(1.0, 2.2))
                gap = spec.superficial_gap_um * float(rng.uniform(0.7, 1.3))
                u0 = float(rng.uniform(a + 2, spec.length_um - a - 2))
                ang = math.atan(lay.slope(lay.dej, u0)) + float(rng.uniform(-0.2, 0.2))
                x, y = a * np.cos(t), b * np.sin(t)
                du = x * math.cos(ang) - y * math.sin(ang)
                dv = x * math.sin(ang) + y * math.cos(ang)
                need = _min_v_below(lay.u, lay.dej, u0 + du, gap) - dv
                v0 = float(need.max())
                vo, uo = v0 + dv, u0 + du
                if len(self.clear_pts):
                    d = np.hypot(
                        vo[:, None] - self.clear_pts[None, :, 0],
                        uo[:, None] - self.clear_pts[None, :, 1],
                    )
                    if np.any(d < self.clear_r[None, :]):
                        continue
                if np.any(vo > lay.at(lay.bottom, uo) - 2.0):
                    continue
                if not self._free(np.array([v0]), np.array([u0]), np.array([a])):
                    continue
                self.occupied.append((v0, u0, a))
                wall = float(rng.uniform(1.5, max(1.6, 0.3 * b)))
                self.extras.vessels.append(Ellipse(v0, u0, a, b, ang, wall, "vessel"))
                self.extras.gaps_um.append(gap)
                break

    def _dermal_path(
        self, length: float, half_width: np.ndarray, steep: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A gently curving path in the dermis whose band stays >= 8 µm below the DEJ."""
        rng, lay, spec = self.rng, self.lay, self.spec
        n = len(half_width)
        u0 = float(rng.uniform(0.0, spec.length_um))
        dej_here = float(lay.at(lay.dej, u0))
        bottom_here = float(lay.at(lay.bottom, u0))
        if bottom_here - dej_here < 2 * DEJ_CLEARANCE_UM + 10:
            return None
        v0 = float(rng.uniform(dej_here + DEJ_CLEARANCE_UM + 5, bottom_here - 3))
        ang0 = float(rng.uniform(-steep, steep)) + (math.pi if rng.random() < 0.5 else 0.0)
        s = np.linspace(0.0, length, n)
        ang = ang0 + smooth_noise_1d(rng, s, 30.0, 0.25)
        step = length / max(n - 1, 1)
        v = v0 + np.concatenate([[0.0], np.cumsum(step * np.sin(ang[:-1]))])
        u = u0 + np.concatenate([[0.0], np.cumsum(step * np.cos(ang[:-1]))])
        clear = _min_v_below(lay.u, lay.dej, u, DEJ_CLEARANCE_UM + float(half_width.max()))
        if np.any(v < clear):
            return None
        return v, u

    def tears(self) -> None:
        """Tears: lens-shaped gaps in the dermis, mostly along the section."""
        rng = self.rng
        for _ in range(self.count_for(self.spec.tears_per_mm)):
            for _attempt in range(20):
                length = float(rng.uniform(20.0, 150.0))
                n = max(3, int(length / 0.25))
                s = np.linspace(0.0, 1.0, n)
                wmax = float(rng.uniform(1.5, 10.0))
                half = wmax * np.sin(np.pi * s) ** 0.7 + 0.3
                half = half * np.clip(1 + smooth_noise_1d(rng, s * length, 6.0, 0.25), 0.4, 1.6)
                path = self._dermal_path(length, half, 0.5)
                if path is None:
                    continue
                v, u = path
                self.extras.tears.append(Fibre(v, u, half, np.ones(n), "tear"))
                break

    def folds(self) -> None:
        """Folds: bands of doubled tissue crossing the dermis obliquely."""
        rng = self.rng
        for _ in range(self.count_for(self.spec.folds_per_mm)):
            for _attempt in range(20):
                length = float(rng.uniform(60.0, 300.0))
                n = max(3, int(length / 0.25))
                half = np.full(n, float(rng.uniform(4.0, 15.0)))
                wobble = smooth_noise_1d(rng, np.arange(n) * 0.25, 40.0, 0.2)
                half = half * np.clip(1 + wobble, 0.6, 1.4)
                path = self._dermal_path(length, half, 1.2)
                if path is None:
                    continue
                v, u = path
                self.extras.folds.append(Fibre(v, u, half, np.ones(n), "fold"))
                break


def build_extras(rng: np.random.Generator, spec: SectionSpec, anat: Anatomy) -> Extras:
    """Draw the appearance-only structures of `spec` around an existing anatomy.

    Parameters
    ----------
    rng : numpy.random.Generator
        A stream of its own (not the anatomy's).
    spec : SectionSpec
        The section parameters (rates of trunks, vessels, tears and folds).
    anat : Anatomy
        The section's anatomy; not modified.

    Returns
    -------
    extras : Extras
    """
    b = _ExtrasBuilder(rng, spec, anat)
    if spec.superficial_trunks_per_mm > 0:
        b.trunks()
    if spec.superficial_vessels_per_mm > 0:
        b.vessels()
    if spec.tears_per_mm > 0:
        b.tears()
    if spec.folds_per_mm > 0:
        b.folds()
    return b.extras
