"""Fluorescence on unfamiliar data: a rotation's fill, glass taken as tissue, faint beads."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core import AnalysisError, GivenJunction, analyze_section
from ienfd.core._epidermis import without_outer_glass
from ienfd.core._tissue import above_floor, constant_padding
from ienfd.synthetic import SectionSpec, generate_section
from tests._scripts import script


def _rotated_with_fill(angle: float = 25.0) -> tuple[np.ndarray, ...]:
    """A section on 8-bit glass well above 0, rotated with a 0 fill (as an image editor does)."""
    section = generate_section(
        SectionSpec(
            seed=11, modality="fluorescence", length_um=500, pixel_size_um=0.6, density_per_mm=12.0
        )
    )

    def eight_bit(channel: np.ndarray) -> np.ndarray:
        c = channel.astype(np.float64)
        return 30.0 + 150.0 * c / c.max()  # glass at 30 or more, nothing at 0

    channels = [eight_bit(c) for c in section.image[:2]]
    upright = [np.rint(c).astype(np.uint8) for c in channels]
    rotated = [
        np.rint(ndi.rotate(c, angle, order=1, cval=0.0, reshape=True)).astype(np.uint8)
        for c in channels
    ]
    return upright[0], upright[1], rotated[0], rotated[1]


@pytest.fixture(scope="module")
def rotated() -> tuple[np.ndarray, ...]:
    return _rotated_with_fill()


def test_the_fill_of_a_rotation_is_found_and_glass_clipped_at_zero_is_not() -> None:
    rng = np.random.default_rng(0)
    glass = rng.poisson(20.0, (200, 300)).astype(np.uint16)
    filled = glass.copy()
    filled[:60, :90] = 0  # a corner of fill
    pad = constant_padding([filled], 3)
    assert pad[:18, :28].all() and pad.sum() == pytest.approx(20 * 30, rel=0.1)
    # A dark field with no offset: half its pixels are 0, but it is glass, not fill.
    dark = rng.poisson(0.7, (200, 300)).astype(np.uint16)
    dark[:60, :90] = 0
    assert not constant_padding([dark], 3).any()
    assert not constant_padding([glass], 3).any()


@pytest.mark.parametrize("k", range(4))
def test_a_rotations_black_corners_beside_brighter_glass_are_not_tissue(
    rotated: tuple[np.ndarray, ...], k: int
) -> None:
    # The 0 fill was the darkest "glass": the threshold fell below the real
    # glass, all of it became tissue and no epidermis was found (AnalysisError).
    fibre, membrane, fibre_r, membrane_r = rotated
    upright = analyze_section(fibre, spacing=0.6, membrane=membrane)
    result = analyze_section(np.rot90(fibre_r, k), spacing=0.6, membrane=np.rot90(membrane_r, k))
    assert result.trace.tissue.sum() == pytest.approx(upright.trace.tissue.sum(), rel=0.05)
    assert result.dej_length_um == pytest.approx(upright.dej_length_um, rel=0.05)
    assert result.junction_method == "membrane"


def _glass_beyond_the_surface() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tissue, epidermis side and fibre channel: 60 µm of epidermis, then 300 µm of dim glass."""
    rows = np.arange(400)[:, None] * np.ones((400, 200))
    tissue = np.ones((400, 200), dtype=bool)  # the glass was taken in with the tissue
    epidermis = rows < 360  # the side of the junction (row 360) away from the dermis
    fibre = np.where(rows < 300, 0.05, 0.2)  # glass 0.05, epidermis 0.2, dermis 0.5
    fibre = np.where(rows >= 360, 0.5, fibre)
    fibre = fibre + np.random.default_rng(1).normal(0, 0.02, fibre.shape)
    return tissue, epidermis, fibre


@pytest.mark.parametrize("k", range(4))
def test_glass_taken_with_the_tissue_is_cut_off_the_epidermis(k: int) -> None:
    tissue, epidermis, fibre = (np.rot90(a, k) for a in _glass_beyond_the_surface())
    band, kept = without_outer_glass(epidermis, tissue, fibre, spacing=1.0)
    truth = np.rot90(np.arange(400)[:, None] * np.ones((400, 200)), k)
    epidermis_rows = (truth >= 300) & (truth < 360)
    assert (band ^ epidermis_rows).mean() < 0.01
    assert not kept[truth < 290].any()
    assert kept[truth >= 300].all()


