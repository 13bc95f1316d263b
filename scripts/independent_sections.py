"""An independent generator of PGP 9.5 skin sections with known truth.

Written from the domain description (docs of the counting rule, SPEC) and real skin
micrographs, without reference to how ``ienfd.synthetic`` draws its sections, so that the
analysis can be measured on a look it was never tuned on.

The tissue is modelled in a *section frame* of micrometres: ``u`` runs along the section and
``v`` is the depth below the skin surface (it grows towards the dermis). Every layer is a
function of ``u``: the surface ``S(u)`` (with a gentle bow of the whole section) and the
dermal-epidermal junction ``D(u)`` (epidermal thickness plus rete ridges, shallow to deep and
narrow). The frame is then rotated by any angle, possibly mirrored, and each output pixel is
mapped back into ``(u, v)``, so that layers, fibres and truth share one exact geometry.

Bright-field sections are composed as absorbances (Beer-Lambert): an unstained tissue tone,
haematoxylin, eosin, the fibre chromogen (SG blue-black or DAB brown) and melanin, each with a
concentration map, with the H, E and DAB colour vectors of Ruifrok & Johnston (2001, Anal.
Quant. Cytol. Histol. 23:291), as scikit-image ships them. Fluorescence sections have a PGP 9.5
channel (fibres, autofluorescent stratum corneum and dermis) and a collagen IV channel (the
basement membrane: continuous, dotted, weak or absent; vessel walls).

Truth, per section: the crossing points (one per intraepidermal fibre that crosses the DEJ,
on the DEJ), the DEJ polyline inside the frame and its length in µm, the number of epidermal
fragments, and every appearance parameter drawn.

Usage::

    .venv/bin/python scripts/independent_sections.py --seeds 100-119 --out /tmp/indep
"""

from __future__ import annotations

import argparse
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import tifffile
from scipy import ndimage as ndi
from skimage import draw
from skimage.color import rgb_from_hed

GENERATOR = "independent 1.0"

# Absorbance (optical density) per unit concentration, RGB, unit length.
H_VEC, E_VEC, DAB_VEC = (np.asarray(v, dtype=np.float32) for v in rgb_from_hed)


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


SG_VEC = _unit([0.62, 0.57, 0.50])  # SG chromogen: grey-black with a blue cast
TISSUE_VEC = _unit([0.20, 0.30, 0.48])  # fixed, unstained tissue: a faint buff
MELANIN_VEC = _unit([0.45, 0.60, 0.75])  # brown-black granules in the basal layer


# ---------------------------------------------------------------------------------------------
# Appearance
# ---------------------------------------------------------------------------------------------


def random_appearance(rng: np.random.Generator, modality: str | None = None) -> dict[str, Any]:
    """Draw every appearance and geometry parameter of one section.

    Parameters
    ----------
    rng : numpy.random.Generator
    modality : {'brightfield', 'fluorescence'}, optional
        Forced; by default 60 % bright-field.

    Returns
    -------
    dict
        JSON-serialisable; the keys are the factors of the validation tables.
    """
    drawn_modality = "fluorescence" if rng.random() < 0.4 else "brightfield"
    modality = modality or drawn_modality
    px = float(rng.uniform(0.3, 0.7))
    right = rng.random() < 0.35  # an orientation at a multiple of 90 degrees
    angle = float(rng.choice([0, 90, 180, 270]) if right else rng.uniform(0, 360))
    ridge_kind = str(
        rng.choice(["shallow", "mixed", "deep"], p=[0.3, 0.35, 0.35])
        if modality == "brightfield"
        else rng.choice(["shallow", "mixed", "deep"], p=[0.15, 0.3, 0.55])
    )
    a: dict[str, Any] = {
        "modality": modality,
        "pixel_size_um": round(px, 4),
        "angle_deg": round(angle, 2),
        "flip": bool(rng.random() < 0.5),
        "length_um": float(rng.uniform(500, 2000)),
        "epidermis_um": float(rng.uniform(40, 100)),
        "ridges": ridge_kind,
        "bow_um": float(rng.uniform(-80, 80)),
        "sc_kind": str(rng.choice(["compact", "basket", "pale", "detached"])),
        "sc_um": float(rng.uniform(6, 30)),
        "density_per_mm": float(rng.uniform(2, 24)),
        "fibre_width_um": float(rng.uniform(0.5, 2.0)),
        "fibre_strength": float(rng.uniform(0.15, 1.0)),
        "beading": float(rng.uniform(0, 1)),
        "branch_prob": float(rng.uniform(0.1, 0.6)),
        "near_miss_per_mm": float(rng.uniform(0, 10)),
        "fragments_per_mm": float(rng.uniform(0, 12)),
        "plexus": float(rng.uniform(0.3, 1.0)),
        "trunks": int(rng.choice([0, 1, 2, 3], p=[0.25, 0.35, 0.25, 0.15])),
        "vessels_per_mm": float(rng.uniform(0, 8)),
        "glass_top_um": float(
            rng.choice([rng.uniform(-12, 0), rng.uniform(5, 120)], p=[0.15, 0.85])
        ),
        "glass_ends": bool(rng.random() < 0.5),
        "glass_bottom": bool(rng.random() < 0.4),
        "dermis_um": float(rng.uniform(100, 320)),
        "blur_px": float(rng.choice([0.0, rng.uniform(0.4, 1.8)], p=[0.4, 0.6])),
        "illumination": float(rng.uniform(0, 0.3)),
    }
    if modality == "brightfield":
        a.update(
            stain=str(rng.choice(["SG", "DAB"])),
            counterstain=str(rng.choice(["none", "haematoxylin", "H&E"], p=[0.35, 0.3, 0.35])),
            epidermis_contrast=float(rng.choice([rng.uniform(1.02, 1.3), rng.uniform(1.3, 2.6)])),
            melanin=float(rng.choice([0.0, rng.uniform(0.03, 0.2)], p=[0.75, 0.25])),
            jpeg_quality=int(rng.choice([0, rng.integers(55, 95)], p=[0.5, 0.5])),
            noise=float(rng.uniform(0.5, 4.0)),
        )
    else:
        a.update(
            collagen_iv=str(rng.choice(["continuous", "dotted", "weak", "absent"])),
            autofluorescence_sc=float(rng.uniform(0.03, 0.6)),
            autofluorescence_dermis=float(rng.uniform(0.02, 0.2)),
            bit_depth=int(rng.choice([8, 16])),
            full_scale=float(rng.uniform(600, 6000)),  # 16-bit: the brightest counts
            photons=float(rng.uniform(20, 200)),
            dapi=bool(rng.random() < 0.3),
        )
    return a


