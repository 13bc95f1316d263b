"""Quantile-regression norms recovered from simulated controls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.clinical import build_norms, fit_quantile_line, read_norms

Z05 = 1.6448536269514722  # standard normal 5th percentile is -Z05
TRUE = {"female": (14.0, -0.08), "male": (12.0, -0.07)}
SD = 2.5


def _controls(n: int = 1500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for sex, (a, b) in TRUE.items():
        age = rng.uniform(20, 80, n)
        # clipped at 0 (a density cannot be negative); the true 5th percentile
        # line stays above 2 fibres/mm over 20-80 years, so clipping leaves it unchanged
        dens = np.clip(a + b * age + rng.normal(0, SD, n), 0.0, None)
        frames.append(
            pd.DataFrame(
                {
                    "patient_id": [f"{sex[0]}{i}" for i in range(n)],
                    "age": np.round(age, 1),
                    "sex": sex,
                    "site": "distal_leg",
                    "modality": "brightfield",
                    "density_per_mm": np.round(dens, 4),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_fit_exact_small() -> None:
    # median line through three collinear points is the line itself: 12 - 0.1 age
    a, b = fit_quantile_line([20, 40, 60], [10.0, 8.0, 6.0], quantile=0.5)
    assert a == pytest.approx(12.0) and b == pytest.approx(-0.1)


def test_recover_known_fifth_percentile_line() -> None:
    norms = build_norms(_controls(), source_label="sim")
    assert {r.sex for r in norms.rows} == {"female", "male"}
    for r in norms.rows:
        a, b = TRUE[r.sex]
        # true 5th percentile line: a + b*age - 1.6449*2.5 = a - 4.1121 + b*age
        for age in (30, 50, 70):
            truth = a - Z05 * SD + b * age
            assert r.limit_at(age) == pytest.approx(truth, abs=0.5)
        assert r.slope_per_mm_per_year == pytest.approx(b, abs=0.015)
        assert r.modality == "brightfield"
        assert r.age_min == 20 and r.age_max in (79, 80)  # floor of the oldest control
        assert "n=1500" in r.source and "q=0.05" in r.source


def test_too_few_controls() -> None:
    with pytest.raises(ValueError, match=r"only 10 controls for distal_leg, female"):
        build_norms(_controls(n=10))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([1, 2], [1, 2]), "at least 3"),
        (([5, 5, 5], [1, 2, 3]), "same age"),
        (([1, 2, np.nan], [1, 2, 3]), "finite"),
    ],
)
def test_fit_bad(args: tuple[list[float], list[float]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_quantile_line(*args)


def test_cli_norms_build_then_classify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    controls = tmp_path / "controls.csv"
    _controls(n=400).drop(columns="modality").to_csv(controls, index=False)
    rc = main(["norms", "build", str(controls), "--out", str(tmp_path / "n")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "distal_leg female any ages 20-79" in out
    norms = read_norms(tmp_path / "n" / "norms.csv")  # the written file validates
    assert len(norms.rows) == 2
    assert (tmp_path / "n" / "norms.png").read_bytes()[:4] == b"\x89PNG"
    patients = tmp_path / "p.csv"
    patients.write_text(
        "patient_id,age,sex,site,density_per_mm\nQ1,50,male,distal_leg,1.0\n", encoding="utf-8"
    )
    rc = main(["classify", str(patients), "--norms", str(tmp_path / "n" / "norms.csv"),
               "--out", str(tmp_path / "o")])  # fmt: skip
    assert rc == 0
    res = pd.read_csv(tmp_path / "o" / "patients.csv")
    assert res.loc[0, "distal_status"] == "abnormal"
    assert res.loc[0, "proximal_status"] == "missing"
    assert res.loc[0, "pattern"] == "indeterminate"
