"""score_section, and the validation script that publishes docs/validation.md."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ienfd.synthetic import score_section

ROOT = Path(__file__).resolve().parents[2]
TRUTH = {
    "crossings": [
        {"row": 10.0, "col": 10.0},
        {"row": 50.0, "col": 10.0},
        {"row": 90.0, "col": 90.0},
    ],
    "dej_length_um": 200.0,
    "pixel_size_um": 0.5,
}


def test_matches_one_to_one_within_the_tolerance() -> None:
    # (12, 11) is 2.2 px = 1.1 µm from (10, 10): matched. (50, 35) is 25 px =
    # 12.5 µm from (50, 10): not matched at 10 µm. (90, 90) exact: matched.
    score = score_section([[12, 11], [50, 35], [90, 90]], 190.0, TRUTH)
    assert (score.matched, score.false_positives, score.false_negatives) == (2, 1, 1)
    assert score.dej_length_error == pytest.approx(-0.05)


def test_one_found_point_matches_at_most_one_true_point() -> None:
    score = score_section([[30, 10]], 200.0, TRUTH, tolerance_um=20.0)
    assert score.matched == 1 and score.false_negatives == 2


def test_matches_as_many_pairs_as_the_tolerance_allows() -> None:
    """Least total distance alone would pair every point out of tolerance here."""
    # Along a junction (µm): true crossings at 16, 34, 38; found at -4, 7, 26.
    # Pairing them in order costs 20 + 27 + 12 = 59 µm, no more than keeping
    # 7-16 (9 µm) and 26-34 (8 µm) and leaving -4 with 38 (42 µm): a plain
    # least-distance assignment may return the first, 0 matches where 2 exist.
    truth = {
        "crossings": [{"row": 0.0, "col": c} for c in (16.0, 34.0, 38.0)],
        "dej_length_um": 100.0,
        "pixel_size_um": 1.0,
    }
    score = score_section([[0.0, -4.0], [0.0, 7.0], [0.0, 26.0]], 100.0, truth)
    assert score.matched == 2 and score.false_positives == 1


@pytest.mark.parametrize("seed", range(20))
def test_the_number_matched_is_the_largest_possible(seed: int) -> None:
    """Crossings along a junction (a line), as many pairs as one-to-one allows."""
    rng = np.random.default_rng(seed)
    true = np.c_[np.zeros(5), np.sort(rng.uniform(0, 80, 5))]
    found = np.c_[np.zeros(6), np.sort(rng.uniform(-10, 90, 6))]
    truth = {
        "crossings": [{"row": r, "col": c} for r, c in true],
        "dej_length_um": 100.0,
        "pixel_size_um": 1.0,
    }
    within = np.hypot(*(found[:, None, :] - true[None, :, :]).transpose(2, 0, 1)) <= 10.0
    # The largest matching, by trying every assignment of true points to found ones.
    best = max(
        sum(bool(within[f, t]) for t, f in enumerate(perm) if f is not None)
        for perm in itertools.permutations(list(range(len(found))) + [None] * 5, 5)
    )
    assert score_section(found, 100.0, truth).matched == best


def test_nothing_found() -> None:
    score = score_section([], 200.0, TRUTH)
    assert (score.found_count, score.matched, score.false_negatives) == (0, 0, 3)


def test_tolerance_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tolerance_um"):
        score_section([], 200.0, TRUTH, tolerance_um=0)


def test_validation_script_writes_its_table_and_figure(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "validate_accuracy.py"),
            "--n",
            "2",
            "--out",
            str(tmp_path),
            "--no-docs",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    assert "icc_a1" in run.stdout
    table = pd.read_csv(tmp_path / "validation" / "sections.csv")
    assert list(table["seed"]) == [50000, 50001]
    assert set(table["status"]) == {"ok"}
    assert (tmp_path / "validation" / "counts.png").stat().st_size > 1000