# ---------------------------------------------------------------------------------------------
# Geometry in the section frame (µm)
# ---------------------------------------------------------------------------------------------


def _smooth_1d(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    x = ndi.gaussian_filter1d(rng.standard_normal(n), max(sigma, 0.5), mode="reflect")
    return x / (x.std() + 1e-9)


@dataclass
class Layers:
    """Surface and junction depth sampled along the section (``u`` step 0.5 µm)."""

    u: np.ndarray
    surface: np.ndarray
    dej: np.ndarray
    tissue_u0: float
    tissue_u1: float
    line: shapely.LineString | None = None

    def at(self, prof: np.ndarray, u: np.ndarray | float) -> np.ndarray:
        return np.interp(u, self.u, prof)


def _layers(a: dict[str, Any], rng: np.random.Generator) -> Layers:
    length = a["length_um"]
    step = 0.5
    u = np.arange(-400.0, length + 400.0, step)
    n = len(u)
    x = (u - length / 2) / (length / 2)
    bow = a["bow_um"] * x**2
    surface = bow + 4.0 * _smooth_1d(rng, n, 60 / step)
    thickness = a["epidermis_um"] * (1 + 0.12 * _smooth_1d(rng, n, 120 / step))
    ridges = np.zeros(n)
    kind = a["ridges"]
    pos = float(u[0])
    while pos < u[-1]:
        pos += rng.uniform(50, 180)
        deep = kind == "deep" or (kind == "mixed" and rng.random() < 0.5)
        depth = rng.uniform(30, 110) if deep else rng.uniform(4, 20)
        width = rng.uniform(20, 45) if deep else rng.uniform(30, 90)
        x = np.abs(u - pos) / (width / 2)
        # a finger with a blunt, round tip and soft shoulders (a super-Gaussian)
        shape = np.exp(-(x ** rng.uniform(3.0, 5.0)))
        ridges = np.maximum(ridges, depth * shape)
    # papillae: between deep ridges the epidermis is thinner, never below 25 µm
    thin = 0.7 if kind == "deep" else 0.85 if kind == "mixed" else 1.0
    dej = surface + np.maximum(thin * thickness + ridges, 25.0)
    if a["glass_ends"]:
        u0 = rng.uniform(5, 60)
        u1 = length - rng.uniform(5, 60)
    else:
        u0, u1 = -400.0, length + 400.0
    return Layers(u=u, surface=surface, dej=dej, tissue_u0=u0, tissue_u1=u1)


@dataclass
class Frame:
    """Maps section-frame (u, v) µm to image (row, col) pixels and back."""

    angle: float
    flip: bool
    px: float
    x0: float
    y0: float
    shape: tuple[int, int]

    def to_pixels(self, uv: np.ndarray) -> np.ndarray:
        uv = np.asarray(uv, dtype=float).reshape(-1, 2)
        x = -uv[:, 0] if self.flip else uv[:, 0]
        y = uv[:, 1]
        c, s = math.cos(self.angle), math.sin(self.angle)
        xr = c * x - s * y
        yr = s * x + c * y
        return np.column_stack([(yr - self.y0) / self.px, (xr - self.x0) / self.px])

    def grid_uv(self) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.shape
        rows = (np.arange(h, dtype=np.float32) * self.px + self.y0)[:, None]
        cols = (np.arange(w, dtype=np.float32) * self.px + self.x0)[None, :]
        c, s = math.cos(self.angle), math.sin(self.angle)
        x = c * cols + s * rows
        v = -s * cols + c * rows
        u = -x if self.flip else x
        return u.astype(np.float32), v.astype(np.float32)


def _frame(a: dict[str, Any], lay: Layers, max_megapixels: float) -> Frame:
    length = a["length_um"]
    inside = (lay.u >= 0) & (lay.u <= length)
    top = float(
        (lay.surface[inside] - a["sc_um"] * (1.6 if a["sc_kind"] == "detached" else 1)).min()
    )
    v_top = top - a["glass_top_um"]
    v_bot = float(lay.dej[inside].max()) + a["dermis_um"]
    corners = np.array([[0, v_top], [length, v_top], [length, v_bot], [0, v_bot]], dtype=float)
    frame = Frame(math.radians(a["angle_deg"]), a["flip"], a["pixel_size_um"], 0.0, 0.0, (1, 1))
    pix = frame.to_pixels(corners) * frame.px  # rotated µm, (y, x)
    y0, x0 = pix.min(axis=0)
    y1, x1 = pix.max(axis=0)
    h = math.ceil((y1 - y0) / frame.px) + 1
    w = math.ceil((x1 - x0) / frame.px) + 1
    frame.x0, frame.y0, frame.shape = float(x0), float(y0), (h, w)
    if h * w > max_megapixels * 1e6:
        raise _TooBigError(h * w)
    return frame


class _TooBigError(Exception):
    def __init__(self, pixels: int) -> None:
        self.pixels = pixels


# ---------------------------------------------------------------------------------------------
# Fibres (polylines in the section frame)
# ---------------------------------------------------------------------------------------------


@dataclass
class Fibre:
    points: np.ndarray  # (K, 2) u, v µm
    width_um: float
    strength: float
    kind: str  # "crossing", "branch", "dermal", "plexus", "near_miss", "fragment"


@dataclass
class Drawn:
    fibres: list[Fibre] = field(default_factory=list)
    crossings_uv: list[tuple[float, float]] = field(default_factory=list)
    n_fragments: int = 0
    n_branches: int = 0
    n_near_miss: int = 0


def _walk(
    rng: np.random.Generator,
    start: np.ndarray,
    direction: np.ndarray,
    length: float,
    *,
    pull: np.ndarray | None = None,
    pull_weight: float = 0.15,
    turn: float = 0.18,
    step: float = 1.5,
) -> np.ndarray:
    """A wiggly path from ``start``: a random walk of the heading, pulled towards ``pull``."""
    pts = [np.asarray(start, dtype=float)]
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    for _ in range(max(int(length / step), 1)):
        ang = rng.normal(0, turn)
        c, s = math.cos(ang), math.sin(ang)
        d = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]])
        if pull is not None:
            d = (1 - pull_weight) * d + pull_weight * pull
            d = d / np.linalg.norm(d)
        pts.append(pts[-1] + step * d)
    return np.array(pts)


