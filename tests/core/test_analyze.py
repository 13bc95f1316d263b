"""analyze_section end to end: known answers, invariants, bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy.optimize import linear_sum_assignment

from ienfd.core import AnalysisError, AnalysisParameters, analyze_section
from ienfd.core._preprocess import lower_surface
from ienfd.synthetic import SectionSpec, generate_section, score_section
from tests.core._orientation import unturn

SPACING = 0.5


def _matched(found: np.ndarray, truth: np.ndarray, tol_px: float) -> int:
    dist = np.hypot(*(found[:, None, :] - truth[None, :, :]).transpose(2, 0, 1))
    rows, cols = linear_sum_assignment(dist)
    return int(np.sum(dist[rows, cols] <= tol_px))


def test_phantom_counts_its_known_fibres_where_they_cross(phantom) -> None:
    image, truth = phantom
    result = analyze_section(image, spacing=SPACING)
    assert result.count == len(truth) == 10
    assert _matched(result.crossings, truth, tol_px=10 / SPACING) == 10
    assert result.modality == "brightfield"
    assert result.density_per_mm == pytest.approx(result.count / (result.dej_length_um / 1000))


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(lambda a: np.rot90(a), id="rot90"),
        pytest.param(lambda a: np.rot90(a, 3), id="rot270"),
        pytest.param(lambda a: a[:, ::-1], id="fliplr"),
        pytest.param(lambda a: a[::-1], id="flipud"),
    ],
)
def test_phantom_count_is_invariant_to_rotation_and_flip(phantom, transform) -> None:
    image, _ = phantom
    assert analyze_section(np.ascontiguousarray(transform(image)), spacing=SPACING).count == 10


@pytest.mark.parametrize(
    ("dtype", "scale"), [(np.uint8, 1), (np.uint16, 257), (np.float32, 1 / 255), (np.float64, 3.0)]
)
def test_phantom_count_is_invariant_to_dtype_and_intensity_scale(phantom, dtype, scale) -> None:
    image, _ = phantom
    scaled = (image.astype(np.float64) * scale).astype(dtype)
    assert analyze_section(scaled, spacing=SPACING).count == 10


@pytest.mark.parametrize("modality", ["brightfield", "fluorescence"])
def test_generated_section_intensity_scaling_keeps_the_count(modality) -> None:
    section = generate_section(
        SectionSpec(modality=modality, length_um=500, pixel_size_um=0.6, seed=4)
    )
    if modality == "brightfield":
        base = analyze_section(section.image, spacing=0.6)
        scaled = analyze_section(section.image.astype(np.uint16) * 257, spacing=0.6)
    else:
        fibre, membrane = section.image
        base = analyze_section(fibre, spacing=0.6, membrane=membrane)
        scaled = analyze_section(
            fibre.astype(np.float32) * 0.37, spacing=0.6, membrane=membrane.astype(np.float32) * 9
        )
    assert scaled.count == base.count
    np.testing.assert_allclose(scaled.dej_length_um, base.dej_length_um, rtol=1e-3)


@pytest.mark.parametrize("seed", [21, 23])
def test_generated_section_rotated_by_90_degrees_counts_within_one_fibre(seed) -> None:
    """Realistic sections: thinning is not exactly rotation-equivariant (docs/algorithm.md)."""
    section = generate_section(
        SectionSpec(modality="fluorescence", length_um=500, pixel_size_um=0.6, seed=seed)
    )
    fibre, membrane = section.image
    base = analyze_section(fibre, spacing=0.6, membrane=membrane)
    turned = analyze_section(np.rot90(fibre), spacing=0.6, membrane=np.rot90(membrane))
    assert abs(turned.count - base.count) <= 1
    assert turned.dej_length_um == pytest.approx(base.dej_length_um, rel=0.01)
    score = score_section(base.crossings, base.dej_length_um, section.truth)
    assert score.matched >= 0.7 * section.truth["count"]


def test_fluorescence_with_no_junction_line_falls_back_to_the_tissue() -> None:
    """A collagen IV channel without a membrane line (vessels only): tissue fallback."""
    section = generate_section(
        SectionSpec(
            modality="fluorescence", length_um=500, pixel_size_um=0.6, seed=5, membrane_strength=0.0
        )
    )
    fibre, membrane = section.image
    result = analyze_section(fibre, spacing=0.6, membrane=membrane)
    assert result.junction_method == "tissue"
    assert abs(result.dej_length_um / section.truth["dej_length_um"] - 1) < 0.05
    score = score_section(result.crossings, result.dej_length_um, section.truth)
    assert score.matched >= 0.7 * section.truth["count"]


def test_a_blank_image_is_an_error_not_a_count_of_zero() -> None:
    blank = np.full((400, 600, 3), 235, np.uint8)
    with pytest.raises(AnalysisError, match="no tissue"):
        analyze_section(blank, spacing=SPACING)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": np.zeros((100, 100, 3)), "spacing": 0.0}, "spacing must be"),
        ({"image": np.zeros((100, 100, 3)), "spacing": np.nan}, "spacing must be"),
        ({"image": np.zeros((100, 100, 4)), "spacing": 0.5, "modality": "brightfield"}, "RGB"),
        ({"image": np.zeros((100, 100, 3)), "spacing": 0.5, "modality": "fluorescence"}, "(M, N)"),
        (
            {"image": np.zeros((100, 100)), "spacing": 0.5, "membrane": np.zeros((99, 100))},
            "membrane",
        ),
        ({"image": np.zeros((10, 100, 3)), "spacing": 0.5}, "too small"),
        ({"image": np.full((100, 100), np.nan), "spacing": 0.5}, "NaN"),
        (
            {"image": np.zeros((100, 100, 3)), "spacing": 0.5, "length_basis": "axis"},
            "length_basis",
        ),
        ({"image": np.zeros((100, 100, 3)), "spacing": 0.5, "modality": "xray"}, "modality"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        analyze_section(**kwargs)


def test_parameters_round_trip_and_refuse_unknown_names() -> None:
    params = AnalysisParameters(threshold_high=9.0)
    assert AnalysisParameters.from_dict(params.to_dict()) == params
    with pytest.raises(ValueError, match="unknown analysis parameter"):
        AnalysisParameters.from_dict({"threshold_hihg": 9.0})


def test_a_result_written_before_the_bright_field_reach_keeps_its_rule() -> None:
    # A result's full parameter set from before min_dermal_brightfield_um
    # counted bright-field crossings with min_dermal_um: reopened for review,
    # it is recounted by that rule, not the new default.
    old = AnalysisParameters().to_dict()
    del old["min_dermal_brightfield_um"]
    params = AnalysisParameters.from_dict(old)
    assert params.counting_rule("brightfield")["min_dermal_um"] == old["min_dermal_um"]
    # A partial set (a lab's own file of changes) takes the defaults.
    partial = AnalysisParameters.from_dict({"threshold_low": 4.0})
    assert partial.min_dermal_brightfield_um == AnalysisParameters().min_dermal_brightfield_um


def test_lower_surface_finds_the_glass_under_a_frame_mostly_of_tissue() -> None:
    rows, cols = np.mgrid[0:200, 0:300] / 100.0
    glass = 0.05 + 0.2 * rows - 0.1 * cols  # an illumination ramp, in optical density
    image = glass.copy()
    image[20:180, :] += 0.15  # pale tissue over 80% of the frame, glass only in two strips
    image += np.random.default_rng(0).normal(0, 0.005, image.shape)
    surface = lower_surface(image, order=1)
    assert np.abs(surface - glass).max() < 0.02


def test_pale_dermis_filling_most_of_an_unevenly_lit_frame_is_tissue() -> None:
    # Upside down and deep, so glass shows only in two thin strips; a ramp of
    # light brighter than the pale dermis's contrast. A glass fit that takes
    # the dermis for glass loses most of the junction (24% of its length here).
    spec = SectionSpec(
        seed=422684205,
        chromogen="dab",
        pixel_size_um=0.64,
        length_um=900.0,
        dermis_depth_um=240.0,
        rotation_deg=178.6,
        illumination_gradient=0.3,
    )
    section = generate_section(spec)
    result = analyze_section(section.image, spacing=spec.pixel_size_um)
    assert abs(result.dej_length_um / section.truth["dej_length_um"] - 1) < 0.05
    score = score_section(result.crossings, result.dej_length_um, section.truth)
    assert score.matched >= 2 / 3 * section.truth["count"]  # the old fit matched 2 of 9


def test_a_pale_patch_inside_the_epidermis_is_not_traced_as_junction(phantom) -> None:
    image, _ = phantom
    base = analyze_section(image, spacing=SPACING)
    patched = image.copy()
    rr, cc = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    # A 50 µm pale patch of dermis colour, mid-epidermis, between two fibres.
    patch = (rr - 280) ** 2 + (cc - 740) ** 2 < 50**2
    dermis_colour = image[600, 900]
    patched[patch] = dermis_colour
    result = analyze_section(patched, spacing=SPACING)
    assert len(result.dej) == 1
    assert result.dej_length_um == pytest.approx(base.dej_length_um, rel=0.02)
    assert result.count == base.count == 10


def test_step_defaults_agree_with_the_parameter_object() -> None:
    # One default per parameter: each step's keyword default is the value
    # AnalysisParameters gives it when analyze_section calls the step.
    import inspect

    from ienfd.core import count_crossings, segment_fibres, segment_tissue, trace_junction
    from ienfd.core._epidermis import (
        segment_epidermis_brightfield,
        segment_epidermis_fluorescence,
    )

    params = AnalysisParameters()
    pairs = {
        count_crossings: {
            "min_depth_um": "min_depth_um",
            "min_dermal_um": "min_dermal_um",
            "dej_tolerance_um": "dej_tolerance_um",
            "merge_um": "merge_um",
            "rise_um": "rise_um",
            "rise_depth_um": "rise_depth_um",
            "min_fragment_um": "min_fragment_um",
            "end_margin_um": "end_margin_um",
        },
        segment_fibres: {
            "low": "threshold_low",
            "high": "threshold_high",
            "min_length_um": "min_fibre_um",
            "close_um": "close_gap_um",
        },
        segment_tissue: {"smooth_um": "tissue_smooth_um"},
        trace_junction: {"min_length_um": "min_junction_um", "smooth_um": "junction_smooth_um"},
        segment_epidermis_brightfield: {"opening_um": "epidermis_opening_um"},
        segment_epidermis_fluorescence: {"opening_um": "epidermis_opening_fluorescence_um"},
    }
    for function, mapping in pairs.items():
        signature = inspect.signature(function)
        for argument, name in mapping.items():
            assert signature.parameters[argument].default == getattr(params, name), (
                function.__name__,
                argument,
            )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"threshold_low": 9, "threshold_high": 2}, "threshold_low .9. must not exceed"),
        ({"min_junction_um": -5}, r"min_junction_um must be a number in \[0.0, 10000.0\], got -5"),
        ({"fibre_width_um": ()}, "at least one width"),
        ({"fibre_width_um": (0.8, -1.0)}, "fibre_width_um must be a number"),
        ({"rise_um": "25"}, "rise_um must be a number"),
        ({"block_px": 300.5}, "block_px must be an integer"),
        ({"junction_resolution_um": float("nan")}, "junction_resolution_um"),
    ],
)
def test_parameters_are_validated_naming_the_field(values, message) -> None:
    with pytest.raises(ValueError, match=message):
        AnalysisParameters(**values)
    with pytest.raises(ValueError, match=message):
        AnalysisParameters.from_dict(values)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "counterstain", "branch"),
    # Kept (counts more); counts fewer (dropped); as many, not fewer reasons
    # (the mean's kept); no sign of a counterstain (traced once). The branch
    # each section takes is asserted, so that every one stays covered.
    [
        (61077, "haematoxylin", 1),
        (61002, "haematoxylin", 0),
        (61009, "haematoxylin", 0),
        (61006, "he", None),
    ],
)
def test_a_counterstained_section_is_traced_in_both_fibre_signals(
    seed: int, counterstain: str, branch: int | None
) -> None:
    # A bright-field section whose epidermis is bluer than its dermis
    # (haematoxylin index above 0) is traced in the mean optical density and
    # again in the haematoxylin-free one; the second is kept only when it
    # counts more crossings with no more reasons for review, or as many (more
    # than none) with fewer.
    from ienfd.synthetic import random_spec

    spec = random_spec(
        seed, appearance="wide", modality="brightfield", counterstain=counterstain, length_um=500
    )
    result = analyze_section(generate_section(spec).image, spacing=spec.pixel_size_um)
    qc = result.qc
    assert qc["haematoxylin_free_trace"] == (0 if branch is None else branch)
    noted = any("haematoxylin-free" in w for w in result.warnings)
    if qc["count_haematoxylin_free"] is None:  # traced once
        assert branch is None
        assert qc["haematoxylin_index"] <= 0
        assert (qc["haematoxylin_free_trace"], qc["count_mean_od"]) == (0, result.count)
        assert not noted
        return
    assert branch is not None
    assert qc["haematoxylin_index"] >= 0  # above 0 before rounding
    if qc["haematoxylin_free_trace"]:
        assert result.count == qc["count_haematoxylin_free"] >= qc["count_mean_od"]
        assert result.count > 0
        assert noted
    else:
        assert result.count == qc["count_mean_od"]
        assert not noted


@pytest.mark.parametrize(("k", "flip"), [(1, False), (2, False), (3, False), (0, True), (1, True)])
def test_the_junction_turns_and_mirrors_with_the_section(k: int, flip: bool) -> None:
    # 0.5 µm: the junction is searched on 3-pixel blocks. One row and one
    # column over them: blocks anchored at the first pixel would sit a pixel
    # apart on the tissue once the image turns; centred, they are the same.
    section = generate_section(SectionSpec(seed=7, length_um=500, pixel_size_um=0.5))
    rows, cols = (n - (n - 1) % 3 for n in section.image.shape[:2])
    image = section.image[:rows, :cols]
    base = analyze_section(image, spacing=0.5)
    turned_image = np.rot90(image[:, ::-1] if flip else image, k)
    turned = analyze_section(np.ascontiguousarray(turned_image), spacing=0.5)
    assert turned.dej_length_um == pytest.approx(base.dej_length_um, rel=5e-3)
    there = shapely.MultiLineString([line for line in base.dej])
    back = np.concatenate([unturn(line, image.shape[:2], k, flip) for line in turned.dej])
    off = shapely.distance(there, shapely.points(back))  # pixels
    # The same line, vertex for vertex: only its end may differ, by less than
    # two vertex spacings (3 µm; the vertices are laid from the line's first
    # end, which a mirror image takes to its other end).
    assert np.median(off) < 0.01 and off.max() < 3.0 / 0.5
    # The fibres' thinning is not exactly equivariant (docs/algorithm.md).
    assert abs(turned.count - base.count) <= 1
