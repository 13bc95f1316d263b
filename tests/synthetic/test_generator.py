"""Synthetic sections: determinism, truth invariants, geometry, colour, validation."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from ienfd.synthetic import (
    GENERATOR_VERSION,
    SectionSpec,
    estimate_shape,
    generate_section,
    random_spec,
)
from ienfd.synthetic._geometry import build_anatomy
from ienfd.synthetic._render import FrameMap

SMALL = {
    "length_um": 260.0,
    "dermis_depth_um": 90.0,
    "pixel_size_um": 0.5,
    "density_per_mm": 20.0,
    "noise": 0.01,
    "defocus_sigma_um": 0.2,
}

REQUIRED_KEYS = {
    "count",
    "crossings",
    "dej_length_um",
    "surface_length_um",
    "dej",
    "surface",
    "n_fragments",
    "n_epidermal_branches",
    "n_short_fibres",
    "n_parallel_dermal",
    "modality",
    "chromogen",
    "pixel_size_um",
    "rotation_deg",
    "flip",
    "shape",
    "seed",
    "generator_version",
}


def small_spec(**kw: object) -> SectionSpec:
    return SectionSpec(**{**SMALL, **kw})  # type: ignore[arg-type]


def point_polyline_distance(points: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance of each (row, col) point to a polyline, in pixels."""
    a, b = line[:-1], line[1:]
    ab = b - a
    out = []
    for p in points:
        t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.einsum("ij,ij->i", ab, ab), 0, 1)
        out.append(np.min(np.hypot(*(a + t[:, None] * ab - p).T)))
    return np.array(out)


def crossings_array(truth: dict) -> np.ndarray:  # type: ignore[type-arg]
    return np.array([[c["row"], c["col"]] for c in truth["crossings"]], float).reshape(-1, 2)