def _side(lay: Layers, pts: np.ndarray) -> np.ndarray:
    """Signed distance to the DEJ (µm): > 0 in the dermis, < 0 in the epidermis.

    The distance is the shortest one to the junction line, not the vertical one, which on the
    steep flank of a rete ridge would be several times larger.
    """
    vertical = pts[:, 1] - lay.at(lay.dej, pts[:, 0])
    if lay.line is None:
        lay.line = shapely.LineString(np.column_stack([lay.u, lay.dej]))
    dist = shapely.distance(lay.line, shapely.points(pts[:, 0], pts[:, 1]))
    return np.sign(vertical) * np.minimum(np.abs(vertical), dist)


def _below_surface(lay: Layers, pts: np.ndarray) -> np.ndarray:
    return pts[:, 1] - lay.at(lay.surface, pts[:, 0])


def _arc(pts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])


def _in_epidermis(lay: Layers, pts: np.ndarray, *, above_dej: float, below_surface: float) -> bool:
    return bool(
        np.all(_side(lay, pts) <= -above_dej) and np.all(_below_surface(lay, pts) >= below_surface)
    )


def _inside_tissue(lay: Layers, pts: np.ndarray, margin: float = 3.0) -> bool:
    return bool(np.all((pts[:, 0] > lay.tissue_u0 + margin) & (pts[:, 0] < lay.tissue_u1 - margin)))


def _normal_up(lay: Layers, u0: float) -> np.ndarray:
    slope = float((lay.at(lay.dej, u0 + 1.0) - lay.at(lay.dej, u0 - 1.0)) / 2.0)
    n = np.array([slope, -1.0])
    return n / np.linalg.norm(n)


def _fibre_params(a: dict[str, Any], rng: np.random.Generator) -> tuple[float, float]:
    width = float(np.clip(a["fibre_width_um"] * rng.uniform(0.75, 1.3), 0.5, 2.0))
    strength = float(np.clip(a["fibre_strength"] * rng.uniform(0.7, 1.3), 0.1, 1.0))
    return width, strength


def _crossing_fibre(
    a: dict[str, Any], lay: Layers, rng: np.random.Generator, u0: float
) -> list[Fibre] | None:
    d0 = float(lay.at(lay.dej, u0))
    p0 = np.array([u0, d0])
    normal = _normal_up(lay, u0)
    thick = d0 - float(lay.at(lay.surface, u0))
    width, strength = _fibre_params(a, rng)
    up = np.array([0.0, -1.0])
    epi_len = rng.uniform(0.35, 0.85) * thick
    epi = _walk(rng, p0, normal + rng.normal(0, 0.25, 2), epi_len, pull=up, pull_weight=0.12)
    derm_len = rng.uniform(8, 35)
    derm = _walk(rng, p0, -normal + rng.normal(0, 0.3, 2), derm_len, pull=-up, pull_weight=0.1)
    # the dermal stem joins the plexus: it turns to run along the section
    side = 1.0 if rng.random() < 0.5 else -1.0
    plexus = _walk(
        rng, derm[-1], np.array([side, 0.4]), rng.uniform(15, 120), pull=np.array([side, 0.0])
    )
    s_epi, s_derm = _arc(epi), _arc(derm)
    # beyond 4 µm of its crossing the fibre keeps 2.5 µm (more than its width) from the
    # junction on either side, so that the truth's single crossing is unambiguous to the eye
    if not _in_epidermis(lay, epi[s_epi >= 4.0], above_dej=2.5, below_surface=3.0):
        return None
    if np.any(_side(lay, derm[s_derm >= 4.0]) < 2.5) or np.any(_side(lay, plexus) < 3.0):
        return None
    if not (_inside_tissue(lay, epi) and _inside_tissue(lay, derm) and _inside_tissue(lay, plexus)):
        return None
    stem = np.vstack([plexus[::-1], derm[::-1][1:], epi[1:]])
    fibres = [Fibre(stem, width, strength, "crossing")]
    # branches inside the epidermis: one crossing each, however many branches
    n_branch = int(rng.random() < a["branch_prob"]) + int(rng.random() < a["branch_prob"] / 3)
    for _ in range(n_branch):
        ok = np.nonzero(_side(lay, epi) <= -6.0)[0]
        if len(ok) < 2:
            break
        i = int(rng.choice(ok[:-1]))
        here = epi[i + 1] - epi[i]
        ang = rng.choice([-1, 1]) * rng.uniform(0.4, 1.1)
        c, s = math.cos(ang), math.sin(ang)
        d = np.array([c * here[0] - s * here[1], s * here[0] + c * here[1]])
        br = _walk(rng, epi[i], d, rng.uniform(8, 35), pull=up, pull_weight=0.08)
        if _in_epidermis(lay, br[1:], above_dej=4.0, below_surface=3.0) and _inside_tissue(lay, br):
            fibres.append(Fibre(br, width * rng.uniform(0.7, 1.0), strength, "branch"))
    return fibres


