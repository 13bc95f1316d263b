"""Render a :class:`SectionSpec` into an image with its exact truth."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ienfd.synthetic._appearance import stress_factors
from ienfd.synthetic._canvas import Canvas, soft
from ienfd.synthetic._counterstain import EOSIN_OD, HAEMATOXYLIN_OD, eosin_map, nuclei_map
from ienfd.synthetic._extras import Extras, build_extras
from ienfd.synthetic._geometry import Anatomy, Ellipse, Fibre, build_anatomy
from ienfd.synthetic._look import (
    BRIGHTFIELD_FIBRE_OD_FLOOR,
    CountedFibres,
    band_map,
    jpeg_roundtrip,
    membrane_dots,
    rotate_hue,
    vignette,
)
from ienfd.synthetic._render import (
    FrameMap,
    smooth_field,
    smooth_noise_1d,
    stamp_gaussians,
    stamp_tubes,
)
from ienfd.synthetic._spec import (
    FRAME_MARGIN_UM,
    GENERATOR_VERSION,
    SectionSpec,
    is_classic_appearance,
)

__all__ = ["SyntheticSection", "generate_section"]

# Optical-density colour vectors (R, G, B) of the bright-field components.
_CHROMOGEN_OD = {
    "sg": np.array([0.95, 0.85, 0.62]),  # Vector SG: blue-grey to black
    "dab": np.array([0.35, 0.73, 1.0]),  # DAB: brown (Ruifrok & Johnston 2001 vector)
}
_TISSUE_OD = np.array([0.55, 0.95, 1.25])  # unstained fixed tissue: pale tan / pink


@dataclass(frozen=True, eq=False)
class SyntheticSection:
    """A rendered synthetic section and its exact truth.

    Attributes
    ----------
    image : ndarray
        Bright-field: ``(M, N, 3) uint8`` RGB.  Fluorescence: ``(2, M, N)
        uint16``, channel 0 = PGP 9.5, channel 1 = collagen IV.
    channel_names : tuple of str
        ``("R", "G", "B")`` or ``("PGP9.5", "ColIV")``.
    truth : dict
        JSON-ready truth (see :func:`generate_section`).
    spec : SectionSpec
        The parameters the section was made from.
    epidermis_mask : (M, N) ndarray of bool
        Living epidermis (surface to DEJ) in the image frame.
    """

    image: np.ndarray
    channel_names: tuple[str, ...]
    truth: dict[str, Any]
    spec: SectionSpec
    epidermis_mask: np.ndarray = field(repr=False)


# Fibre kinds that may lie outside the focal plane of the 50-µm section.
_MAY_BLUR = ("plexus", "dermal_trunk", "ascending", "autonomic")


def _draw_fibres(cv: Canvas, fibres: list[Fibre], rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased fibres; some dermal fibres lie deeper in the section, out of focus."""
    out_of_focus = [f for f in fibres if f.kind in _MAY_BLUR and rng.random() < 0.35]
    ids = {id(f) for f in out_of_focus}
    canvas = _stamp_fibres(cv, [f for f in fibres if id(f) not in ids])
    if out_of_focus:
        blurred = _stamp_fibres(cv, out_of_focus)
        blurred = ndimage.gaussian_filter(blurred, 0.8 / cv.p, truncate=3.0)
        canvas = np.maximum(canvas, 0.9 * blurred)
    return canvas


def _stamp_fibres(cv: Canvas, fibres: list[Fibre]) -> np.ndarray:
    canvas = np.zeros(cv.shape, np.float32)
    if fibres:
        v = np.concatenate([f.v for f in fibres])
        u = np.concatenate([f.u for f in fibres])
        r = np.concatenate([f.radius for f in fibres]) / cv.p
        w = np.concatenate([f.weight for f in fibres])
        rows, cols = cv.px(v, u)
        stamp_tubes(canvas, rows, cols, r, w)
    return canvas


