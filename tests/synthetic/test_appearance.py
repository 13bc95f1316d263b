"""Appearance randomisation: classic output unchanged, each factor does what it says,
truth untouched by appearance, appearance sets and validation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
import pytest
from scipy.spatial import cKDTree

from ienfd.synthetic import (
    APPEARANCE_FIELDS,
    STRESS_FACTORS,
    WIDE_RANGES,
    SectionSpec,
    _generate,
    generate_section,
    is_classic_appearance,
    random_spec,
    stress_factors,
)
from ienfd.synthetic._extras import CROSSING_CLEARANCE_UM, build_extras
from ienfd.synthetic._geometry import build_anatomy
from ienfd.synthetic._look import jpeg_roundtrip

# Small sections keep the tests fast.
BASE: dict[str, Any] = {
    "length_um": 320.0,
    "dermis_depth_um": 100.0,
    "pixel_size_um": 0.7,
    "density_per_mm": 15.0,
    "seed": 5,
}


def spec_of(**kw: Any) -> SectionSpec:
    return SectionSpec(**{**BASE, **kw})


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def classic_truth_hash(truth: dict[str, Any]) -> str:
    """Hash of the truth as generator 1.0.0 wrote it (no appearance keys)."""
    t = {k: v for k, v in truth.items() if k not in ("spec", "appearance")}
    t["spec"] = {k: v for k, v in truth["spec"].items() if k not in APPEARANCE_FIELDS}
    return sha256(json.dumps(t, sort_keys=True).encode())


def crossings(truth: dict[str, Any]) -> np.ndarray:
    return np.array([[c["row"], c["col"]] for c in truth["crossings"]], float).reshape(-1, 2)


def od(image: np.ndarray) -> np.ndarray:
    """Optical density per channel of a bright-field image (white about 245)."""
    return -np.log10(np.clip(image.astype(float), 1.0, None) / 245.0)


# ---------------------------------------------------------------------------
# the classic look is generator 1.0.0's, bit for bit
# ---------------------------------------------------------------------------

# Computed with the generator before the appearance parameters existed (commit
# 37a4c82).  Pixels are exact on this platform; a different CPU or libm could
# change a last bit, which tests/synthetic/test_samples.py tolerates and this
# test, deliberately, does not.
CLASSIC_HASHES = {
    "bf_sg": (
        SectionSpec(length_um=320.0, dermis_depth_um=100.0, pixel_size_um=0.7, seed=21),
        "7c24c290b95a02de5993eda9da2db4ff8509b22eaf5783b1b0380a30fb50def6",
        "01bba7d05ecddf055ca19aa660f3ecc4ffe9fe952d5260efd7eb984f216faea2",
    ),
    "if_rot": (
        SectionSpec(
            modality="fluorescence",
            length_um=300.0,
            dermis_depth_um=100.0,
            pixel_size_um=0.8,
            rotation_deg=30.0,
            seed=22,
        ),
        "b8871136b527abd1b0c913827f0d7141ba3546fd7262edad377842ece49aae56",
        "45c859644b7639ec784c4686c6771f7183a5ae8a5419799c40068d34c287ae8a",
    ),
    "random_dab": (
        random_spec(
            23,
            length_um=350.0,
            pixel_size_um=0.7,
            dermis_depth_um=100.0,
            modality="brightfield",
            chromogen="dab",
        ),
        "271a9c4898cc6ee7c680c4aab78491caefa4d7e60be1a9e5d4ba016635fe2679",
        "b226b6d9bf72eaeadc8abc2ae73e8a0b54ac51aa9f9553d396ab1ed6b1b95a8d",
    ),
}

# random_spec(seed) of the validation seeds, fields of generator 1.0.0 only.
CLASSIC_SPEC_HASHES = {
    50000: "f5cc8fb5de2be263",
    50001: "7943cc0dc79bb2d6",
    50002: "97827a44e017e66c",
}


@pytest.mark.parametrize("name", sorted(CLASSIC_HASHES))
def test_classic_output_unchanged(name: str) -> None:
    spec, image_hash, truth_hash = CLASSIC_HASHES[name]
    assert is_classic_appearance(spec)
    sec = generate_section(spec)
    assert sha256(sec.image.tobytes()) == image_hash
    assert classic_truth_hash(sec.truth) == truth_hash


@pytest.mark.parametrize("seed", sorted(CLASSIC_SPEC_HASHES))
def test_classic_draw_unchanged(seed: int) -> None:
    spec = random_spec(seed)
    assert spec == random_spec(seed, appearance="classic")
    assert is_classic_appearance(spec)
    old = {k: v for k, v in vars(spec).items() if k not in APPEARANCE_FIELDS}
    assert sha256(json.dumps(old, sort_keys=True).encode())[:16] == CLASSIC_SPEC_HASHES[seed]


def test_appearance_defaults() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(SectionSpec)}
    assert set(APPEARANCE_FIELDS) <= set(defaults)
    assert is_classic_appearance(SectionSpec())
    for name in APPEARANCE_FIELDS:
        assert dataclasses.replace(SectionSpec(), **{name: defaults[name]}) == SectionSpec()
    assert not is_classic_appearance(SectionSpec(counterstain="haematoxylin"))


# ---------------------------------------------------------------------------
# appearance never changes the truth
# ---------------------------------------------------------------------------

APPEARANCE_ONLY = [
    {"counterstain": "haematoxylin"},
    {"counterstain": "he", "counterstain_strength": 1.5},
    {"chromogen_hue_deg": 25.0, "chromogen_strength": 0.5},
    {"epidermis_contrast": 0.05, "epidermis_texture": 2.5},
    {"corneum_style": "compact", "corneum_density": 3.0},
    {"fibre_contrast": 0.1},
    {
        "superficial_trunks_per_mm": 6.0,
        "superficial_vessels_per_mm": 6.0,
        "superficial_gap_um": 1.0,
    },
    {"tears_per_mm": 6.0, "folds_per_mm": 6.0},
    {"jpeg_quality": 40, "vignetting": 0.6},
    {"modality": "fluorescence", "membrane_style": "dotted", "dermis_autofluorescence": 5.0},
    {"modality": "fluorescence", "fluorescence_scale": 800.0, "fibre_contrast": 0.1},
]

TRUTH_KEYS = ("count", "crossings", "dej", "surface", "dej_length_um", "surface_length_um")


@pytest.mark.parametrize("change", APPEARANCE_ONLY, ids=lambda c: "-".join(c))
def test_appearance_keeps_truth(change: dict[str, Any]) -> None:
    modality = change.get("modality", "brightfield")
    plain = generate_section(spec_of(modality=modality))
    styled = generate_section(spec_of(**change))
    for key in (*TRUTH_KEYS, "fragments", "short_fibre_ends", "fibres", "n_swellings_gt_1p5um"):
        assert styled.truth[key] == plain.truth[key], key
    np.testing.assert_array_equal(styled.epidermis_mask, plain.epidermis_mask)
    assert styled.image.shape == plain.image.shape
    assert not np.array_equal(styled.image, plain.image)
    json.dumps(styled.truth)
    assert SectionSpec(**json.loads(json.dumps(styled.truth["spec"]))) == styled.spec


def test_fibre_width_keeps_crossings_and_paths() -> None:
    spec = spec_of(fibre_width_um=1.6)
    plain = build_anatomy(np.random.default_rng(1), spec_of())
    wide = build_anatomy(np.random.default_rng(1), spec)
    assert plain.crossings_um == wide.crossings_um
    for a, b in zip(plain.fibres, wide.fibres, strict=True):
        np.testing.assert_array_equal(a.v, b.v)
        np.testing.assert_array_equal(a.u, b.u)
    ienf = [f for f in wide.fibres if f.kind == "ienf"]
    base = np.array([np.median(f.radius) for f in ienf]) * 2
    assert np.all((base > 1.6 * 0.8) & (base < 1.6 * 1.2))
    thin = build_anatomy(np.random.default_rng(1), spec_of(fibre_width_um=0.5))
    thin_base = np.array([np.median(f.radius) for f in thin.fibres if f.kind == "ienf"]) * 2
    assert np.all(thin_base < 0.6)
    sec = generate_section(spec)
    assert sec.truth["crossings"] == generate_section(spec_of()).truth["crossings"]


# ---------------------------------------------------------------------------
# each factor changes the image in the intended way
# ---------------------------------------------------------------------------


def basal_band(sec: Any, width_um: float) -> np.ndarray:
    """Epidermis pixels within `width_um` of the truth DEJ."""
    rows, cols = np.nonzero(sec.epidermis_mask)
    dej = np.array(sec.truth["dej"])
    dist, _ = cKDTree(dej).query(np.column_stack([rows, cols]))
    band = np.zeros_like(sec.epidermis_mask)
    near = dist * sec.spec.pixel_size_um < width_um
    band[rows[near], cols[near]] = True
    return band


def test_haematoxylin_nuclei() -> None:
    kw = {"noise": 0.0, "illumination_gradient": 0.0, "debris_per_mm2": 0.0}
    plain = generate_section(spec_of(**kw))
    stained = generate_section(spec_of(counterstain="haematoxylin", **kw))
    assert stained.truth["appearance"]["n_counterstain_nuclei"] > 100
    d_plain, d_stained = od(plain.image), od(stained.image)
    # haematoxylin absorbs red far more than blue: nuclei turn blue-purple
    bluer = (d_stained[..., 0] - d_stained[..., 2]) - (d_plain[..., 0] - d_plain[..., 2])
    basal = basal_band(stained, 6.0)
    upper = stained.epidermis_mask & ~basal_band(stained, 15.0)
    dermis = ~stained.epidermis_mask & (d_plain.mean(axis=2) > 0.03)
    nuclear = {k: np.mean(bluer[m] > 0.06) for k, m in (("basal", basal), ("upper", upper))}
    nuclear["dermis"] = np.mean(bluer[dermis] > 0.06)
    assert np.percentile(bluer[basal], 90) > 0.1
    # dense basal layer > spinous layer > sparse dermal fibroblasts > 0
    assert nuclear["basal"] > 1.5 * nuclear["upper"] > 0.15
    assert nuclear["upper"] > 5 * nuclear["dermis"] > 0.02
    # the red channel OD rises on the nuclei (they darken)
    assert np.median(d_stained[..., 0][basal] - d_plain[..., 0][basal]) > 0.03


def test_eosin_pink_dermis() -> None:
    plain = generate_section(spec_of())
    he = generate_section(spec_of(counterstain="he"))
    mask = ~he.epidermis_mask & (od(plain.image).mean(axis=2) > 0.03)
    d_plain, d_he = od(plain.image)[mask], od(he.image)[mask]
    # eosin absorbs green far more than red and blue
    green_gain = np.median(d_he[:, 1] - d_plain[:, 1])
    red_gain = np.median(d_he[:, 0] - d_plain[:, 0])
    assert green_gain > 0.08 > red_gain
    # the dermis is pinker (green OD over blue OD) than the epidermis
    d = od(he.image)
    pink_dermis = np.median(d[mask][:, 1] / d[mask][:, 2])
    pink_epidermis = np.median(d[he.epidermis_mask][:, 1] / d[he.epidermis_mask][:, 2])
    assert pink_dermis > 1.1 * pink_epidermis


def test_jpeg_round_trip() -> None:
    plain = generate_section(spec_of())
    jpeg = generate_section(spec_of(jpeg_quality=45))
    np.testing.assert_array_equal(jpeg.image, jpeg_roundtrip(plain.image, 45))
    lum = jpeg.image.astype(float).mean(axis=2)
    step = np.abs(np.diff(lum, axis=1))
    at_block = step[:, 7::8].mean()
    inside = np.delete(step, np.s_[7::8], axis=1).mean()
    assert at_block > 1.05 * inside  # 8 x 8 block edges


def test_sixteen_bit_small_range() -> None:
    sec = generate_section(spec_of(modality="fluorescence", fluorescence_scale=1500.0))
    assert sec.image.dtype == np.uint16
    assert 600 < int(sec.image.max()) < 4000
    classic = generate_section(spec_of(modality="fluorescence"))
    assert classic.image.max() > 8000


@pytest.mark.parametrize("rotation", [0.0, 33.0])
def test_fibre_contrast_floor(rotation: float, monkeypatch: pytest.MonkeyPatch) -> None:
    kw = {"noise": 0.0, "illumination_gradient": 0.0, "debris_per_mm2": 0.0}
    spec = spec_of(
        fibre_contrast=0.05, fibre_width_um=0.5, defocus_sigma_um=1.0, rotation_deg=rotation, **kw
    )
    faint = generate_section(spec)
    app = faint.truth["appearance"]
    assert app["fibre_contrast_boost"] > 1.0
    assert app["min_counted_fibre_contrast"] == pytest.approx(0.08, rel=1e-4)
    dark = generate_section(spec_of(fibre_contrast=2.0, **kw))
    assert dark.truth["appearance"]["min_counted_fibre_contrast"] > 0.3
    assert dark.truth["appearance"]["fibre_contrast_boost"] == 1.0
    # in the pixels: against the same section rendered without fibres, every
    # counted fibre adds >= 0.08 optical density at its crossing
    draw = _generate._draw_fibres
    monkeypatch.setattr(_generate, "_draw_fibres", lambda *a: draw(*a) * 0.0)
    bare = generate_section(spec)
    added = od(faint.image).mean(axis=2) - od(bare.image).mean(axis=2)
    for r, c in np.rint(crossings(faint.truth)).astype(int):
        assert added[r - 2 : r + 3, c - 2 : c + 3].max() >= 0.08 - 1e-3


def test_fluorescence_floor() -> None:
    sec = generate_section(
        spec_of(modality="fluorescence", fibre_contrast=0.05, dermis_autofluorescence=6.0)
    )
    app = sec.truth["appearance"]
    assert app["fibre_contrast_measure"] == "ratio"
    assert app["fibre_contrast_boost"] > 1.0
    assert app["min_counted_fibre_contrast"] >= 0.5 - 1e-9


def test_epidermis_contrast() -> None:
    def excess(sec: Any) -> float:
        d = od(sec.image).mean(axis=2)
        epi = np.median(d[sec.epidermis_mask])
        # papillary dermis: tissue pixels 4-20 µm below the DEJ
        rows, cols = np.nonzero(~sec.epidermis_mask & (d > 0.02))
        dist, _ = cKDTree(np.array(sec.truth["dej"])).query(np.column_stack([rows, cols]))
        dist_um = dist * sec.spec.pixel_size_um
        pap = np.median(d[rows, cols][(dist_um > 4) & (dist_um < 20)])
        return float(epi - pap)

    strong = excess(generate_section(spec_of(epidermis_contrast=1.8)))
    classic = excess(generate_section(spec_of()))
    pale = excess(generate_section(spec_of(epidermis_contrast=0.05)))
    assert strong > classic > pale > 0.0
    assert pale < 0.35 * classic


def test_corneum_density_and_style() -> None:
    def corneum_od(sec: Any) -> float:
        d = od(sec.image).mean(axis=2)
        rows = np.nonzero(sec.epidermis_mask.any(axis=1))[0]
        top = rows.min()
        band = d[max(top - 8, 0) : top - 2]
        return float(np.percentile(band, 75))

    pale = corneum_od(generate_section(spec_of(corneum_density=0.3, corneum_detachment=0.0)))
    dense = corneum_od(
        generate_section(
            spec_of(corneum_density=3.0, corneum_style="compact", corneum_detachment=0.0)
        )
    )
    assert dense > pale + 0.1


def test_superficial_trunks_clear_of_crossings() -> None:
    spec = spec_of(
        superficial_trunks_per_mm=8.0, superficial_vessels_per_mm=8.0, superficial_gap_um=1.0
    )
    anat = build_anatomy(np.random.default_rng(2), spec)
    extras = build_extras(np.random.default_rng(3), spec, anat)
    assert len(extras.trunks) >= 1 and len(extras.vessels) >= 1
    lay = anat.layers
    dej_pts, _ = lay.curve_points(lay.dej)
    tree = cKDTree(dej_pts)
    keep = np.array(anat.crossings_um)
    for trunk in extras.trunks:
        pts = np.column_stack([trunk.v, trunk.u])
        dist, _ = tree.query(pts)
        edge = dist - trunk.radius
        assert np.all(trunk.v > lay.at(lay.dej, trunk.u))  # below the DEJ
        assert edge.min() >= 1.0 * 0.7 - 0.05  # at least the drawn gap
        assert edge.min() < 6.0  # and touching it somewhere
        d = np.hypot(pts[:, None, 0] - keep[None, :, 0], pts[:, None, 1] - keep[None, :, 1])
        assert np.all(d - trunk.radius[:, None] >= CROSSING_CLEARANCE_UM - 1e-6)
    for e in extras.vessels:
        t = np.linspace(0, 2 * np.pi, 200)
        x, y = e.a * np.cos(t), e.b * np.sin(t)
        u = e.u + x * np.cos(e.angle) - y * np.sin(e.angle)
        v = e.v + x * np.sin(e.angle) + y * np.cos(e.angle)
        assert np.all(v > lay.at(lay.dej, u))
        d = np.hypot(v[:, None] - keep[None, :, 0], u[:, None] - keep[None, :, 1])
        assert d.min() >= CROSSING_CLEARANCE_UM - 0.5
    # in the image: a dark trunk lies within a few µm of the DEJ
    sec = generate_section(spec)
    assert sec.truth["appearance"]["n_superficial_trunks"] >= 1
    assert min(sec.truth["appearance"]["superficial_gaps_um"]) < 1.5
    d = od(sec.image).mean(axis=2)
    rows, cols = np.nonzero(~sec.epidermis_mask & (d > 0.6))
    dist, _ = cKDTree(np.array(sec.truth["dej"])).query(np.column_stack([rows, cols]))
    assert np.any(dist * sec.spec.pixel_size_um < 4.0)


def test_tears_show_glass() -> None:
    kw = {"noise": 0.0, "debris_per_mm2": 0.0, "nerve_bundles_per_mm": 0.0}
    plain = generate_section(spec_of(**kw))
    torn = generate_section(spec_of(tears_per_mm=8.0, **kw))
    assert torn.truth["appearance"]["n_tears"] >= 1
    lum_p = plain.image.astype(float).mean(axis=2)
    lum_t = torn.image.astype(float).mean(axis=2)
    opened = (lum_t - lum_p > 15) & (lum_t > 225)
    assert opened.sum() > 20
    assert not np.any(opened & torn.epidermis_mask)
    # every opened pixel is >= 8 µm (less a pixel of anti-aliasing and blur) from the DEJ
    dist, _ = cKDTree(np.array(torn.truth["dej"])).query(np.argwhere(opened))
    assert dist.min() * torn.spec.pixel_size_um > 6.5


def test_vignetting() -> None:
    kw = {"noise": 0.0, "illumination_gradient": 0.0}
    plain = generate_section(spec_of(**kw)).image.astype(float).mean(axis=2)
    vign = generate_section(spec_of(vignetting=0.5, **kw)).image.astype(float).mean(axis=2)
    ratio = vign / np.maximum(plain, 1)
    assert ratio[:5, :5].mean() == pytest.approx(0.5, abs=0.06)
    rows, cols = ratio.shape
    assert ratio[rows // 2 - 2 : rows // 2 + 2, cols // 2 - 2 : cols // 2 + 2].mean() > 0.97


def test_dotted_membrane() -> None:
    kw = {"modality": "fluorescence", "noise": 0.0, "membrane_strength": 1.0}
    values = {}
    for style in ("continuous", "dotted"):
        sec = generate_section(spec_of(membrane_style=style, **kw))
        col4 = sec.image[1].astype(float) - 100
        dej = np.rint(np.array(sec.truth["dej"])).astype(int)
        values[style] = np.array([col4[r - 1 : r + 2, c - 1 : c + 2].max() for r, c in dej])
    cv = {k: v.std() / v.mean() for k, v in values.items()}
    assert cv["dotted"] > 2 * cv["continuous"]
    assert np.mean(values["dotted"] < 0.2 * np.median(values["continuous"])) > 0.15


def test_dermis_autofluorescence() -> None:
    def dermis_level(sec: Any) -> float:
        pgp = sec.image[0].astype(float)
        return float(np.median(pgp[~sec.epidermis_mask & (pgp > 150)]))

    low = dermis_level(generate_section(spec_of(modality="fluorescence")))
    high = dermis_level(
        generate_section(spec_of(modality="fluorescence", dermis_autofluorescence=5.0))
    )
    assert high > 2.5 * (low - 100) + 100


def test_hue_changes_colour_not_darkness() -> None:
    a = generate_section(spec_of(noise=0.0))
    b = generate_section(spec_of(noise=0.0, chromogen_hue_deg=30.0))
    pts = np.rint(crossings(a.truth)).astype(int)
    ca = np.array([od(a.image)[r, c] for r, c in pts])
    cb = np.array([od(b.image)[r, c] for r, c in pts])
    assert np.abs(ca - cb).max() > 0.05
    assert np.linalg.norm(cb, axis=1).mean() == pytest.approx(
        np.linalg.norm(ca, axis=1).mean(), rel=0.2
    )


# ---------------------------------------------------------------------------
# geometry factors keep the truth exact
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_narrow_deep_rete_crossing_rule(seed: int) -> None:
    spec = spec_of(
        length_um=400.0,
        epidermis_thickness_um=70.0,
        rete_amplitude_um=55.0,
        rete_width_factor=0.35,
        rete_wavelength_um=80.0,
        fibre_routing="below-ridges",
        short_fibres_per_mm=8.0,
        parallel_dermal_per_mm=8.0,
        seed=seed,
    )
    anat = build_anatomy(np.random.default_rng(seed), spec)
    lay = anat.layers
    for fib in anat.fibres:
        h = lay.at(lay.dej, fib.u) - fib.v
        if fib.kind == "ienf":
            sign = np.sign(h[np.abs(h) > 1e-6])
            assert np.count_nonzero(np.diff(sign)) == 1
            assert sign[0] < 0 < sign[-1]
        elif fib.kind in ("epidermal_branch", "fragment"):
            assert np.all(h > 0)
        else:
            assert np.all(h < 0), fib.kind
    assert len(anat.crossings_um) == round(
        spec.density_per_mm * lay.curve_points(lay.surface)[1] / 1000
    )
    # dermal fibres no longer mirror the ridges deep in the dermis
    deep = [f for f in anat.fibres if f.kind == "plexus"]
    depth = np.concatenate([f.v - lay.at(lay.dej, f.u) for f in deep])
    assert np.all(depth > 0)


# ---------------------------------------------------------------------------
# appearance sets
# ---------------------------------------------------------------------------


def test_appearance_sets() -> None:
    for seed in range(60):
        wide = random_spec(seed, appearance="wide")
        stress = random_spec(seed, appearance="stress")
        assert stress_factors(random_spec(seed)) == []
        assert stress_factors(wide) == []
        found = stress_factors(stress)
        assert 1 <= len(found) <= 3
        for s in (wide, stress):
            assert s.seed == random_spec(seed).seed  # same anatomy seed
            assert s.modality == random_spec(seed).modality
            if s.modality == "fluorescence":  # bright-field factors left at their defaults
                assert (s.counterstain, s.jpeg_quality, s.chromogen_hue_deg) == ("none", 0, 0.0)
            else:
                assert (s.fluorescence_scale, s.membrane_style) == (0.0, "continuous")
            assert all(STRESS_FACTORS[f] in ("both", s.modality) for f in found)
            json.dumps(dataclasses.asdict(s))
        lo, hi = WIDE_RANGES["fibre_width_um"]
        assert lo <= wide.fibre_width_um <= hi
        assert wide.fibre_width_um * 0.83 >= 0.7  # thinnest fibre of the wide set
    counts = {
        f
        for seed in range(200)
        for f in stress_factors(random_spec(seed, appearance="stress", length_um=300.0))
    }
    assert counts == set(STRESS_FACTORS)
    fixed = random_spec(4, appearance="stress", counterstain="none", modality="brightfield")
    assert fixed.counterstain == "none"


def test_stress_factor_examples() -> None:
    assert stress_factors(SectionSpec(counterstain="he", fibre_contrast=0.2)) == [
        "counterstain_he",
        "faint_fibres",
    ]
    assert stress_factors(SectionSpec(modality="fluorescence", counterstain="he")) == []
    assert stress_factors(SectionSpec(superficial_trunks_per_mm=1.0, superficial_gap_um=2.0)) == [
        "touching_trunks"
    ]
    assert stress_factors(SectionSpec(superficial_gap_um=2.0)) == []
    assert stress_factors(SectionSpec(jpeg_quality=50)) == ["jpeg_low_quality"]
    assert stress_factors(SectionSpec(jpeg_quality=70)) == []


def test_wide_and_stress_sections_render_with_exact_truth() -> None:
    for seed, appearance in ((7, "wide"), (8, "stress"), (9, "wide"), (10, "stress")):
        spec = random_spec(
            seed, appearance=appearance, length_um=300.0, pixel_size_um=0.8, dermis_depth_um=100.0
        )
        sec = generate_section(spec)
        truth = sec.truth
        assert truth["count"] == round(spec.density_per_mm * truth["surface_length_um"] / 1000)
        assert truth["appearance"]["stress_factors"] == stress_factors(spec)
        json.dumps(truth)
        again = generate_section(SectionSpec(**json.loads(json.dumps(truth["spec"]))))
        np.testing.assert_array_equal(again.image, sec.image)


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("counterstain", "eosin", ValueError),
        ("corneum_style", "flaky", ValueError),
        ("membrane_style", "dashed", ValueError),
        ("fibre_routing", "straight", ValueError),
        ("chromogen_hue_deg", 90.0, ValueError),
        ("chromogen_strength", 0.0, ValueError),
        ("counterstain_strength", -1.0, ValueError),
        ("epidermis_contrast", 2.5, ValueError),
        ("epidermis_texture", float("nan"), ValueError),
        ("corneum_density", 6.0, ValueError),
        ("fibre_width_um", 0.1, ValueError),
        ("fibre_width_um", 3.0, ValueError),
        ("fibre_width_um", "thin", TypeError),
        ("fibre_contrast", 0.0, ValueError),
        ("rete_width_factor", 0.1, ValueError),
        ("superficial_trunks_per_mm", -1.0, ValueError),
        ("superficial_vessels_per_mm", 50.0, ValueError),
        ("superficial_gap_um", 0.0, ValueError),
        ("tears_per_mm", 11.0, ValueError),
        ("folds_per_mm", -0.5, ValueError),
        ("jpeg_quality", 5, ValueError),
        ("jpeg_quality", 101, ValueError),
        ("jpeg_quality", 70.0, TypeError),
        ("jpeg_quality", True, TypeError),
        ("vignetting", 0.9, ValueError),
        ("dermis_autofluorescence", 9.0, ValueError),
        ("fluorescence_scale", 100.0, ValueError),
        ("fluorescence_scale", None, TypeError),
    ],
)
def test_appearance_validation(field: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=field):
        spec_of(**{field: value})


def test_random_spec_appearance_validation() -> None:
    with pytest.raises(ValueError, match="appearance"):
        random_spec(1, appearance="extreme")