@pytest.mark.parametrize("k", range(4))
def test_glass_beneath_a_side_150_to_200_um_deep_is_cut_off_too(k: int) -> None:
    # 60 µm of epidermis and 120 µm of glass: the side is 180 µm deep, within
    # the 200 µm bound, yet its outer two thirds are glass.
    tissue, epidermis, fibre = (a[180:] for a in _glass_beyond_the_surface())
    turn = functools.partial(np.rot90, k=k)
    band, kept = without_outer_glass(turn(epidermis), turn(tissue), turn(fibre), spacing=1.0)
    row = turn(np.arange(180, 400)[:, None] * np.ones((220, 200)))
    assert (band ^ ((row >= 300) & (row < 360))).mean() < 0.01
    assert not kept[row < 290].any()


def test_a_thick_epidermis_as_bright_throughout_is_left_whole() -> None:
    # A side 180 µm deep with no glass beyond the surface, a little dimmer
    # far from the junction (0.15) than near it (0.2): all epidermis. Split
    # half-way between the two levels it would lose its outer half.
    tissue, epidermis, fibre = (a[180:] for a in _glass_beyond_the_surface())
    depth = 180 - np.arange(220)[:, None] * np.ones((1, 200))
    fibre = np.where(epidermis, 0.15 + 0.05 * (1 - depth / 180), fibre)
    fibre = fibre + np.random.default_rng(2).normal(0, 0.01, fibre.shape)
    band, kept = without_outer_glass(epidermis, tissue, fibre, spacing=1.0)
    assert (band == epidermis).all() and (kept == tissue).all()
    split, _ = without_outer_glass(epidermis, tissue, fibre, spacing=1.0, glass_ratio=1.0)
    assert split.sum() < 0.8 * epidermis.sum()


def test_an_epidermis_as_dark_as_the_darkest_glass_tells_nothing() -> None:
    # Levels at or below the channel's 0 (its 2nd percentile): no split,
    # whatever the glass beyond reads.
    tissue, epidermis, fibre = _glass_beyond_the_surface()
    band, kept = without_outer_glass(epidermis, tissue, fibre - 0.25, spacing=1.0)
    assert (band == epidermis).all() and (kept == tissue).all()
    band, _ = without_outer_glass(epidermis, tissue, fibre, spacing=1.0)
    assert band.sum() < 0.5 * epidermis.sum()


def test_a_plausible_epidermis_side_is_left_as_it_is() -> None:
    tissue, epidermis, fibre = _glass_beyond_the_surface()
    epidermis = epidermis & (np.arange(400)[:, None] >= 300)
    tissue = tissue & (np.arange(400)[:, None] >= 300)
    band, kept = without_outer_glass(epidermis, tissue, fibre, spacing=1.0)
    assert (band == epidermis).all() and (kept == tissue).all()