CASES = [
    {"modality": "brightfield", "chromogen": "sg", "seed": 1},
    {"modality": "brightfield", "chromogen": "dab", "seed": 2, "rotation_deg": 37.0},
    {"modality": "fluorescence", "seed": 3, "rotation_deg": 200.0, "flip": True},
    {"modality": "fluorescence", "seed": 4, "rotation_deg": 301.5, "pixel_size_um": 0.3},
]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c['modality']}-{c['seed']}")
def section(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return generate_section(small_spec(**request.param))


def test_determinism() -> None:
    spec = small_spec(modality="fluorescence", seed=11, rotation_deg=15.0)
    a, b = generate_section(spec), generate_section(spec)
    np.testing.assert_array_equal(a.image, b.image)
    assert json.dumps(a.truth, sort_keys=True) == json.dumps(b.truth, sort_keys=True)
    c = generate_section(dataclasses.replace(spec, seed=12))
    assert c.image.shape != a.image.shape or not np.array_equal(c.image, a.image)


def test_truth_keys_and_json(section) -> None:  # type: ignore[no-untyped-def]
    truth = section.truth
    assert REQUIRED_KEYS <= set(truth)
    json.dumps(truth)  # JSON-ready
    assert truth["generator_version"] == GENERATOR_VERSION
    assert truth["shape"] == list(
        section.image.shape[:2] if truth["modality"] == "brightfield" else section.image.shape[1:]
    )
    assert truth["count"] == len(truth["crossings"]) > 0
    for key in ("n_fragments", "n_epidermal_branches", "n_short_fibres", "n_parallel_dermal"):
        assert isinstance(truth[key], int) and truth[key] >= 0


def test_count_follows_density(section) -> None:  # type: ignore[no-untyped-def]
    truth, spec = section.truth, section.spec
    assert truth["count"] == round(spec.density_per_mm * truth["surface_length_um"] / 1000)


def test_crossings_on_dej_and_inside(section) -> None:  # type: ignore[no-untyped-def]
    truth = section.truth
    rows, cols = truth["shape"]
    pts = crossings_array(truth)
    assert np.all((pts >= 0) & (pts <= [rows - 1, cols - 1]))
    dej = np.array(truth["dej"])
    assert np.all(point_polyline_distance(pts, dej) <= 1.0)
    # separate crossings are > 8 µm apart along the section
    d = np.hypot(*(pts[:, None] - pts[None]).transpose(2, 0, 1)) * truth["pixel_size_um"]
    assert np.all(d[np.triu_indices(len(pts), 1)] > 7.5)


def test_lengths_and_polylines(section) -> None:  # type: ignore[no-untyped-def]
    truth, spec = section.truth, section.spec
    p = truth["pixel_size_um"]
    for name in ("dej", "surface"):
        line = np.array(truth[name])
        seg = np.hypot(*np.diff(line, axis=0).T) * p
        assert seg.max() <= 2.0 + 1e-6
        straight = math.hypot(*(line[-1] - line[0])) * p
        length = truth[f"{name}_length_um"]
        assert length >= straight
        assert length == pytest.approx(seg.sum(), rel=0.01)
        assert 0.85 * spec.length_um < straight < 1.15 * spec.length_um
    assert truth["dej_length_um"] > truth["surface_length_um"]  # rete ridges


def test_crossing_is_on_a_fibre_in_the_image(section) -> None:  # type: ignore[no-untyped-def]
    """Pixels and truth share one mapping: the fibre signal peaks at each crossing."""
    img = section.image
    pts = np.rint(crossings_array(section.truth)).astype(int)
    if section.spec.modality == "fluorescence":
        pgp = img[0].astype(float)
        tissue = np.median(pgp[section.epidermis_mask])
        near = [pgp[r - 1 : r + 2, c - 1 : c + 2].max() for r, c in pts]
        assert np.median(near) > tissue + 0.3 * (np.percentile(pgp, 99.9) - tissue)
    else:
        lum = img.astype(float).mean(axis=2)
        epi = np.median(lum[section.epidermis_mask])
        near = [lum[r - 1 : r + 2, c - 1 : c + 2].min() for r, c in pts]
        assert np.median(near) < epi - 40


def test_brightfield_colour_order() -> None:
    sec = generate_section(small_spec(modality="brightfield", chromogen="sg", seed=5))
    lum = sec.image.astype(float).mean(axis=2)
    pts = np.rint(crossings_array(sec.truth)).astype(int)
    fibre = np.median([lum[r - 1 : r + 2, c - 1 : c + 2].min() for r, c in pts])
    epidermis = np.median(lum[sec.epidermis_mask])
    background = np.median(lum[:10, :10])
    assert fibre < epidermis < background
    assert background > 200
    dab = generate_section(small_spec(modality="brightfield", chromogen="dab", seed=5))
    r, _, b = (dab.image[..., k].astype(float) for k in range(3))
    pts = np.rint(crossings_array(dab.truth)).astype(int)
    # DAB is brown: red transmitted more than blue on the fibres
    assert np.median([r[y, x] - b[y, x] for y, x in pts]) > 5


def test_fluorescence_layout_and_membrane() -> None:
    sec = generate_section(small_spec(modality="fluorescence", seed=6, rotation_deg=120.0))
    assert sec.image.dtype == np.uint16
    assert sec.image.ndim == 3 and sec.image.shape[0] == 2
    assert sec.channel_names == ("PGP9.5", "ColIV")
    assert sec.truth["chromogen"] is None
    col4 = sec.image[1].astype(float)
    dej = np.rint(np.array(sec.truth["dej"])).astype(int)
    on_line = np.array([col4[r - 1 : r + 2, c - 1 : c + 2].max() for r, c in dej])
    assert np.median(on_line) > 4 * np.median(col4[sec.epidermis_mask])
    pgp = sec.image[0].astype(float)
    background = np.median(pgp[:10, :10])
    dermis_like = np.median(pgp[~sec.epidermis_mask & (pgp > background + 50)])
    assert np.median(pgp[sec.epidermis_mask]) > dermis_like > background


def test_weak_and_absent_membrane() -> None:
    base = small_spec(modality="fluorescence", seed=7)
    lines = {}
    for strength in (1.0, 0.2, 0.0):
        sec = generate_section(dataclasses.replace(base, membrane_strength=strength))
        dej = np.rint(np.array(sec.truth["dej"])).astype(int)
        lines[strength] = np.median([sec.image[1][r, c] for r, c in dej])
    assert lines[1.0] > lines[0.2] > lines[0.0]


def test_rotation_by_90_maps_truth() -> None:
    spec = small_spec(modality="brightfield", seed=8, noise=0.0, illumination_gradient=0.0)
    a = generate_section(spec)
    b = generate_section(dataclasses.replace(spec, rotation_deg=90.0))
    assert a.truth["count"] == b.truth["count"]
    assert a.truth["dej_length_um"] == pytest.approx(b.truth["dej_length_um"], abs=1e-9)
    assert a.truth["surface_length_um"] == pytest.approx(b.truth["surface_length_um"], abs=1e-9)
    pa, pb = crossings_array(a.truth), crossings_array(b.truth)
    # 90° counter-clockwise as displayed: (row, col) -> (-col, row) + constant
    mapped = np.column_stack([-pa[:, 1], pa[:, 0]])
    shift = pb - mapped
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-6)
    # and the image rotates with it
    rot = np.rot90(a.image.astype(float).mean(axis=2))
    img_b = b.image.astype(float).mean(axis=2)
    dr, dc = np.rint(shift[0] - [rot.shape[0] - 1, 0]).astype(int)
    assert abs(dr) <= 2 and abs(dc) <= 2
    h = min(rot.shape[0], img_b.shape[0] - dr) - 4
    w = min(rot.shape[1], img_b.shape[1] - dc) - 4
    diff = np.abs(rot[4:h, 4:w] - img_b[4 + dr : h + dr, 4 + dc : w + dc])
    assert np.median(diff) < 1.0
    assert np.mean(diff) < 3.0


