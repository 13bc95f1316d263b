"""Norms: format, validation, built-in cited values, lookup, round trip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from ienfd.clinical import (
    ClinicalInputError,
    builtin_norms,
    find_norm,
    read_norms,
    write_norms,
)

HEADER = "site,sex,age_min,age_max,p05_per_mm,source\n"


def _rows_equal(a, b) -> None:  # type: ignore[no-untyped-def]
    assert len(a.rows) == len(b.rows)
    for x, y in zip(a.rows, b.rows, strict=True):
        assert (x.site, x.sex, x.age_min, x.age_max, x.modality, x.source) == (
            y.site, y.sex, y.age_min, y.age_max, y.modality, y.source,
        )  # fmt: skip
        for u, v in ((x.p05_per_mm, y.p05_per_mm), (x.intercept_per_mm, y.intercept_per_mm),
                     (x.slope_per_mm_per_year, y.slope_per_mm_per_year)):  # fmt: skip
            assert u == v or u == pytest.approx(v, rel=1e-15)


def test_builtin_round_trip(tmp_path: Path) -> None:
    norms = builtin_norms()
    path = write_norms(norms, tmp_path / "norms.csv")
    back = read_norms(path)
    _rows_equal(norms, back)
    # and a second write gives the same bytes
    again = write_norms(back, tmp_path / "again.csv")
    assert path.read_bytes() == again.read_bytes()


def test_lab_file_round_trip_keeps_extra_columns(
    write_csv: Callable[[str, str], Path], tmp_path: Path
) -> None:
    path = write_csv(
        "lab.csv",
        """
        site,sex,age_min,age_max,p05_per_mm,source,modality,median_per_mm
        distal_leg,female,20,49,6.5,Our lab 2024 (n=120),fluorescence,11.2
        distal_leg,female,50,89,4.4,Our lab 2024 (n=120),fluorescence,9.0
        proximal_thigh,any,20,89,8.0,Our lab 2024 (n=60),fluorescence,14.0
        """,
    )
    norms = read_norms(path)
    out = write_norms(norms, tmp_path / "out.csv")
    back = read_norms(out)
    _rows_equal(norms, back)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert frame["median_per_mm"].tolist() == ["11.2", "9.0", "14.0"]
    assert frame.columns[:6].tolist() == HEADER.strip().split(",")


@pytest.mark.parametrize(
    ("sex", "age", "modality", "expected"),
    [
        # Collongues 2018: 7.6156 - 0.0769 x age + 1.5506 x (woman = 1)
        ("female", 50, "brightfield", 7.6156 - 0.0769 * 50 + 1.5506),  # = 5.3212
        ("male", 50, "brightfield", 7.6156 - 0.0769 * 50),  # = 3.7706
        ("male", 18, "brightfield", 7.6156 - 0.0769 * 18),  # = 6.2314
        # Bursova 2012: men 5.5/5.1/1.9, women 6.1/5.2/3.1 at 20-40/40-60/60+
        ("male", 25, "fluorescence", 5.5),
        ("male", 40, "fluorescence", 5.1),  # boundary year goes to the older band
        ("male", 59.9, "fluorescence", 5.1),  # completed years: 59
        ("male", 84, "fluorescence", 1.9),
        ("female", 39, "fluorescence", 6.1),
        ("female", 45, "fluorescence", 5.2),
        ("female", 60, "fluorescence", 3.1),
    ],
)
def test_builtin_values(sex: str, age: float, modality: str, expected: float) -> None:
    look = find_norm(builtin_norms(), site="distal_leg", sex=sex, age=age, modality=modality)
    assert look.reason is None
    assert look.limit_per_mm == pytest.approx(expected)
    assert look.norm is not None and look.norm.source


def test_builtin_has_no_proximal_thigh() -> None:
    look = find_norm(
        builtin_norms(), site="proximal_thigh", sex="female", age=50, modality="brightfield"
    )
    assert look.limit_per_mm is None
    assert look.reason is not None and "no sourced norm for proximal_thigh" in look.reason


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"modality": None}, "modality unknown"),
        ({"age": None}, "age is missing"),
        ({"sex": None}, "sex is missing"),
    ],
)
def test_lookup_reasons(kw: dict[str, object], reason: str) -> None:
    args: dict[str, object] = {"sex": "male", "age": 50.0, "modality": "brightfield"}
    args.update(kw)
    look = find_norm(builtin_norms(), site="distal_leg", **args)  # type: ignore[arg-type]
    assert look.limit_per_mm is None and look.reason is not None and reason in look.reason


def test_modality_never_crosses(write_csv: Callable[[str, str], Path]) -> None:
    path = write_csv("bf.csv", HEADER.replace("\n", ",modality\n")
                     + "distal_leg,any,18,90,6,lab,brightfield\n")  # fmt: skip
    look = find_norm(read_norms(path), site="distal_leg", sex="male", age=50,
                     modality="fluorescence")  # fmt: skip
    assert look.limit_per_mm is None and "no norm for distal_leg in fluorescence" in str(
        look.reason
    )


def test_age_out_of_range_names_input_row() -> None:
    with pytest.raises(ClinicalInputError, match=r"in.csv, data row 7 .*column 'age': age 15"):
        find_norm(builtin_norms(), site="distal_leg", sex="male", age=15,
                  modality="brightfield", source="in.csv", row=7)  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("distal_leg,female,20,50,6,a\ndistal_leg,female,50,60,5,a\n",
         r"data row 2 .*column 'age_min': age band 50-60 .* overlaps age band 20-50 on data row 1"),
        ("distal_leg,any,20,50,6,a\ndistal_leg,male,30,40,5,a\n", r"data row 2 .*overlaps"),
        ("distal_leg,x,20,50,6,a\n", r"data row 1 .*column 'sex'"),
        ("knee,female,20,50,6,a\n", r"data row 1 .*column 'site': unknown site 'knee'"),
        ("distal_leg,female,50,20,6,a\n", r"column 'age_max': age_max 20 is below age_min 50"),
        ("distal_leg,female,20,50,6,\n", r"column 'source': source is empty"),
        ("distal_leg,female,20,50,,a\n", r"column 'p05_per_mm': no limit"),
        ("distal_leg,female,20,50,-1,a\n", r"column 'p05_per_mm': limit -1 must be > 0"),
        ("distal_leg,female,20.5,50,6,a\n", r"column 'age_min': age bound 20.5"),
        ("distal_leg,female,20,50,abc,a\n", r"column 'p05_per_mm': 'abc' is not a number"),
    ],
)  # fmt: skip
def test_bad_norms(write_csv: Callable[[str, str], Path], rows: str, match: str) -> None:
    path = write_csv("norms.csv", HEADER + rows)
    with pytest.raises(ClinicalInputError, match=match) as info:
        read_norms(path)
    assert "norms.csv" in str(info.value)


def test_bands_for_different_modalities_may_share_ages(
    write_csv: Callable[[str, str], Path],
) -> None:
    path = write_csv(
        "m.csv",
        HEADER.replace("\n", ",modality\n")
        + "distal_leg,male,20,50,6,a,brightfield\ndistal_leg,male,20,50,5,b,fluorescence\n",
    )
    assert len(read_norms(path).rows) == 2


def test_line_rows(write_csv: Callable[[str, str], Path]) -> None:
    path = write_csv(
        "line.csv",
        HEADER.replace("\n", ",p05_intercept_per_mm,p05_slope_per_mm_per_year\n")
        + "distal_leg,male,20,80,,lab fit,10,-0.05\n",
    )
    look = find_norm(read_norms(path), site="distal_leg", sex="male", age=60, modality=None)
    assert look.limit_per_mm == pytest.approx(10 - 0.05 * 60)  # = 7.0


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ("distal_leg,male,20,80,6,a,10,-0.05\n", "both a constant limit and a line"),
        ("distal_leg,male,20,80,,a,10,\n", "no limit"),
        ("distal_leg,male,20,80,,a,10,-0.5\n", r"limit <= 0 at age 20"),
    ],
)
def test_bad_line_rows(write_csv: Callable[[str, str], Path], rows: str, match: str) -> None:
    path = write_csv(
        "line.csv",
        HEADER.replace("\n", ",p05_intercept_per_mm,p05_slope_per_mm_per_year\n") + rows,
    )
    with pytest.raises(ClinicalInputError, match=match):
        read_norms(path)


def test_missing_norms_column(write_csv: Callable[[str, str], Path]) -> None:
    path = write_csv("n.csv", "site,sex,age_min,age_max,p05_per_mm\ndistal_leg,any,1,2,3\n")
    with pytest.raises(ClinicalInputError, match="missing column 'source'"):
        read_norms(path)