def _draw_bundles(
    cv: Canvas, bundles: list[Fibre], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Thick nerve bundles: textured fill (axons in fascicles) and the perineurial rim."""
    fill = np.zeros(cv.shape, np.float32)
    rim = np.zeros(cv.shape, np.float32)
    for b in bundles:
        rows, cols = cv.px(b.v, b.u)
        rmax = float(b.radius.max()) / cv.p + 3
        r0 = max(0, int(rows.min() - rmax))
        r1 = min(cv.shape[0], int(rows.max() + rmax) + 2)
        c0 = max(0, int(cols.min() - rmax))
        c1 = min(cv.shape[1], int(cols.max() + rmax) + 2)
        if r1 - r0 < 2 or c1 - c0 < 2:
            continue
        mask = np.ones((r1 - r0, c1 - c0), bool)
        radimg = np.zeros(mask.shape, np.float32)
        ri = np.clip(np.rint(rows).astype(int) - r0, 0, mask.shape[0] - 1)
        ci = np.clip(np.rint(cols).astype(int) - c0, 0, mask.shape[1] - 1)
        mask[ri, ci] = False
        radimg[ri, ci] = b.radius / cv.p
        dist, (ir, ic) = ndimage.distance_transform_edt(mask, return_indices=True)
        rad = radimg[ir, ic]
        cover = np.clip(rad + 0.5 - dist, 0.0, 1.0)
        # axons run along the bundle: stripes parallel to the centreline, broken up
        tex = smooth_field(rng, mask.shape, cv.p, 3.0)
        stripes = 0.5 + 0.5 * np.cos(2 * np.pi * dist * cv.p / 1.6 + 2.5 * tex)
        speckle = smooth_field(rng, mask.shape, cv.p, 1.0)
        inner = cover * np.clip(0.45 + 0.4 * stripes + 0.15 * speckle, 0.2, 1.0)
        inner *= float(b.weight[0])
        edge = np.exp(-0.5 * ((dist - rad) * cv.p / 0.8) ** 2).astype(np.float32)
        fill[r0:r1, c0:c1] = np.maximum(fill[r0:r1, c0:c1], inner)
        rim[r0:r1, c0:c1] = np.maximum(rim[r0:r1, c0:c1], edge)
    return fill, rim


def _draw_ellipses(cv: Canvas, ellipses: list[Ellipse]) -> dict[str, np.ndarray]:
    """Vessel walls and lumens, gland tubule epithelium and lumens, basement-membrane rings."""
    out = {k: np.zeros(cv.shape, np.float32) for k in ("wall", "lumen", "gland", "bm")}
    p = cv.p
    for e in ellipses:
        ext = max(e.a, e.b) + 4.0
        rr0, cc0 = cv.px(e.v - ext, e.u - ext)
        rr1, cc1 = cv.px(e.v + ext, e.u + ext)
        r0, r1 = max(0, int(rr0)), min(cv.shape[0], int(rr1) + 2)
        c0, c1 = max(0, int(cc0)), min(cv.shape[1], int(cc1) + 2)
        if r1 - r0 < 2 or c1 - c0 < 2:
            continue
        dv = cv.V[r0:r1, None] - e.v
        du = cv.U[None, c0:c1] - e.u
        ca, sa = math.cos(e.angle), math.sin(e.angle)
        x = du * ca + dv * sa
        y = -du * sa + dv * ca
        rho = np.sqrt((x / e.a) ** 2 + (y / e.b) ** 2) + 1e-6
        sd = (rho - 1.0) * np.hypot(x, y) / rho  # approx. signed distance to the outline, µm
        outer = soft(-sd, p)
        sl = (slice(r0, r1), slice(c0, c1))
        bm = np.exp(-0.5 * (sd / 0.7) ** 2).astype(np.float32)
        if e.kind == "vessel":
            inner = soft(-(sd + e.wall), p)
            out["wall"][sl] = np.maximum(out["wall"][sl], outer - inner)
            out["lumen"][sl] = np.maximum(out["lumen"][sl], inner)
            out["bm"][sl] = np.maximum(out["bm"][sl], bm + 0.6 * (outer - inner))
        else:
            lumen = soft(-(sd + 0.7 * min(e.a, e.b)), p)
            out["gland"][sl] = np.maximum(out["gland"][sl], outer - lumen)
            out["lumen"][sl] = np.maximum(out["lumen"][sl], lumen)
            out["bm"][sl] = np.maximum(out["bm"][sl], bm)
    return out


def _nuclei(cv: Canvas, anat: Anatomy, spec: SectionSpec, rng: np.random.Generator) -> np.ndarray:
    """Keratinocyte nuclei (columnar basal, flattened granular) and dermal fibroblasts."""
    lay, p = anat.layers, cv.p
    canvas = np.zeros(cv.shape, np.float32)
    u_lo, u_hi = float(lay.edge_left.min()), float(lay.edge_right.max())
    n = int(spec.length_um * spec.epidermis_thickness_um / 75.0)
    u = rng.uniform(u_lo, u_hi, n)
    s, d = lay.at(lay.surface, u), lay.at(lay.dej, u)
    v = s + rng.random(n) * (d - s)
    from_dej = d - v
    from_surface = v - s
    grad_d = np.interp(u, lay.u, np.gradient(lay.dej, lay.u))
    grad_s = np.interp(u, lay.u, np.gradient(lay.surface, lay.u))
    basal = from_dej < 9.0
    granular = from_surface < 12.0
    ang = np.where(basal, np.arctan(grad_d) + np.pi / 2, np.arctan(grad_s))
    s_along = np.where(basal, 2.6, np.where(granular, 2.8, 2.1)) * rng.uniform(0.85, 1.15, n)
    s_across = np.where(basal, 1.5, np.where(granular, 1.0, 1.8)) * rng.uniform(0.85, 1.15, n)
    rows, cols = cv.px(v, u)
    stamp_gaussians(canvas, rows, cols, s_along / p, s_across / p, ang, rng.uniform(0.6, 1.0, n))
    # fibroblasts: sparse, elongated along the collagen
    m = int(spec.length_um * spec.dermis_depth_um / 900.0)
    u = rng.uniform(u_lo, u_hi, m)
    v = lay.at(lay.dej, u) + rng.random(m) * (lay.at(lay.bottom, u) - lay.at(lay.dej, u))
    rows, cols = cv.px(v, u)
    stamp_gaussians(
        canvas,
        rows,
        cols,
        np.full(m, 3.2 / p),
        np.full(m, 0.9 / p),
        rng.normal(0, 0.35, m),
        rng.uniform(0.5, 1.0, m),
    )
    return canvas


def _debris(cv: Canvas, spec: SectionSpec, rng: np.random.Generator) -> np.ndarray:
    canvas = np.zeros(cv.shape, np.float32)
    area_mm2 = cv.shape[0] * cv.shape[1] * cv.p**2 / 1e6
    n = int(rng.poisson(spec.debris_per_mm2 * area_mm2))
    if n:
        rows = rng.uniform(0, cv.shape[0], n)
        cols = rng.uniform(0, cv.shape[1], n)
        sig = rng.uniform(0.4, 1.8, n) / cv.p
        stamp_gaussians(
            canvas,
            rows,
            cols,
            sig * rng.uniform(1, 2.5, n),
            sig,
            rng.uniform(0, np.pi, n),
            rng.uniform(0.4, 1.2, n),
        )
    return canvas


def _illumination(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray:
    """Uneven illumination: a linear ramp plus vignetting, mean about 1 - strength/2."""
    a = rng.uniform(0, 2 * np.pi)
    r = np.linspace(-1.0, 1.0, shape[0], dtype=np.float32)
    c = np.linspace(-1.0, 1.0, shape[1], dtype=np.float32)
    # ramp (r cos a + c sin a) / sqrt 2 + 1/2 and vignette (r^2 + c^2) / 2 are separable sums
    rows = 0.6 * (r * math.cos(a) / math.sqrt(2) + 0.25) + 0.2 * r**2
    cols = 0.6 * (c * math.sin(a) / math.sqrt(2) + 0.25) + 0.2 * c**2
    result: np.ndarray = (1.0 - strength * rows)[:, None] - (strength * cols)[None, :]
    return result.astype(np.float32, copy=False)


def _blur(img: np.ndarray, sigma_um: float, p: float) -> np.ndarray:
    sigma = math.hypot(sigma_um, 0.12) / p
    if sigma < 0.2:
        return img
    out: np.ndarray = ndimage.gaussian_filter(img, sigma, mode="nearest", truncate=3.0)
    return out


def _texture(
    cv: Canvas, anat: Anatomy, spec: SectionSpec, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Tissue textures shared by both modalities."""
    p, shape = cv.p, cv.shape
    t: dict[str, np.ndarray] = {}
    t["low"] = smooth_field(rng, shape, p, 60.0)
    t["cellnet"] = np.exp(-((smooth_field(rng, shape, p, 4.5) / 0.4) ** 2))
    t["nuclei"] = np.clip(_nuclei(cv, anat, spec, rng), 0.0, 1.2)
    t["coll_fine"] = smooth_field(rng, shape, p, 1.6, anisotropy=4.0)
    coarse = smooth_field(rng, shape, p, 10.0, anisotropy=3.0)
    t["coll_coarse"] = coarse
    # thin wavy clefts between collagen bundles: zero lines of an anisotropic field
    cleft_field = smooth_field(rng, shape, p, 14.0, anisotropy=5.0)
    t["cleft"] = (1.0 - 0.6 * np.exp(-((cleft_field / 0.07) ** 2))).astype(np.float32)
    above = cv.corneum_base[None, :] - cv.V[:, None]
    phase = 1.5 * smooth_field(rng, shape, p, 8.0)
    lam = 0.5 + 0.5 * np.cos(2 * np.pi * above / 2.3 + phase)
    brk = smooth_field(rng, shape, p, 3.0, anisotropy=3.0)
    t["lamellae"] = (np.clip((lam - 0.35) * 2.5, 0, 1) * (brk > -0.6)).astype(np.float32)
    d = cv.depth_below_dej
    t["basal"] = np.exp(-np.clip(-d, 0, None) / 6.0).astype(np.float32)
    t["granular"] = np.exp(-np.clip(cv.V[:, None] - cv.surface[None, :], 0, None) / 3.0).astype(
        np.float32
    )
    t["papillary"] = np.clip(1.0 - (d - 35.0) / 25.0, 0.0, 1.0).astype(np.float32)
    return t


def _draw_layers(
    cv: Canvas, anat: Anatomy, spec: SectionSpec, rng: np.random.Generator
) -> tuple[
    dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray
]:
    """Texture, fibres, bundle fill and rim, ellipses and debris, in one fixed RNG order.

    Both modalities draw the same anatomy; only how it is coloured differs.
    """
    t = _texture(cv, anat, spec, rng)
    fib = _draw_fibres(cv, anat.fibres, rng)
    bfill, brim = _draw_bundles(cv, anat.bundles, rng)
    ell = _draw_ellipses(cv, anat.ellipses)
    debris = _debris(cv, spec, rng)
    return t, fib, bfill, brim, ell, debris


@dataclass
class _Look:
    """What a section's appearance parameters add to the classic rendering.

    For a classic spec (every appearance parameter at its default) ``classic``
    is True and nothing here is used, so the image is generator 1.0.0's.
    """

    classic: bool
    extras: Extras
    rng: np.random.Generator  # appearance texture stream
    intact: np.ndarray | None = None  # 1 - tear coverage
    fold: np.ndarray | None = None  # 1 + 0.85 x fold coverage
    crease: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls, cv: Canvas, anat: Anatomy, spec: SectionSpec, seeds: list[np.random.SeedSequence]
    ) -> _Look:
        geo_rng, tex_rng = (np.random.default_rng(s) for s in seeds)
        extras = build_extras(geo_rng, spec, anat)
        look = cls(is_classic_appearance(spec), extras, tex_rng)
        if extras.tears:
            look.intact = 1.0 - band_map(cv, extras.tears)
        if extras.folds:
            cover = band_map(cv, extras.folds)
            look.fold = 1.0 + 0.85 * cover
            edges = [
                Fibre(f.v + f.radius, f.u, np.full(len(f.v), 0.8), f.weight, "crease")
                for f in extras.folds
            ]
            look.crease = band_map(cv, edges) * (cover > 0) * cv.derm
        look.info = {
            "stress_factors": stress_factors(spec),
            "n_superficial_trunks": len(extras.trunks),
            "n_superficial_vessels": len(extras.vessels),
            "superficial_gaps_um": [round(g, 3) for g in extras.gaps_um],
            "n_tears": len(extras.tears),
            "n_folds": len(extras.folds),
            "n_counterstain_nuclei": 0,
        }
        return look

    def merge(
        self,
        cv: Canvas,
        bfill: np.ndarray,
        brim: np.ndarray,
        ell: dict[str, np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Add the superficial trunks and vessels to the anatomy's bundles and ellipses."""
        if self.extras.trunks:
            fill, rim = _draw_bundles(cv, self.extras.trunks, self.rng)
            bfill, brim = np.maximum(bfill, fill), np.maximum(brim, rim)
        if self.extras.vessels:
            more = _draw_ellipses(cv, self.extras.vessels)
            ell = {k: np.maximum(ell[k], more[k]) for k in ell}
        return bfill, brim, ell

    def tissue_factor(self) -> np.ndarray | float:
        """Multiplier of everything in the tissue: 0 in tears, ~1.85 in folds."""
        factor: np.ndarray | float = 1.0
        if self.intact is not None:
            factor = self.intact
        if self.fold is not None:
            factor = factor * self.fold
        return factor

    def counted_fibres(
        self, cv: Canvas, anat: Anatomy, spec: SectionSpec, fib: np.ndarray
    ) -> CountedFibres:
        """The counted fibres near their crossings, with this section's blur."""
        return CountedFibres(cv, anat, fib, math.hypot(spec.defocus_sigma_um, 0.12) / cv.p)

    def record_floor(self, contrast: np.ndarray, boost: float, measure: str) -> None:
        """Record the weakest counted fibre's contrast and the boost applied."""
        self.info["fibre_contrast_measure"] = measure
        self.info["fibre_contrast_boost"] = boost
        self.info["min_counted_fibre_contrast"] = float(contrast.min()) if len(contrast) else None


def _epidermis_od(t: dict[str, np.ndarray], spec: SectionSpec) -> np.ndarray:
    """Bright-field epidermal optical density with its contrast and texture scaled.

    The excess over the papillary dermis (0.045) is split into structure (the
    plain epidermis, basal and granular layers) scaled by ``epidermis_contrast``
    and texture (mottling, cell borders, nuclei) scaled by ``epidermis_texture``.
    """
    structure = 0.05 + 0.045 * t["basal"] + 0.035 * t["granular"]
    texture = 0.015 * t["low"] + 0.025 * t["cellnet"] + 0.05 * t["nuclei"]
    out: np.ndarray = 0.045 + spec.epidermis_contrast * structure + spec.epidermis_texture * texture
    return out


def _corneum_level(
    t: dict[str, np.ndarray], spec: SectionSpec, *, fluorescence: bool
) -> np.ndarray:
    """Stratum corneum optical density (bright-field) or autofluorescence, by style."""
    lam = t["lamellae"]
    if spec.corneum_style == "compact":
        level = (0.07 + 0.015 * lam) if fluorescence else (0.075 + 0.015 * lam)
    else:
        level = (0.04 + 0.05 * lam) if fluorescence else (0.02 + 0.06 * lam)
    out: np.ndarray = spec.corneum_density * level
    return out


def _render_brightfield(
    cv: Canvas,
    anat: Anatomy,
    spec: SectionSpec,
    fmap: FrameMap,
    rng: np.random.Generator,
    noise_rng: np.random.Generator,
    look: _Look,
) -> np.ndarray:
    t, fib, bfill, brim, ell, debris = _draw_layers(cv, anat, spec, rng)
    bfill, brim, ell = look.merge(cv, bfill, brim, ell)
    pap = t["papillary"]
    epi_od = 0.095 + 0.015 * t["low"] + 0.025 * t["cellnet"] + 0.05 * t["nuclei"]
    epi_od += 0.045 * t["basal"] + 0.035 * t["granular"]
    derm_od = pap * (0.045 + 0.015 * t["coll_fine"]) + (1 - pap) * (
        0.07 + 0.025 * t["coll_fine"] + 0.02 * t["coll_coarse"]
    )
    derm_od = derm_od * t["cleft"] + 0.04 * t["nuclei"]
    structures = np.clip(ell["gland"] + ell["lumen"] + ell["wall"], 0, 1)
    derm_od = (
        derm_od * (1 - structures)
        + ell["gland"] * (0.10 + 0.02 * t["cellnet"])
        + ell["wall"] * 0.09
    )
    if look.classic:
        tissue = cv.epi * epi_od + cv.corn * (0.02 + 0.06 * t["lamellae"]) + cv.derm * derm_od
    else:
        corn_od = _corneum_level(t, spec, fluorescence=False)
        tissue = cv.epi * _epidermis_od(t, spec) + cv.corn * corn_od + cv.derm * derm_od
    tissue = np.clip(tissue, 0.0, None)
    chrom = _CHROMOGEN_OD[spec.chromogen]
    if not look.classic:  # hue first (the tissue's faint tint follows it), then strength
        chrom = rotate_hue(chrom, spec.chromogen_hue_deg)
    tissue_vec = 0.8 * _TISSUE_OD + 0.2 * chrom / chrom.mean()
    chrom = chrom * spec.chromogen_strength if not look.classic else chrom
    strength = rng.uniform(1.5, 2.0)
    bundle_gain = rng.uniform(0.9, 1.3)
    gain = strength * spec.fibre_contrast
    counted = look.counted_fibres(cv, anat, spec, fib)
    unit = float(chrom.mean())  # mean optical density of the chromogen over R, G, B
    boost = 1.0
    if not look.classic:
        boost = counted.od_boost(gain * unit, BRIGHTFIELD_FIBRE_OD_FLOOR)
        strength = gain * boost
    look.record_floor(counted.contrast(gain * boost * unit, optical_density=True), boost, "od")
    stain = strength * fib + bundle_gain * bfill + 0.25 * brim * (bfill > 0.05)
    stain = stain * cv.side
    counter: list[tuple[np.ndarray, np.ndarray]] = []  # (OD colour vector, map)
    if spec.counterstain != "none":
        nuclei, n_nuclei = nuclei_map(cv, anat, look.extras, look.rng, lumen=ell["lumen"])
        look.info["n_counterstain_nuclei"] = n_nuclei
        peak = 0.6 if spec.counterstain == "he" else 0.45
        counter.append((HAEMATOXYLIN_OD, nuclei * np.float32(peak * spec.counterstain_strength)))
        if spec.counterstain == "he":
            eosin = eosin_map(cv, t, ell, spec.corneum_style == "compact")
            counter.append((EOSIN_OD, eosin * np.float32(spec.counterstain_strength)))
    if not look.classic:
        factor = look.tissue_factor()
        tissue, stain = tissue * factor, stain * factor
        counter = [(vec, layer * factor) for vec, layer in counter]
        if look.crease is not None:
            tissue = tissue + 0.15 * look.crease
    white = 245.0 * np.array([1.0, rng.uniform(0.98, 1.0), rng.uniform(0.95, 0.99)])
    illum = _illumination(fmap.shape, spec.illumination_gradient, noise_rng)
    if spec.vignetting > 0:
        illum = illum * vignette(fmap.shape, spec.vignetting)
    out = np.empty((*fmap.shape, 3), np.uint8)
    glass_od = 0.01
    for ch in range(3):
        od = glass_od + tissue * float(tissue_vec[ch]) + stain * float(chrom[ch]) + 0.7 * debris
        for vec, layer in counter:
            od = od + layer * float(vec[ch])
        trans = np.power(np.float32(10.0), -od).astype(np.float32)
        trans = _blur(trans, spec.defocus_sigma_um, cv.p)
        final = fmap.warp(trans, cval=10.0**-glass_od) * illum * float(white[ch])
        final = _camera_noise(final, spec.noise, 255.0, noise_rng)
        out[..., ch] = np.clip(np.rint(final), 0, 255).astype(np.uint8)
    if spec.jpeg_quality > 0:
        out = jpeg_roundtrip(out, spec.jpeg_quality)
    return out


def _camera_noise(
    signal: np.ndarray, noise: float, full: float, rng: np.random.Generator
) -> np.ndarray:
    """Shot noise (variance proportional to the signal) plus read noise; `noise` at `full`."""
    if noise <= 0:
        return signal
    var = noise**2 * full * np.clip(signal, 0, None) + (0.06 * noise * full) ** 2
    result: np.ndarray = signal + np.sqrt(var) * rng.standard_normal(signal.shape, dtype=np.float32)
    return result


def _pgp_autofluorescence(
    cv: Canvas, t: dict[str, np.ndarray], ell: dict[str, np.ndarray], spec: SectionSpec, look: _Look
) -> np.ndarray:
    """Diffuse PGP 9.5-channel autofluorescence: epidermis, corneum, dermis, glands."""
    if look.classic:
        pgp = cv.epi * (
            0.05
            * (1 + 0.2 * t["low"])
            * (0.85 + 0.25 * t["cellnet"])
            * (1 - 0.25 * np.clip(t["nuclei"], 0, 1))
        )
        pgp += cv.corn * (0.04 + 0.05 * t["lamellae"])
        pgp += cv.derm * (0.018 + 0.008 * t["coll_fine"]) * t["cleft"]
        pgp += ell["gland"] * 0.035 * cv.derm
        return pgp
    # epidermis: its excess over the dermal level (0.018) scaled by the contrast,
    # its texture (relative to its mean) by the texture strength
    nuclei = np.clip(t["nuclei"], 0, 1)
    texture = (1 + 0.2 * t["low"]) * (0.85 + 0.25 * t["cellnet"]) * (1 - 0.25 * nuclei)
    mean = float(texture[cv.epi > 0.5].mean()) if np.any(cv.epi > 0.5) else 1.0
    level = 0.018 + spec.epidermis_contrast * (0.05 * mean - 0.018)
    pgp = cv.epi * (level * (1 + spec.epidermis_texture * (texture / mean - 1)))
    pgp += cv.corn * _corneum_level(t, spec, fluorescence=True)
    dermis = (0.018 + 0.008 * t["coll_fine"]) * t["cleft"] + ell["gland"] * 0.035
    pgp += cv.derm * (spec.dermis_autofluorescence * dermis)
    return pgp


def _render_fluorescence(
    cv: Canvas,
    anat: Anatomy,
    spec: SectionSpec,
    fmap: FrameMap,
    rng: np.random.Generator,
    noise_rng: np.random.Generator,
    look: _Look,
) -> np.ndarray:
    t, fib, bfill, brim, ell, debris = _draw_layers(cv, anat, spec, rng)
    bfill, brim, ell = look.merge(cv, bfill, brim, ell)
    p = cv.p
    # PGP 9.5: fibres and bundles, diffuse autofluorescence (epidermis > dermis)
    pgp = _pgp_autofluorescence(cv, t, ell, spec, look)
    fibre_gain = rng.uniform(0.75, 0.95)
    bundle_gain = rng.uniform(0.55, 0.75)
    gain = fibre_gain * spec.fibre_contrast
    counted = look.counted_fibres(cv, anat, spec, fib)
    peaks = counted.contrast(gain, optical_density=False)
    background = np.array(
        [
            float(pgp[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4].mean())
            for r, c in counted.centres
        ]
    )
    background = np.maximum(background, 1e-6)
    noise_sd = np.sqrt(spec.noise**2 * background + (0.06 * spec.noise) ** 2)
    needed = np.maximum(np.maximum(0.5 * background, 5.0 * noise_sd), 0.01)
    boost = 1.0
    if not look.classic and len(peaks):
        boost = float(np.clip(np.max(needed / np.maximum(peaks, 1e-9)), 1.0, 30.0))
    look.record_floor(boost * peaks / background, boost, "ratio")
    haze = 0.12
    if not look.classic:
        fibre_gain, haze = gain * boost, 0.12 * spec.fibre_contrast * boost
    pgp += fibre_gain * fib + bundle_gain * bfill * cv.side
    pgp += haze * ndimage.gaussian_filter(fib, 3.0 / p, truncate=2.5)  # out-of-focus haze
    if not look.classic:
        pgp *= look.tissue_factor()
    pgp += 0.5 * debris
    # collagen IV: basement membrane at the DEJ, vessels, gland and perineurial membranes
    s = cv.dej_slope[None, :]
    dist = np.abs(cv.V[:, None] - cv.dej[None, :]) / np.sqrt(1 + s * s)
    width = rng.uniform(0.45, 0.75)
    uu = cv.U.astype(float)
    variation = np.clip(
        0.8 + smooth_noise_1d(rng, uu, 15.0, 0.18) + smooth_noise_1d(rng, uu, 60.0, 0.1), 0.3, 1.3
    )
    gap_field = smooth_noise_1d(rng, uu, 12.0, 1.0)
    gap_frac = float(np.clip(0.02 + (0.7 - spec.membrane_strength) * 0.6, 0.0, 0.6))
    thr = float(np.quantile(gap_field, gap_frac)) if gap_frac > 0 else -np.inf
    gaps = np.clip((gap_field - thr) / 0.15, 0.0, 1.0)
    line_u = (spec.membrane_strength * 0.8 * variation * gaps).astype(np.float32)
    if spec.membrane_style == "dotted":
        line_u = line_u * membrane_dots(uu, cv.dej.astype(float), look.rng)
    membrane = np.exp(-0.5 * (dist / width) ** 2).astype(np.float32) * line_u[None, :] * cv.side
    del dist
    col4 = membrane
    col4 += cv.derm * (0.03 + 0.015 * t["coll_fine"]) + cv.epi * 0.008
    col4 += cv.derm * (0.5 * ell["bm"]) + 0.3 * brim * (bfill > 0.02) * cv.side
    if not look.classic:
        col4 *= look.tissue_factor()
    col4 += 0.2 * debris
    illum = _illumination(fmap.shape, spec.illumination_gradient, noise_rng)
    if spec.vignetting > 0:
        illum = illum * vignette(fmap.shape, spec.vignetting)
    out = np.empty((2, *fmap.shape), np.uint16)
    scales = (rng.uniform(9000, 15000), rng.uniform(7000, 12000))
    if spec.fluorescence_scale > 0:  # the same draws, rescaled to the asked-for range
        scales = (
            spec.fluorescence_scale * scales[0] / 12000.0,
            spec.fluorescence_scale * scales[1] / 12000.0,
        )
    for ch, (img, scale) in enumerate(((pgp, scales[0]), (col4, scales[1]))):
        blurred = _blur(img.astype(np.float32), spec.defocus_sigma_um, p)
        final = fmap.warp(blurred, cval=0.0) * illum * np.float32(scale)
        final = _camera_noise(final, spec.noise, float(scale), noise_rng) + 100.0
        out[ch] = np.clip(np.rint(final), 0, 65535).astype(np.uint16)
    return out


def _polyline(fmap: FrameMap, pts: np.ndarray, step_um: float) -> list[list[float]]:
    """Vertices of a fine (v, u) curve about every `step_um` of arc, in image pixels."""
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    marks = np.searchsorted(arc, np.arange(0.0, arc[-1], step_um))
    idx = np.unique(np.concatenate([[0], marks, [len(pts) - 1]]))
    xy = fmap.to_pixels(pts[idx, 0], pts[idx, 1])
    return [[round(float(r), 3), round(float(c), 3)] for r, c in xy]


def _point(fmap: FrameMap, vu: tuple[float, float]) -> dict[str, float]:
    rc = fmap.to_pixels(np.array([vu[0]]), np.array([vu[1]]))[0]
    return {"row": float(rc[0]), "col": float(rc[1])}


def generate_section(spec: SectionSpec) -> SyntheticSection:
    """Render a synthetic PGP 9.5 skin section with exactly known truth.

    The section is built in a canonical frame (surface up, µm), rendered
    anti-aliased at ``spec.pixel_size_um``, blurred, mirrored/rotated into a
    frame that holds the whole section with a 20 µm margin, then given uneven
    illumination and camera noise.  Every truth coordinate goes through the
    same mapping as the pixels.  Deterministic in ``spec`` (including
    ``spec.seed``); the anatomy does not depend on rotation, flip or modality.

    Parameters
    ----------
    spec : SectionSpec
        All parameters (see :class:`SectionSpec`).

    Returns
    -------
    section : SyntheticSection
        ``image``, ``channel_names``, ``truth``, ``spec`` and ``epidermis_mask``.
        ``truth`` holds ``count`` (fibres crossing the DEJ by the EFNS/PNS
        rule), ``crossings`` (list of ``{"row", "col"}`` where each counted
        fibre's centreline meets the DEJ, image pixels), ``dej_length_um``
        and ``surface_length_um`` (cut edge to cut edge; the surface is the
        top of the living epidermis, i.e. the stratum granulosum / corneum
        boundary), ``dej`` and ``surface`` polylines (``[row, col]`` every
        1 µm), ``n_fragments``, ``n_epidermal_branches``, ``n_short_fibres``,
        ``n_parallel_dermal``, ``modality``, ``chromogen``, ``pixel_size_um``,
        ``rotation_deg``, ``flip``, ``shape``, ``seed``, ``generator_version``
        and more (``fibres``, ``n_swellings_gt_1p5um``, ...).

    Raises
    ------
    TypeError
        If `spec` is not a :class:`SectionSpec`.

    Examples
    --------
    >>> sec = generate_section(SectionSpec(length_um=300, dermis_depth_um=80, seed=1))
    >>> sec.truth["count"] == len(sec.truth["crossings"])
    True
    """
    if not isinstance(spec, SectionSpec):
        raise TypeError(f"spec must be a SectionSpec, got {type(spec).__name__}")
    # five streams; the first three are generator 1.0.0's, the last two draw the appearance
    seeds = np.random.SeedSequence(spec.seed).spawn(5)
    geo_rng, tex_rng, noise_rng = (np.random.default_rng(s) for s in seeds[:3])
    anat = build_anatomy(geo_rng, spec)
    cv = Canvas(anat, spec)
    fmap = FrameMap.build(
        rotation_deg=spec.rotation_deg,
        flip=spec.flip,
        pixel_size_um=spec.pixel_size_um,
        origin_um=cv.origin,
        content_px=cv.content_px,
        margin_px=FRAME_MARGIN_UM / spec.pixel_size_um,
    )
    look = _Look.build(cv, anat, spec, seeds[3:])
    if spec.modality == "brightfield":
        image = _render_brightfield(cv, anat, spec, fmap, tex_rng, noise_rng, look)
        names: tuple[str, ...] = ("R", "G", "B")
    else:
        image = _render_fluorescence(cv, anat, spec, fmap, tex_rng, noise_rng, look)
        names = ("PGP9.5", "ColIV")
    epi_mask = fmap.warp(cv.epi, cval=0.0) > 0.5
    truth = _truth(anat, spec, fmap)
    truth["appearance"] = look.info
    return SyntheticSection(image, names, truth, spec, epi_mask)


def _truth(anat: Anatomy, spec: SectionSpec, fmap: FrameMap) -> dict[str, Any]:
    lay = anat.layers
    dej_pts, dej_len = lay.curve_points(lay.dej)
    surf_pts, surf_len = lay.curve_points(lay.surface)
    order = np.argsort([u for _, u in anat.crossings_um], kind="stable")
    crossings = [_point(fmap, anat.crossings_um[i]) for i in order]
    fibres = []
    for i in order:
        rec = anat.fibre_records[i]
        fibres.append(
            {
                "kind": rec["kind"],
                "crossing": _point(fmap, rec["crossing_um"]),
                "end": _point(fmap, rec["end_um"]),
                "height_above_dej_um": rec["height_above_dej_um"],
                "n_epidermal_branches": rec["n_epidermal_branches"],
            }
        )
    count = len(crossings)
    return {
        "count": count,
        "crossings": crossings,
        "dej_length_um": dej_len,
        "surface_length_um": surf_len,
        "density_per_mm_dej": 1000.0 * count / dej_len,
        "density_per_mm_surface": 1000.0 * count / surf_len,
        "dej": _polyline(fmap, dej_pts, 1.0),
        "surface": _polyline(fmap, surf_pts, 1.0),
        "surface_definition": (
            "top of the living epidermis (stratum granulosum / stratum corneum boundary)"
        ),
        "n_fragments": len(anat.fragments_um),
        "n_epidermal_branches": anat.n_epidermal_branches,
        "n_short_fibres": anat.n_short_fibres,
        "n_parallel_dermal": anat.n_parallel_dermal,
        "n_dermal_branch_pairs": anat.n_dermal_branch_pairs,
        "n_swellings_gt_1p5um": anat.n_swellings,
        "n_nerve_bundles": anat.n_bundles,
        "n_sweat_glands": anat.n_sweat_glands,
        "fibres": fibres,
        "fragments": [_point(fmap, f) for f in anat.fragments_um],
        "short_fibre_ends": [_point(fmap, f) for f in anat.short_ends_um],
        "modality": spec.modality,
        "chromogen": spec.chromogen if spec.modality == "brightfield" else None,
        "channel_names": ["R", "G", "B"] if spec.modality == "brightfield" else ["PGP9.5", "ColIV"],
        "pixel_size_um": spec.pixel_size_um,
        "rotation_deg": spec.rotation_deg,
        "flip": bool(spec.flip),
        "shape": list(fmap.shape),
        "canonical_um_to_pixel": fmap.as_affine_um(),
        "seed": int(spec.seed),
        "generator_version": GENERATOR_VERSION,
        "spec": {
            k: (bool(v) if isinstance(v, (bool, np.bool_)) else v) for k, v in vars(spec).items()
        },
    }
