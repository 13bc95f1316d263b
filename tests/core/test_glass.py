"""Glass and tissue in bright field: colour tells pale pink dermis from dim glass."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core import AnalysisError, AnalysisParameters, analyze_section
from ienfd.core._analyze import (
    _GLASS_HUE_STEP,
    _brightfield_background,
    _brightfield_tissue,
    _hue_shift,
)
from ienfd.core._preprocess import optical_density
from ienfd.core._tissue import textured_beyond

from ._phantom import brightfield_phantom, phantom_layers


def _frame(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Glass along the top fifth, pale pink dermis below; mottled, dimmer towards the bottom.

    The dermis absorbs green (eosin) a little more than the glass's mottling
    and the illumination fall-off darken it: by grey level alone it is glass.
    """
    rng = np.random.default_rng(seed)
    rows, cols = 200, 400
    od = np.zeros((rows, cols, 3))
    dermis = np.zeros((rows, cols), dtype=bool)
    dermis[40:] = True
    od[dermis] = (0.02, 0.16, 0.09)  # pale eosin: W0043375's dermis is (0.10, 0.25, 0.21)
    mottle = ndi.gaussian_filter(rng.normal(0, 0.25, (rows, cols)), 12)
    falloff = 0.12 * (np.arange(rows) / rows)[:, None]
    od += (mottle + falloff)[..., None]  # the same in every channel: no colour
    rgb = 240.0 * np.exp(-od) + rng.normal(0, 1.0, od.shape)
    return np.clip(rgb, 0, 255), dermis


def test_hue_shift_ignores_brightness_and_sees_colour() -> None:
    rgb, _ = _frame()
    flat = np.log(250.0) - np.log(rgb)
    shift = _hue_shift(flat, sigma=3.0)
    assert np.percentile(shift[:30], 99) < 0.5 * _GLASS_HUE_STEP
    assert np.percentile(shift[50:], 1) > _GLASS_HUE_STEP


def test_pale_pink_dermis_is_tissue_not_glass() -> None:
    rgb, dermis = _frame()
    params = AnalysisParameters()
    coef, glass_seen = _brightfield_background(rgb, 4.0, params, floor=1.0)
    assert glass_seen
    od = optical_density(rgb, coef, full_shape=rgb.shape[:2], per_channel=True, floor=1.0)
    tissue = _brightfield_tissue(od, 4.0, params)
    assert tissue[dermis].mean() > 0.97
    assert tissue[:30].mean() < 0.05


def test_hue_shift_of_a_grey_section_is_small() -> None:
    # A grey (uncounterstained) section: no colour anywhere, nothing is tinted;
    # the tissue is found by its density as before.
    rgb, truth = brightfield_phantom(seed=2)
    grey = np.repeat(rgb.mean(axis=-1, keepdims=True), 3, axis=-1)
    flat = np.log(255.0) - np.log(np.clip(grey, 1, None))
    assert _hue_shift(flat, sigma=3.0).max() < 0.01
    result = analyze_section(grey.astype(np.uint8), spacing=0.5)
    assert abs(result.count - len(truth)) <= 1


def test_a_frame_without_glass_is_never_a_plain_result() -> None:
    # The phantom cut inside its tissue: epidermis and dermis fill the frame.
    rgb, _ = brightfield_phantom(seed=0)
    inner = np.ascontiguousarray(rgb[260:780, 150:1650])
    try:
        result = analyze_section(inner, spacing=0.5)
    except AnalysisError as err:
        # Why: no glass at all, or tissue along the frame's border.
        assert "no glass in view" in str(err) or "fills the frame" in str(err)
    else:
        # The palest dermis passes for glass here; the count is still flagged.
        assert result.needs_review
        assert result.qc_reasons


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_glass_criterion_is_orientation_free(k: int) -> None:
    rgb, dermis = _frame(seed=1)
    rgb, dermis = np.rot90(rgb, k), np.rot90(dermis, k)
    params = AnalysisParameters()
    coef, _ = _brightfield_background(rgb, 4.0, params, floor=1.0)
    od = optical_density(rgb, coef, full_shape=rgb.shape[:2], per_channel=True, floor=1.0)
    assert _brightfield_tissue(od, 4.0, params)[dermis].mean() > 0.97


