"""The bright-field epidermis band search, on small optical-density phantoms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.filters import threshold_otsu

from ienfd.core._epidermis import _best_band, _local_thickness, segment_epidermis_brightfield

SPACING = 1.5  # µm per pixel, as the analysis' low resolution
ORIENTATIONS = [(k, flip) for k in range(4) for flip in (False, True)]
# The band search's settings as segment_epidermis_brightfield passes them.
_SEARCH = {"smooth_um": 4.0, "opening_um": 6.0, "edge_distance_um": 60.0, "max_hole_um2": 400.0}


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


def _two_bands(noise_thin: float, noise_thick: float) -> tuple[list[np.ndarray], np.ndarray]:
    """(features, tissue): one feature shows a band 24 µm thick along the glass, the other 69 µm.

    Each band is 1 above the tissue beneath it, in noise of the given
    standard deviation; smoothed, the thin band separates at about 23
    (Fisher, its blurred edges bound it), the thick one at 20 with noise 1.0
    and 9 with noise 2.0.
    """
    rng = np.random.default_rng(5)
    rows, cols = 220, 500
    tissue = np.zeros((rows, cols), dtype=bool)
    tissue[20:] = True
    thin = np.zeros((rows, cols)) + rng.normal(0, noise_thin, (rows, cols))
    thin[20:36] += 1.0
    thick = np.zeros((rows, cols)) + rng.normal(0, noise_thick, (rows, cols))
    thick[20:66] += 1.0
    return [(thin * tissue).astype(np.float32), (thick * tissue).astype(np.float32)], tissue


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_a_thin_band_must_separate_far_better_to_win_over_a_thick_one(k: int, flip: bool) -> None:
    # A detached stratum corneum (24 µm) and the epidermis beneath it (69
    # µm), the thin band separating a little better (23 against 20): the
    # epidermis wins, in every orientation; without the thickness weight the
    # thin band does.
    features, tissue = _two_bands(0.1, 1.0)
    turned = [_orient(f, k, flip) for f in features]
    band, _ = _best_band(turned, _orient(tissue, k, flip), spacing=SPACING, **_SEARCH)
    assert band.sum() * SPACING**2 / (tissue.shape[1] * SPACING) > 50  # the thick one
    unweighted, _ = _best_band(
        turned, _orient(tissue, k, flip), spacing=SPACING, **_SEARCH, typical_thickness_um=1e-3
    )
    assert unweighted.sum() * SPACING**2 / (tissue.shape[1] * SPACING) < 30
    # Far better (23 against 9): the thin band is the epidermis.
    features, tissue = _two_bands(0.1, 2.0)
    clear, _ = _best_band(
        [_orient(f, k, flip) for f in features],
        _orient(tissue, k, flip),
        spacing=SPACING,
        **_SEARCH,
    )
    assert clear.sum() * SPACING**2 / (tissue.shape[1] * SPACING) < 30


def _faint_phantom() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(od, tissue, epidermis, dermis): an epidermis barely denser than its dermis.

    Glass above; an epidermis 60 µm thick at 0.36 OD; a dermis 270 µm thick
    at 0.30 beneath it; then 225 µm of pale loose tissue at 0.06. Otsu's one
    threshold falls between the pale tissue and the rest: the epidermis and
    the dermis together are one band 330 µm thick, too thick for an epidermis.
    """
    rng = np.random.default_rng(5)
    rows, cols = 400, 600
    r = np.arange(rows)[:, None] * np.ones((1, cols), dtype=int)
    tissue = r >= 30
    epidermis = tissue & (r < 70)
    dermis = (r >= 70) & (r < 250)
    od = np.where(epidermis, 0.36, np.where(dermis, 0.30, 0.06)) * tissue
    od = od + rng.normal(0, 0.02, od.shape)
    return od.astype(np.float32), tissue, epidermis, dermis


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_a_faint_epidermis_taken_with_its_dermis_is_split_from_it(k: int, flip: bool) -> None:
    od, tissue, truth, dermis = _faint_phantom()
    # The trap: Otsu's threshold takes the dermis with the epidermis.
    otsu = od > threshold_otsu(od[tissue])
    assert otsu[dermis].mean() > 0.9
    found = segment_epidermis_brightfield(
        _orient(od, k, flip), _orient(tissue, k, flip), spacing=SPACING
    )
    # The upper threshold of three classes splits them.
    assert _overlap(found, _orient(truth, k, flip)) > 0.8
    assert (found & _orient(dermis, k, flip)).sum() < 0.05 * dermis.sum()


