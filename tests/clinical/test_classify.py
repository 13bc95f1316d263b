"""Worked cases for every pattern, borderline and indeterminate.

Laboratory norms for these cases (conftest.LAB_NORMS): distal leg 6.0/mm and
proximal thigh 9.0/mm, any sex, ages 18-90. Every section is 1.0 mm long, so a
site's density is the mean of its counts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ienfd.clinical import (
    ClassificationRules,
    ClinicalInputError,
    SiteResult,
    aggregate_sections,
    builtin_norms,
    classify_patients,
    classify_pattern,
    classify_site,
    prepare_sections,
    read_norms,
    read_table,
)


def _case(
    write_csv: Callable[[str, str], Path],
    norms: Path | None,
    distal: list[int] | None,
    proximal: list[int] | None,
    *,
    age: str = "50",
    sex: str = "female",
    rules: ClassificationRules | None = None,
):  # type: ignore[no-untyped-def]
    lines = ["patient_id,age,sex,site,section,count,length_mm,modality"]
    for site, counts in (("distal_leg", distal), ("proximal_thigh", proximal)):
        for k, c in enumerate(counts or [], start=1):
            lines.append(f"X,{age},{sex},{site},{k},{c},1.0,brightfield")
    path = write_csv("case.csv", "\n".join(lines) + "\n")
    prepared = prepare_sections(read_table(path), source="case.csv")
    table = read_norms(norms) if norms is not None else builtin_norms()
    agg = aggregate_sections(prepared)
    [result] = classify_patients(agg, table, rules=rules, source="case.csv")
    return result


@pytest.mark.parametrize(
    ("distal", "proximal", "pattern", "d_status", "p_status", "words"),
    [
        # distal 8 >= 6, thigh 12 >= 9
        ([8, 8, 8], [12, 12, 12], "normal", "normal", "normal", "both sites are within normal"),
        # distal 3 < 6 (50% of limit), thigh 12 >= 9
        ([3, 3, 3], [12, 12, 12], "length-dependent", "abnormal", "normal",
         "distal abnormal with proximal normal"),
        # distal 8 >= 6; thigh (4+5+6)/3 = 5 < 9, CI 5 -/+ 4.30*0.577 = 2.52..7.48 below 9
        ([8, 8, 8], [4, 5, 6], "non-length-dependent", "normal", "abnormal",
         "proximal abnormal with distal normal"),
        # both abnormal: deficits distal 1 - 2/6 = 67%, thigh 1 - 6/9 = 33% -> distal larger
        ([2, 2, 2], [6, 6, 6], "length-dependent", "abnormal", "abnormal",
         "distal 67% vs proximal 33%: the distal deficit is larger"),
        # both abnormal: deficits distal 1 - 5/6 = 17%, thigh 1 - 3/9 = 67% -> thigh larger
        ([5, 5, 5], [3, 3, 3], "non-length-dependent", "abnormal", "abnormal",
         "distal 17% vs proximal 67%: the proximal deficit is larger"),
    ],
)  # fmt: skip
def test_patterns(
    write_csv: Callable[[str, str], Path],
    lab_norms: Path,
    distal: list[int],
    proximal: list[int],
    pattern: str,
    d_status: str,
    p_status: str,
    words: str,
) -> None:
    r = _case(write_csv, lab_norms, distal, proximal)
    assert r.pattern == pattern
    assert r.sites["distal_leg"].status == d_status
    assert r.sites["proximal_thigh"].status == p_status
    assert words in r.reason
    assert r.ratio_distal_proximal == pytest.approx(sum(distal) / sum(proximal))


def test_borderline_that_decides_is_indeterminate(
    write_csv: Callable[[str, str], Path], lab_norms: Path
) -> None:
    # distal (4+6+8)/3 = 6.0, SD 2, CI 6 -/+ 4.30*1.155 = 1.03..10.97 straddles 6 -> borderline
    # thigh 12 normal: distal normal -> normal, distal abnormal -> length-dependent
    r = _case(write_csv, lab_norms, [4, 6, 8], [12, 12, 12])
    assert r.sites["distal_leg"].status == "borderline"
    assert r.pattern == "indeterminate"
    assert "borderline site decides the pattern" in r.reason
    assert "length-dependent or normal" in r.reason


def test_borderline_that_does_not_decide(
    write_csv: Callable[[str, str], Path], lab_norms: Path
) -> None:
    # distal 2 (deficit 67%); thigh (8+10+12)/3 = 10, CI 10 -/+ 4.97 = 5.03..14.97 straddles 9.
    # thigh normal -> length-dependent; thigh abnormal -> deficits 67% vs 1 - 10/9 = -11%
    # -> length-dependent as well, so the call stands.
    r = _case(write_csv, lab_norms, [2, 2, 2], [8, 10, 12])
    assert r.sites["proximal_thigh"].status == "borderline"
    assert r.pattern == "length-dependent"
    assert "holds whichever way the borderline site falls" in r.reason


@pytest.mark.parametrize(
    ("distal", "proximal", "kw", "words"),
    [
        ([3, 3, 3], None, {}, "no proximal thigh biopsy"),
        (None, [3, 3, 3], {}, "no distal leg biopsy"),
        ([3, 3, 3], [12, 12, 12], {"age": ""}, "age is missing"),
        ([3, 3, 3], [12, 12, 12], {"sex": ""}, "sex is missing"),
        ([3, 3], [12, 12, 12], {}, "distal leg has 2 section(s); at least 3 are needed"),
    ],
)
def test_indeterminate(
    write_csv: Callable[[str, str], Path],
    lab_norms: Path,
    distal: list[int] | None,
    proximal: list[int] | None,
    kw: dict[str, str],
    words: str,
) -> None:
    r = _case(write_csv, lab_norms, distal, proximal, **kw)  # type: ignore[arg-type]
    assert r.pattern == "indeterminate"
    assert words in r.reason


def test_builtin_norms_no_proximal_norm(write_csv: Callable[[str, str], Path]) -> None:
    # built-ins: Collongues, woman aged 50: 7.6156 - 0.0769*50 + 1.5506 = 5.3212 /mm
    r = _case(write_csv, None, [3, 3, 3], [12, 12, 12])
    d = r.sites["distal_leg"]
    assert d.limit_per_mm == pytest.approx(5.3212)
    assert d.status == "abnormal"
    assert d.pct_of_limit == pytest.approx(100 * 3 / 5.3212)
    assert r.sites["proximal_thigh"].status == "no_norm"
    assert r.pattern == "indeterminate"
    assert "no sourced norm for proximal_thigh" in r.reason
    assert "distal leg 3.0/mm" in r.reason  # what was measured is still said


def test_deficit_margin(write_csv: Callable[[str, str], Path], lab_norms: Path) -> None:
    # deficits 67% vs 33% differ by 33% <= margin 50% -> too close to call
    rules = ClassificationRules(deficit_margin=0.5)
    r = _case(write_csv, lab_norms, [2, 2, 2], [6, 6, 6], rules=rules)
    assert r.pattern == "indeterminate" and "too close to call" in r.reason


def test_age_outside_norms_is_an_error(
    write_csv: Callable[[str, str], Path], lab_norms: Path
) -> None:
    with pytest.raises(ClinicalInputError, match=r"case.csv, data row 1 .*column 'age': age 15"):
        _case(write_csv, lab_norms, [3, 3, 3], [12, 12, 12], age="15")


@pytest.mark.parametrize(
    ("density", "limit", "ci", "status"),
    [(5.0, 6.0, None, "abnormal"), (6.0, 6.0, None, "normal"), (7.0, 6.0, (5.5, 8.5), "borderline"),
     (7.0, 6.0, (6.5, 8.5), "normal"), (4.0, 6.0, (3.0, 5.9), "abnormal")],
)  # fmt: skip
def test_classify_site(
    density: float, limit: float, ci: tuple[float, float] | None, status: str
) -> None:
    lo, hi = ci if ci else (None, None)
    assert classify_site(density, limit, ci_low=lo, ci_high=hi) == status


@pytest.mark.parametrize(("density", "limit"), [(-1.0, 6.0), (5.0, 0.0), (float("nan"), 6.0)])
def test_classify_site_bad(density: float, limit: float) -> None:
    with pytest.raises(ValueError, match="must be finite"):
        classify_site(density, limit)


def test_classify_pattern_direct() -> None:
    d = SiteResult("distal_leg", "abnormal", 3.0, None, None, 3, 0, 6.0)
    p = SiteResult("proximal_thigh", "normal", 12.0, None, None, 3, 0, 9.0)
    pattern, reason = classify_pattern(d, p)
    assert pattern == "length-dependent"
    assert reason.startswith("Length-dependent loss: distal abnormal with proximal normal.")


def test_rules_validation() -> None:
    with pytest.raises(ValueError, match="min_sections"):
        ClassificationRules(min_sections=0)
    with pytest.raises(ValueError, match="deficit_margin"):
        ClassificationRules(deficit_margin=1.5)


def test_sections_that_need_review_keep_the_pattern_from_being_final() -> None:
    d = SiteResult("distal_leg", "abnormal", 3.0, None, None, 3, 0, 6.0, n_need_review=1,
                   review_reasons=("section 2: no fibre counted: check the stain",))  # fmt: skip
    p = SiteResult("proximal_thigh", "normal", 12.0, None, None, 3, 0, 9.0)
    pattern, reason = classify_pattern(d, p)
    assert pattern == "indeterminate"
    assert reason.startswith(
        "Indeterminate until reviewed: 1 section at distal leg needs review: "
        "section 2: no fibre counted: check the stain."
    )
    # the call from the counts as they stand is still given, as provisional
    assert "From the counts as they stand: Length-dependent loss: distal abnormal" in reason
    two = SiteResult("proximal_thigh", "normal", 12.0, None, None, 3, 0, 9.0, n_need_review=2,
                     review_reasons=("section 1: a", "section 3: b"))  # fmt: skip
    pattern, reason = classify_pattern(d, two)
    assert "2 sections at proximal thigh need review: section 1: a; section 3: b" in reason
    # reviewed (or never in doubt): the pattern is final again
    reviewed = SiteResult("distal_leg", "abnormal", 3.0, None, None, 3, 0, 6.0)
    assert classify_pattern(reviewed, p)[0] == "length-dependent"


def test_review_counts_reach_the_patient_result(
    write_csv: Callable[[str, str], Path], lab_norms: Path
) -> None:
    path = write_csv(
        "r.csv",
        "patient_id,age,sex,site,section,count,length_mm,needs_review,qc_reasons\n"
        "X,50,female,distal_leg,1,3,1.0,false,\n"
        "X,50,female,distal_leg,2,0,1.0,true,no fibre counted\n"
        "X,50,female,distal_leg,3,3,1.0,false,\n"
        "X,50,female,distal_thigh,1,9,1.0,true,epidermis too thin\n"
        "X,50,female,proximal_thigh,1,12,1.0,false,\n"
        "X,50,female,proximal_thigh,2,12,1.0,false,\n"
        "X,50,female,proximal_thigh,3,12,1.0,false,\n",
    )
    prepared = prepare_sections(read_table(path), source="r.csv")
    [result] = classify_patients(aggregate_sections(prepared), read_norms(lab_norms))
    assert result.n_need_review == 2
    assert result.sites["distal_leg"].review_reasons == ("section 2: no fibre counted",)
    assert result.sites["distal_thigh"].n_need_review == 1
    assert result.pattern == "indeterminate"
    assert "distal thigh" not in result.reason.split("From the counts")[0]  # not compared


def test_docstring_examples_run() -> None:
    import doctest

    import ienfd.clinical._classify

    result = doctest.testmod(ienfd.clinical._classify)
    assert result.attempted > 0 and result.failed == 0
