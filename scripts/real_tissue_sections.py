"""Real-tissue test sections: synthetic nerve fibres of known truth drawn over real skin.

Real bright-field skin micrographs (CC0, SB Lucas / Wellcome Collection; see
``/work/shared/real_skin/README.md``) carry a dermal-epidermal junction (DEJ) traced and
checked by eye, stored in ``scripts/data/real_skin_junctions.json``.  From a crop and its
junction this module makes test sections:

1. the crop is resampled to a target pixel size;
2. synthetic PGP 9.5-stained fibres are laid over the real RGB by Beer-Lambert absorption
   (the transmittance of each fibre multiplies the tissue's), in SG blue-grey/black or DAB
   brown, 0.5-1.5 µm wide, faint to dark, some beaded:

   - intraepidermal fibres that start in the dermis 10-40 µm below the DEJ, cross the traced
     DEJ once at a known point at an angle within ±40° of its normal and end inside the
     epidermis: the truth crossings (8-25 per mm of DEJ, at least 15 µm apart along it);
     20% carry a secondary branch inside the epidermis (counted once);
   - a subepidermal plexus running roughly parallel to the DEJ 5-40 µm below it (not counted);
   - fibres that rise and stop 3-10 µm short of the DEJ (not counted);
   - short epidermal fragments that do not touch the DEJ (not counted);

3. each section is shown in the 8 orientations (``np.rot90`` with k = 0..3, with and without
   ``np.fliplr``) with the truth coordinates transformed exactly.

The source pixel sizes are estimates (epidermal thickness taken as 70 µm), so every length in
µm here is "µm at the assumed scale", not a measurement.

Used as a module, by path (the folder ``scripts`` is not a package)::

    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("rts", "scripts/real_tissue_sections.py")
    rts = importlib.util.module_from_spec(spec)
    sys.modules["rts"] = rts
    spec.loader.exec_module(rts)
    rgb, truth = rts.build_test_section()          # from tests/data/real_skin

or from the command line::

    .venv/bin/python scripts/real_tissue_sections.py --out /tmp/real_sections
    .venv/bin/python scripts/real_tissue_sections.py --make-test-crop tests/data/real_skin
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.transform import resize

ROOT = Path(__file__).resolve().parent.parent
JUNCTIONS_PATH = ROOT / "scripts" / "data" / "real_skin_junctions.json"
SOURCE_DIR = Path("/work/shared/real_skin")
TEST_DATA_DIR = ROOT / "tests" / "data" / "real_skin"
CREDIT = "SB Lucas / Wellcome Collection"
LICENSE = "CC0 1.0"

#: Optical density per unit stain in (R, G, B).  SG (Vector SG) absorbs across the spectrum,
#: a little less in blue, so fibres look blue-grey to black; DAB absorbs mostly blue and
#: green (brown), the Ruifrok & Johnston (2001, Anal Quant Cytol Histol 23:291) DAB vector
#: scaled to a maximum of 1.
STAIN_OD = {"sg": np.array([1.0, 0.93, 0.74]), "dab": np.array([0.345, 0.735, 1.0])}
STAINS = tuple(STAIN_OD)

#: The 8 orientations, as (k of ``np.rot90``, whether ``np.fliplr`` is applied first).
ORIENTATIONS: tuple[tuple[int, bool], ...] = tuple(
    (k, flip) for flip in (False, True) for k in range(4)
)

_LN10 = math.log(10.0)
_STEP_UM = 0.5  # step of the fibre random walks


# ---------------------------------------------------------------------------------------------
# Reading crops and junctions
# ---------------------------------------------------------------------------------------------


def load_junctions(path: str | Path = JUNCTIONS_PATH) -> list[dict[str, Any]]:
    """Read the traced junctions, one record per crop.

    Parameters
    ----------
    path : str or Path
        A JSON file shaped like ``scripts/data/real_skin_junctions.json``.

    Returns
    -------
    list of dict
        The ``crops`` records with ``dej`` and ``surface`` as ``(K, 2)`` float arrays of
        (row, col) in crop pixels at source resolution.

    Raises
    ------
    ValueError
        If a record's epidermis is not above its junction or a polyline does not run from
        the left crop edge to the right one.
    """
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    crops = doc["crops"] if "crops" in doc else [doc]
    out = []
    for entry in crops:
        rec = dict(entry)
        rec["dej"] = np.asarray(entry["dej"], dtype=float)
        rec["surface"] = np.asarray(entry["surface"], dtype=float)
        _check_junction(rec)
        out.append(rec)
    return out


def _check_junction(rec: dict[str, Any]) -> None:
    if rec.get("epidermis_side", "above") != "above":
        raise ValueError(
            f"crop {rec.get('id')!r}: epidermis_side={rec['epidermis_side']!r}; this module "
            "accepts 'above' (epidermis towards row 0), rotate the crop first"
        )
    height, width = rec["shape"]
    for name in ("dej", "surface"):
        line = rec[name]
        if line.ndim != 2 or line.shape[1] != 2 or len(line) < 2:
            raise ValueError(f"crop {rec.get('id')!r}: {name} must be (K >= 2, 2)")
        if abs(line[0, 1]) > 0.5 or abs(line[-1, 1] - (width - 1)) > 0.5:
            raise ValueError(
                f"crop {rec.get('id')!r}: {name} runs from col {line[0, 1]} to "
                f"{line[-1, 1]}; expected 0 to {width - 1} (the crop's cut edges)"
            )
        if line[:, 0].min() < -0.5 or line[:, 0].max() > height - 0.5:
            raise ValueError(f"crop {rec.get('id')!r}: {name} leaves the crop's rows")


def read_crop(entry: dict[str, Any], source_dir: str | Path = SOURCE_DIR) -> np.ndarray:
    """Cut a record's crop out of its source micrograph.

    Parameters
    ----------
    entry : dict
        A record from :func:`load_junctions` (``file`` and ``crop``).
    source_dir : str or Path
        Folder holding the source JPEG files.

    Returns
    -------
    (M, N, 3) ndarray of uint8
    """
    from PIL import Image

    box = entry["crop"]
    with Image.open(Path(source_dir) / entry["file"]) as im:
        rgb = np.asarray(im.convert("RGB"))
    crop = rgb[box["row0"] : box["row1"], box["col0"] : box["col1"]]
    if crop.shape[:2] != tuple(entry["shape"]):
        raise ValueError(
            f"crop {entry['id']!r}: box gives shape {crop.shape[:2]}, record says "
            f"{tuple(entry['shape'])}"
        )
    return np.ascontiguousarray(crop)


# ---------------------------------------------------------------------------------------------
# Geometry of one section
# ---------------------------------------------------------------------------------------------


def polyline_length(line: np.ndarray) -> float:
    """Length of a (K, 2) polyline in its own units."""
    line = np.asarray(line, dtype=float)
    return float(np.hypot(*np.diff(line, axis=0).T).sum()) if len(line) > 1 else 0.0


class _Junction:
    """The traced DEJ and surface of one section, with the queries fibre drawing needs.

    Coordinates are (row, col) pixels of the section; the DEJ runs from the left edge to the
    right edge with the epidermis towards row 0.
    """

    def __init__(self, dej: np.ndarray, surface: np.ndarray, pixel_size_um: float) -> None:
        self.dej = np.asarray(dej, dtype=float)
        self.surface = np.asarray(surface, dtype=float)
        self.px = float(pixel_size_um)
        self.line = shapely.LineString(self.dej[:, ::-1])
        self.surface_line = shapely.LineString(self.surface[:, ::-1])
        self.length_px = float(self.line.length)
        far = 1e7
        above = [(-far, self.dej[0, 0]), *map(tuple, self.dej[:, ::-1]), (far, self.dej[-1, 0])]
        above += [(far, -far), (-far, -far)]
        below_surface = [
            (-far, self.surface[0, 0]),
            *map(tuple, self.surface[:, ::-1]),
            (far, self.surface[-1, 0]),
            (far, far),
            (-far, far),
        ]
        self.above_poly = shapely.Polygon(above)
        self.below_surface_poly = shapely.Polygon(below_surface)
        for geom in (self.line, self.surface_line, self.above_poly, self.below_surface_poly):
            shapely.prepare(geom)

    def above(self, pts: np.ndarray) -> np.ndarray:
        """Whether points lie on the epidermis side of the DEJ."""
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        return shapely.contains_xy(self.above_poly, pts[:, 1], pts[:, 0])

    def in_epidermis(self, pts: np.ndarray) -> np.ndarray:
        """Whether points lie between the DEJ and the surface."""
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        below = shapely.contains_xy(self.below_surface_poly, pts[:, 1], pts[:, 0])
        return self.above(pts) & below

    def dist_dej_um(self, pts: np.ndarray) -> np.ndarray:
        """Distance from points to the DEJ, µm."""
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        return shapely.distance(self.line, shapely.points(pts[:, 1], pts[:, 0])) * self.px

    def dist_surface_um(self, pts: np.ndarray) -> np.ndarray:
        """Distance from points to the surface, µm."""
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        return shapely.distance(self.surface_line, shapely.points(pts[:, 1], pts[:, 0])) * self.px

    def point_at(self, s_um: float | np.ndarray, *, smooth_um: float = 3.0) -> tuple[Any, Any]:
        """Point(s) at arc length `s_um` along the DEJ and the unit normal(s) into the epidermis.

        The tangent is the chord between the points `smooth_um` before and after.
        """
        s = np.atleast_1d(np.asarray(s_um, dtype=float)) / self.px
        h = smooth_um / self.px
        pos = _interp(self.line, s)
        ahead = _interp(self.line, np.clip(s + h, 0, self.length_px))
        behind = _interp(self.line, np.clip(s - h, 0, self.length_px))
        tangent = ahead - behind
        tangent /= np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-9)[:, None]
        # walking left to right with row 0 at the top, the epidermis is on the left: (-dc, dr)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        return pos, normal


def _interp(line: shapely.LineString, s_px: np.ndarray) -> np.ndarray:
    pts = shapely.line_interpolate_point(line, s_px)
    return np.stack([shapely.get_y(pts), shapely.get_x(pts)], axis=1)


def _walk(
    start: np.ndarray,
    angle: float,
    n_steps: int,
    step_px: float,
    rng: np.random.Generator,
    *,
    wander: float = 0.05,
    pull: float = 0.12,
) -> np.ndarray:
    """A gently wandering path: (n_steps + 1, 2) points from `start`.

    The heading (radians, direction (sin a, cos a) in (row, col)) drifts by a mean-reverting
    random walk, so the path keeps its general course.
    """
    dev = np.zeros(n_steps)
    noise = rng.normal(0.0, wander, n_steps)
    for i in range(1, n_steps):
        dev[i] = (1.0 - pull) * dev[i - 1] + noise[i]
    heading = angle + dev
    steps = np.stack([np.sin(heading), np.cos(heading)], axis=1) * step_px
    return np.vstack([start, start + np.cumsum(steps, axis=0)])


def _rotate(vec: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return np.array([c * vec[0] + s * vec[1], -s * vec[0] + c * vec[1]])


def _angle(vec: np.ndarray) -> float:
    return math.atan2(vec[0], vec[1])


class _Occupancy:
    """Points of the fibres drawn so far, to keep new ones apart."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._tree: cKDTree | None = None

    def add(self, pts: np.ndarray) -> None:
        self._parts.append(np.asarray(pts, dtype=float))
        self._tree = None

    def clear_of(self, pts: np.ndarray, radius_px: float) -> bool:
        if not self._parts:
            return True
        if self._tree is None:
            self._tree = cKDTree(np.vstack(self._parts))
        dist, _ = self._tree.query(np.asarray(pts, dtype=float), k=1)
        return bool(np.all(dist >= radius_px))