def _dermis_on_three_sides() -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """(features, tissue, epidermis, dermis) of a fluorescence-like section with glass all round.

    An epidermis 100 µm thick along the top; a dermis 350 µm deep beneath it,
    lined by glass below and on both sides. The dermis is the brighter of the
    two in the first feature (an autofluorescent dermis in the fibre
    channel), the epidermis in the second (no collagen IV). The dermis runs
    along three sides of the tissue: over the edge it covers, it is 174 µm
    thick on average, thin enough for an epidermis; across itself, 321 µm
    (twice the 95th percentile of its depth).
    """
    rng = np.random.default_rng(11)
    rows, cols = 350, 600
    r = np.arange(rows)[:, None] * np.ones((1, cols), dtype=int)
    c = np.ones((rows, 1), dtype=int) * np.arange(cols)[None, :]
    tissue = (r >= 30) & (r < 330) & (c >= 30) & (c < cols - 30)
    epidermis = tissue & (r < 30 + 67)
    dermis = tissue & ~epidermis
    fibre = np.where(dermis, 0.5, np.where(epidermis, 0.3, 0.0))
    collagen = np.where(dermis, 0.6, 0.0)
    noise = rng.normal(0, 0.03, (2, rows, cols))
    features = [
        ((fibre + noise[0]) * tissue).astype(np.float32),
        (-(collagen + noise[1]) * tissue).astype(np.float32),
    ]
    return features, tissue, epidermis, dermis


@pytest.mark.parametrize(("k", "flip"), ORIENTATIONS)
def test_a_dermis_lining_three_sides_of_the_tissue_is_not_taken_for_the_epidermis(
    k: int, flip: bool
) -> None:
    features, tissue, truth, dermis = _dermis_on_three_sides()
    band, _ = _best_band(
        [_orient(f, k, flip) for f in features],
        _orient(tissue, k, flip),
        spacing=SPACING,
        **_SEARCH,
    )
    assert _overlap(band, _orient(truth, k, flip)) > 0.8
    assert (band & _orient(dermis, k, flip)).sum() < 0.05 * dermis.sum()


def test_local_thickness_is_the_thickness_across_a_band() -> None:
    band = np.zeros((200, 300), dtype=bool)
    band[50:90] = True  # 40 px across, the frame's border beyond its ends
    assert _local_thickness(band, spacing=1.5) == pytest.approx(60.0, abs=3.0)
    assert _local_thickness(np.rot90(band), spacing=1.5) == pytest.approx(60.0, abs=3.0)
    # A band against the frame is measured to the frame, not beyond it.
    assert _local_thickness(band[50:], spacing=1.5) == pytest.approx(60.0, abs=3.0)


def test_local_thickness_in_the_bands_box_is_that_of_the_whole_frame() -> None:
    # Measured in the band's bounding box with a ring of outside: the same
    # distances as over the whole frame, whose border counts as outside.
    rng = np.random.default_rng(0)
    for _ in range(50):
        # A blob of random shape somewhere in a larger frame, at times against its border.
        band = np.zeros((90, 120), dtype=bool)
        r, c = rng.integers(0, 50), rng.integers(0, 60)
        band[r : r + 40, c : c + 60] = ndimage.binary_opening(
            rng.random((40, 60)) > 0.35 + 0.3 * rng.random()
        )
        if not band.any():
            continue
        depth = ndimage.distance_transform_edt(np.pad(band, 1))[1:-1, 1:-1]
        whole = 2.0 * float(np.percentile(depth[band], 95)) * 1.5
        assert _local_thickness(band, spacing=1.5) == pytest.approx(whole, abs=1e-9)
