"""The bright-field epidermis band search, on small optical-density phantoms."""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.core._epidermis import segment_epidermis_brightfield

SPACING = 1.5  # µm per pixel, as the analysis' low resolution
ORIENTATIONS = [(k, flip) for k in range(4) for flip in (False, True)]


def _orient(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(np.fliplr(a) if flip else a, k))


def _phantom(
    *, glass_rows: int, detached: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(od, tissue, epidermis): glass above, an epidermis 60 µm thick, pale dermis below.

    The epidermis is denser in every channel than the dermis, with some
    texture (cells); with ``detached``, the right half of the stratum
    corneum has lifted off: a dense strip along the glass, a pale cleft, then
    the epidermis.
    """
    rng = np.random.default_rng(3)
    rows, cols = 220, 600
    od = np.full((rows, cols, 3), (0.10, 0.16, 0.10)) + rng.normal(0, 0.02, (rows, cols, 3))
    tissue = np.ones((rows, cols), dtype=bool)
    tissue[:glass_rows] = False
    epidermis = np.zeros((rows, cols), dtype=bool)
    top = np.full(cols, glass_rows)
    if detached:
        right = slice(cols // 2, cols)
        od[glass_rows : glass_rows + 10, right] = (0.55, 0.70, 0.45)  # stratum corneum
        od[glass_rows + 10 : glass_rows + 20, right] = (0.04, 0.05, 0.04)  # the cleft
        top[right] = glass_rows + 20
    # An undulating junction (rete ridges), 40 px (60 µm) under the top.
    bottom = top + 40 + np.round(8 * np.sin(np.arange(cols) / 25)).astype(int)
    r = np.arange(rows)[:, None]
    epidermis = (r >= top[None, :]) & (r < bottom[None, :])
    od[epidermis] = (0.45, 0.55, 0.35) + rng.normal(0, 0.05, (int(epidermis.sum()), 3))
    od[~tissue] = rng.normal(0, 0.01, (int((~tissue).sum()), 3))
    return od.astype(np.float32), tissue, epidermis


def _overlap(found: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union."""
    return float((found & truth).sum() / max((found | truth).sum(), 1))


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_the_epidermis_is_the_dense_band_along_the_glass(k: int, flip: bool) -> None:
    od, tissue, truth = _phantom(glass_rows=30)
    found = segment_epidermis_brightfield(
        _orient(od, k, flip), _orient(tissue, k, flip), spacing=SPACING
    )
    assert _overlap(found, _orient(truth, k, flip)) > 0.8


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_an_epidermis_under_a_detached_stratum_corneum_is_found_whole(k: int, flip: bool) -> None:
    od, tissue, truth = _phantom(glass_rows=30, detached=True)
    found = segment_epidermis_brightfield(
        _orient(od, k, flip), _orient(tissue, k, flip), spacing=SPACING
    )
    truth = _orient(truth, k, flip)
    # The epidermis under the lifted stratum corneum is found, not only the strip.
    assert (found & truth).sum() > 0.8 * truth.sum()


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_an_epidermis_the_frame_cuts_is_found_along_the_frame(k: int, flip: bool) -> None:
    # A micrograph of the epidermis and dermis alone, no glass in view: the
    # surface is the frame's border; the dermis, along three sides of the
    # frame, is not the epidermis.
    od, tissue, truth = _phantom(glass_rows=0)
    found = segment_epidermis_brightfield(
        _orient(od, k, flip), _orient(tissue, k, flip), spacing=SPACING
    )
    assert _overlap(found, _orient(truth, k, flip)) > 0.8
