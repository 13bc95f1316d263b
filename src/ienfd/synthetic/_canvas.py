"""The canonical raster of a section: pixel coordinates and the soft layer masks."""

from __future__ import annotations

import math

import numpy as np

from ienfd.synthetic._geometry import Anatomy
from ienfd.synthetic._spec import SectionSpec

__all__ = ["Canvas", "soft"]


def soft(x: np.ndarray, p: float) -> np.ndarray:
    """Anti-aliased step of a signed distance `x` (µm, positive inside)."""
    return np.clip(x / p + 0.5, 0.0, 1.0).astype(np.float32)


class Canvas:
    """The canonical raster: coordinates and the geometric maps every modality uses."""

    def __init__(self, anat: Anatomy, spec: SectionSpec) -> None:
        lay = anat.layers
        p = spec.pixel_size_um
        self.p = p
        pad = 8.0 + 4.0 * spec.defocus_sigma_um
        v_min, v_max = float(lay.corneum_top.min()), float(lay.bottom.max())
        u_min, u_max = float(lay.edge_left.min()), float(lay.edge_right.max())
        self.origin = (v_min - pad, u_min - pad)
        self.shape = (
            math.ceil((v_max + pad - self.origin[0]) / p) + 1,
            math.ceil((u_max + pad - self.origin[1]) / p) + 1,
        )
        self.content_px = (
            (v_min - self.origin[0]) / p,
            (v_max - self.origin[0]) / p,
            (u_min - self.origin[1]) / p,
            (u_max - self.origin[1]) / p,
        )
        self.V = (self.origin[0] + np.arange(self.shape[0]) * p).astype(np.float32)
        self.U = (self.origin[1] + np.arange(self.shape[1]) * p).astype(np.float32)
        vc = self.V[:, None]
        self.surface = lay.at(lay.surface, self.U).astype(np.float32)
        self.dej = lay.at(lay.dej, self.U).astype(np.float32)
        self.dej_slope = np.gradient(self.dej, p).astype(np.float32)
        side = soft(self.U[None, :] - lay.edge_at("left", self.V)[:, None].astype(np.float32), p)
        side *= soft(lay.edge_at("right", self.V)[:, None].astype(np.float32) - self.U[None, :], p)
        self.side = side
        self.epi = soft(vc - self.surface, p) * soft(self.dej - vc, p) * side
        bottom = lay.at(lay.bottom, self.U).astype(np.float32)
        self.derm = soft(vc - self.dej, p) * soft(bottom - vc, p) * side
        cb = lay.at(lay.corneum_base, self.U).astype(np.float32)
        ct = lay.at(lay.corneum_top, self.U).astype(np.float32)
        self.corn = soft(vc - ct, p) * soft(cb - vc, p) * side
        self.corneum_base = cb
        self.depth_below_dej = vc - self.dej  # (M, N)

    def px(self, v: np.ndarray | float, u: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(v) - self.origin[0]) / self.p, (np.asarray(u) - self.origin[1]) / self.p