# ---------------------------------------------------------------------------------------------
# Fibre layout
# ---------------------------------------------------------------------------------------------


def _crossing_positions(
    junction: _Junction, n: int, rng: np.random.Generator, *, min_gap_um: float = 15.0
) -> list[float]:
    """Arc lengths (µm) for `n` candidate crossings, >= `min_gap_um` apart along the DEJ
    and >= 12 µm apart in a straight line, >= 15 µm from the cut edges."""
    length_um = junction.length_px * junction.px
    margin = 15.0
    if length_um <= 2 * margin:
        return []
    cand = rng.uniform(margin, length_um - margin, size=max(20 * n, 50))
    chosen: list[float] = []
    chosen_pts: list[np.ndarray] = []
    for s in cand:
        if len(chosen) >= n:
            break
        if any(abs(s - t) < min_gap_um for t in chosen):
            continue
        p, _ = junction.point_at(s)
        if any(np.hypot(*(p[0] - q)) * junction.px < 12.0 for q in chosen_pts):
            continue
        chosen.append(float(s))
        chosen_pts.append(p[0])
    return chosen


def _crossing_fibre(
    junction: _Junction,
    s_um: float,
    rng: np.random.Generator,
    occupied: _Occupancy,
    *,
    attempts: int = 12,
) -> dict[str, Any] | None:
    """One intraepidermal fibre crossing the DEJ at arc length `s_um`, or None."""
    px = junction.px
    step = _STEP_UM / px
    pos, normal = junction.point_at(s_um)
    p, n = pos[0], normal[0]
    thickness_um = float(junction.dist_surface_um(p)[0])
    if thickness_um < 14.0:
        return None
    for _ in range(attempts):
        theta = rng.uniform(-40.0, 40.0)
        d = _rotate(n, theta)
        a = _angle(d)
        depth = rng.uniform(10.0, 40.0)
        down = _walk(p, a + math.pi, int(3.0 * depth / _STEP_UM), step, rng)
        if junction.above(down[1:]).any():
            continue
        dist = junction.dist_dej_um(down)
        far = np.nonzero(dist >= depth)[0]
        if len(far) == 0:
            continue
        down = down[: far[0] + 1]
        walked = np.arange(len(down)) * _STEP_UM
        if np.any(dist[: len(down)][walked > 3.0] < 1.5):
            continue
        length = max(6.0, rng.uniform(0.35, 0.8) * thickness_um)
        up = _walk(p, a, max(2, int(length / _STEP_UM)), step, rng)
        if not junction.in_epidermis(up[1:]).all():
            continue
        dist_up = junction.dist_dej_um(up)
        walked_up = np.arange(len(up)) * _STEP_UM
        if np.any(dist_up[walked_up > 3.0] < 1.5) or dist_up[-1] < 3.0:
            continue
        if junction.dist_surface_um(up[-1])[0] < 3.0:
            continue
        path = np.vstack([down[::-1], up[1:]])
        if not occupied.clear_of(path, 4.0 / px):
            continue
        fibre: dict[str, Any] = {
            "kind": "crossing",
            "paths": [path],
            "crossing": p.copy(),
            "angle_deg": theta,
            "start_depth_um": float(dist[len(down) - 1]),
            "branch_point": None,
        }
        if rng.random() < 0.2:
            branch = _branch(junction, up, rng, occupied)
            if branch is not None:
                fibre["paths"].append(branch)
                fibre["branch_point"] = branch[0].copy()
        return fibre
    return None


