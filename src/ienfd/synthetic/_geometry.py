"""Geometry of a synthetic section in its canonical frame, in µm.

Canonical frame: ``u`` runs along the section (0 = nominal left cut edge,
``length_um`` = right cut edge), ``v`` is depth, increasing from above the
stratum corneum into the dermis.  Every layer boundary is a function ``v(u)``
sampled on a fine ``u`` grid; every nerve fibre is a dense polyline with a
radius and a brightness per sample.

Intraepidermal fibres are built in "DEJ-relative" coordinates ``(u, h)`` with
``h`` the height above the DEJ (``v = dej(u) - h``), with ``h`` strictly
increasing along the fibre, so that a counted fibre crosses the DEJ exactly
once, at ``h = 0``.  Every structure is checked against the exact layer
curves before it is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ienfd.synthetic._render import resample_polyline, smooth_noise_1d
from ienfd.synthetic._spec import SectionSpec

U_STEP = 0.1  # µm, sampling of the layer curves
EDGE_MARGIN_UM = 25.0  # crossings stay this far from the nominal cut edges
MIN_CROSSING_GAP_UM = 8.0  # distinct crossings are at least this far apart
_FLOOR_RELAX_UM = 8.0  # with fibre_routing 'below-ridges': depth over which fibres leave the DEJ


@dataclass
class Layers:
    """Layer boundaries ``v(u)`` on a fine grid and the two cut edges ``u(v)``."""

    u: np.ndarray
    surface: np.ndarray  # top of the living epidermis (granulosum / corneum boundary)
    dej: np.ndarray
    corneum_base: np.ndarray  # lower face of the stratum corneum (above a cleft if lifted)
    corneum_top: np.ndarray
    bottom: np.ndarray  # deep cut edge of the dermis
    plexus_ref: np.ndarray  # smooth reference below which the plexus runs
    edge_v: np.ndarray
    edge_left: np.ndarray
    edge_right: np.ndarray

    def at(self, curve: np.ndarray, u: np.ndarray | float) -> np.ndarray:
        """Linear interpolation of a layer curve at `u`."""
        return np.interp(u, self.u, curve)

    def slope(self, curve: np.ndarray, u: float) -> float:
        """d curve / d u at `u`."""
        g = np.gradient(curve, U_STEP)
        return float(np.interp(u, self.u, g))

    def edge_at(self, side: str, v: np.ndarray | float) -> np.ndarray:
        """u of the left or right cut edge at depth `v`."""
        return np.interp(v, self.edge_v, self.edge_left if side == "left" else self.edge_right)

    def curve_span(self, curve: np.ndarray) -> tuple[float, float]:
        """u where `curve` meets the left and the right cut edge."""
        ends = []
        for side, start in (("left", 0.0), ("right", float(self.u[-1]))):
            u = start
            for _ in range(60):
                u = float(self.edge_at(side, self.at(curve, u)))
            ends.append(u)
        return ends[0], ends[1]

    def curve_points(self, curve: np.ndarray) -> tuple[np.ndarray, float]:
        """(N, 2) (v, u) samples of `curve` from cut edge to cut edge, and its arc length."""
        ua, ub = self.curve_span(curve)
        inner = self.u[(self.u > ua) & (self.u < ub)]
        uu = np.concatenate([[ua], inner, [ub]])
        pts = np.column_stack([self.at(curve, uu), uu])
        length = float(np.hypot(*np.diff(pts, axis=0).T).sum())
        return pts, length


@dataclass
class Fibre:
    """A dense centreline polyline (µm) with radius (µm) and brightness per sample."""

    v: np.ndarray
    u: np.ndarray
    radius: np.ndarray
    weight: np.ndarray
    kind: str


@dataclass
class Ellipse:
    """An elliptic ring or disc (vessel, tubule, nerve cross-section), µm."""

    v: float
    u: float
    a: float  # semi-axis along `angle`
    b: float
    angle: float  # radians, from the u axis
    wall: float  # wall thickness (0 = filled disc)
    kind: str


@dataclass
class Anatomy:
    """Everything drawn, plus the truth about the counted fibres."""

    layers: Layers
    fibres: list[Fibre] = field(default_factory=list)
    bundles: list[Fibre] = field(default_factory=list)
    ellipses: list[Ellipse] = field(default_factory=list)
    crossings_um: list[tuple[float, float]] = field(default_factory=list)
    fibre_records: list[dict[str, object]] = field(default_factory=list)
    fragments_um: list[tuple[float, float]] = field(default_factory=list)
    short_ends_um: list[tuple[float, float]] = field(default_factory=list)
    n_epidermal_branches: int = 0
    n_short_fibres: int = 0
    n_parallel_dermal: int = 0
    n_dermal_branch_pairs: int = 0
    n_bundles: int = 0
    n_sweat_glands: int = 0
    n_swellings: int = 0


# ---------------------------------------------------------------------------
# layers
# ---------------------------------------------------------------------------


def _rete_profile(rng: np.random.Generator, u: np.ndarray, spec: SectionSpec) -> np.ndarray:
    """Downward rete ridges: irregular, asymmetric, flat-tipped bumps (µm, >= 0)."""
    amp, lam = spec.rete_amplitude_um, spec.rete_wavelength_um
    prof = np.zeros_like(u)
    if amp <= 0:
        return prof
    pos = float(u[0]) - lam * rng.random()
    while pos < u[-1] + lam:
        depth = amp * rng.uniform(0.35, 1.35)
        w_left = lam * rng.uniform(0.14, 0.28)
        w_right = lam * rng.uniform(0.14, 0.28)
        if spec.rete_width_factor != 1.0:
            w_left *= spec.rete_width_factor
            w_right *= spec.rete_width_factor
        power = rng.uniform(2.0, 3.5)
        x = u - pos
        w = np.where(x < 0, w_left, w_right)
        prof += depth * np.exp(-(np.abs(x / w) ** power))
        pos += lam * rng.uniform(0.6, 1.4)
    return prof


def ridge_floor(dej: np.ndarray, spec: SectionSpec) -> np.ndarray:
    """A smooth curve at or below the DEJ that passes under the rete-ridge tips."""
    size = int(max(spec.rete_wavelength_um, 40.0) * 0.8 / U_STEP) | 1
    floor = ndimage.maximum_filter1d(dej, size=size, mode="nearest")
    floor = ndimage.gaussian_filter1d(floor, size / 4.0, mode="nearest")
    out: np.ndarray = np.maximum(floor, dej)
    return out


def build_layers(rng: np.random.Generator, spec: SectionSpec) -> Layers:
    """Draw the surface, DEJ, corneum, deep edge and cut edges."""
    length, thick = spec.length_um, spec.epidermis_thickness_um
    u = np.arange(-60.0, length + 60.0 + U_STEP / 2, U_STEP)
    surface = smooth_noise_1d(rng, u, 220.0, 0.07 * thick) + smooth_noise_1d(rng, u, 25.0, 0.8)
    if spec.waviness_um > 0:  # the whole band undulates: every layer follows the surface
        surface = surface + smooth_noise_1d(rng, u, 600.0, spec.waviness_um)
    ridges = _rete_profile(rng, u, spec)
    inside = (u >= 0) & (u <= length)
    dej = surface + thick + ridges - ridges[inside].mean() + smooth_noise_1d(rng, u, 10.0, 0.8)
    dej = np.maximum(dej, surface + 0.35 * thick)

    corneum = spec.corneum_thickness_um * np.clip(1 + smooth_noise_1d(rng, u, 80.0, 0.25), 0.3, 1.8)
    lift = smooth_noise_1d(rng, u, 120.0, 1.0)
    if spec.corneum_detachment > 0 and spec.corneum_thickness_um > 0:
        thr = float(np.quantile(lift[inside], 1.0 - spec.corneum_detachment))
        gap = rng.uniform(3.0, 12.0) * np.clip((lift - thr) / 0.4, 0.0, 1.0)
    else:
        gap = np.zeros_like(u)
    corneum_base = surface - gap
    corneum_top = corneum_base - corneum

    bottom = surface + thick + spec.dermis_depth_um + smooth_noise_1d(rng, u, 60.0, 6.0)
    bottom = np.maximum(bottom, dej + 30.0)
    sigma = max(spec.rete_wavelength_um, 40.0) * 0.6 / U_STEP
    plexus_ref = (
        ndimage.gaussian_filter1d(dej, sigma, mode="nearest") + 0.5 * spec.rete_amplitude_um
    )
    if spec.fibre_routing == "below-ridges":
        plexus_ref = ridge_floor(dej, spec)

    shift = 12.0 - float(corneum_top.min())
    surface, dej, corneum_base, corneum_top, bottom, plexus_ref = (
        a + shift for a in (surface, dej, corneum_base, corneum_top, bottom, plexus_ref)
    )
    edge_v = np.arange(float(corneum_top.min()) - 10.0, float(bottom.max()) + 10.0, 0.5)
    v_ref = float(dej[inside].mean())
    tilt_l, tilt_r = rng.uniform(-0.12, 0.12, size=2)
    edge_left = tilt_l * (edge_v - v_ref) + smooth_noise_1d(rng, edge_v, 25.0, 1.5)
    edge_right = length + tilt_r * (edge_v - v_ref) + smooth_noise_1d(rng, edge_v, 25.0, 1.5)
    return Layers(
        u,
        surface,
        dej,
        corneum_base,
        corneum_top,
        bottom,
        plexus_ref,
        edge_v,
        edge_left,
        edge_right,
    )


# ---------------------------------------------------------------------------
# nerve fibres
# ---------------------------------------------------------------------------


class _Builder:
    """Draws every nerve structure, checking each against the exact layer curves."""

    def __init__(self, rng: np.random.Generator, spec: SectionSpec, layers: Layers) -> None:
        self.rng = rng
        self.spec = spec
        self.lay = layers
        self.anat = Anatomy(layers=layers)
        self.step = min(0.25, spec.pixel_size_um / 2.5)
        dej_pts, _ = layers.curve_points(layers.dej)
        fine = dej_pts[:: max(1, int(0.2 / U_STEP))]
        self.dej_tree = cKDTree(fine)
        self.ienf_points: list[np.ndarray] = []
        self.floor = ridge_floor(layers.dej, spec) if spec.fibre_routing == "below-ridges" else None

    # -- helpers ------------------------------------------------------------

    def h_true(self, v: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Height above the DEJ (µm), measured vertically in the canonical frame."""
        return self.lay.at(self.lay.dej, u) - v

    def below_surface(self, v: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Depth below the top of the living epidermis (µm)."""
        return v - self.lay.at(self.lay.surface, u)

    def thickness(self, u: float) -> float:
        """Local epidermal thickness (µm) at `u`."""
        return float(self.lay.at(self.lay.dej, u) - self.lay.at(self.lay.surface, u))

    def u_range(self, margin: float = EDGE_MARGIN_UM) -> tuple[float, float]:
        return margin, self.spec.length_um - margin

    def finish(
        self,
        v: np.ndarray,
        u: np.ndarray,
        kind: str,
        *,
        base_radius: float | None = None,
        beaded: bool | None = None,
        weight: float | None = None,
        keep_bright: tuple[float, float] | None = None,
    ) -> Fibre:
        """Resample a centreline and give it radius (beads) and brightness profiles."""
        rng = self.rng
        pts, s = resample_polyline(np.column_stack([v, u]), self.step)
        r0 = base_radius if base_radius is not None else rng.uniform(0.25, 0.55)
        if self.spec.fibre_width_um > 0:  # same draws, radius mapped to the asked-for width
            r0 = 0.5 * self.spec.fibre_width_um * (r0 / 0.4) ** 0.4
        radius = np.full(s.shape, r0)
        if beaded is None:
            beaded = bool(rng.random() < self.spec.p_beaded)
        if beaded and s[-1] > 4:
            pos = rng.uniform(0.0, 4.0)
            while pos < s[-1]:
                big = rng.random() < 0.33
                rb = max(r0 + 0.2, rng.uniform(0.8, 1.25)) if big else r0 + rng.uniform(0.1, 0.3)
                radius = np.maximum(radius, r0 + (rb - r0) * np.exp(-0.5 * ((s - pos) / 0.55) ** 2))
                if 2 * rb > 1.5 and kind in ("ienf", "epidermal_branch", "fragment"):
                    self.anat.n_swellings += 1
                pos += rng.uniform(3.0, 10.0)
        taper = np.clip((s[-1] - s) / 2.0, 0.55, 1.0)
        radius = radius * taper
        w0 = weight if weight is not None else rng.uniform(0.75, 1.0)
        bright = w0 * np.clip(0.85 + smooth_noise_1d(rng, s, 12.0, 0.15), 0.45, 1.0)
        if keep_bright is not None:
            near = (s >= keep_bright[0]) & (s <= keep_bright[1])
            bright[near] = np.maximum(bright[near], 0.8 * w0)
        return Fibre(pts[:, 0], pts[:, 1], radius, bright, kind)

    def rising(
        self,
        *,
        u_ref: float,
        h_ref: float,
        h_from: float,
        h_to: float,
        slope: float,
        wiggle: float,
        scale: float,
        pin: tuple[float, float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Monotone-in-h path ``u(h)`` through ``(h_ref, u_ref)``; optional second pin (h, u)."""
        n = max(3, int(abs(h_to - h_from) / 0.1) + 1)
        h = np.linspace(h_from, h_to, n)
        if h_from < h_ref < h_to:
            h = np.union1d(h, [h_ref])
        m = smooth_noise_1d(self.rng, h, scale, wiggle)
        m = m + smooth_noise_1d(self.rng, h, 4.0, 0.3 + 0.3 * wiggle)  # small kinks
        u = u_ref + slope * (h - h_ref) + m - float(np.interp(h_ref, h, m))
        if pin is not None:
            h_pin, u_pin = pin
            miss = u_pin - float(np.interp(h_pin, h, u))
            ramp = np.clip((h - h_ref) / (h_pin - h_ref), 0.0, 1.0)
            u = u + miss * ramp
        return u, h

    def to_canonical(
        self, u: np.ndarray, h: np.ndarray, *, anchor: float, relax: float = 6.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Map ``(u, h)`` to canonical ``(v, u)``.

        Below the DEJ and at it the path follows the DEJ contour (``v = dej(u) - h``);
        inside the epidermis it relaxes over `relax` µm to a straight frame anchored
        at the crossing column `anchor`, so high fibres do not mimic the ridges.  With
        ``fibre_routing='below-ridges'`` the dermal part also relaxes, over 8 µm below
        the DEJ, to a floor under the ridge tips (``v >= dej(u) - h`` still holds).
        """
        d = self.lay.at(self.lay.dej, u)
        d0 = float(self.lay.at(self.lay.dej, anchor))
        b = np.where(h > 0, np.exp(-np.clip(h, 0, None) / relax), 1.0)
        v = d0 + (d - d0) * b - h
        if self.floor is not None:  # below the DEJ, leave its outline for the ridge floor
            floor = self.lay.at(self.floor, u)
            e = np.exp(np.clip(h, None, 0.0) / _FLOOR_RELAX_UM)
            v = np.where(h < 0, floor + (d - floor) * e - h, v)
        return v, u

    def epidermal_ok(self, v: np.ndarray, u: np.ndarray, h: np.ndarray) -> bool:
        """Epidermal samples stay above the DEJ and >= 2.5 µm below the surface."""
        up = h > 0.05
        if not np.any(up):
            return True
        ht = self.h_true(v[up], u[up])
        return bool(np.all(ht > 0) and np.all(self.below_surface(v[up], u[up]) > 2.5))

    def crossing_slope(self, u_c: float) -> float:
        """Slope du/dh for a crossing at `u_c`: about the DEJ normal, scattered +-60 deg."""
        s = self.lay.slope(self.lay.dej, u_c)
        normal = math.atan(s / (1.0 + s * s))
        ang = normal + float(np.clip(self.rng.normal(0.0, math.radians(24)), -1.0, 1.0))
        return math.tan(float(np.clip(ang, -math.radians(60), math.radians(60))))

    def dermal_origin(self, u: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Prepend a lateral run along the plexus depth (the fibre leaves the plexus)."""
        run = self.rng.uniform(8.0, 40.0)
        direction = -1.0 if self.rng.random() < 0.5 else 1.0
        uu = u[0] + direction * np.linspace(run, 0.0, max(3, int(run / 0.2)))
        hh = h[0] + smooth_noise_1d(self.rng, uu, 15.0, 0.8)
        hh = np.minimum(hh, -4.0)
        hh[-1] = h[0]
        return np.concatenate([uu, u[1:]]), np.concatenate([hh, h[1:]])

    # -- counted fibres -----------------------------------------------------

    def _free(self, u_c: float, taken: list[float]) -> bool:
        lo, hi = self.u_range()
        return lo <= u_c <= hi and all(abs(u_c - t) >= MIN_CROSSING_GAP_UM for t in taken)

    def _draw_crossing(self, taken: list[float]) -> float | None:
        lo, hi = self.u_range()
        # uniform along the DEJ arc length
        uu = self.lay.u[(self.lay.u >= lo) & (self.lay.u <= hi)]
        vv = self.lay.at(self.lay.dej, uu)
        s = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(uu), np.diff(vv)))])
        for _ in range(200):
            u_c = float(np.interp(self.rng.uniform(0, s[-1]), s, uu))
            if self._free(u_c, taken):
                return u_c
        return None

    def _epidermal_part(
        self, u_c: float, h_start: float, slope: float, pin: tuple[float, float] | None
    ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Dermal and epidermal path of one counted fibre through (0, u_c)."""
        thick = self.thickness(u_c)
        for _ in range(30):
            h_end = max(6.0, self.rng.uniform(0.15, 0.9) * thick)
            h_end = min(h_end, thick - 5.0)
            wiggle = self.rng.uniform(1.0, 4.5)
            u, h = self.rising(
                u_ref=u_c,
                h_ref=0.0,
                h_from=h_start,
                h_to=h_end,
                slope=slope,
                wiggle=wiggle,
                scale=self.rng.uniform(8.0, 22.0),
                pin=pin,
            )
            v, u = self.to_canonical(u, h, anchor=u_c)
            if self.epidermal_ok(v, u, h):
                return u, h, h_end
            slope *= 0.7
        return None

    def _add_epidermal_branches(
        self, u: np.ndarray, h: np.ndarray, u_c: float, slope: float
    ) -> int:
        rng = self.rng
        n_wanted = 1 + int(rng.random() < 0.3)
        made = 0
        h_end = float(h[-1])
        for _ in range(n_wanted * 10):
            if made == n_wanted or h_end < 10:
                break
            h_b = rng.uniform(4.0, h_end - 3.0)
            u_b = float(np.interp(h_b, h, u))
            thick = self.thickness(u_b)
            top = min(h_b + rng.uniform(6.0, 35.0), thick - 5.0)
            if top - h_b < 4.0:
                continue
            bslope = slope + (1 if rng.random() < 0.5 else -1) * rng.uniform(0.5, 1.6)
            bu, bh = self.rising(
                u_ref=u_b,
                h_ref=h_b,
                h_from=h_b,
                h_to=top,
                slope=bslope,
                wiggle=rng.uniform(0.5, 2.5),
                scale=rng.uniform(6.0, 15.0),
            )
            bv, bu = self.to_canonical(bu, bh, anchor=u_c)
            if not self.epidermal_ok(bv, bu, bh):
                continue
            fib = self.finish(bv, bu, "epidermal_branch", weight=rng.uniform(0.65, 0.95))
            self.anat.fibres.append(fib)
            self.ienf_points.append(np.column_stack([fib.v, fib.u]))
            made += 1
        return made

    def counted_fibres(self) -> None:
        """Intraepidermal fibres crossing the DEJ, single or dermal-branched pairs."""
        rng, anat, spec = self.rng, self.anat, self.spec
        _, surface_len = self.lay.curve_points(self.lay.surface)
        target = round(spec.density_per_mm * surface_len / 1000.0)
        taken: list[float] = []
        attempts = 0
        while len(anat.crossings_um) < target and attempts < 20 * target + 20:
            attempts += 1
            pair = target - len(anat.crossings_um) >= 2 and rng.random() < spec.p_dermal_branch
            u_c = self._draw_crossing(taken)
            if u_c is None:
                continue
            if pair:
                u_c2 = u_c + (1 if rng.random() < 0.5 else -1) * rng.uniform(10.0, 30.0)
                if not self._free(u_c2, [*taken, u_c]):
                    continue
                if self._pair(u_c, u_c2):
                    taken += [u_c, u_c2]
            elif self._single(u_c):
                taken.append(u_c)

    def _record(self, u_c: float, u: np.ndarray, h: np.ndarray, kind: str, n_branches: int) -> None:
        v_c = float(self.lay.at(self.lay.dej, u_c))
        v_end, u_end = self.to_canonical(u[-1:], h[-1:], anchor=u_c)
        self.anat.crossings_um.append((v_c, u_c))
        self.anat.fibre_records.append(
            {
                "kind": kind,
                "crossing_um": (v_c, u_c),
                "end_um": (float(v_end[0]), float(u_end[0])),
                "height_above_dej_um": float(h[-1]),
                "n_epidermal_branches": n_branches,
            }
        )

    def _single(self, u_c: float) -> bool:
        rng = self.rng
        slope = self.crossing_slope(u_c)
        h0 = -rng.uniform(10.0, 35.0)
        part = self._epidermal_part(u_c, h0, slope, None)
        if part is None:
            return False
        u, h, _ = part
        u_full, h_full = self.dermal_origin(u, h)
        v_full, u_full = self.to_canonical(u_full, h_full, anchor=u_c)
        s_cross = self._arc_at(v_full, u_full, int(np.argmin(np.abs(h_full))))
        fib = self.finish(v_full, u_full, "ienf", keep_bright=(s_cross - 3, s_cross + 3))
        self.anat.fibres.append(fib)
        self.ienf_points.append(np.column_stack([fib.v, fib.u]))
        n_br = 0
        if rng.random() < self.spec.p_epidermal_branch:
            n_br = self._add_epidermal_branches(u, h, u_c, slope)
            self.anat.n_epidermal_branches += n_br
        self._record(u_c, u, h, "single", n_br)
        return True

    @staticmethod
    def _arc_at(v: np.ndarray, u: np.ndarray, idx: int) -> float:
        return float(np.hypot(np.diff(v[: idx + 1]), np.diff(u[: idx + 1])).sum())

    def _pair(self, u_c1: float, u_c2: float) -> bool:
        """Two fibres branching from one dermal trunk, crossing the DEJ separately."""
        rng = self.rng
        h_b = -rng.uniform(7.0, 18.0)
        u_b = 0.5 * (u_c1 + u_c2) + rng.uniform(-4.0, 4.0)
        parts = []
        for u_c in (u_c1, u_c2):
            slope = (u_c - u_b) / (-h_b) * 0.4
            part = self._epidermal_part(u_c, h_b, slope, (h_b, u_b))
            if part is None:
                return False
            parts.append((u_c, part[0], part[1]))
        h0 = h_b - rng.uniform(8.0, 25.0)
        tu, th = self.rising(
            u_ref=u_b,
            h_ref=h_b,
            h_from=h0,
            h_to=h_b,
            slope=rng.uniform(-0.8, 0.8),
            wiggle=1.5,
            scale=12.0,
        )
        tu, th = self.dermal_origin(tu, th)
        tv, tu = self.to_canonical(tu, th, anchor=u_b)
        self.anat.fibres.append(self.finish(tv, tu, "dermal_trunk"))
        for u_c, u, h in parts:
            v, uu = self.to_canonical(u, h, anchor=u_c)
            s_cross = self._arc_at(v, uu, int(np.argmin(np.abs(h))))
            fib = self.finish(v, uu, "ienf", keep_bright=(s_cross - 3, s_cross + 3))
            self.anat.fibres.append(fib)
            self.ienf_points.append(np.column_stack([fib.v, fib.u]))
            self._record(u_c, u, h, "dermal_branch_pair", 0)
        self.anat.n_dermal_branch_pairs += 1
        return True

    # -- uncounted structures -----------------------------------------------

    def count_for(self, per_mm: float) -> int:
        return int(self.rng.poisson(per_mm * self.spec.length_um / 1000.0))

    def plexus(self) -> None:
        """Subepidermal plexus: fibres roughly parallel to the DEJ, 5-40 µm below it."""
        rng, lay = self.rng, self.lay
        for _ in range(self.count_for(self.spec.plexus_fibres_per_mm)):
            length = min(rng.uniform(60.0, 350.0), self.spec.length_um)
            u0 = rng.uniform(-20.0, self.spec.length_um + 20.0 - length)
            u = np.arange(u0, u0 + length, 0.2)
            depth = np.clip(rng.uniform(0.0, 30.0) + smooth_noise_1d(rng, u, 50.0, 6.0), -5.0, 35.0)
            v = np.maximum(lay.at(lay.plexus_ref, u) + depth, lay.at(lay.dej, u) + 5.0)
            v = ndimage.gaussian_filter1d(v, 10.0, mode="nearest")
            v = np.maximum(v, lay.at(lay.dej, u) + 5.0)
            v = v + np.abs(smooth_noise_1d(rng, u, 18.0, 2.0))
            u = u + smooth_noise_1d(rng, u, 20.0, 2.0)
            v = np.maximum(v, lay.at(lay.dej, u) + 4.0)  # never reaches the DEJ
            self.anat.fibres.append(
                self.finish(
                    v,
                    u,
                    "plexus",
                    base_radius=rng.uniform(0.35, 0.75),
                    weight=rng.uniform(0.6, 1.0),
                )
            )

    def parallel_dermal(self) -> None:
        """Dermal fibres hugging the DEJ 2-8 µm below it (never crossing)."""
        rng, lay = self.rng, self.lay
        n = self.count_for(self.spec.parallel_dermal_per_mm)
        made = 0
        for _ in range(n * 20):
            if made == n:
                break
            length = rng.uniform(30.0, 150.0)
            lo, hi = self.u_range(10.0)
            u0 = rng.uniform(lo, max(lo + 1, hi - length))
            uu = np.arange(u0, u0 + length, 0.2)
            s = np.gradient(lay.at(lay.dej, uu), uu)
            norm = np.hypot(1.0, s)
            d = np.clip(rng.uniform(3.0, 7.0) + smooth_noise_1d(rng, uu, 25.0, 1.2), 2.5, 7.5)
            v = lay.at(lay.dej, uu) + d / norm
            u = uu - d * s / norm
            if np.any(np.diff(u) <= 0):
                continue
            dist, _ = self.dej_tree.query(np.column_stack([v, u]))
            if np.any(dist < 2.0) or np.any(self.h_true(v, u) > -1.0) or np.any(dist > 8.5):
                continue
            self.anat.fibres.append(
                self.finish(v, u, "parallel_dermal", weight=rng.uniform(0.7, 1.0))
            )
            made += 1
        self.anat.n_parallel_dermal = made

    def short_fibres(self) -> None:
        """Fibres rising from the plexus that stop 2-10 µm below the DEJ."""
        rng = self.rng
        n = self.count_for(self.spec.short_fibres_per_mm)
        made = 0
        for _ in range(n * 20):
            if made == n:
                break
            lo, hi = self.u_range()
            u_e = rng.uniform(lo, hi)
            h_end = -rng.uniform(2.5, 10.0)
            u, h = self.rising(
                u_ref=u_e,
                h_ref=h_end,
                h_from=h_end - rng.uniform(10.0, 30.0),
                h_to=h_end,
                slope=rng.uniform(-1.0, 1.0),
                wiggle=rng.uniform(0.5, 3.0),
                scale=12.0,
            )
            u, h = self.dermal_origin(u, h)
            v, u = self.to_canonical(u, h, anchor=u_e)
            dist, _ = self.dej_tree.query(np.column_stack([v, u]))
            if dist.min() < 2.0 or dist[-1] > 10.5 or np.any(self.h_true(v, u) > -1.5):
                continue
            self.anat.fibres.append(self.finish(v, u, "short"))
            self.anat.short_ends_um.append((float(v[-1]), float(u[-1])))
            made += 1
        self.anat.n_short_fibres = made

    def fragments(self) -> None:
        """Epidermal fragments >= 5 µm from the DEJ, not touching counted fibres."""
        rng = self.rng
        n = self.count_for(self.spec.fragments_per_mm)
        ienf = np.concatenate(self.ienf_points) if self.ienf_points else np.zeros((0, 2))
        ienf_tree = cKDTree(ienf) if len(ienf) else None
        made = 0
        for _ in range(n * 30):
            if made == n:
                break
            lo, hi = self.u_range(15.0)
            u0 = rng.uniform(lo, hi)
            thick = self.thickness(u0)
            if thick < 20:
                continue
            v0 = float(self.lay.at(self.lay.surface, u0)) + rng.uniform(4.0, thick - 6.0)
            length = rng.uniform(5.0, 25.0)
            ang = rng.uniform(0, 2 * np.pi) + np.cumsum(
                rng.normal(0.0, 0.05, int(length / 0.2) + 1)
            )
            v = v0 + np.concatenate([[0.0], np.cumsum(0.2 * np.sin(ang[:-1]))])
            u = u0 + np.concatenate([[0.0], np.cumsum(0.2 * np.cos(ang[:-1]))])
            dist, _ = self.dej_tree.query(np.column_stack([v, u]))
            if dist.min() < 5.5 or np.any(self.h_true(v, u) <= 0):
                continue
            if np.any(self.below_surface(v, u) < 2.5):
                continue
            if ienf_tree is not None:
                dd, _ = ienf_tree.query(np.column_stack([v, u]))
                if dd.min() < 4.0:
                    continue
            self.anat.fibres.append(self.finish(v, u, "fragment", weight=rng.uniform(0.6, 1.0)))
            mid = len(v) // 2
            self.anat.fragments_um.append((float(v[mid]), float(u[mid])))
            made += 1

    def deep_dermis(self) -> None:
        """Thick nerve bundles (with ascending fibres), vessels and sweat glands."""
        rng, lay, spec = self.rng, self.lay, self.spec
        inside = (lay.u >= 0) & (lay.u <= spec.length_um)
        dej_mean = float(lay.dej[inside].mean())
        dej_max = float(lay.dej[inside].max())
        bottom_min = float(lay.bottom[inside].min())
        top = dej_max + 25.0
        room = bottom_min - 12.0 - top

        # sweat glands: coils of tubules near the deep edge
        glands: list[tuple[float, float, float]] = []
        if room > 90:
            for _ in range(self.count_for(spec.sweat_glands_per_mm)):
                rad = min(rng.uniform(40.0, 75.0), 0.45 * spec.length_um)
                cu = rng.uniform(rad, spec.length_um - rad)
                cv = bottom_min - rng.uniform(rad * 0.6, rad + 10.0)
                cv = max(cv, top + rad * 0.5)
                glands.append((cv, cu, rad))
                self._gland(cv, cu, rad)
        self.anat.n_sweat_glands = len(glands)

        occupied: list[tuple[float, float, float]] = list(glands)

        def free(v: np.ndarray | float, u: np.ndarray | float, r: np.ndarray | float) -> bool:
            """No overlap (with 4 µm clearance) with glands, bundles or deep vessels."""
            if not occupied:
                return True
            occ = np.asarray(occupied)
            vv, uu, rr = (np.atleast_1d(np.asarray(x, float)) for x in (v, u, r))
            gap = np.hypot(vv[:, None] - occ[None, :, 0], uu[:, None] - occ[None, :, 1])
            return bool(np.all(gap > rr[:, None] + occ[None, :, 2] + 4.0))

        # nerve bundles
        n_b = self.count_for(spec.nerve_bundles_per_mm)
        for _ in range(n_b):
            if room < 20:
                break
            r = rng.uniform(3.0, 12.5)
            cross_section = rng.random() < 0.35
            length = rng.uniform(2.0, 10.0) if cross_section else rng.uniform(80.0, 500.0)
            u0 = rng.uniform(0.0, spec.length_um)
            v0 = rng.uniform(top + r, top + max(r + 1, room - r))
            ang = rng.uniform(-0.35, 0.35) if not cross_section else rng.uniform(0, np.pi)
            t = np.arange(0.0, length, 0.5)
            ang_t = ang + smooth_noise_1d(rng, t, 60.0, 0.15)
            v = v0 + np.concatenate([[0.0], np.cumsum(0.5 * np.sin(ang_t[:-1]))])
            u = u0 + np.concatenate([[0.0], np.cumsum(0.5 * np.cos(ang_t[:-1]))])
            keep = (v > dej_max + r + 10) & (v < lay.at(lay.bottom, u) - 2)
            if keep.sum() < 3:
                continue
            v, u = v[keep], u[keep]
            rr = r * np.clip(
                1 + smooth_noise_1d(rng, np.arange(len(v)) * 0.5, 40.0, 0.08), 0.8, 1.2
            )
            every = max(1, int(r))
            if not free(v[::every], u[::every], rr[::every]):
                continue
            occupied.extend(zip(v[::every], u[::every], rr[::every], strict=True))
            self.anat.bundles.append(
                Fibre(v, u, rr, np.full(len(v), rng.uniform(0.8, 1.0)), "bundle")
            )
            self.anat.n_bundles += 1
            # fibres leaving the bundle towards the plexus
            for _ in range(int(rng.integers(0, 3))):
                i = int(rng.integers(len(v)))
                u_s = float(u[i])
                ref = lay.dej if self.floor is None else self.floor  # where to_canonical measures h
                h_s = float(lay.at(ref, u_s)) - float(v[i]) + rr[i] * 0.8
                h_top = -rng.uniform(10.0, 30.0)
                if h_top <= h_s + 5:
                    continue
                au, ah = self.rising(
                    u_ref=u_s,
                    h_ref=h_s,
                    h_from=h_s,
                    h_to=h_top,
                    slope=rng.uniform(-1.2, 1.2),
                    wiggle=3.0,
                    scale=25.0,
                )
                av, au = self.to_canonical(au, ah, anchor=u_s)
                self.anat.fibres.append(
                    self.finish(av, au, "ascending", base_radius=rng.uniform(0.4, 0.8))
                )

        # vessels: papillary capillaries and deeper vessels
        for _ in range(self.count_for(spec.vessels_per_mm)):
            if rng.random() < 0.5:
                u0 = rng.uniform(5.0, spec.length_um - 5.0)
                v0 = float(lay.at(lay.dej, u0)) + rng.uniform(6.0, 30.0)
                a = rng.uniform(2.5, 5.0)
                self.anat.ellipses.append(
                    Ellipse(
                        v0, u0, a * rng.uniform(1.0, 2.0), a, rng.uniform(0, np.pi), 1.0, "vessel"
                    )
                )
            elif room > 30:
                b = rng.uniform(5.0, min(22.0, room / 3))
                u0 = rng.uniform(b, spec.length_um - b)
                v0 = rng.uniform(dej_mean + 40.0, bottom_min - b - 5)
                a = b * rng.uniform(1.0, 3.0)
                if v0 < float(lay.at(lay.dej, u0)) + a + 10 or not free(v0, u0, a):
                    continue
                occupied.append((v0, u0, a))
                wall = rng.uniform(1.5, max(1.6, 0.3 * b))
                ang = rng.uniform(-0.3, 0.3)
                self.anat.ellipses.append(Ellipse(v0, u0, a, b, ang, wall, "vessel"))
                if rng.random() < 0.5:
                    self._ring_fibre(v0, u0, a + 1.0, b + 1.0, ang)

    def _ring_fibre(self, v0: float, u0: float, a: float, b: float, ang: float) -> None:
        """A fine fibre running around part of a ring (perivascular / sudomotor)."""
        rng = self.rng
        t0 = rng.uniform(0, 2 * np.pi)
        t = t0 + np.linspace(0, rng.uniform(1.5, 4.5), 200)
        x, y = a * np.cos(t), b * np.sin(t)
        u = u0 + x * math.cos(ang) - y * math.sin(ang)
        v = v0 + x * math.sin(ang) + y * math.cos(ang)
        self.anat.fibres.append(self.finish(v, u, "autonomic", base_radius=rng.uniform(0.25, 0.45)))

    def _gland(self, cv: float, cu: float, rad: float) -> None:
        rng = self.rng
        placed: list[tuple[float, float, float]] = []
        for _ in range(300):
            if len(placed) >= 14:
                break
            r = rng.uniform(11.0, 18.0)
            rho, phi = rad * math.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
            v, u = cv + rho * math.sin(phi), cu + rho * math.cos(phi)
            if v > float(self.lay.at(self.lay.bottom, u)) - r - 3:
                continue
            if all(math.hypot(v - pv, u - pu) > r + pr + 2.0 for pv, pu, pr in placed):
                placed.append((v, u, r))
                asp = rng.uniform(1.0, 1.5)
                ang = rng.uniform(0, np.pi)
                self.anat.ellipses.append(Ellipse(v, u, r * asp, r, ang, 0.0, "tubule"))
                for _ in range(int(rng.integers(1, 4))):
                    self._ring_fibre(
                        v, u, r * asp + rng.uniform(0.8, 2.0), r + rng.uniform(0.8, 2.0), ang
                    )


def build_anatomy(rng: np.random.Generator, spec: SectionSpec) -> Anatomy:
    """Draw the layers and every structure of the section (canonical frame, µm)."""
    layers = build_layers(rng, spec)
    b = _Builder(rng, spec, layers)
    b.counted_fibres()
    b.plexus()
    b.parallel_dermal()
    b.short_fibres()
    b.fragments()
    b.deep_dermis()
    return b.anat
