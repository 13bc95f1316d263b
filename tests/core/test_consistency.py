"""The same section turned, flipped and rescaled gives the same answer, and says so."""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.core import (
    ConsistencyReport,
    analyze_section,
    assess_consistency,
    with_consistency,
)
from ienfd.synthetic import generate_section, random_spec


def _runs(counts, lengths, errors=()):
    runs = [
        {"rotation": k % 4, "flip": k >= 4, "pixel_size_um": 0.5, "count": c,
         "dej_length_um": d, "error": None}
        for k, (c, d) in enumerate(zip(counts, lengths, strict=True))
    ]  # fmt: skip
    runs += [{"rotation": 0, "flip": False, "pixel_size_um": 0.75, "count": None,
              "dej_length_um": None, "error": e} for e in errors]  # fmt: skip
    return ConsistencyReport(runs=runs)


def test_a_stable_section_gives_no_reason() -> None:
    report = _runs([10, 11, 10, 10, 9, 10, 11, 10], [1000, 1010, 990, 1000, 1003, 998, 1001, 1000])
    assert report.count_spread == 2
    assert report.dej_spread == pytest.approx(0.02)
    assert report.reasons() == []


def test_a_count_that_depends_on_orientation_is_flagged() -> None:
    report = _runs([25, 3, 25, 4, 25, 25, 2, 25], [1000] * 8)
    assert any("count changes from 2 to 25" in r for r in report.reasons())


def test_a_junction_that_depends_on_orientation_is_flagged() -> None:
    report = _runs([10] * 8, [1000, 600, 1000, 1000, 610, 1000, 1000, 1000])
    assert any("junction length changes by 40%" in r for r in report.reasons())


def test_a_copy_with_no_section_found_is_flagged() -> None:
    report = _runs([10] * 8, [1000] * 8, errors=["no tissue found"])
    assert report.failed == 1
    assert any("no section found in 1 of 9" in r for r in report.reasons())


def test_bad_scales_are_refused() -> None:
    with pytest.raises(ValueError, match="scales must be pixel-size multiples >= 1"):
        assess_consistency(np.zeros((100, 100, 3), np.uint8), spacing=0.5, scales=(0.5,))


@pytest.mark.slow
def test_phantom_is_stable_over_orientations_and_pixel_sizes(phantom) -> None:
    image, truth = phantom
    report = assess_consistency(image, spacing=0.5, scales=(1.0, 1.4), turned=True)
    assert len(report.runs) == 16 and report.failed == 0
    sizes = sorted({r["pixel_size_um"] for r in report.runs})
    assert sizes[0] == 0.5 and sizes[1] == pytest.approx(0.7, abs=0.01) and len(sizes) == 2
    for size in sizes:  # the eight orientations are analysed in one frame: one answer
        turned = ConsistencyReport([r for r in report.runs if r["pixel_size_um"] == size])
        assert len(turned.runs) == 8 and turned.count_spread == 0 and turned.dej_spread == 0
    # The target of the issue: a count spread of at most one fibre.
    assert report.count_spread <= 1 and np.median(report.counts) == len(truth)
    assert report.dej_spread <= 0.03
    result = with_consistency(analyze_section(image, spacing=0.5), report)
    record = result.to_dict()
    assert record["qc"]["consistency_runs"] == 16
    assert record["qc"]["consistency_count_max"] - record["qc"]["consistency_count_min"] <= 1
    assert record["needs_review"] is False


@pytest.mark.slow
def test_by_default_the_section_is_rescaled_not_turned(phantom) -> None:
    image, _ = phantom
    report = assess_consistency(image, spacing=0.5)
    assert [(r["rotation"], r["flip"]) for r in report.runs] == [(0, False)] * 3
    assert [r["pixel_size_um"] for r in report.runs] == pytest.approx([0.5, 0.625, 0.75], abs=0.01)
    own = analyze_section(image, spacing=0.5)
    assert report.runs[0]["count"] == own.count
    # The caller's own result stands in for the first run: the same runs, one analysis fewer.
    assert assess_consistency(image, spacing=0.5, own=own).runs == report.runs


@pytest.mark.slow
def test_junction_length_does_not_depend_on_the_pixel_size() -> None:
    # This section's junction once looped into the epidermis at a narrow
    # papilla at 0.6 µm per pixel only (+8 % length; -6 % at 0.84 µm), which
    # the consistency check exposed: now the two agree within 3 %.
    spec = random_spec(11, modality="brightfield", length_um=500, pixel_size_um=0.6)
    section = generate_section(spec)
    report = assess_consistency(section.image, spacing=0.6, scales=(1.0, 1.4))
    assert report.dej_spread <= 0.03
    true_um = section.truth["dej_length_um"]
    assert np.all(np.abs(report.dej_lengths_um / true_um - 1) <= 0.05)
    assert report.reasons() == []
