"""Tracing the junction and the surface from an epidermis mask."""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.core._junction import trace_junction
from ienfd.core._polyline import polyline_length

SPACING = 1.5


def _masks(*, glass_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epidermis, tissue, junction row per column): an epidermis 45 px thick over dermis."""
    rows, cols = 200, 400
    tissue = np.ones((rows, cols), dtype=bool)
    tissue[:glass_rows] = False
    junction = glass_rows + 45 + np.round(6 * np.sin(np.arange(cols) / 20)).astype(int)
    r = np.arange(rows)[:, None]
    epidermis = (r >= glass_rows) & (r < junction[None, :])
    return epidermis, tissue, junction


@pytest.mark.parametrize("glass_rows", [30, 0])
@pytest.mark.parametrize("k", range(4))
def test_the_junction_is_the_side_facing_the_dermis(glass_rows: int, k: int) -> None:
    # With glass above, and with none (the frame cuts the surface): the DEJ
    # runs along the epidermis's lower side, never along the frame or the glass.
    epidermis, tissue, junction = _masks(glass_rows=glass_rows)
    traces = trace_junction(
        np.ascontiguousarray(np.rot90(epidermis, k)),
        np.ascontiguousarray(np.rot90(tissue, k)),
        spacing=SPACING,
    )
    assert len(traces) == 1
    dej = traces[0].dej
    # Back to the unrotated frame.
    shape = epidermis.shape
    for _ in range(k):
        shape = shape[::-1]
    for _ in range(k):
        shape = shape[::-1]
        dej = np.stack([dej[:, 1], shape[1] - 1 - dej[:, 0]], axis=1)
    cols = np.clip(np.round(dej[:, 1]).astype(int), 0, epidermis.shape[1] - 1)
    off = np.abs(dej[:, 0] - (junction[cols] - 0.5))
    inner = (dej[:, 1] > 10) & (dej[:, 1] < epidermis.shape[1] - 10)
    assert np.median(off[inner]) < 2.0
    assert polyline_length(dej) > 0.9 * epidermis.shape[1]
