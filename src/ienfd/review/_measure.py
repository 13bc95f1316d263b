"""Count, lengths and density of a section as edited (what the plugin shows live)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Measurement", "measure_section", "polylines_length_px"]


@dataclass(frozen=True)
class Measurement:
    """Count, lengths (µm) and density (fibres/mm) of one section.

    ``density_per_mm`` is ``count / (basis length / 1000)``, or NaN when the
    basis length is 0 (no junction drawn).
    """

    count: int
    dej_length_um: float
    surface_length_um: float
    length_basis: Literal["dej", "surface"]

    @property
    def basis_length_um(self) -> float:
        """Length of the chosen basis in µm."""
        return self.dej_length_um if self.length_basis == "dej" else self.surface_length_um

    @property
    def density_per_mm(self) -> float:
        """Fibres per mm of the basis length (NaN when that length is 0)."""
        length = self.basis_length_um
        return self.count / (length / 1000.0) if length > 0 else float("nan")


def polylines_length_px(lines: Sequence[np.ndarray]) -> float:
    """Summed length of polylines, in pixels.

    Parameters
    ----------
    lines : sequence of (K, 2) ndarray
        Polylines as (row, col) vertices; lines of fewer than 2 vertices add 0.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> polylines_length_px([np.array([[0, 0], [3, 4]]), np.array([[1, 1]])])
    5.0
    """
    total = 0.0
    for line in lines:
        pts = np.asarray(line, dtype=float)
        if pts.ndim != 2 or len(pts) < 2:
            continue
        steps = np.diff(pts[:, -2:], axis=0)  # the last two axes are (row, col)
        total += float(np.sqrt((steps**2).sum(axis=1)).sum())
    return total


def measure_section(
    count: int,
    dej: Sequence[np.ndarray],
    surface: Sequence[np.ndarray],
    *,
    pixel_size_um: float,
    length_basis: Literal["dej", "surface"] = "dej",
) -> Measurement:
    """Measure an edited section: the same definitions as the core.

    Parameters
    ----------
    count : int
        Counted fibres (points in the plugin's fibres layer).
    dej, surface : sequence of (K, 2) ndarray
        Junction and surface polylines in pixels (row, col), one per piece.
    pixel_size_um : float
        Pixel size in µm.
    length_basis : {'dej', 'surface'}
        Which length the density is per mm of (default the DEJ, as in the core).

    Returns
    -------
    Measurement

    Raises
    ------
    ValueError
        A negative count, a pixel size that is not finite and > 0, or an unknown basis.

    Examples
    --------
    >>> import numpy as np
    >>> m = measure_section(3, [np.array([[0, 0], [0, 2000]])], [], pixel_size_um=0.5)
    >>> m.dej_length_um, m.density_per_mm
    (1000.0, 3.0)
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not (np.isfinite(pixel_size_um) and pixel_size_um > 0):
        raise ValueError(f"pixel_size_um must be finite and > 0, got {pixel_size_um!r}")
    if length_basis not in ("dej", "surface"):
        raise ValueError(f"length_basis must be 'dej' or 'surface', got {length_basis!r}")
    return Measurement(
        count=int(count),
        dej_length_um=polylines_length_px(dej) * pixel_size_um,
        surface_length_um=polylines_length_px(surface) * pixel_size_um,
        length_basis=length_basis,
    )