def _beaded_section(thread: float, bead: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Six faint beaded fibres crossing a membrane line, photon noise, 0.5 µm pixels.

    Glass above row 80 and below row 440; epidermis rows 80-219, dermis (with
    a coarse autofluorescent texture) from row 220, where the collagen IV line
    is. Each fibre is a thread of ``thread`` counts with a bead of ``bead``
    every 3 µm, from 50 µm into the epidermis to 55 µm into the dermis.
    """
    rng = np.random.default_rng(seed)
    shape = (520, 600)
    rows = np.arange(shape[0])[:, None] * np.ones(shape)
    tissue = (rows >= 80) & (rows < 440)
    epidermis = tissue & (rows < 220)
    dermis = tissue & (rows >= 220)
    texture = 1 + 1.2 * ndi.gaussian_filter(rng.normal(size=shape), 4)
    fibre = 6.0 + 10.0 * epidermis + 30.0 * dermis * texture
    lines = np.zeros(shape)
    for k in range(6):
        column = 60 + 95 * k
        lines[120:330, column] = thread
        lines[120:330:6, column] = bead
    fibre += ndi.gaussian_filter(lines, 0.8) * (2 * np.pi * 0.8**2)
    membrane = 5.0 + 20.0 * dermis + 120.0 * np.exp(-((rows - 220) ** 2) / 2.0)
    return (
        rng.poisson(np.clip(fibre, 0, None)).astype(np.uint16),
        rng.poisson(membrane).astype(np.uint16),
    )


@pytest.mark.parametrize("k", range(4))
def test_faint_beaded_fibres_are_traced_across_the_junction(k: int) -> None:
    # A thread at a few photons between bright beads: at the fibre's own width
    # its ridge fell below the threshold between beads, and the pieces ended
    # short of the junction (0 of 6 counted before the wider scales).
    fibre, membrane = _beaded_section(thread=4.0, bead=30.0)
    result = analyze_section(np.rot90(fibre, k), spacing=0.5, membrane=np.rot90(membrane, k))
    assert result.count == 6
    assert result.junction_method == "membrane"


def test_the_wider_scales_find_no_fibre_in_noise_and_texture() -> None:
    fibre, membrane = _beaded_section(thread=0.0, bead=0.0)
    result = analyze_section(fibre, spacing=0.5, membrane=membrane)
    assert result.count == 0


@pytest.fixture(scope="module")
def collagen_iv_on_an_uneven_field() -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """A section whose collagen IV channel shows only an uneven field, brighter to the right.

    A failed collagen IV stain under a fluorescent mounting medium: the channel
    has no membrane line and its glass is as bright as the tissue.
    """
    section = generate_section(
        SectionSpec(
            seed=11, modality="fluorescence", length_um=500, pixel_size_um=0.6, density_per_mm=12.0
        )
    )
    fibre = section.image[0]
    cols = np.arange(fibre.shape[1])[None, :] * np.ones(fibre.shape)
    field = 100.0 + 60.0 * cols / fibre.shape[1]
    membrane = np.random.default_rng(0).poisson(field).astype(np.uint16)
    return fibre, membrane, section.truth


@pytest.mark.parametrize("k", range(4))
def test_a_collagen_iv_channel_that_takes_in_the_glass_gives_way_to_the_fibre_channel(
    collagen_iv_on_an_uneven_field: tuple[np.ndarray, np.ndarray, dict[str, object]], k: int
) -> None:
    # On the sum of the two channels the bright side of the field became
    # tissue: the junction came out 28 % too long, flagged (4.1x the surface,
    # spanning 67 % of the section). The tissue of the fibre channel alone
    # finds it, with no reason for review.
    fibre, membrane, truth = collagen_iv_on_an_uneven_field
    result = analyze_section(np.rot90(fibre, k), spacing=0.6, membrane=np.rot90(membrane, k))
    assert result.qc["tissue_fibre_only"] == 1
    assert any("tissue found in the fibre channel alone" in w for w in result.warnings)
    assert result.dej_length_um == pytest.approx(truth["dej_length_um"], rel=0.03)
    assert not result.needs_review
    assert abs(result.count - int(truth["count"])) <= 1  # type: ignore[call-overload]


def test_a_clean_section_keeps_the_tissue_of_both_channels(rotated: tuple[np.ndarray, ...]) -> None:
    fibre, membrane = rotated[:2]
    assert analyze_section(fibre, spacing=0.6, membrane=membrane).qc["tissue_fibre_only"] == 0
    assert analyze_section(fibre, spacing=0.6).qc["tissue_fibre_only"] is None


def test_a_brightfield_section_has_no_tissue_second_opinion() -> None:
    # Bright-field ignores a membrane channel: there is no choice of tissue
    # mask to make, and no second analysis to run.
    section = generate_section(
        SectionSpec(seed=3, modality="brightfield", length_um=400, pixel_size_um=0.6)
    )
    rgb = section.image
    plain = analyze_section(rgb, spacing=0.6)
    with_membrane = analyze_section(rgb, spacing=0.6, membrane=rgb[..., 0])
    assert plain.qc["tissue_fibre_only"] is with_membrane.qc["tissue_fibre_only"] is None
    assert plain.qc["tissue_flattened"] is with_membrane.qc["tissue_flattened"] is None
    assert with_membrane.count == plain.count
    assert with_membrane.qc_reasons == plain.qc_reasons


def test_above_floor_makes_vignetted_glass_flat_and_keeps_a_dim_band() -> None:
    # Glass 0.10 in the centre of the field, 0.05 in its corners (vignetting);
    # a band of epidermis 0.03 above its glass. On the signal as it is, the
    # centre's glass lies above the corners' epidermis.
    rows, cols = np.mgrid[0:240, 0:320]
    r, c = (rows - 120) / 120, (cols - 160) / 160
    light = 1.0 - 0.25 * (r**2 + c**2)
    band = (rows >= 150) & (rows < 180)
    signal = (0.10 + 0.03 * band) * light
    signal = signal + np.random.default_rng(2).normal(0, 0.002, signal.shape)
    assert signal[5, 5] + 0.03 < signal[100, 160]  # corner band-free glass well below the centre
    flat = above_floor(signal, spacing=2.0, smooth_um=6.0)
    glass = flat[~band]
    assert np.percentile(glass, 99) - np.percentile(glass, 1) < 0.015
    assert flat[band].mean() - np.median(glass) == pytest.approx(
        0.03 * light[band].mean(), abs=0.005
    )
    # The constant fill of a rotation (here 0) does not pull the floor down:
    # left in, it leaves the glass three times as uneven.
    filled = signal.copy()
    outside = (rows < 40) & (cols < 60)
    filled[outside] = 0.0
    keep = ~ndi.binary_dilation(outside, iterations=10) & ~band

    def spread(values: np.ndarray) -> float:
        return float(np.percentile(values, 99) - np.percentile(values, 1))

    told = above_floor(filled, spacing=2.0, smooth_um=6.0, outside=outside)[keep]
    untold = above_floor(filled, spacing=2.0, smooth_um=6.0)[keep]
    assert spread(told) < 0.02 < 0.04 < spread(untold)


@pytest.mark.parametrize("angle", [10.0, 35.0])
def test_above_floor_fits_the_glass_of_a_rotated_field_not_its_fill(angle: float) -> None:
    # The same field rotated, with a 0 fill filling a quarter to a half of the frame.
    rows, cols = np.mgrid[0:240, 0:320]
    r, c = (rows - 120) / 120, (cols - 160) / 160
    light = 1.0 - 0.25 * (r**2 + c**2)
    band = ((rows >= 150) & (rows < 180)).astype(float)
    signal = (0.10 + 0.03 * band) * light
    turned = ndi.rotate(signal, angle, order=1, cval=0.0)
    inside = ndi.rotate(np.ones_like(signal), angle, order=0, cval=0.0) > 0.5
    in_band = ndi.rotate(band, angle, order=0, cval=0.0) > 0.5
    turned = turned + np.random.default_rng(4).normal(0, 0.002, turned.shape) * inside
    flat = above_floor(turned, spacing=2.0, smooth_um=6.0, outside=~inside)
    glass = flat[
        ndi.binary_erosion(inside, iterations=4) & ~ndi.binary_dilation(in_band, iterations=3)
    ]
    assert np.percentile(glass, 99) - np.percentile(glass, 1) < 0.02
    assert flat[in_band & inside].mean() - np.median(glass) > 0.02


def _fluorescence_channels(section: Any, k: int = 0) -> tuple[np.ndarray, np.ndarray]:
    names = list(section.channel_names)
    return (
        np.rot90(section.image[names.index("PGP9.5")], k),
        np.rot90(section.image[names.index("Collagen IV")], k),
    )


@pytest.fixture(scope="module")
def glass_brighter_than_the_ends() -> Any:
    # The independent generator's development section 509: a dim epidermis,
    # a weak collagen IV line, and the glass beyond the surface brighter than
    # the glass beyond the section's ends, which lie in the field's corners.
    # Neither tissue mask of the field as it is (both channels, or the fibre
    # channel alone) left the epidermis an edge: "no epidermis with a
    # dermal-epidermal junction found".
    return script("independent_sections").generate_section(509)


def test_glass_brighter_in_the_centre_is_flattened_when_no_junction_is_found(
    glass_brighter_than_the_ends: Any,
) -> None:
    # One orientation: the analysis frame (canonical_frame) analyses every
    # turn and mirror of a section on one array, so another turn is the same run.
    section = glass_brighter_than_the_ends
    fibre, membrane = _fluorescence_channels(section)
    result = analyze_section(fibre, spacing=section.truth["pixel_size_um"], membrane=membrane)
    assert result.qc["tissue_flattened"] == 1
    assert any("floor fitted under the field" in w for w in result.warnings)
    assert not result.needs_review
    assert abs(result.count - section.truth["count"]) <= 1
    assert result.dej_length_um == pytest.approx(section.truth["dej_length_um"], rel=0.2)


def test_a_flattened_field_whose_result_needs_review_is_still_refused() -> None:
    # The independent generator's development section 434 (2 true crossings):
    # on the flattened field a junction is found, but its own checks flag it
    # (1 counted, the epidermis far too thick). A result from a guessed floor
    # that its own checks doubt is not kept: the refusal of the field as it
    # is stands, and says so.
    section = script("independent_sections").generate_section(434)
    fibre, membrane = _fluorescence_channels(section)
    with pytest.raises(AnalysisError, match="no epidermis with a dermal-epidermal junction") as err:
        analyze_section(fibre, spacing=section.truth["pixel_size_um"], membrane=membrane)
    assert "flattened under a fitted floor a junction was found, but its checks doubt it" in str(
        err.value
    )


def test_a_field_that_needs_no_flattening_is_not_flattened(
    rotated: tuple[np.ndarray, ...],
) -> None:
    fibre, membrane = rotated[:2]
    assert analyze_section(fibre, spacing=0.6, membrane=membrane).qc["tissue_flattened"] == 0
    assert analyze_section(fibre, spacing=0.6).qc["tissue_flattened"] == 0


def test_a_drawn_junction_is_never_flattened_or_searched_again() -> None:
    section = generate_section(
        SectionSpec(seed=11, modality="fluorescence", length_um=500, pixel_size_um=0.6)
    )
    given = GivenJunction(dej=(np.asarray(section.truth["dej"], dtype=float),))
    result = analyze_section(
        section.image[0], spacing=0.6, membrane=section.image[1], junction=given
    )
    assert result.junction_method == "given"
    assert result.qc["tissue_flattened"] is None
    assert result.qc["tissue_fibre_only"] is None


@pytest.mark.parametrize(
    ("seed", "what"),
    [
        # Collagen IV absent, the dermis brighter than the epidermis in the
        # fibre channel and lined by glass on three sides: it was taken for
        # the epidermis (396 µm thick), the surface drawn along its cut edge.
        (454, "a dermis lining three sides"),
        # Glass taken with the tissue beyond the surface, the epidermis side
        # 193 µm deep at its 90th percentile: the surface was drawn along the
        # frame (202 µm thick).
        (404, "glass 150-200 µm deep"),
    ],
)
def test_the_surface_of_an_independent_section_lies_on_its_epidermis(seed: int, what: str) -> None:
    # The independent generator's development sections; both were counted
    # right but flagged for an epidermis over 200 µm thick.
    section = script("independent_sections").generate_section(seed)
    fibre, membrane = _fluorescence_channels(section)
    result = analyze_section(fibre, spacing=section.truth["pixel_size_um"], membrane=membrane)
    truth = section.truth["appearance"]["epidermis_um"]
    # The drawn thickness (rete ridges lengthen the measured one).
    assert 0.5 * truth < result.qc["epidermal_thickness_um"] < 2 * truth, what
    assert abs(result.count - section.truth["count"]) <= 1
    assert not result.needs_review, result.qc_reasons