def test_flip_keeps_counts() -> None:
    spec = small_spec(modality="fluorescence", seed=9)
    a = generate_section(spec)
    b = generate_section(dataclasses.replace(spec, flip=True, rotation_deg=45.0))
    assert a.truth["count"] == b.truth["count"]
    assert a.truth["dej_length_um"] == pytest.approx(b.truth["dej_length_um"])


@pytest.mark.parametrize("angle", [0.0, 33.0, 90.0, 181.0, 299.0])
@pytest.mark.parametrize("flip", [False, True])
def test_frame_map_marker(angle: float, flip: bool) -> None:
    """A marker drawn in the canonical raster lands where the truth mapping says."""
    p = 0.5
    fmap = FrameMap.build(
        rotation_deg=angle,
        flip=flip,
        pixel_size_um=p,
        origin_um=(-3.0, -7.0),
        content_px=(0.0, 79.0, 0.0, 159.0),
        margin_px=5.0,
    )
    canon = np.zeros((80, 160), np.float32)
    v_um, u_um = 17.0, 41.5
    r0, c0 = int((v_um + 3.0) / p), int((u_um + 7.0) / p)
    canon[r0 - 1 : r0 + 2, c0 - 1 : c0 + 2] = 1.0
    out = fmap.warp(canon, cval=0.0)
    expected = fmap.to_pixels(np.array([v_um]), np.array([u_um]))[0]
    rr, cc = np.nonzero(out > 0.01)
    w = out[rr, cc]
    centroid = np.array([np.sum(rr * w), np.sum(cc * w)]) / w.sum()
    np.testing.assert_allclose(centroid, expected, atol=0.05)
    assert np.all(expected >= 0) and np.all(expected < fmap.shape)
    # the affine recorded in the truth is the same mapping
    a = np.array(fmap.as_affine_um())
    np.testing.assert_allclose(a[:, :2] @ [v_um, u_um] + a[:, 2], expected)