def _pale_textured_section(seed: int = 0) -> tuple[np.ndarray, float]:
    """(RGB at 0.5 µm/px, true junction length in µm): dermis as pale and grey as the glass.

    A chromogen with no counterstain leaves the dermis about as bright as the
    glass and of its colour (here 0.017 OD, grey); only its collagen's texture
    (a few µm across) sets it apart. The epidermis is dense above it.
    """
    rng = np.random.default_rng(seed)
    rows, cols = 900, 1800
    _, epidermis, dermis, corneum = phantom_layers(rows, cols)
    od = np.zeros((rows, cols), np.float32)
    od[epidermis], od[corneum] = 0.35, 0.15
    collagen = ndi.gaussian_filter(rng.normal(0, 1, od.shape), 3)
    collagen *= 0.02 / collagen.std()
    od += np.where(dermis, np.clip(0.012 + collagen, 0, None), 0).astype(np.float32)
    od += ndi.gaussian_filter(rng.normal(0, 0.06, od.shape), 2).astype(np.float32) * epidermis
    rgb = np.repeat(250 * np.exp(-od)[..., None], 3, axis=-1) + rng.normal(0, 2, (rows, cols, 3))
    c = np.arange(100, cols - 100, dtype=float)
    line = 360 + 10 * np.sin(c / 150) + 30 * np.sin(c / 90)
    length_um = float(np.hypot(np.diff(c), np.diff(line)).sum()) * 0.5
    return np.clip(rgb, 0, 255).astype(np.uint8), length_um


@pytest.mark.parametrize(("k", "flip"), [(0, False), (1, True), (2, False)])
def test_pale_colourless_dermis_is_told_from_glass_by_its_texture(k: int, flip: bool) -> None:
    # By density and colour the dermis is glass: before, no junction was
    # found at all ("no epidermis with a dermal-epidermal junction").
    rgb, length_um = _pale_textured_section()
    rgb = np.rot90(rgb[:, ::-1] if flip else rgb, k)
    result = analyze_section(np.ascontiguousarray(rgb), spacing=0.5)
    assert abs(result.dej_length_um - length_um) < 0.08 * length_um
    assert result.qc["junction_coverage"] > 0.9


def _dense_tissue_on_glass(
    rng: np.random.Generator,
    noise: float,
    shape: tuple[int, int],
    *,
    rows: int,
    cols: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Glass with optical-density noise ``noise``; dense tissue (0.4 OD) from row ``rows`` down."""
    signal = rng.normal(0, noise, shape)
    tissue = np.zeros(shape, dtype=bool)
    tissue[rows:, cols[0] : cols[1]] = True
    signal[tissue] += 0.4
    return signal, tissue


def test_texture_adds_nothing_at_the_edge_of_dense_tissue() -> None:
    # Every edge is "textured" within the averaging window: that halo is not
    # tissue, and smooth glass never is.
    rng = np.random.default_rng(3)
    signal, tissue = _dense_tissue_on_glass(rng, 0.003, (300, 400), rows=150, cols=(40, 360))
    assert not textured_beyond(signal, tissue, spacing=1.5).any()
    # Nor against a constant fill (a whole-slide region outside its section,
    # glass clipped at white): with no texture at all there, noise is not texture.
    filled = signal.copy()
    filled[:, :30] = 0.0
    assert not textured_beyond(filled, tissue, spacing=1.5).any()
    # Nor is noisier glass, however much of what is left out is fill: the
    # glass's level is measured on what has any texture at all.
    noisy = rng.normal(0, 0.012, signal.shape)
    noisy[tissue] += 0.4
    noisy[:, :100] = 0.0  # the fill: over 5 % of the glass
    assert not textured_beyond(noisy, tissue, spacing=1.5).any()
    # A textured region outside the mask (pale dermis beside it) is found, up
    # to the tissue it borders; the glass around it is not.
    pale = np.zeros_like(tissue)
    pale[:150, 80:330] = True
    signal[pale] += ndi.gaussian_filter(rng.normal(0, 1, signal.shape), 1.5)[pale] * 0.15
    found = textured_beyond(signal, tissue, spacing=1.5)
    assert found[10:150, 95:315].mean() > 0.95  # its blurred rim may go
    assert not found[:, :60].any() and not found[:, 350:].any()


def test_texture_takes_only_what_continues_the_tissue() -> None:
    # Pale dermis 1.85x as textured as the glass, beside the tissue, is tissue
    # (at the former factor of 2 it was left out, and its junction lost); a
    # patch of glass as textured but apart from the tissue (a vignetted corner,
    # where the optical density is noisier) is not.
    rng = np.random.default_rng(5)
    signal, tissue = _dense_tissue_on_glass(rng, 0.006, (300, 500), rows=200, cols=(40, 360))
    dermis = np.zeros_like(tissue)
    dermis[60:200, 80:330] = True
    corner = np.zeros_like(tissue)
    corner[:150, 410:] = True
    rough = rng.normal(0, 0.006 * 1.85, signal.shape)
    signal[dermis | corner] = rough[dermis | corner]
    found = textured_beyond(signal, tissue, spacing=1.5)
    assert found[75:200, 95:315].mean() > 0.95
    assert not found[:, 380:].any()
    assert not found[:40].any() and not found[:, :60].any()
