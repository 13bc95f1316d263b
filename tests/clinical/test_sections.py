"""Section tables: validation, aggregation and the confidence interval."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ienfd.clinical import (
    ClinicalInputError,
    aggregate_sections,
    density_ci,
    normalize_sex,
    normalize_site,
    prepare_sections,
    read_table,
)

SECTIONS = """
patient_id,age,sex,site,section,count,length_mm,corrected
P1,50,F,Distal Leg,1,6,1.2,false
P1,50,F,distal-leg,2,9,1.5,true
P1,50,F,distal_leg,3,3,0.8,no
P1,50,F,proximal_thigh,1,12,1.0,
"""


def _prepare(path: Path, **kw: object):  # type: ignore[no-untyped-def]
    return prepare_sections(read_table(path), source=path.name, **kw)  # type: ignore[arg-type]


def test_aggregation_hand_computed(write_csv: Callable[[str, str], Path]) -> None:
    prepared = _prepare(write_csv("s.csv", SECTIONS))
    agg = aggregate_sections(prepared).set_index("site")
    d = agg.loc["distal_leg"]
    # total count 6 + 9 + 3 = 18; total length 1.2 + 1.5 + 0.8 = 3.5 mm
    # density R = 18 / 3.5 = 5.142857 /mm (not the mean of 5.0, 6.0, 3.75 = 4.9167)
    assert d["total_count"] == 18
    assert d["total_length_mm"] == pytest.approx(3.5)
    assert d["density_per_mm"] == pytest.approx(18 / 3.5)
    # residuals c_i - R L_i = 6 - 6.171429, 9 - 7.714286, 3 - 4.114286
    #                       = -0.171429, 1.285714, -1.114286; sum of squares 2.924082
    # SE = sqrt(2.924082 / 2 / 3) / (3.5 / 3) = 0.698104 / 1.166667 = 0.598373
    # t(0.975, df=2) = 4.302653 -> half-width 2.574594 -> CI 2.568264 .. 7.717450
    assert d["ci_low"] == pytest.approx(2.568264, abs=1e-5)
    assert d["ci_high"] == pytest.approx(7.717450, abs=1e-5)
    assert d["n_sections"] == 3
    assert d["n_corrected"] == 1
    assert not d["few_sections"]
    t = agg.loc["proximal_thigh"]
    # one section: density 12 / 1.0, no CI, fewer than 3 sections flagged
    assert t["density_per_mm"] == 12.0
    assert np.isnan(t["ci_low"]) and np.isnan(t["ci_high"])
    assert t["few_sections"]
    assert d["sex"] == "female"


def test_density_ci_equal_lengths_is_t_interval_of_densities() -> None:
    # densities 10, 12, 8: mean 10, SD 2, SE 2/sqrt(3) = 1.154701, t(2) = 4.302653
    # -> 10 -/+ 4.968275
    e = density_ci([10, 12, 8], [1.0, 1.0, 1.0])
    assert e.density_per_mm == 10.0
    assert e.ci_low == pytest.approx(10 - 4.302653 * 2 / np.sqrt(3), abs=1e-5)
    assert e.ci_high == pytest.approx(10 + 4.302653 * 2 / np.sqrt(3), abs=1e-5)


def test_density_ci_lower_end_clipped_at_zero() -> None:
    e = density_ci([0, 5], [1.0, 1.0])
    assert e.ci_low == 0.0


@pytest.mark.parametrize(
    ("counts", "lengths", "match"),
    [([], [], "at least one"), ([1, 2], [1.0], "equally long"), ([-1], [1.0], ">= 0"),
     ([1], [0.0], "> 0")],
)  # fmt: skip
def test_density_ci_bad(counts: list[float], lengths: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        density_ci(counts, lengths)


def test_batch_table_lengths_status_and_basis(write_csv: Callable[[str, str], Path]) -> None:
    batch = write_csv(
        "batch.csv",
        """
        image,patient_id,site,section,status,error,count,count_auto,corrected,dej_length_um,surface_length_um,length_basis,density_per_mm,pixel_size_um,modality,age,sex
        a/s1.tif,P2,distal_leg,1,ok,,10,12,true,2000,2500,dej,5.0,0.4,brightfield,40,male
        a/s2.tif,P2,distal_leg,2,ok,,6,6,false,1000,1200,surface,5.0,0.4,brightfield,40,male
        a/s3.tif,P2,distal_leg,3,error,no epidermis found,,,,,,,,0.4,brightfield,40,male
        """,
    )
    p = _prepare(batch)
    # row 1 follows its length_basis dej: 2000 um; row 2 surface: 1200 um
    assert p.rows["length_mm"].tolist() == [2.0, 1.2]
    assert p.excluded["error"].tolist() == ["no epidermis found"]
    assert p.excluded["row"].tolist() == [3]
    # the option overrides the per-row basis
    p2 = _prepare(batch, length_basis="surface")
    assert p2.rows["length_mm"].tolist() == [2.5, 1.2]
    assert p2.rows["corrected"].tolist() == [True, False]
    assert p2.rows["modality"].tolist() == ["brightfield", "brightfield"]


def test_biopsy_level_input(write_csv: Callable[[str, str], Path]) -> None:
    path = write_csv(
        "b.csv",
        """
        patient_id,age,sex,site,density_per_mm,n_sections
        P3,30,male,distal_leg,7.5,3
        P3,30,male,proximal_thigh,11.0,
        """,
    )
    p = _prepare(path)
    assert p.kind == "biopsy"
    agg = aggregate_sections(p).set_index("site")
    assert agg.loc["distal_leg", "density_per_mm"] == 7.5
    assert agg.loc["distal_leg", "n_sections"] == 3
    assert np.isnan(agg.loc["proximal_thigh", "n_sections"])
    assert not agg.loc["proximal_thigh", "few_sections"]


HEADER = "patient_id,age,sex,site,section,count,length_mm\n"


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("P1,50,f,calf,1,5,1.0\n", r"data row 1 \(line 2\), column 'site': unknown site 'calf'"),
        ("P1,50,f,distal_leg,1,5,1.0\nP1,50,f,distal_leg,2,-3,1.0\n",
         r"data row 2 \(line 3\), column 'count': negative count -3"),
        ("P1,50,f,distal_leg,1,,1.0\n", r"data row 1 .*column 'count': count is missing"),
        ("P1,50,f,distal_leg,1,2.5,1.0\n", r"column 'count': count 2.5 is not a whole number"),
        ("P1,50,f,distal_leg,1,5,0\n", r"data row 1 .*column 'length_mm': length is zero"),
        ("P1,50,f,distal_leg,1,5,\n", r"column 'length_mm': length is missing"),
        ("P1,50,x,distal_leg,1,5,1.0\n", r"data row 1 .*column 'sex': unknown sex 'x'"),
        ("P1,-4,f,distal_leg,1,5,1.0\n", r"column 'age': negative age"),
        ("P1,50,f,distal_leg,1,5,1.0\nP1,50,f,distal_leg,1,7,1.1\n",
         r"data row 2 .*column 'section': duplicated section"),
        ("P1,50,f,distal_leg,1,5,1.0\nP1,51,f,distal_leg,2,5,1.0\n",
         r"data row 2 .*column 'age': patient 'P1' has age"),
        (",50,f,distal_leg,1,5,1.0\n", r"column 'patient_id': patient_id is empty"),
    ],
)  # fmt: skip
def test_bad_section_rows(write_csv: Callable[[str, str], Path], rows: str, match: str) -> None:
    path = write_csv("bad.csv", HEADER + rows)
    with pytest.raises(ClinicalInputError, match=match) as info:
        _prepare(path)
    assert "bad.csv" in str(info.value)


def test_identical_rows_without_section_column(write_csv: Callable[[str, str], Path]) -> None:
    path = write_csv(
        "dup.csv",
        """
        patient_id,age,sex,site,count,length_mm
        P1,50,f,distal_leg,5,1.0
        P1,50,f,distal_leg,6,1.0
        P1,50,f,distal_leg,5,1.0
        """,
    )
    with pytest.raises(ClinicalInputError, match=r"data row 3 .*identical .* to data row 1"):
        _prepare(path)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        ("patient_id,site,count\n", "no length column"),
        ("patient_id,age,site\n", "need either 'count'"),
        ("age,site,count,length_mm\n", "missing column 'patient_id'"),
        ("patient_id,site,count,surface_length_um\n", "needs column 'dej_length_um'"),
    ],
)
def test_missing_columns(write_csv: Callable[[str, str], Path], header: str, match: str) -> None:
    values = ["P1" if c == "patient_id" else "distal_leg" if c == "site" else "1"
              for c in header.strip().split(",")]  # fmt: skip
    path = write_csv("cols.csv", header + ",".join(values) + "\n")
    with pytest.raises(ClinicalInputError, match=match):
        _prepare(path)


@pytest.mark.parametrize(
    ("raw", "site"),
    [("Distal Leg", "distal_leg"), ("  proximal-thigh ", "proximal_thigh"),
     ("DISTAL_THIGH", "distal_thigh")],
)  # fmt: skip
def test_site_normalisation(raw: str, site: str) -> None:
    assert normalize_site(raw) == site


def test_extra_site_accepted() -> None:
    assert normalize_site("Upper Arm", extra_sites=["upper_arm"]) == "upper_arm"


@pytest.mark.parametrize(
    ("raw", "sex"), [("F", "female"), ("woman", "female"), ("Male", "male"), ("", None)]
)
def test_sex_normalisation(raw: str, sex: str | None) -> None:
    assert normalize_sex(raw) == sex


def test_review_columns_are_read_and_counted_per_site(
    write_csv: Callable[[str, str], Path],
) -> None:
    batch = write_csv(
        "batch.csv",
        """
        image,patient_id,site,section,status,count,dej_length_um,age,sex,needs_review,qc_reasons,review_status
        a/s1.tif,P,distal_leg,1,ok,0,1000,40,m,True,no fibre counted: look,
        a/s2.tif,P,distal_leg,2,ok,0,1000,40,m,False,no fibre counted: look,accepted
        a/s3.tif,P,distal_leg,3,ok,5,1000,40,m,True,,flagged
        a/s4.tif,P,distal_leg,4,error,,,40,m,,,
        a/t1.tif,P,proximal_thigh,1,ok,9,1000,40,m,False,,
        """,
    )
    p = _prepare(batch)
    assert p.rows["needs_review"].tolist() == [True, False, True, False]
    assert p.rows["qc_reasons"].tolist()[:2] == ["no fibre counted: look"] * 2  # kept
    assert p.rows["review_reasons"].tolist() == [
        "no fibre counted: look", "", "flagged for a second look by the reviewer", "",
    ]  # fmt: skip
    agg = aggregate_sections(p).set_index("site")
    assert agg.loc["distal_leg", "n_sections_need_review"] == 2
    assert agg.loc["distal_leg", "review_reasons"] == (
        "section 1: no fibre counted: look | section 3: flagged for a second look by the reviewer"
    )
    assert agg.loc["proximal_thigh", "n_sections_need_review"] == 0
    assert agg.loc["proximal_thigh", "review_reasons"] == ""


def test_review_without_a_needs_review_column(write_csv: Callable[[str, str], Path]) -> None:
    hand = write_csv("hand.csv", SECTIONS)  # counts typed by hand: nothing to review
    assert not aggregate_sections(_prepare(hand))["n_sections_need_review"].any()
    reasons_only = write_csv(
        "r.csv",
        "patient_id,site,count,length_mm,qc_reasons\nP,distal_leg,0,1.0,no fibre counted\n"
        "P,distal_leg,4,1.0,\n",
    )
    prepared = _prepare(reasons_only)
    assert prepared.rows["needs_review"].tolist() == [True, False]
    assert aggregate_sections(prepared)["review_reasons"].tolist() == [
        "data row 1: no fibre counted"
    ]
    biopsies = write_csv(
        "b.csv",
        "patient_id,site,density_per_mm,n_sections,n_sections_need_review,review_reasons\n"
        "P,distal_leg,4.0,3,2,section 1: x | section 2: y\nP,proximal_thigh,9.0,3,0,\n",
    )
    agg = aggregate_sections(_prepare(biopsies)).set_index("site")
    assert agg["n_sections_need_review"].tolist() == [2, 0]
    assert agg.loc["distal_leg", "review_reasons"] == "section 1: x | section 2: y"


def test_a_batch_table_without_quality_checks_is_named(
    write_csv: Callable[[str, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    old = write_csv("old.csv", "patient_id,site,count,count_auto,length_mm\nP,distal_leg,3,3,1.0\n")
    _prepare(old)
    assert "without quality checks" in caplog.text and "run the batch again" in caplog.text


def test_the_exclusion_warning_names_each_row_its_patient_and_reason(
    write_csv: Callable[[str, str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    path = write_csv(
        "s.csv",
        "patient_id,site,section,status,error,count,length_mm\n"
        "P1,distal_leg,1,ok,,6,1.2\n"
        "P1,distal_leg,2,error,DEJ not found,,\n"
        "P3,proximal_thigh,1,error,not a TIFF file,,\n",
    )
    with caplog.at_level("WARNING", logger="ienfd.clinical"):
        prepared = _prepare(path)
    assert prepared.excluded["row"].tolist() == [2, 3]
    (record,) = caplog.records
    text = record.getMessage()
    assert text.startswith("s.csv: 2 row(s) excluded because status is not 'ok': ")
    assert "row 2 (P1, distal leg: DEJ not found)" in text
    assert "row 3 (P3, proximal thigh: not a TIFF file)" in text
    assert "listed in the output" not in text  # prepare_sections itself writes nothing