def _draw_fibres(a: dict[str, Any], lay: Layers, frame: Frame, rng: np.random.Generator) -> Drawn:
    drawn = Drawn()
    h, w = frame.shape
    margin_px = 18.0 / frame.px

    def in_frame(uv: np.ndarray, margin: float = margin_px) -> bool:
        rc = frame.to_pixels(uv)
        return bool(
            np.all((rc[:, 0] >= margin) & (rc[:, 0] <= h - 1 - margin))
            and np.all((rc[:, 1] >= margin) & (rc[:, 1] <= w - 1 - margin))
        )

    lo = max(lay.tissue_u0 + 20.0, float(lay.u[0]) + 50)
    hi = min(lay.tissue_u1 - 20.0, float(lay.u[-1]) - 50)
    # how much junction lies in the frame, for the expected count
    us = np.arange(lo, hi, 2.0)
    pts = np.column_stack([us, lay.at(lay.dej, us)])
    rc = frame.to_pixels(pts)
    inside = (rc[:, 0] >= margin_px) & (rc[:, 0] <= h - 1 - margin_px)
    inside &= (rc[:, 1] >= margin_px) & (rc[:, 1] <= w - 1 - margin_px)
    visible_mm = inside.sum() * 2.0 / 1000.0
    target = int(rng.poisson(a["density_per_mm"] * visible_mm))
    candidates = us[inside]
    tries = 0
    while len(drawn.crossings_uv) < target and tries < target * 40 and len(candidates):
        tries += 1
        u0 = float(rng.choice(candidates) + rng.uniform(-1, 1))
        p0 = np.array([u0, float(lay.at(lay.dej, u0))])
        if any(math.hypot(p0[0] - c[0], p0[1] - c[1]) < 15.0 for c in drawn.crossings_uv):
            continue
        if not in_frame(p0[None]):
            continue
        fib = _crossing_fibre(a, lay, rng, u0)
        if fib is None:
            continue
        drawn.fibres.extend(fib)
        drawn.crossings_uv.append((float(p0[0]), float(p0[1])))
        drawn.n_branches += len(fib) - 1
    cross = np.array(drawn.crossings_uv).reshape(-1, 2)

    def far_from_crossings(uv: np.ndarray, dist: float) -> bool:
        if not len(cross):
            return True
        d = np.hypot(uv[:, None, 0] - cross[None, :, 0], uv[:, None, 1] - cross[None, :, 1])
        return bool(d.min() >= dist)

    span_mm = (hi - lo) / 1000.0
    # fibres that reach towards the junction and stop short of it
    for _ in range(int(rng.poisson(a["near_miss_per_mm"] * span_mm))):
        for _try in range(20):
            u0 = float(rng.uniform(lo, hi))
            gap = rng.uniform(3.0, 8.0)
            end = np.array([u0, float(lay.at(lay.dej, u0)) + gap])
            normal = _normal_up(lay, u0)
            stem = _walk(rng, end, -normal + rng.normal(0, 0.3, 2), rng.uniform(15, 50))
            if (
                np.all(_side(lay, stem) >= 2.5)
                and _inside_tissue(lay, stem)
                and far_from_crossings(stem[:1], 12.0)
            ):
                width, strength = _fibre_params(a, rng)
                drawn.fibres.append(Fibre(stem[::-1], width, strength, "near_miss"))
                drawn.n_near_miss += 1
                break
    # the subepidermal plexus and dermal fibres, running roughly along the junction
    for _ in range(int(rng.poisson(a["plexus"] * 8 * span_mm))):
        for _try in range(20):
            u0 = float(rng.uniform(lo, hi))
            depth = rng.uniform(4.0, 60.0)
            start = np.array([u0, float(lay.at(lay.dej, u0)) + depth])
            side = 1.0 if rng.random() < 0.5 else -1.0
            path = _walk(
                rng,
                start,
                np.array([side, rng.normal(0, 0.2)]),
                rng.uniform(30, 200),
                pull=np.array([side, 0.0]),
                pull_weight=0.1,
                turn=0.12,
            )
            if np.all(_side(lay, path) >= 3.5) and _inside_tissue(lay, path):
                width, strength = _fibre_params(a, rng)
                drawn.fibres.append(Fibre(path, width * 1.2, strength, "plexus"))
                break
    # fragments: short pieces inside the epidermis that touch neither junction nor surface
    for _ in range(int(rng.poisson(a["fragments_per_mm"] * span_mm))):
        for _try in range(30):
            u0 = float(rng.uniform(lo, hi))
            top = float(lay.at(lay.surface, u0))
            bottom = float(lay.at(lay.dej, u0))
            if bottom - top < 20:
                continue
            start = np.array([u0, rng.uniform(top + 6, bottom - 8)])
            frag = _walk(rng, start, rng.normal(0, 1, 2) + np.array([0, -0.6]), rng.uniform(5, 18))
            if (
                _in_epidermis(lay, frag, above_dej=5.0, below_surface=4.0)
                and _inside_tissue(lay, frag)
                and far_from_crossings(frag, 8.0)
                and in_frame(frag, 2.0 / frame.px)
            ):
                width, strength = _fibre_params(a, rng)
                drawn.fibres.append(Fibre(frag, width, strength, "fragment"))
                drawn.n_fragments += 1
                break
    return drawn


# ---------------------------------------------------------------------------------------------
# Rasterising
# ---------------------------------------------------------------------------------------------


