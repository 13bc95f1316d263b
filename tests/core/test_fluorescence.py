"""Fluorescence-only checks: intensity scale, an absent membrane, the pixel-jump check."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core import analyze_section
from ienfd.core._analyze import _pixel_jump_fraction, _with_faint_edge_band
from ienfd.core._qc import QualityLimits
from ienfd.core._tissue import segment_tissue
from ienfd.synthetic import SectionSpec, generate_section

LIMIT = QualityLimits().pixel_jumps


def _spec(**changes: object) -> SectionSpec:
    values: dict[str, object] = dict(
        seed=11, modality="fluorescence", length_um=500, pixel_size_um=0.6, density_per_mm=12.0
    )
    values.update(changes)
    return SectionSpec(**values)  # type: ignore[arg-type]


def test_sixteen_bits_using_two_percent_of_the_range_count_as_eight() -> None:
    # A 16-bit camera whose signal fills 2 % of its range, with a dark offset:
    # the same section as its 8-bit rescale, to the crossing.
    section = generate_section(_spec())
    fibre8, membrane8 = (np.asarray(c, dtype=np.uint8) for c in section.image[:2])
    scale = 0.02 * 65535 / 255

    def sixteen(channel: np.ndarray) -> np.ndarray:
        return np.rint(200 + channel.astype(np.float64) * scale).astype(np.uint16)

    spacing = section.truth["pixel_size_um"]
    eight = analyze_section(fibre8, spacing=spacing, membrane=membrane8)
    wide = analyze_section(sixteen(fibre8), spacing=spacing, membrane=sixteen(membrane8))
    assert wide.count == eight.count
    assert wide.junction_method == eight.junction_method
    assert wide.dej_length_um == pytest.approx(eight.dej_length_um, rel=0.01)
    assert wide.needs_review == eight.needs_review
    assert wide.qc["pixel_jump_fraction"] == eight.qc["pixel_jump_fraction"]


def test_an_absent_membrane_falls_back_to_the_tissue_and_says_so() -> None:
    section = generate_section(_spec(membrane_strength=0.0))
    result = analyze_section(
        section.image[0], spacing=section.truth["pixel_size_um"], membrane=section.image[1]
    )
    assert result.junction_method == "tissue"
    assert any("membrane channel too weak" in w for w in result.warnings)
    assert result.dej_length_um == pytest.approx(section.truth["dej_length_um"], rel=0.1)


def test_a_clear_membrane_gives_the_junction() -> None:
    section = generate_section(_spec())
    result = analyze_section(
        section.image[0], spacing=section.truth["pixel_size_um"], membrane=section.image[1]
    )
    assert result.junction_method == "membrane"
    assert not any("membrane" in w for w in result.warnings)
    # Optical density and its haematoxylin-free form are bright-field's.
    assert result.qc["count_mean_od"] is None
    assert result.qc["count_haematoxylin_free"] is None
    assert result.qc["haematoxylin_free_trace"] is None


def _noisy_tissue_with_bright_fibres(seed: int = 0) -> np.ndarray:
    """8-bit, photon-limited at a high gain: dark glass, grainy dim tissue, two bright fibres.

    Ten grey levels per photon, three photons a pixel in the tissue: the
    tissue's grain spans a third of the range the fibres leave below them.
    """
    rng = np.random.default_rng(seed)
    photons = np.full((400, 400), 0.3)
    photons[:, 80:] = 3.0  # tissue
    image = 10.0 * rng.poisson(photons)
    image[:, 150:152] = 240.0  # a 2-px fibre
    image[::3, 260] = 250.0  # a beaded 1-px fibre
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_pixel_jumps_quiet_on_grainy_tissue_with_bright_fibres(k: int) -> None:
    image = np.rot90(_noisy_tissue_with_bright_fibres(), k)
    assert _pixel_jump_fraction(image) < LIMIT
    sixteen = (200 + image.astype(np.uint16) * 5).astype(np.uint16)
    assert _pixel_jump_fraction(sixteen) < LIMIT


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_pixel_jumps_fire_on_a_strip_of_random_bytes(dtype: type) -> None:
    image = _noisy_tissue_with_bright_fibres().astype(dtype)
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 255.0
    image[100:180] = rng.uniform(0, top, image[100:180].shape).astype(dtype)
    assert _pixel_jump_fraction(image) > 5 * LIMIT


def _dim_epidermis(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signal, dermis mask, epidermis band) at 1.5 µm pixels, glass all around.

    The dermis is bright; the epidermis above it, 60 µm thick, only 4 % of
    the dermis' level over the glass; then 300 µm of glass.
    """
    rng = np.random.default_rng(seed)
    signal = rng.normal(0.0, 0.01, (400, 500))
    dermis = np.zeros(signal.shape, dtype=bool)
    dermis[250:380, 40:460] = True
    band = np.zeros(signal.shape, dtype=bool)
    band[210:250, 40:460] = True
    signal[dermis] += 1.0
    signal[band] += 0.04
    return signal.astype(np.float32), dermis, band


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_a_dim_epidermis_is_added_to_the_tissue(k: int) -> None:
    signal, _, band = (np.rot90(a, k) for a in _dim_epidermis())
    found = segment_tissue(signal, spacing=1.5, smooth_um=6.0, background_fraction=0.1)
    assert (found & band).sum() < 0.3 * band.sum()  # the threshold misses the band
    tissue = _with_faint_edge_band(signal, found, spacing=1.5, smooth_um=6.0)
    assert (tissue & band).sum() > 0.9 * band.sum()
    # glass beyond the band stays glass, but for the smoothing's halo (a few µm)
    halo_um = ndi.distance_transform_edt(~(found | band)) * 1.5
    assert halo_um[tissue].max() < 6.0


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_no_dim_band_leaves_the_tissue_as_it_is(k: int) -> None:
    signal, _, band = (np.rot90(a, k) for a in _dim_epidermis())
    signal = np.where(band, signal - 0.04, signal)
    found = segment_tissue(signal, spacing=1.5, smooth_um=6.0, background_fraction=0.1)
    tissue = _with_faint_edge_band(signal, found, spacing=1.5, smooth_um=6.0)
    assert np.array_equal(tissue, found)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_glass_brighter_near_the_tissue_is_not_added(k: int) -> None:
    # Uneven illumination: the glass within 250 µm of the tissue is brighter
    # than the glass beyond. It is glass, however far above the far glass.
    signal, dermis, band = _dim_epidermis()
    signal = np.where(band, signal - 0.04, signal)
    near_um = ndi.distance_transform_edt(~dermis) * 1.5
    signal = signal + np.where((near_um > 0) & (near_um <= 250.0), 0.04, 0.0).astype(np.float32)
    signal = np.rot90(signal, k)
    found = segment_tissue(signal, spacing=1.5, smooth_um=6.0, background_fraction=0.1)
    tissue = _with_faint_edge_band(signal, found, spacing=1.5, smooth_um=6.0)
    assert np.array_equal(tissue, found)