def _branch(
    junction: _Junction, trunk: np.ndarray, rng: np.random.Generator, occupied: _Occupancy
) -> np.ndarray | None:
    """A secondary branch leaving the epidermal part of a fibre and staying in the epidermis."""
    px = junction.px
    step = _STEP_UM / px
    for _ in range(6):
        j = int(rng.uniform(0.3, 0.7) * (len(trunk) - 1))
        j = min(max(j, 1), len(trunk) - 2)
        heading = _angle(trunk[j + 1] - trunk[j - 1])
        side = rng.choice([-1.0, 1.0])
        a = heading + side * math.radians(rng.uniform(25.0, 60.0))
        length = rng.uniform(5.0, 20.0)
        path = _walk(trunk[j], a, max(2, int(length / _STEP_UM)), step, rng)
        if not junction.in_epidermis(path[1:]).all():
            continue
        if junction.dist_dej_um(path).min() < 3.0:
            continue
        if junction.dist_surface_um(path[-1])[0] < 2.0:
            continue
        away = np.hypot(*(path - trunk[j]).T) * px > 3.0
        if not occupied.clear_of(path[away], 3.0 / px):
            continue
        return path
    return None


def _plexus_fibres(junction: _Junction, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Fibres running roughly parallel to the DEJ 5-40 µm below it (not counted)."""
    px = junction.px
    length_um = junction.length_px * px
    out: list[dict[str, Any]] = []
    for _ in range(n):
        run = rng.uniform(60.0, 250.0)
        s0 = rng.uniform(0.0, max(1.0, length_um - 20.0))
        s = np.arange(s0, min(length_um, s0 + run), 1.0)
        if len(s) < 20:
            continue
        pos, normal = junction.point_at(s, smooth_um=15.0)
        depth0, depth1 = rng.uniform(5.0, 40.0, size=2)
        depth = np.linspace(depth0, depth1, len(s))
        depth += ndi.gaussian_filter1d(rng.normal(0.0, 12.0, len(s)), 8.0, mode="nearest")
        pts = pos - normal * (np.clip(depth, 6.0, 42.0) / px)[:, None]
        pts = np.stack(
            [
                ndi.gaussian_filter1d(pts[:, 0], 3.0, mode="nearest"),
                ndi.gaussian_filter1d(pts[:, 1], 3.0, mode="nearest"),
            ],
            axis=1,
        )
        ok = ~junction.above(pts) & (junction.dist_dej_um(pts) >= 5.0)
        gaps = np.r_[0.0, np.hypot(*np.diff(pts, axis=0).T)] * px
        ok &= gaps <= 3.0
        for run_pts in _runs(pts, ok):
            if polyline_length(run_pts) * px >= 20.0:
                out.append({"kind": "plexus", "paths": [run_pts]})
    return out


def _runs(pts: np.ndarray, ok: np.ndarray) -> list[np.ndarray]:
    """Consecutive stretches of `pts` where `ok` holds."""
    runs = []
    start = None
    for i, good in enumerate(np.append(ok, False)):
        if good and start is None:
            start = i
        elif not good and start is not None:
            if i - start >= 2:
                runs.append(pts[start:i])
            start = None
    return runs


def _short_fibre(
    junction: _Junction,
    rng: np.random.Generator,
    occupied: _Occupancy,
    crossings: np.ndarray,
) -> dict[str, Any] | None:
    """A dermal fibre rising towards the DEJ and stopping 3-10 µm short of it."""
    px = junction.px
    step = _STEP_UM / px
    length_um = junction.length_px * px
    for _ in range(10):
        s = rng.uniform(10.0, length_um - 10.0)
        pos, normal = junction.point_at(s)
        gap = rng.uniform(3.0, 10.0)
        theta = rng.uniform(-40.0, 40.0)
        a = _angle(_rotate(normal[0], theta)) + math.pi
        depth = rng.uniform(15.0, 40.0)
        down = _walk(pos[0], a, int(3.0 * depth / _STEP_UM), step, rng)
        dist = junction.dist_dej_um(down)
        if junction.above(down[1:]).any():
            continue
        far = np.nonzero(dist >= depth)[0]
        if len(far) == 0:
            continue
        down = down[: far[0] + 1]
        dist = dist[: far[0] + 1]
        keep = np.nonzero(dist >= gap)[0]
        if len(keep) < 4:
            continue
        path = down[keep[0] :][::-1]  # deep start -> end near the DEJ
        if np.any(junction.dist_dej_um(path) < gap - 0.01):
            continue
        end = path[-1]
        if len(crossings) and np.min(np.hypot(*(crossings - end).T)) * px < 12.0:
            continue
        if not occupied.clear_of(path, 3.0 / px):
            continue
        return {
            "kind": "short",
            "paths": [path],
            "end": end.copy(),
            "gap_um": float(junction.dist_dej_um(end)[0]),
        }
    return None


def _fragment(
    junction: _Junction, rng: np.random.Generator, occupied: _Occupancy, shape: tuple[int, int]
) -> dict[str, Any] | None:
    """A short fibre piece inside the epidermis that does not touch the DEJ."""
    px = junction.px
    step = _STEP_UM / px
    rows = np.concatenate([junction.dej[:, 0], junction.surface[:, 0]])
    r0, r1 = max(0.0, rows.min()), min(shape[0] - 1.0, rows.max())
    for _ in range(40):
        start = np.array([rng.uniform(r0, r1), rng.uniform(0, shape[1] - 1)])
        if not junction.in_epidermis(start)[0] or junction.dist_dej_um(start)[0] < 5.0:
            continue
        length = rng.uniform(4.0, 15.0)
        path = _walk(
            start, rng.uniform(-math.pi, math.pi), max(2, int(length / _STEP_UM)), step, rng
        )
        if not junction.in_epidermis(path).all():
            continue
        if junction.dist_dej_um(path).min() < 4.0 or junction.dist_surface_um(path).min() < 2.0:
            continue
        if not occupied.clear_of(path, 3.0 / px):
            continue
        return {"kind": "fragment", "paths": [path], "centre": path[len(path) // 2].copy()}
    return None


def layout_fibres(
    junction_dej: np.ndarray,
    junction_surface: np.ndarray,
    shape: tuple[int, int],
    pixel_size_um: float,
    rng: np.random.Generator,
    *,
    density_per_mm: float | None = None,
) -> list[dict[str, Any]]:
    """Place every fibre of one section (geometry only, no drawing).

    Parameters
    ----------
    junction_dej, junction_surface : (K, 2) ndarray
        DEJ and surface polylines, (row, col) pixels of the section, left edge to right edge,
        epidermis towards row 0.
    shape : tuple of int
        (rows, cols) of the section.
    pixel_size_um : float
        Section pixel size.
    rng : numpy.random.Generator
    density_per_mm : float, optional
        Target number of crossing fibres per mm of DEJ; drawn from U(8, 25) if not given.
        Fewer are placed where the tissue has no room (thin epidermis, crowded ridges).

    Returns
    -------
    list of dict
        One dict per fibre: ``kind`` ('crossing', 'plexus', 'short', 'fragment'), ``paths``
        (list of (K, 2) arrays: the trunk and any branch) and kind-specific keys
        (``crossing``, ``branch_point``, ``end``, ``gap_um``, ``centre``).
    """
    junction = _Junction(junction_dej, junction_surface, pixel_size_um)
    length_mm = junction.length_px * pixel_size_um / 1000.0
    if density_per_mm is None:
        density_per_mm = rng.uniform(8.0, 25.0)
    occupied = _Occupancy()
    fibres: list[dict[str, Any]] = []
    target = round(density_per_mm * length_mm)
    for s in _crossing_positions(junction, 3 * target, rng):
        if sum(f["kind"] == "crossing" for f in fibres) >= target:
            break
        fibre = _crossing_fibre(junction, s, rng, occupied)
        if fibre is not None:
            fibres.append(fibre)
            for path in fibre["paths"]:
                occupied.add(path)
    crossings = np.array([f["crossing"] for f in fibres]).reshape(-1, 2)
    for _ in range(round(rng.uniform(2.0, 6.0) * length_mm)):
        fibre = _short_fibre(junction, rng, occupied, crossings)
        if fibre is not None:
            fibres.append(fibre)
            occupied.add(fibre["paths"][0])
    for _ in range(round(rng.uniform(3.0, 8.0) * length_mm)):
        fibre = _fragment(junction, rng, occupied, shape)
        if fibre is not None:
            fibres.append(fibre)
            occupied.add(fibre["paths"][0])
    fibres += _plexus_fibres(junction, round(rng.uniform(3.0, 6.0) * length_mm) + 1, rng)
    return fibres


# ---------------------------------------------------------------------------------------------
# Drawing (Beer-Lambert)
# ---------------------------------------------------------------------------------------------


def _fibre_profile(
    n: int, spacing_um: float, rng: np.random.Generator, *, beaded: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Relative optical density along a fibre sampled every `spacing_um`, and bead indices.

    The density varies slowly (±30%); a beaded fibre has varicosities every 2.5-6 µm.
    """
    amp = 1.0 + ndi.gaussian_filter1d(rng.normal(0.0, 0.6, n), 10.0 / spacing_um, mode="nearest")
    amp = np.clip(amp, 0.7, 1.3)
    beads = np.zeros(0, dtype=int)
    if beaded and n > 4:
        length = (n - 1) * spacing_um
        period = rng.uniform(2.5, 6.0)
        at = np.arange(rng.uniform(0, period), length, period)
        at = at + rng.normal(0.0, 0.15 * period, len(at))
        beads = np.clip(np.round(at / spacing_um).astype(int), 0, n - 1)
    return amp, beads


def _add_blobs(
    own: np.ndarray, origin: tuple[int, int], centres: np.ndarray, od: np.ndarray, sigma: float
) -> None:
    """Round varicosities: isotropic Gaussian spots combined with `own` by maximum."""
    radius = math.ceil(4.0 * sigma) + 1
    for (r, c), a in zip(centres, od, strict=True):
        r -= origin[0]
        c -= origin[1]
        r0, r1 = max(0, int(r) - radius), min(own.shape[0], int(r) + radius + 2)
        c0, c1 = max(0, int(c) - radius), min(own.shape[1], int(c) + radius + 2)
        if r1 <= r0 or c1 <= c0:
            continue
        yy, xx = np.mgrid[r0:r1, c0:c1]
        spot = a * np.exp(-0.5 * ((yy - r) ** 2 + (xx - c) ** 2) / sigma**2)
        np.maximum(own[r0:r1, c0:c1], spot, out=own[r0:r1, c0:c1])


def densify_polyline(path: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` (or a little less) along a (K, 2) polyline, ends included."""
    seg = np.hypot(*np.diff(path, axis=0).T)
    s = np.r_[0.0, np.cumsum(seg)]
    if s[-1] == 0:
        return path[:1]
    t = np.linspace(0.0, s[-1], max(2, math.ceil(s[-1] / spacing) + 1))
    return np.stack([np.interp(t, s, path[:, 0]), np.interp(t, s, path[:, 1])], axis=1)


def _render_chunk(
    pts: np.ndarray, od: np.ndarray, sigma: np.ndarray, shape: tuple[int, int]
) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Optical density of one stretch of centreline, anti-aliased, in its bounding box.

    `pts` are (row, col) section pixels every <= 0.2 px; `od` and `sigma` (px) per point.
    """
    margin = 4.0 * float(sigma.max()) + 2.0
    r0 = max(0, math.floor(pts[:, 0].min() - margin))
    r1 = min(shape[0], math.ceil(pts[:, 0].max() + margin) + 1)
    c0 = max(0, math.floor(pts[:, 1].min() - margin))
    c1 = min(shape[1], math.ceil(pts[:, 1].max() + margin) + 1)
    if r1 <= r0 or c1 <= c0:
        return None
    ss = int(np.clip(math.ceil(1.5 / max(float(sigma.min()), 1e-3)), 2, 4))
    h, w = (r1 - r0) * ss, (c1 - c0) * ss
    # sub-pixel (i, j) of the ss grid has its centre at section ((i + 0.5) / ss - 0.5 + r0, ...)
    rr = np.round((pts[:, 0] - r0 + 0.5) * ss - 0.5).astype(int)
    cc = np.round((pts[:, 1] - c0 + 0.5) * ss - 0.5).astype(int)
    inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    if not inside.any():
        return None
    rr, cc, od_in, sig_in = rr[inside], cc[inside], od[inside], sigma[inside]
    centre = np.zeros((h, w), dtype=bool)
    centre[rr, cc] = True
    od_map = np.zeros((h, w))
    sig_map = np.ones((h, w))
    od_map[rr, cc] = od_in
    sig_map[rr, cc] = sig_in * ss
    dist, (ir, ic) = ndi.distance_transform_edt(~centre, return_indices=True)
    sub = od_map[ir, ic] * np.exp(-0.5 * (dist / sig_map[ir, ic]) ** 2)
    block = sub.reshape(r1 - r0, ss, c1 - c0, ss).mean(axis=(1, 3))
    return (slice(r0, r1), slice(c0, c1)), block


def draw_fibres(
    rgb: np.ndarray,
    fibres: Sequence[dict[str, Any]],
    pixel_size_um: float,
    rng: np.random.Generator,
    *,
    stain: str = "sg",
) -> np.ndarray:
    """Lay fibres over a bright-field image by Beer-Lambert absorption.

    Each fibre gets a width (FWHM 0.5-1.5 µm), a peak optical density (0.15-1.1, faint to
    dark), a slow variation of density along it and, for 30% of fibres, beads (round
    varicosities 1.2-2.4 µm across, 2.5-6 µm apart, 1.2-1.8 times as dense).  The optical
    densities of all fibres add; the tissue's transmittance is multiplied by
    ``10 ** -(OD * stain_vector)``.

    Parameters
    ----------
    rgb : (M, N, 3) ndarray
        The tissue, uint8 or float in [0, 1].
    fibres : sequence of dict
        From :func:`layout_fibres`.
    pixel_size_um : float
        Pixel size of `rgb`.
    rng : numpy.random.Generator
    stain : {'sg', 'dab'}
        Chromogen: SG (blue-grey/black) or DAB (brown).

    Returns
    -------
    (M, N, 3) ndarray of uint8
    """
    if stain not in STAIN_OD:
        raise ValueError(f"stain={stain!r}; accepted: {STAINS}")
    img = np.asarray(rgb, dtype=float)
    if np.asarray(rgb).dtype == np.uint8:
        img = img / 255.0
    shape = img.shape[:2]
    total = np.zeros(shape)
    spacing_px = 0.2
    spacing_um = spacing_px * pixel_size_um
    chunk = max(20, int(40.0 / spacing_um))
    for fibre in fibres:
        width_um = rng.uniform(0.5, 1.5)
        peak = float(np.exp(rng.uniform(math.log(0.15), math.log(1.1))))
        beaded = rng.random() < 0.3
        sigma_px = width_um / 2.3548 / pixel_size_um
        pieces = []
        bead_pts: list[np.ndarray] = []
        bead_od: list[np.ndarray] = []
        for path in fibre["paths"]:
            dense = densify_polyline(np.asarray(path, dtype=float), spacing_px)
            amp, beads = _fibre_profile(len(dense), spacing_um, rng, beaded=beaded)
            sigma = np.full(len(dense), sigma_px)
            for i in range(0, len(dense), chunk):
                j = min(len(dense), i + chunk + 1)
                out = _render_chunk(dense[i:j], peak * amp[i:j], sigma[i:j], shape)
                if out is not None:
                    pieces.append(out)
            bead_pts.append(dense[beads])
            bead_od.append(peak * amp[beads] * rng.uniform(1.2, 1.8, len(beads)))
        if not pieces:
            continue
        # one fibre's pieces overlap at their shared ends: combine them by maximum
        r0 = min(b[0].start for b, _ in pieces)
        r1 = max(b[0].stop for b, _ in pieces)
        c0 = min(b[1].start for b, _ in pieces)
        c1 = max(b[1].stop for b, _ in pieces)
        own = np.zeros((r1 - r0, c1 - c0))
        for (rows, cols), block in pieces:
            view = own[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0]
            np.maximum(view, block, out=view)
        if beaded:
            bead_fwhm_um = max(1.6 * width_um, rng.uniform(1.2, 2.2))
            _add_blobs(
                own,
                (r0, c0),
                np.vstack(bead_pts),
                np.concatenate(bead_od),
                bead_fwhm_um / 2.3548 / pixel_size_um,
            )
        total[r0:r1, c0:c1] += own
    transmittance = np.exp(-_LN10 * total[..., None] * STAIN_OD[stain][None, None, :])
    out = np.clip(img * transmittance, 0.0, 1.0)
    return np.round(out * 255.0).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Sections, orientations, files
# ---------------------------------------------------------------------------------------------


def _rescale_points(pts: np.ndarray, in_shape: Sequence[int], out_shape: Sequence[int]) -> Any:
    """Map pixel-centre coordinates between two samplings of the same field."""
    scale = np.array([out_shape[0] / in_shape[0], out_shape[1] / in_shape[1]])
    return (np.asarray(pts, dtype=float) + 0.5) * scale - 0.5


def resample_crop(
    rgb: np.ndarray, source_pixel_size_um: float, target_pixel_size_um: float
) -> np.ndarray:
    """Resample an RGB crop to a target pixel size (bilinear, anti-aliased when shrinking).

    Returns
    -------
    (M', N', 3) ndarray of float in [0, 1]
        ``M' = round(M * source / target)`` and likewise ``N'``.
    """
    factor = source_pixel_size_um / target_pixel_size_um
    shape = (max(2, round(rgb.shape[0] * factor)), max(2, round(rgb.shape[1] * factor)))
    img = np.asarray(rgb, dtype=float) / (255.0 if rgb.dtype == np.uint8 else 1.0)
    return resize(img, (*shape, 3), order=1, anti_aliasing=factor < 1.0, mode="edge")


def build_section(
    crop_rgb: np.ndarray,
    entry: dict[str, Any],
    *,
    target_pixel_size_um: float,
    seed: int,
    stain: str = "sg",
    density_per_mm: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One test section, in the crop's own orientation, with its truth.

    Parameters
    ----------
    crop_rgb : (M, N, 3) ndarray of uint8
        The crop at source resolution (:func:`read_crop`).
    entry : dict
        Its junction record (:func:`load_junctions`).
    target_pixel_size_um : float
        Pixel size of the section.
    seed : int
        Seed of the fibre layout and drawing.
    stain : {'sg', 'dab'}
    density_per_mm : float, optional
        Crossing fibres per mm of DEJ (default: drawn from U(8, 25)).

    Returns
    -------
    rgb : (M', N', 3) ndarray of uint8
    truth : dict
        ``crossings``, ``count``, ``dej_length_um``, ``pixel_size_um``, ``dej``, ``surface``,
        ``fragments``, ``short_fibres``, ``branches``, ``n_plexus_fibres``, ``stain``,
        ``orientation``, ``shape``, ``source``; coordinates in pixels of `rgb`.
    """
    if not (0.05 <= target_pixel_size_um <= 5.0):
        raise ValueError(f"target_pixel_size_um={target_pixel_size_um}; expected 0.05-5 µm")
    rng = np.random.default_rng(seed)
    img = resample_crop(crop_rgb, entry["pixel_size_um"], target_pixel_size_um)
    shape = img.shape[:2]
    dej = _rescale_points(entry["dej"], crop_rgb.shape[:2], shape)
    surface = _rescale_points(entry["surface"], crop_rgb.shape[:2], shape)
    fibres = layout_fibres(
        dej, surface, shape, target_pixel_size_um, rng, density_per_mm=density_per_mm
    )
    out = draw_fibres(img, fibres, target_pixel_size_um, rng, stain=stain)
    crossings = [f for f in fibres if f["kind"] == "crossing"]
    dej_length_um = polyline_length(dej) * target_pixel_size_um
    truth: dict[str, Any] = {
        "crossings": [_rc(f["crossing"]) for f in crossings],
        "count": len(crossings),
        "dej_length_um": round(dej_length_um, 2),
        "surface_length_um": round(polyline_length(surface) * target_pixel_size_um, 2),
        "density_per_mm_dej": round(len(crossings) / (dej_length_um / 1000.0), 3),
        "pixel_size_um": float(target_pixel_size_um),
        "shape": [int(shape[0]), int(shape[1])],
        "dej": _round_line(dej),
        "surface": _round_line(surface),
        "fragments": [_rc(f["centre"]) for f in fibres if f["kind"] == "fragment"],
        "short_fibres": [
            {**_rc(f["end"]), "gap_um": round(f["gap_um"], 2)}
            for f in fibres
            if f["kind"] == "short"
        ],
        "branches": [_rc(f["branch_point"]) for f in crossings if f["branch_point"] is not None],
        "n_plexus_fibres": sum(f["kind"] == "plexus" for f in fibres),
        "crossing_angles_deg": [round(f["angle_deg"], 1) for f in crossings],
        "stain": stain,
        "seed": int(seed),
        "orientation": {"rot90_k": 0, "fliplr": False},
        "source": {
            "image": entry["file"],
            "id": entry["id"],
            "crop": dict(entry["crop"]),
            "source_pixel_size_um": entry["pixel_size_um"],
            "pixel_size_note": (
                "source pixel size estimated from epidermal thickness (assumed 70 µm); "
                "all µm values are at that assumed scale"
            ),
            "credit": CREDIT,
            "license": LICENSE,
        },
        "surface_definition": "top of the living epidermis, traced by hand",
    }
    return out, truth


def _rc(point: np.ndarray) -> dict[str, float]:
    return {"row": round(float(point[0]), 2), "col": round(float(point[1]), 2)}


def _round_line(line: np.ndarray) -> list[list[float]]:
    return [[round(float(r), 2), round(float(c), 2)] for r, c in line]


def orient_points(points: Any, shape: Sequence[int], k: int, flip: bool) -> np.ndarray:
    """Where (row, col) points of an image go under :func:`orient_image`.

    Parameters
    ----------
    points : (K, 2) array_like
    shape : tuple of int
        (rows, cols) of the image before the transform.
    k : int
        Number of quarter turns of ``np.rot90`` (counter-clockwise as displayed).
    flip : bool
        Whether ``np.fliplr`` is applied before the turns.

    Returns
    -------
    (K, 2) ndarray of float

    Examples
    --------
    >>> img = np.zeros((3, 5)); img[0, 4] = 1
    >>> k, flip = 1, True
    >>> moved = orient_image(img, k, flip)
    >>> r, c = orient_points([[0, 4]], img.shape, k, flip)[0]
    >>> float(moved[int(r), int(c)])
    1.0
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2).copy()
    rows, cols = int(shape[0]), int(shape[1])
    if flip:
        pts[:, 1] = cols - 1 - pts[:, 1]
    for _ in range(k % 4):
        # np.rot90: new[i, j] = old[j, cols - 1 - i]  ->  (r, c) goes to (cols - 1 - c, r)
        pts = np.stack([cols - 1 - pts[:, 1], pts[:, 0]], axis=1)
        rows, cols = cols, rows
    return pts


def orient_image(image: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """``np.rot90(np.fliplr(image) if flip else image, k)``, contiguous."""
    return np.ascontiguousarray(np.rot90(np.fliplr(image) if flip else image, k))


def orient_truth(truth: dict[str, Any], k: int, flip: bool) -> dict[str, Any]:
    """A truth record for the image turned by :func:`orient_image` (from orientation 0)."""
    shape = truth["shape"]
    out = dict(truth)

    def move_pts(items: list[dict[str, float]]) -> list[dict[str, float]]:
        if not items:
            return []
        moved = orient_points([[p["row"], p["col"]] for p in items], shape, k, flip)
        return [{**p, **_rc(q)} for p, q in zip(items, moved, strict=True)]

    for key in ("crossings", "fragments", "short_fibres", "branches"):
        out[key] = move_pts(truth[key])
    for key in ("dej", "surface"):
        out[key] = _round_line(orient_points(truth[key], shape, k, flip))
    new_shape = shape if k % 2 == 0 else [shape[1], shape[0]]
    out["shape"] = [int(new_shape[0]), int(new_shape[1])]
    out["orientation"] = {"rot90_k": int(k % 4), "fliplr": bool(flip)}
    return out


def pixel_size_pair(
    entry: dict[str, Any], rng: np.random.Generator, *, max_megapixels: float = 7.5
) -> tuple[float, float]:
    """Two target pixel sizes for a crop, drawn from 0.3-0.7 µm (one <= 0.5, one >= 0.5).

    The finer one is raised where needed so the section stays under `max_megapixels`.
    """
    rows, cols = entry["shape"]
    area_um2 = rows * cols * entry["pixel_size_um"] ** 2
    lo = max(0.3, math.sqrt(area_um2 / (max_megapixels * 1e6)))
    fine = rng.uniform(lo, max(lo, 0.5))
    coarse = rng.uniform(max(0.5, lo), 0.7)
    return round(float(fine), 3), round(float(coarse), 3)


def build_set(
    out_dir: str | Path,
    *,
    junctions: str | Path = JUNCTIONS_PATH,
    source_dir: str | Path = SOURCE_DIR,
    seed: int = 7100,
    max_megapixels: float = 7.5,
    crops: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Write the whole set: every crop at two pixel sizes in 8 orientations.

    For each crop (``id`` in `crops`, default all) two pixel sizes are drawn
    (:func:`pixel_size_pair`); the stain alternates between the two (SG then DAB, or the
    reverse, from crop to crop).  Each drawn section is written in the 8 orientations as
    ``<id>_p<pixel size>_k<k>[f].ome.tif`` (OME-TIFF with its pixel size) with
    ``<same>.truth.json`` beside it.

    Returns
    -------
    list of dict
        One row per file: ``image``, ``truth``, ``crop``, ``pixel_size_um``, ``stain``,
        ``rot90_k``, ``fliplr``, ``true_count``.
    """
    from ienfd.io import write_json, write_section_tiff

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for index, entry in enumerate(load_junctions(junctions)):
        if crops is not None and entry["id"] not in crops:
            continue
        crop = read_crop(entry, source_dir)
        rng = np.random.default_rng([seed, index])
        for j, px in enumerate(pixel_size_pair(entry, rng, max_megapixels=max_megapixels)):
            stain = STAINS[(index + j) % 2]
            rgb, truth = build_section(
                crop,
                entry,
                target_pixel_size_um=px,
                seed=seed * 100 + index * 10 + j,
                stain=stain,
            )
            for k, flip in ORIENTATIONS:
                name = f"{entry['id']}_p{px:.3f}_k{k}{'f' if flip else ''}"
                image_path = out / f"{name}.ome.tif"
                truth_path = out / f"{name}.truth.json"
                write_section_tiff(
                    image_path, orient_image(rgb, k, flip), pixel_size_um=px, kind="ome"
                )
                write_json(truth_path, orient_truth(truth, k, flip))
                rows.append(
                    {
                        "image": str(image_path),
                        "truth": str(truth_path),
                        "crop": entry["id"],
                        "pixel_size_um": px,
                        "stain": stain,
                        "rot90_k": k,
                        "fliplr": flip,
                        "true_count": truth["count"],
                    }
                )
    return rows


# ---------------------------------------------------------------------------------------------
# The small committed crop for the test suite
# ---------------------------------------------------------------------------------------------

#: Region of the W0043366 crop (crop pixels, half-open) and the downscaling used for
#: ``tests/data/real_skin``.
TEST_CROP = {"id": "W0043366", "rows": (100, 1000), "cols": (0, 1200), "factor": 2.5}


def make_test_crop(
    out_dir: str | Path = TEST_DATA_DIR,
    *,
    junctions: str | Path = JUNCTIONS_PATH,
    source_dir: str | Path = SOURCE_DIR,
) -> Path:
    """Write the small real-tissue crop and its junction for the test suite.

    The region :data:`TEST_CROP` of the W0043366 record is cut from the source micrograph,
    shrunk by ``factor`` (anti-aliased) and written as ``W0043366_crop.png`` with
    ``W0043366_crop.junction.json`` (same schema as one record of the junction file, in the
    small crop's pixels, with the DEJ and surface clipped to its columns).

    Returns
    -------
    Path
        The junction JSON written.
    """
    from PIL import Image

    entry = next(e for e in load_junctions(junctions) if e["id"] == TEST_CROP["id"])
    r0, r1 = TEST_CROP["rows"]
    c0, c1 = TEST_CROP["cols"]
    factor = float(TEST_CROP["factor"])
    crop = read_crop(entry, source_dir)[r0:r1, c0:c1]
    shape = (round((r1 - r0) / factor), round((c1 - c0) / factor))
    small = resize(crop / 255.0, (*shape, 3), order=1, anti_aliasing=True, mode="edge")
    small8 = np.round(np.clip(small, 0, 1) * 255).astype(np.uint8)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{TEST_CROP['id']}_crop.png"
    Image.fromarray(small8).save(png, optimize=True)

    def cut(line: np.ndarray) -> np.ndarray:
        kept = _clip_to_cols(line, c0, c1 - 1) - [r0, c0]
        return _rescale_points(kept, (r1 - r0, c1 - c0), shape)

    dej, surface = cut(entry["dej"]), cut(entry["surface"])
    dej[[0, -1], 1] = [0.0, shape[1] - 1.0]
    surface[[0, -1], 1] = [0.0, shape[1] - 1.0]
    record = {
        "id": entry["id"],
        "file": png.name,
        "stain": entry["stain"],
        "source_file": entry["file"],
        "crop": {
            "row0": entry["crop"]["row0"] + r0,
            "row1": entry["crop"]["row0"] + r1,
            "col0": entry["crop"]["col0"] + c0,
            "col1": entry["crop"]["col0"] + c1,
        },
        "downscale_factor": factor,
        "shape": [int(shape[0]), int(shape[1])],
        "pixel_size_um": round(entry["pixel_size_um"] * factor, 4),
        "pixel_size_method": "source estimate x downscale factor; " + entry["pixel_size_method"],
        "epidermis_side": "above",
        "dej": _round_line(dej),
        "surface": _round_line(surface),
        "credit": CREDIT,
        "license": LICENSE,
    }
    path = out / f"{TEST_CROP['id']}_crop.junction.json"
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=None, separators=(",", ":"))
        fh.write("\n")
    return path


def _clip_to_cols(line: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The part of a left-to-right polyline between columns `lo` and `hi`, ends interpolated.

    Assumes the polyline crosses each of the two columns once.
    """
    line = np.asarray(line, dtype=float)
    out = []
    for i, a in enumerate(line):
        if lo <= a[1] <= hi:
            out.append(a)
        if i + 1 == len(line):
            break
        b = line[i + 1]
        cuts = [(col - a[1]) / (b[1] - a[1]) for col in (lo, hi) if (a[1] - col) * (b[1] - col) < 0]
        out.extend(a + t * (b - a) for t in sorted(cuts))
    return np.array(out)


def load_test_crop(data_dir: str | Path = TEST_DATA_DIR) -> tuple[np.ndarray, dict[str, Any]]:
    """The committed small crop and its junction record.

    Returns
    -------
    rgb : (M, N, 3) ndarray of uint8
    entry : dict
        As from :func:`load_junctions` (``dej`` and ``surface`` as arrays).
    """
    from PIL import Image

    folder = Path(data_dir)
    entry = load_junctions(folder / f"{TEST_CROP['id']}_crop.junction.json")[0]
    with Image.open(folder / entry["file"]) as im:
        rgb = np.asarray(im.convert("RGB"))
    return rgb, entry


def build_test_section(
    data_dir: str | Path = TEST_DATA_DIR,
    *,
    target_pixel_size_um: float | None = None,
    seed: int = 0,
    stain: str = "sg",
    k: int = 0,
    flip: bool = False,
    density_per_mm: float | None = 15.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """A small real-tissue section with known crossings, from the committed test crop.

    Parameters
    ----------
    data_dir : str or Path
        Folder with ``W0043366_crop.png`` and its junction JSON.
    target_pixel_size_um : float, optional
        Pixel size of the section (default: the crop's own, ~0.88 µm, i.e. no resampling).
    seed : int
    stain : {'sg', 'dab'}
    k, flip :
        Orientation (see :func:`orient_image`).
    density_per_mm : float or None
        Crossings per mm of DEJ; None draws it from U(8, 25).

    Returns
    -------
    rgb : (M, N, 3) ndarray of uint8
    truth : dict
        As from :func:`build_section`, turned with the image.

    Examples
    --------
    >>> rgb, truth = build_test_section(seed=1, k=1)
    >>> rgb.shape[:2] == tuple(truth["shape"]) and truth["count"] > 0
    True
    """
    rgb, entry = load_test_crop(data_dir)
    px = entry["pixel_size_um"] if target_pixel_size_um is None else target_pixel_size_um
    image, truth = build_section(
        rgb, entry, target_pixel_size_um=px, seed=seed, stain=stain, density_per_mm=density_per_mm
    )
    return orient_image(image, k, flip), orient_truth(truth, k, flip)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Build the real-tissue set (``--out``) or the small test crop (``--make-test-crop``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for the sections and truth files")
    parser.add_argument("--junctions", type=Path, default=JUNCTIONS_PATH)
    parser.add_argument(
        "--source", type=Path, default=SOURCE_DIR, help="folder of the source micrographs"
    )
    parser.add_argument("--seed", type=int, default=7100)
    parser.add_argument("--max-megapixels", type=float, default=7.5)
    parser.add_argument("--crops", nargs="*", help="crop ids to build (default: all)")
    parser.add_argument(
        "--make-test-crop",
        type=Path,
        metavar="DIR",
        help="write the small committed crop and its junction into DIR",
    )
    args = parser.parse_args(argv)
    if args.out is None and args.make_test_crop is None:
        parser.error("give --out DIR and/or --make-test-crop DIR")
    if args.make_test_crop is not None:
        path = make_test_crop(args.make_test_crop, junctions=args.junctions, source_dir=args.source)
        print(f"wrote {path}")
    if args.out is not None:
        rows = build_set(
            args.out,
            junctions=args.junctions,
            source_dir=args.source,
            seed=args.seed,
            max_megapixels=args.max_megapixels,
            crops=args.crops,
        )
        print(f"wrote {len(rows)} sections to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