@pytest.mark.parametrize("seed", range(6))
def test_anatomy_crossing_rule(seed: int) -> None:
    """Counted fibres cross the DEJ once; nothing else crosses it; the categories hold."""
    spec = SectionSpec(
        length_um=500.0,
        density_per_mm=18.0,
        p_epidermal_branch=0.6,
        p_dermal_branch=0.4,
        fragments_per_mm=10.0,
        short_fibres_per_mm=8.0,
        parallel_dermal_per_mm=8.0,
        seed=seed,
    )
    anat = build_anatomy(np.random.default_rng(seed), spec)
    lay = anat.layers
    n_ienf = 0
    for fib in anat.fibres:
        h = lay.at(lay.dej, fib.u) - fib.v
        if fib.kind == "ienf":
            n_ienf += 1
            sign = np.sign(h[np.abs(h) > 1e-6])
            assert np.count_nonzero(np.diff(sign)) == 1
            assert sign[0] < 0 < sign[-1]
            assert np.all(fib.v - lay.at(lay.surface, fib.u) > 2.0)
        elif fib.kind in ("epidermal_branch", "fragment"):
            assert np.all(h > 0)
            assert np.all(fib.v - lay.at(lay.surface, fib.u) > 2.0)
        else:
            assert np.all(h < 0), fib.kind
        if fib.kind == "short":
            assert -10.5 < h[-1] < -2.0
        if fib.kind == "parallel_dermal":
            assert np.all((h < -1.0) & (h > -16.0))
    assert n_ienf == len(anat.crossings_um)
    for v, u in anat.crossings_um:
        assert v == pytest.approx(float(lay.at(lay.dej, u)))
    assert anat.n_epidermal_branches == sum(f.kind == "epidermal_branch" for f in anat.fibres)
    assert len(anat.fragments_um) == sum(f.kind == "fragment" for f in anat.fibres)
    assert anat.n_short_fibres == sum(f.kind == "short" for f in anat.fibres)
    assert anat.n_parallel_dermal == sum(f.kind == "parallel_dermal" for f in anat.fibres)


def test_fragments_and_short_fibres_in_truth() -> None:
    spec = small_spec(fragments_per_mm=30.0, short_fibres_per_mm=20.0, seed=10)
    sec = generate_section(spec)
    truth, p = sec.truth, spec.pixel_size_um
    dej = np.array(truth["dej"])
    assert truth["n_fragments"] == len(truth["fragments"]) > 0
    frag = np.array([[f["row"], f["col"]] for f in truth["fragments"]])
    assert np.all(point_polyline_distance(frag, dej) * p >= 5.0)
    ends = np.array([[f["row"], f["col"]] for f in truth["short_fibre_ends"]]).reshape(-1, 2)
    d = point_polyline_distance(ends, dej) * p
    assert np.all((d >= 1.9) & (d <= 10.6))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pixel_size_um", 0.05),
        ("pixel_size_um", float("nan")),
        ("length_um", -1.0),
        ("epidermis_thickness_um", 400.0),
        ("rotation_deg", 400.0),
        ("membrane_strength", -0.1),
        ("noise", 1.0),
        ("modality", "confocal"),
        ("chromogen", "aec"),
    ],
)
def test_spec_validation(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        small_spec(**{field: value})


def test_spec_validation_types_and_constraints() -> None:
    with pytest.raises(ValueError, match="rete_amplitude_um"):
        SectionSpec(epidermis_thickness_um=50.0, rete_amplitude_um=45.0)
    with pytest.raises(TypeError, match="flip"):
        SectionSpec(flip="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed"):
        SectionSpec(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="spec"):
        generate_section({"seed": 1})  # type: ignore[arg-type]


def test_random_spec() -> None:
    rng = np.random.default_rng(0)
    specs = [random_spec(rng) for _ in range(40)]
    assert {s.modality for s in specs} == {"brightfield", "fluorescence"}
    assert {s.chromogen for s in specs} == {"sg", "dab"}
    assert any(s.flip for s in specs) and not all(s.flip for s in specs)
    for s in specs:
        assert 0.25 <= s.pixel_size_um <= 0.7
        assert 2.0 <= s.density_per_mm <= 20.0
        rows, cols = estimate_shape(s)
        assert rows * cols <= 16e6
    assert random_spec(5) == random_spec(5)
    fixed = random_spec(1, modality="fluorescence", rotation_deg=10.0)
    assert fixed.modality == "fluorescence" and fixed.rotation_deg == 10.0
    with pytest.raises(TypeError, match="colour"):
        random_spec(1, colour="red")
    with pytest.raises(ValueError, match="pixel_size_um"):
        random_spec(1, pixel_size_um=3.0)


def test_estimate_shape_is_close() -> None:
    spec = small_spec(rotation_deg=30.0, seed=3)
    sec = generate_section(spec)
    est = np.array(estimate_shape(spec))
    actual = np.array(sec.truth["shape"])
    assert np.all(np.abs(est - actual) / actual < 0.15)
