"""ICC(A,1) and Bland-Altman against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.clinical import BlandAltman, bland_altman, icc_a1
from ienfd.clinical._agreement import icc_a1_ci

# Small table: 4 sections, auto (column 0) and manual (column 1) counts.
TABLE = [[2, 3], [4, 4], [6, 8], [8, 9]]


def test_icc_a1_hand_computed() -> None:
    # grand mean = 44/8 = 5.5; row means 2.5, 4, 7, 8.5; column means 5, 6
    # SSR = 2*(9 + 2.25 + 2.25 + 9) = 45      -> MSR = 45/3 = 15
    # SSC = 4*(0.25 + 0.25) = 2               -> MSC = 2/1 = 2
    # SST = 12.25+6.25+2.25+2.25+0.25+6.25+6.25+12.25 = 48
    # SSE = 48 - 45 - 2 = 1                   -> MSE = 1/3
    # ICC(A,1) = (15 - 1/3) / (15 + 1/3 + (2/4)(2 - 1/3)) = (44/3) / (97/6) = 88/97
    assert icc_a1(TABLE) == pytest.approx(88 / 97, rel=1e-12)


def test_icc_a1_shrout_fleiss_table() -> None:
    # Shrout & Fleiss (1979) Table 2: 6 targets x 4 judges; ICC(2,1) = .29
    ratings = [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ]
    assert round(icc_a1(ratings), 2) == 0.29


def test_icc_perfect_agreement_is_one() -> None:
    assert icc_a1([[1, 1], [5, 5], [9, 9]]) == pytest.approx(1.0)


def test_bland_altman_hand_computed() -> None:
    a = [row[0] for row in TABLE]
    b = [row[1] for row in TABLE]
    # d = a - b = -1, 0, -2, -1; bias = -4/4 = -1
    # sd = sqrt((0 + 1 + 1 + 0) / 3) = sqrt(2/3) = 0.8164966
    # LoA = -1 -/+ 1.96 * 0.8164966 = -2.6003333, 0.6003333
    r = bland_altman(a, b)
    assert isinstance(r, BlandAltman)
    assert r.n == 4
    assert r.bias == pytest.approx(-1.0)
    assert r.sd == pytest.approx(np.sqrt(2 / 3))
    assert r.loa_low == pytest.approx(-1 - 1.96 * np.sqrt(2 / 3))
    assert r.loa_high == pytest.approx(-1 + 1.96 * np.sqrt(2 / 3))
    with pytest.raises(AttributeError):
        r.bias = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("ratings", "match"),
    [
        ([[1, 2]], "at least 2 subjects"),
        ([[1], [2], [3]], "at least 2 raters"),
        ([[1, 2], [np.nan, 3]], "NaN"),
        ([1, 2, 3], "must be 2-D"),
        ([[4, 4], [4, 4]], "no variance"),
    ],
)
def test_icc_bad_input(ratings: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        icc_a1(ratings)  # type: ignore[arg-type]


def test_icc_non_numeric_is_type_error() -> None:
    with pytest.raises(TypeError, match="numeric"):
        icc_a1([["a", "b"], ["c", "d"]])


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        ([1.0], [2.0], "at least 2 pairs"),
        ([1, 2, 3], [1, 2], "same shape"),
        ([1, np.nan], [1, 2], "NaN"),
        ([[1, 2]], [[1, 2]], "1-D"),
    ],
)
def test_bland_altman_bad_input(a: object, b: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bland_altman(a, b)  # type: ignore[arg-type]


def test_icc_a1_ci_matches_an_independent_implementation() -> None:
    """McGraw & Wong's F-based interval, as pingouin 0.7 (ICC(A,1), CI95) rounds it."""
    shrout_fleiss = [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ]
    low, high = icc_a1_ci(shrout_fleiss)
    assert (round(low, 2), round(high, 2)) == (0.02, 0.76)
    low, high = icc_a1_ci(TABLE)
    assert (round(low, 2), round(high, 2)) == (0.08, 0.99)


def test_icc_a1_ci_holds_the_estimate_and_narrows() -> None:
    rng = np.random.default_rng(3)
    widths = []
    for n in (10, 40, 160):
        truth = rng.normal(10, 3, n)
        ratings = np.column_stack([truth + rng.normal(0, 1, n), truth + rng.normal(0.5, 1, n)])
        low, high = icc_a1_ci(ratings)
        assert low < icc_a1(ratings) < high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    wide = icc_a1_ci(ratings, confidence=0.99)
    assert wide[0] < low and wide[1] > high


def test_icc_a1_ci_covers_the_true_icc() -> None:
    """On data from the two-way random model, the 95 % interval covers the true ICC(A,1)
    about 95 % of the time (McGraw & Wong's approximation; 400 trials: 91-98 %)."""
    rng = np.random.default_rng(11)
    var_subject, var_rater, var_error, n, k = 4.0, 0.5, 1.0, 20, 2
    true_icc = var_subject / (var_subject + var_rater + var_error)
    covered = 0
    for _ in range(400):
        ratings = (
            rng.normal(0, np.sqrt(var_subject), (n, 1))
            + rng.normal(0, np.sqrt(var_rater), (1, k))
            + rng.normal(0, np.sqrt(var_error), (n, k))
        )
        low, high = icc_a1_ci(ratings)
        covered += low <= true_icc <= high
    assert 0.91 <= covered / 400 <= 0.98


def test_icc_a1_ci_perfect_agreement_and_bad_confidence() -> None:
    assert icc_a1_ci([[1, 1], [5, 5], [9, 9]]) == (1.0, 1.0)
    low, high = icc_a1_ci([[1, 2], [5, 6], [9, 10]])  # a constant offset: ICC < 1
    assert low < icc_a1([[1, 2], [5, 6], [9, 10]]) <= high <= 1.0
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="confidence"):
            icc_a1_ci(TABLE, confidence=bad)


def test_bland_altman_confidence_intervals_hand_computed() -> None:
    """Bias CI: bias -/+ t(0.975, n-1) sd / sqrt(n); limits: -/+ t se,
    se = sd sqrt(1/n + 1.96^2 / (2 (n-1))) (Bland & Altman 1999)."""
    from scipy import stats

    a = [row[0] for row in TABLE]
    b = [row[1] for row in TABLE]
    r = bland_altman(a, b)
    sd, n = np.sqrt(2 / 3), 4
    t = stats.t.ppf(0.975, 3)  # 3.182446
    assert r.bias_ci == pytest.approx((-1 - t * sd / 2, -1 + t * sd / 2))
    se = sd * np.sqrt(1 / n + 1.96**2 / (2 * (n - 1)))
    assert r.loa_low_ci == pytest.approx((r.loa_low - t * se, r.loa_low + t * se))
    assert r.loa_high_ci == pytest.approx((r.loa_high - t * se, r.loa_high + t * se))
    assert all(isinstance(v, float) for v in (*r.bias_ci, *r.loa_low_ci, *r.loa_high_ci))


def test_bland_altman_bias_ci_covers_the_true_bias() -> None:
    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(400):
        truth = rng.normal(10, 3, 15)
        r = bland_altman(truth + 0.7 + rng.normal(0, 1, 15), truth)
        covered += r.bias_ci[0] <= 0.7 <= r.bias_ci[1]
    assert 0.91 <= covered / 400 <= 0.98
