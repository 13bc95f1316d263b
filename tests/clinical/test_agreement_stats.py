"""ICC(A,1) and Bland-Altman against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from ienfd.clinical import BlandAltman, bland_altman, icc_a1

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
