"""The independent generator (scripts/independent_sections.py): its truth agrees with its image."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import shapely

from ienfd.io import read_section
from tests._scripts import script

SMALL = {"length_um": 420.0, "dermis_um": 90.0, "glass_top_um": 25.0, "density_per_mm": 20.0}


def _generator() -> ModuleType:
    return script("independent_sections")


@pytest.fixture(
    scope="module", params=[("brightfield", 7), ("fluorescence", 8), ("brightfield", 11)]
)
def section(request: pytest.FixtureRequest) -> Any:
    modality, seed = request.param
    return _generator().generate_section(
        seed, modality=modality, overrides={**SMALL, "pixel_size_um": 0.6}, max_megapixels=1.5
    )


def _dej_line(truth: dict[str, Any]) -> shapely.LineString:
    return shapely.LineString(np.asarray(truth["dej"])[:, ::-1])


def test_truth_counts_and_lengths_agree(section: Any) -> None:
    truth = section.truth
    assert truth["count"] == len(truth["crossings"]) > 0
    dej = np.asarray(truth["dej"])
    length_px = float(np.sum(np.hypot(*np.diff(dej, axis=0).T)))
    assert truth["dej_length_um"] == pytest.approx(length_px * truth["pixel_size_um"], rel=1e-3)
    h, w = truth["shape"]
    assert section.fibre_map.shape == section.region.shape == (h, w)
    assert np.all((dej >= -1e-6) & (dej <= np.array([h - 1, w - 1]) + 1e-6))


def test_every_crossing_lies_on_the_drawn_junction(section: Any) -> None:
    line = _dej_line(section.truth)
    for c in section.truth["crossings"]:
        assert shapely.Point(c["col"], c["row"]).distance(line) < 0.6  # pixels
    # the junction is the boundary between the epidermis (2) and the dermis (3) of the image
    region = section.region
    pts = [line.interpolate(d) for d in np.linspace(0.05, 0.95, 40) * line.length]
    both = 0
    for p in pts:
        r, c = round(p.y), round(p.x)
        patch = region[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4]
        both += bool((patch == 2).any() and (patch == 3).any())
    assert both >= 36


def test_a_fibre_is_drawn_where_each_crossing_is(section: Any) -> None:
    fibre = section.fibre_map
    background = float(np.median(fibre[section.region == 2]))
    for c in section.truth["crossings"]:
        r, col = round(c["row"]), round(c["col"])
        peak = float(fibre[r - 1 : r + 2, col - 1 : col + 2].max())
        assert peak > max(0.02, 5 * background), (c, peak, background)
    # and the fibre crosses: stain on both sides of the junction, 4 µm into each layer
    px = section.truth["pixel_size_um"]
    grown = {k: _within(section.region == k, 4.0 / px) for k in (2, 3)}
    box = int(np.ceil(9.0 / px))  # the fibre is looked for within 9 µm of its crossing
    for c in section.truth["crossings"]:
        r, col = round(c["row"]), round(c["col"])
        near = np.zeros_like(fibre, dtype=bool)
        near[max(r - box, 0) : r + box + 1, max(col - box, 0) : col + box + 1] = True
        lit = near & (fibre > 0.3 * fibre[r - 1 : r + 2, col - 1 : col + 2].max())
        assert (lit & (section.region == 2) & ~grown[3]).any()
        assert (lit & (section.region == 3) & ~grown[2]).any()


def _within(mask: np.ndarray, distance_px: float) -> np.ndarray:
    from scipy import ndimage as ndi

    return ndi.distance_transform_edt(~mask) <= distance_px


def test_written_file_carries_its_pixel_size_and_channels(section: Any, tmp_path: Path) -> None:
    gen = _generator()
    image_path, truth_path = gen.write_section(section, tmp_path, "s")
    read = read_section(image_path)
    assert read.pixel_size_um == pytest.approx(section.truth["pixel_size_um"])
    assert read.pixel_size.source != "user"
    assert read.modality == section.truth["modality"]
    if read.modality == "fluorescence":
        names = section.channel_names
        assert read.fibre is not None
        np.testing.assert_array_equal(read.fibre, section.image[names.index("PGP9.5")])
        assert read.membrane is not None
        np.testing.assert_array_equal(read.membrane, section.image[names.index("Collagen IV")])
    else:
        np.testing.assert_array_equal(read.rgb, section.image)
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    assert truth["count"] == section.truth["count"]
    assert truth["image"] == image_path.name


def test_same_seed_same_section_and_orientation_moves_the_truth() -> None:
    gen = _generator()
    over = {**SMALL, "pixel_size_um": 0.6, "blur_px": 0.0}
    a = gen.generate_section(
        5, modality="brightfield", overrides={**over, "angle_deg": 0.0, "flip": False}
    )
    b = gen.generate_section(
        5, modality="brightfield", overrides={**over, "angle_deg": 0.0, "flip": False}
    )
    np.testing.assert_array_equal(a.image, b.image)
    assert a.truth["crossings"] == b.truth["crossings"]
    c = gen.generate_section(
        5, modality="brightfield", overrides={**over, "angle_deg": 90.0, "flip": False}
    )
    # the same tissue turned a quarter: the same count and junction length, the frame transposed
    assert c.truth["count"] == a.truth["count"]
    assert c.truth["dej_length_um"] == pytest.approx(a.truth["dej_length_um"], rel=0.02)
    assert sorted(c.truth["shape"]) == sorted(a.truth["shape"])
    assert c.truth["shape"] != a.truth["shape"]


def _validator() -> ModuleType:
    return script("validate_independent")


def test_page_counts_silently_wrong_and_flagged_correct_sections() -> None:
    import pandas as pd

    def row(true: int, found: int, review: bool, status: str = "ok") -> dict[str, Any]:
        err = found - true
        return {
            "status": status,
            "modality": "brightfield",
            "true_count": true,
            "found_count": found if status == "ok" else np.nan,
            "matched": min(true, found),
            "dej_error_pct": 1.0,
            "dej_within_15um": 1.0,
            "found_fragments": 0,
            "true_fragments": 0,
            "off_by_half": abs(err) > 0.5 * true,
            "correct": abs(err) <= max(1.0, 0.1 * true),
            "needs_review": review,
            "seconds": 1.0,
        }

    table = pd.DataFrame(
        [
            row(10, 4, False),  # off by more than half, not flagged: silently wrong
            row(10, 4, True),  # off by more than half, flagged
            row(10, 10, True),  # correct but flagged
            row(10, 11, False),  # correct
            row(12, 8, False),  # off by a third: neither
            row(10, 0, True, status="error"),  # refused: badly wrong, never silent
        ]
    )
    s = _validator().summarise(table)
    assert (s["off_by_half"], s["silent"], s["correct"], s["correct_flagged"]) == (3, 1, 2, 1)
    assert s["errors"] == 1 and s["analysed"] == 5
    assert s["mae"] == pytest.approx((6 + 6 + 0 + 1 + 4) / 5)


def test_reuse_takes_only_whole_sections_of_this_generator(section: Any, tmp_path: Path) -> None:
    validator = _validator()
    seed = section.truth["seed"]
    assert validator._written(str(tmp_path), seed) is None  # nothing written yet
    image_path, truth_path = validator.ind.write_section(section, tmp_path, f"indep_{seed}")
    truth = validator._written(str(tmp_path), seed)
    assert truth is not None and truth["count"] == section.truth["count"]
    assert truth["image"] == image_path.name
    # A truth from another version of the generator is drawn again.
    other = json.loads(truth_path.read_text(encoding="utf-8"))
    other["generator"] = "independent 0.9"
    truth_path.write_text(json.dumps(other), encoding="utf-8")
    assert validator._written(str(tmp_path), seed) is None
    # A truth without its image (a run stopped between the two) is drawn again.
    truth_path.write_text(json.dumps(truth), encoding="utf-8")
    image_path.unlink()
    assert validator._written(str(tmp_path), seed) is None