def _densify(rc: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` pixels along a polyline, and their arc length (pixels)."""
    s = _arc(rc)
    if s[-1] == 0:
        return rc[:1], np.zeros(1)
    t = np.arange(0.0, s[-1] + 1e-9, step)
    return np.column_stack([np.interp(t, s, rc[:, 0]), np.interp(t, s, rc[:, 1])]), t


def _render_lines(
    shape: tuple[int, int],
    lines: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    profile: str = "gauss",
) -> np.ndarray:
    """Draw polylines with a per-point amplitude and half-width, in one distance transform.

    Each line is ``(rc points, amplitude per point, half-width in px per point)``. The
    nearest centreline point gives every pixel its amplitude and width: a Gaussian cross
    profile (sigma = the width value) or a flat one with a soft edge (radius = the value).
    """
    amp = np.zeros(shape, np.float32)
    wid = np.zeros(shape, np.float32)
    h, w = shape
    for rc, a_pts, w_pts in lines:
        r = np.rint(rc[:, 0]).astype(int)
        c = np.rint(rc[:, 1]).astype(int)
        ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        order = np.argsort(a_pts[ok])
        amp[r[ok][order], c[ok][order]] = np.maximum(
            amp[r[ok][order], c[ok][order]], a_pts[ok][order]
        )
        wid[r[ok][order], c[ok][order]] = w_pts[ok][order]
    if not amp.any():
        return amp
    dist, (ir, ic) = ndi.distance_transform_edt(amp == 0, return_indices=True)
    a_near = amp[ir, ic]
    w_near = wid[ir, ic]
    if profile == "gauss":
        out = a_near * np.exp(-(dist**2) / (2 * np.maximum(w_near, 0.3) ** 2))
    else:
        out = a_near * np.clip(w_near + 0.5 - dist, 0, 1)
    return out.astype(np.float32)


def _fibre_lines(
    drawn: Drawn, frame: Frame, a: dict[str, Any], rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    lines = []
    px = frame.px
    for f in drawn.fibres:
        rc, s_px = _densify(frame.to_pixels(f.points), 0.35)
        s_um = s_px * px
        sigma = f.width_um / 2.355 / px
        amp = np.full(len(rc), f.strength, np.float32)
        if sigma < 0.5:  # a line thinner than a pixel looks fainter, not thinner
            amp *= sigma / 0.5
            sigma = 0.5
        wid = np.full(len(rc), sigma, np.float32)
        if a["beading"] > 0.05 and len(rc) > 4:
            n_beads = max(int(s_um[-1] / rng.uniform(3, 9)), 1)
            centres = rng.uniform(0, s_um[-1], n_beads)
            bump = np.exp(-((s_um[:, None] - centres[None]) ** 2) / (2 * 0.7**2)).sum(axis=1)
            bump = np.minimum(bump, 1.0) * a["beading"]
            amp = amp * (1 - 0.45 * a["beading"] + 0.8 * bump)
            wid = wid * (1 + 0.9 * bump)
        amp = amp * (1 + 0.15 * _smooth_1d(rng, len(rc), 8)).clip(0.5, 1.5)
        lines.append((rc, amp.astype(np.float32), wid.astype(np.float32)))
    return lines


def _trunks(
    a: dict[str, Any], lay: Layers, rng: np.random.Generator
) -> list[tuple[np.ndarray, float]]:
    """Thick dermal nerve bundles near the junction: (u, v) centrelines and radii (µm)."""
    out = []
    lo = max(lay.tissue_u0, -50.0)
    hi = min(lay.tissue_u1, a["length_um"] + 50)
    step = 0.5
    for _ in range(a["trunks"]):
        radius = rng.uniform(7, 25)
        length = rng.uniform(100, 600)
        u_start = rng.uniform(lo, max(hi - length, lo + 1))
        u = np.arange(u_start, min(u_start + length, hi), 2.0)
        if len(u) < 5:
            continue
        win = int((radius + 25) / step)
        deepest = np.interp(u, lay.u, ndi.maximum_filter1d(lay.dej, size=2 * win + 1))
        # a smooth course that keeps clear of every ridge: the deepest ridge tip under the
        # bundle, a gentle meander, then smoothed after the clearance is enforced
        gap = rng.uniform(4, 50)
        course = ndi.gaussian_filter1d(deepest, 30, mode="nearest") + 6 * _smooth_1d(
            rng, len(u), 40
        )
        v = np.maximum(course + radius * 1.3 + gap, deepest + radius * 1.3 + 4)
        v = ndi.maximum_filter1d(v, size=41, mode="nearest")
        v = ndi.gaussian_filter1d(v, 8, mode="nearest")
        v = np.maximum(v, deepest + radius * 1.3 + 4)
        out.append((np.column_stack([u, v]), float(radius)))
    return out


def _ellipses(
    shape: tuple[int, int],
    centres_rc: np.ndarray,
    radii_px: np.ndarray,
    rng: np.random.Generator,
    *,
    elongation: tuple[float, float] = (1.0, 1.4),
    values: np.ndarray | None = None,
) -> np.ndarray:
    out = np.zeros(shape, np.float32)
    for i, ((r, c), rad) in enumerate(zip(centres_rc, radii_px, strict=True)):
        e = rng.uniform(*elongation)
        rr, cc = draw.ellipse(r, c, rad * e, rad / e, shape=shape, rotation=rng.uniform(0, np.pi))
        out[rr, cc] = np.maximum(out[rr, cc], 1.0 if values is None else values[i])
    return out


def _noise(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    x = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), max(sigma_px, 0.5))
    return x / (x.std() + 1e-9)


def _sample_in(region: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    idx = np.flatnonzero(region)
    if not len(idx) or n <= 0:
        return np.zeros((0, 2))
    pick = rng.choice(idx, size=min(n, len(idx)), replace=False)
    return np.column_stack(np.unravel_index(pick, region.shape)).astype(float) + rng.uniform(
        -0.5, 0.5, (len(pick), 2)
    )


# ---------------------------------------------------------------------------------------------
# The section
# ---------------------------------------------------------------------------------------------


@dataclass
class Section:
    """One generated section: the image as written, its truth and a few drawn layers."""

    image: np.ndarray  # (M, N, 3) uint8, or (C, M, N) uint8/uint16 for fluorescence
    truth: dict[str, Any]
    fibre_map: np.ndarray  # (M, N) float32: the fibre stain before imaging
    region: np.ndarray  # (M, N) uint8: 0 glass, 1 stratum corneum, 2 epidermis, 3 dermis
    channel_names: tuple[str, ...] = ()


def generate_section(
    seed: int,
    *,
    modality: str | None = None,
    overrides: dict[str, Any] | None = None,
    max_megapixels: float = 6.0,
) -> Section:
    """Generate one section with its truth.

    Parameters
    ----------
    seed : int
    modality : {'brightfield', 'fluorescence'}, optional
        Forced modality; the other draws are those of the seed.
    overrides : dict, optional
        Appearance values to force (any key of :func:`random_appearance`).
    max_megapixels : float
        The section length is shortened until the frame fits.
    """
    rng = np.random.default_rng(seed)
    a = random_appearance(rng, modality)
    a.update(overrides or {})
    for _ in range(40):
        lay = _layers(a, rng)
        try:
            frame = _frame(a, lay, max_megapixels)
        except _TooBigError as big:
            a["length_um"] = max(
                a["length_um"] * 0.92 * math.sqrt(max_megapixels * 1e6 / big.pixels), 250.0
            )
            if a.get("_shrunk", 0) > 30:
                raise
            a["_shrunk"] = a.get("_shrunk", 0) + 1
            continue
        dej_pieces = _dej_in_frame(lay, frame)
        if len(dej_pieces) == 1 and len(dej_pieces[0]) > 10:
            break
        a["angle_deg"] = float(rng.uniform(0, 360))
    else:  # pragma: no cover - geometry that never fits
        raise RuntimeError(f"seed {seed}: no single junction in the frame")
    a.pop("_shrunk", None)
    a["length_um"] = round(a["length_um"], 1)
    drawn = _draw_fibres(a, lay, frame, rng)
    if a["modality"] == "brightfield":
        image, fibre_map, region = _render_brightfield(a, lay, frame, drawn, rng)
        names: tuple[str, ...] = ()
    else:
        image, fibre_map, region, names = _render_fluorescence(a, lay, frame, drawn, rng)
    dej_rc = dej_pieces[0]
    crossings = frame.to_pixels(np.array(drawn.crossings_uv).reshape(-1, 2))
    surf = _surface_in_frame(lay, frame)
    truth = {
        "generator": GENERATOR,
        "seed": seed,
        "modality": a["modality"],
        "pixel_size_um": a["pixel_size_um"],
        "shape": list(frame.shape),
        "count": len(crossings),
        "crossings": [{"row": float(r), "col": float(c)} for r, c in crossings],
        "dej": dej_rc.round(2).tolist(),
        "dej_length_um": float(_arc(dej_rc)[-1] * frame.px),
        "surface_length_um": float(_arc(surf)[-1] * frame.px) if len(surf) > 1 else 0.0,
        "n_fragments": drawn.n_fragments,
        "n_branches": drawn.n_branches,
        "n_near_miss": drawn.n_near_miss,
        "appearance": a,
    }
    return Section(image, truth, fibre_map, region, names)


def _polyline_in_frame(rc: np.ndarray, shape: tuple[int, int]) -> list[np.ndarray]:
    h, w = shape
    line = shapely.LineString(rc[:, ::-1])
    clipped = line.intersection(shapely.box(0, 0, w - 1, h - 1))
    parts = getattr(clipped, "geoms", [clipped])
    out = [np.asarray(p.coords)[:, ::-1] for p in parts if not p.is_empty and p.length > 0]
    return [p for p in out if len(p) >= 2]


def _dej_in_frame(lay: Layers, frame: Frame) -> list[np.ndarray]:
    keep = (lay.u >= lay.tissue_u0) & (lay.u <= lay.tissue_u1)
    rc = frame.to_pixels(np.column_stack([lay.u[keep], lay.dej[keep]]))
    return _polyline_in_frame(rc, frame.shape)


def _surface_in_frame(lay: Layers, frame: Frame) -> np.ndarray:
    keep = (lay.u >= lay.tissue_u0) & (lay.u <= lay.tissue_u1)
    rc = frame.to_pixels(np.column_stack([lay.u[keep], lay.surface[keep]]))
    parts = _polyline_in_frame(rc, frame.shape)
    return max(parts, key=len) if parts else np.zeros((0, 2))


def _regions(
    a: dict[str, Any], lay: Layers, frame: Frame, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-pixel layer masks and coordinates."""
    u, v = frame.grid_uv()
    s = np.interp(u, lay.u, lay.surface).astype(np.float32)
    d = np.interp(u, lay.u, lay.dej).astype(np.float32)
    px = frame.px
    # rough cut ends and a rough lower edge
    edge = 3.0 * _noise(frame.shape, 6 / px, rng)
    tissue = (u > lay.tissue_u0 + edge) & (u < lay.tissue_u1 + edge)
    if a["glass_bottom"]:
        bottom = float(lay.dej.max()) + a["dermis_um"] - rng.uniform(10, 40)
        tissue &= v < bottom + edge
    depth = v - s  # below the surface of the living epidermis
    sc_t = a["sc_um"]
    gap = np.zeros_like(v)
    if a["sc_kind"] == "detached":
        lift = np.interp(u, lay.u, np.clip(_smooth_1d(rng, len(lay.u), 80), -0.3, None))
        gap = (sc_t * 0.6 * np.clip(lift + 0.6, 0, 2)).astype(np.float32)
    sc = tissue & (depth < -gap) & (depth >= -gap - sc_t)
    epi = tissue & (depth >= 0) & (v < d)
    derm = tissue & (v >= d)
    return {
        "u": u,
        "v": v,
        "s": s,
        "d": d,
        "depth": depth,
        "gap": gap,
        "sc": sc,
        "epi": epi,
        "derm": derm,
        "tissue": tissue,
    }


def _dej_distance(lay: Layers, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Perpendicular distance (µm) to the junction and the junction arc length (µm) nearest."""
    keep = (lay.u >= lay.tissue_u0 - 20) & (lay.u <= lay.tissue_u1 + 20)
    rc, s = _densify(frame.to_pixels(np.column_stack([lay.u[keep], lay.dej[keep]])), 0.4)
    h, w = frame.shape
    r = np.rint(rc[:, 0]).astype(int)
    c = np.rint(rc[:, 1]).astype(int)
    ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    mark = np.zeros(frame.shape, bool)
    arc = np.zeros(frame.shape, np.float32)
    mark[r[ok], c[ok]] = True
    arc[r[ok], c[ok]] = s[ok] * frame.px
    if not mark.any():
        return np.full(frame.shape, 1e3, np.float32), arc
    dist, (ir, ic) = ndi.distance_transform_edt(~mark, return_indices=True)
    return (dist * frame.px).astype(np.float32), arc[ir, ic]


def _texture_fields(
    a: dict[str, Any], g: dict[str, np.ndarray], frame: Frame, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    px = frame.px
    shape = frame.shape
    fine = _noise(shape, 0.8 / px, rng)
    mid = _noise(shape, 4 / px, rng)
    wob = _noise(shape, 15 / px, rng)
    # collagen bundles: wavy bands in two directions, patches of each, with pale clefts
    big = _noise(shape, 30 / px, rng)
    bands = []
    for phi in rng.uniform(-0.9, 0.9, 2):
        period = rng.uniform(7, 16)
        along = math.cos(phi) * g["v"] + math.sin(phi) * g["u"]
        bands.append(0.5 + 0.5 * np.sin(2 * np.pi * (along + 8 * wob + 3 * mid) / period))
    mix = 1 / (1 + np.exp(-2.5 * big))
    coll = mix * bands[0] + (1 - mix) * bands[1]
    clefts = np.clip(1.6 * (_noise(shape, 2.5 / px, rng) + 1.1), 0, 1)
    coll = np.clip((0.25 + 0.9 * coll) * clefts * (0.8 + 0.2 * fine), 0, 1.3).astype(np.float32)
    # stratum corneum: compact, or a basket-weave of thin lamellae with clefts
    lam = 0.5 + 0.5 * np.sin(2 * np.pi * (g["depth"] + 2.5 * wob + 1.2 * mid) / rng.uniform(2.5, 5))
    lam *= np.clip(1.3 + _noise(shape, 3 / px, rng), 0, 1)  # broken lamellae
    if a["sc_kind"] == "compact":
        sc_tex = 0.85 + 0.15 * fine
    else:
        sc_tex = np.clip((lam - 0.35) * 2.0, 0, 1) * (0.8 + 0.2 * fine)
    return {"fine": fine, "mid": mid, "coll": coll, "sc_tex": sc_tex.astype(np.float32)}


def _nuclei(
    a: dict[str, Any], g: dict[str, np.ndarray], frame: Frame, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    px = frame.px
    epi_area = g["epi"].sum() * px * px
    centres = _sample_in(g["epi"], int(epi_area / rng.uniform(70, 110)), rng)
    epi_nuc = _ellipses(
        frame.shape, centres, np.full(len(centres), rng.uniform(2.4, 3.4) / px), rng
    )
    derm_area = g["derm"].sum() * px * px
    dc = _sample_in(g["derm"], int(derm_area / rng.uniform(250, 700)), rng)
    derm_nuc = _ellipses(
        frame.shape, dc, rng.uniform(1.6, 2.6, len(dc)) / px, rng, elongation=(1.5, 2.5)
    )
    return {"epi": epi_nuc, "derm": derm_nuc}


def _vessels(
    a: dict[str, Any],
    g: dict[str, np.ndarray],
    frame: Frame,
    rng: np.random.Generator,
    dist: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wall, lumen and red cells of small vessels in the upper dermis."""
    px = frame.px
    zone = g["derm"] & (dist > 6) & (dist < 70)
    n = int(rng.poisson(a["vessels_per_mm"] * a["length_um"] / 1000))
    centres = _sample_in(zone, n, rng)
    radii = rng.uniform(5, 16, len(centres)) / px
    outer = np.zeros(frame.shape, np.float32)
    lumen = np.zeros(frame.shape, np.float32)
    rbc = np.zeros(frame.shape, np.float32)
    for (r, c), rad in zip(centres, radii, strict=True):
        e = rng.uniform(1.0, 1.8)
        turn = rng.uniform(0, np.pi)
        rr, cc = draw.ellipse(r, c, rad * e, rad / e, shape=frame.shape, rotation=turn)
        outer[rr, cc] = 1.0
        wall = rng.uniform(0.55, 0.8)  # the lumen: the same ellipse, smaller
        rr, cc = draw.ellipse(
            r, c, rad * e * wall, rad / e * wall, shape=frame.shape, rotation=turn
        )
        lumen[rr, cc] = 1.0
        if rng.random() < 0.5:
            rbc[rr, cc] = np.clip(rng.normal(0.6, 0.3, len(rr)), 0, 1)
    wall = np.clip(outer - lumen, 0, 1) * g["derm"]
    return wall, lumen * g["derm"], ndi.gaussian_filter(rbc, 1.0) * g["derm"]


def _trunk_map(
    a: dict[str, Any], lay: Layers, frame: Frame, g: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    lines = []
    for centre, radius in _trunks(a, lay, rng):
        rc, s_px = _densify(frame.to_pixels(centre), 0.5)
        n = len(rc)
        taper = np.clip(np.minimum(s_px, s_px[-1] - s_px) * frame.px / (radius * 1.5), 0.3, 1.0)
        rad = (radius / frame.px) * taper * (1 + 0.1 * _smooth_1d(rng, n, 40))
        lines.append((rc, np.full(n, 1.0, np.float32), rad.astype(np.float32)))
    if not lines:
        return np.zeros(frame.shape, np.float32)
    m = _render_lines(frame.shape, lines, profile="flat")
    return m * g["derm"]


def _illumination(shape: tuple[int, int], amount: float, rng: np.random.Generator) -> np.ndarray:
    h, w = shape
    rr = (np.arange(h, dtype=np.float32)[:, None] - rng.uniform(0.3, 0.7) * h) / max(h, w)
    cc = (np.arange(w, dtype=np.float32)[None, :] - rng.uniform(0.3, 0.7) * w) / max(h, w)
    ang = rng.uniform(0, 2 * np.pi)
    field = (
        1
        - amount * (2.0 * (rr**2 + cc**2))
        + 0.5 * amount * (math.cos(ang) * rr + math.sin(ang) * cc)
    )
    return np.clip(field, 0.4, 1.1).astype(np.float32)


def _render_brightfield(
    a: dict[str, Any], lay: Layers, frame: Frame, drawn: Drawn, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = _regions(a, lay, frame, rng)
    t = _texture_fields(a, g, frame, rng)
    nuc = _nuclei(a, g, frame, rng)
    dist, _ = _dej_distance(lay, frame)
    wall, lumen, rbc = _vessels(a, g, frame, rng, dist)
    epi, derm, sc = (g[k].astype(np.float32) for k in ("epi", "derm", "sc"))
    pap = derm * (dist < rng.uniform(25, 70))
    cs = a["counterstain"]
    base_d = rng.uniform(0.05, 0.14)
    base_e = base_d * a["epidermis_contrast"]
    tissue_c = derm * base_d * (0.55 + 0.6 * t["coll"]) * (1 - 0.35 * pap)
    tissue_c += epi * base_e * (1 + 0.12 * t["mid"] + 0.08 * t["fine"])
    tissue_c += (
        sc * rng.uniform(0.04, 0.25) * t["sc_tex"] * (0.4 if a["sc_kind"] == "pale" else 1.0)
    )
    tissue_c += wall * base_d * 1.5 - lumen * base_d * 0.9
    basal = epi * (dist < rng.uniform(8, 14))
    hem = np.zeros(frame.shape, np.float32)
    eos = np.zeros(frame.shape, np.float32)
    if cs == "none":
        tissue_c += 0.25 * base_e * nuc["epi"] * epi + 0.3 * base_d * nuc["derm"] * derm
    else:
        h_nuc = rng.uniform(0.25, 0.75)
        hem += h_nuc * (nuc["epi"] * epi + nuc["derm"] * derm) * (0.8 + 0.2 * t["fine"])
        hem += epi * rng.uniform(0.02, 0.08) + basal * rng.uniform(0.0, 0.12)
        granular = epi * (g["depth"] < rng.uniform(4, 9))
        hem += granular * rng.uniform(0.0, 0.2)
        hem += wall * 0.15
    if cs == "H&E":
        e_d = rng.uniform(0.15, 0.5)
        eos += derm * e_d * (0.5 + 0.6 * t["coll"]) * (1 - 0.3 * pap)
        eos += epi * rng.uniform(0.1, 0.35) * (1 + 0.1 * t["mid"])
        eos += sc * rng.uniform(0.3, 0.8) * t["sc_tex"] * (0.4 if a["sc_kind"] == "pale" else 1.0)
        eos += rbc * 0.9 + wall * e_d
    fibre_vec = SG_VEC if a["stain"] == "SG" else DAB_VEC
    fibres = _render_lines(frame.shape, _fibre_lines(drawn, frame, a, rng))
    fibres *= g["tissue"]
    trunk = _trunk_map(a, lay, frame, g, rng)
    trunk_tex = np.clip(0.75 + 0.25 * t["fine"] + 0.15 * t["mid"], 0.3, 1.3)
    stain = 1.1 * fibres + trunk * rng.uniform(0.35, 0.9) * trunk_tex
    stain += g["tissue"] * rng.uniform(0.0, 0.03)  # non-specific background of the chromogen
    # melanin caps over basal nuclei: cell-sized patches, not a fine speckle
    mel = basal * a["melanin"] * np.clip(0.6 + 0.5 * t["mid"], 0, 1.5) * (1 + 0.5 * nuc["epi"])
    od = (
        tissue_c[..., None] * TISSUE_VEC
        + hem[..., None] * H_VEC
        + eos[..., None] * E_VEC
        + stain[..., None] * fibre_vec
        + mel[..., None] * MELANIN_VEC
    )
    od += 0.006 * t["fine"][..., None]
    cast = np.array(
        [rng.uniform(0.86, 0.98), rng.uniform(0.9, 1.0), rng.uniform(0.9, 1.0)], np.float32
    )
    light = _illumination(frame.shape, a["illumination"], rng)[..., None] * cast
    img = 250.0 * light * np.power(10.0, -od * 1.4)
    if a["blur_px"] > 0:
        img = ndi.gaussian_filter(img, (a["blur_px"], a["blur_px"], 0))
    img += rng.normal(0, a["noise"], img.shape).astype(np.float32)
    img8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if a["jpeg_quality"]:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(img8).save(buf, format="JPEG", quality=int(a["jpeg_quality"]))
        buf.seek(0)
        with Image.open(buf) as im:
            img8 = np.asarray(im.convert("RGB")).copy()
    region = (g["sc"] * 1 + g["epi"] * 2 + g["derm"] * 3).astype(np.uint8)
    return img8, fibres, region


def _render_fluorescence(
    a: dict[str, Any], lay: Layers, frame: Frame, drawn: Drawn, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    g = _regions(a, lay, frame, rng)
    t = _texture_fields(a, g, frame, rng)
    dist, arc = _dej_distance(lay, frame)
    wall, _, _ = _vessels(a, g, frame, rng, dist)
    epi, derm, sc = (g[k].astype(np.float32) for k in ("epi", "derm", "sc"))
    tissue = g["tissue"].astype(np.float32)
    fibres = _render_lines(frame.shape, _fibre_lines(drawn, frame, a, rng)) * tissue
    trunk = _trunk_map(a, lay, frame, g, rng)
    bg = rng.uniform(0.005, 0.03)
    pgp = bg + tissue * rng.uniform(0.0, 0.03)
    pgp += epi * rng.uniform(0.03, 0.10) * (1 + 0.2 * t["mid"])
    pgp += derm * a["autofluorescence_dermis"] * (0.4 + 0.8 * t["coll"])
    pgp += sc * a["autofluorescence_sc"] * t["sc_tex"]
    pgp += wall * a["autofluorescence_dermis"] * 0.8
    pgp += fibres + trunk * rng.uniform(0.3, 0.9) * np.clip(
        0.7 + 0.3 * t["fine"] + 0.2 * t["mid"], 0.2, 1.4
    )
    # collagen IV: the basement membrane under the epidermis, of vessels and of nerve bundles
    mode = a["collagen_iv"]
    line_amp = {
        "continuous": rng.uniform(0.5, 1.0),
        "dotted": rng.uniform(0.4, 0.9),
        "weak": rng.uniform(0.06, 0.18),
        "absent": 0.0,
    }[mode]
    sig = rng.uniform(0.5, 1.3)
    line = line_amp * np.exp(-(dist**2) / (2 * sig**2)) * tissue
    if mode == "dotted":
        period = rng.uniform(3, 8)
        dots = np.clip(
            (np.sin(2 * np.pi * arc / period + 2 * t["mid"]) - rng.uniform(-0.2, 0.5)) * 2, 0, 1
        )
        line *= dots
    else:
        line *= np.clip(1 + 0.25 * t["mid"], 0.3, 1.5)
    col = bg * 0.8 + line + tissue * rng.uniform(0.0, 0.04)
    col += derm * rng.uniform(0.01, 0.08) * (0.5 + 0.6 * t["coll"])
    col += wall * rng.uniform(0.2, 0.8)
    col += trunk * rng.uniform(0.05, 0.3)
    channels = [pgp, col]
    names: tuple[str, ...] = ("PGP9.5", "Collagen IV")
    if a["dapi"]:
        nuc = _nuclei(a, g, frame, rng)
        channels.append(bg + 0.6 * (nuc["epi"] * epi + nuc["derm"] * derm))
        names = ("DAPI", "PGP9.5", "Collagen IV")
        channels = [channels[2], channels[0], channels[1]]
    light = _illumination(frame.shape, a["illumination"], rng)
    stack = np.stack(channels) * light[None]
    if a["blur_px"] > 0:
        stack = ndi.gaussian_filter(stack, (0, a["blur_px"], a["blur_px"]))
    photons = a["photons"]
    stack = rng.poisson(np.clip(stack, 0, None) * photons).astype(np.float32) / photons
    stack += rng.normal(0, 0.004, stack.shape).astype(np.float32)
    if a["bit_depth"] == 8:
        out = np.clip(np.rint(stack * 230), 0, 255).astype(np.uint8)
    else:
        offset = rng.uniform(50, 300)
        out = np.clip(np.rint(offset + stack * a["full_scale"]), 0, 65535).astype(np.uint16)
    region = (g["sc"] * 1 + g["epi"] * 2 + g["derm"] * 3).astype(np.uint8)
    return out, fibres, region, names


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def write_section(section: Section, folder: str | Path, name: str) -> tuple[Path, Path]:
    """Write the image as an OME-TIFF with its physical pixel size, and its truth as JSON.

    Returns
    -------
    image_path, truth_path : Path
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    px = section.truth["pixel_size_um"]
    meta: dict[str, Any] = {
        "PhysicalSizeX": px,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": px,
        "PhysicalSizeYUnit": "µm",
    }
    image_path = folder / f"{name}.ome.tif"
    if section.image.ndim == 3 and section.image.shape[-1] == 3 and not section.channel_names:
        meta["axes"] = "YXS"
        tifffile.imwrite(
            image_path,
            section.image,
            ome=True,
            photometric="rgb",
            compression="zlib",
            metadata=meta,
        )
    else:
        meta["axes"] = "CYX"
        meta["Channel"] = {"Name": list(section.channel_names)}
        tifffile.imwrite(
            image_path,
            section.image,
            ome=True,
            photometric="minisblack",
            compression="zlib",
            metadata=meta,
        )
    truth_path = folder / f"{name}.truth.json"
    truth = dict(section.truth, image=image_path.name)
    truth_path.write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return image_path, truth_path


def _seed_range(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="100-119", help="e.g. 100-119 or 1,5,9")
    parser.add_argument("--out", required=True)
    parser.add_argument("--max-megapixels", type=float, default=6.0)
    args = parser.parse_args(argv)
    for seed in _seed_range(args.seeds):
        section = generate_section(seed, max_megapixels=args.max_megapixels)
        path, _ = write_section(section, args.out, f"indep_{seed}")
        a = section.truth["appearance"]
        print(
            f"{path}: {a['modality']} {section.image.shape} count {section.truth['count']} "
            f"DEJ {section.truth['dej_length_um']:.0f} µm"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
