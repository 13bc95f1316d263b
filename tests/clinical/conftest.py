"""Shared helpers: small CSV files written to tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# A laboratory norms file with constant limits, used by the worked examples:
# distal leg 6.0/mm and proximal thigh 9.0/mm for everyone aged 18-90.
LAB_NORMS = """\
site,sex,age_min,age_max,p05_per_mm,source
distal_leg,any,18,90,6.0,test lab (made-up numbers for tests only)
proximal_thigh,any,18,90,9.0,test lab (made-up numbers for tests only)
"""


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented ``text`` to ``tmp_path / name`` and return the path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def lab_norms(write_csv: Callable[[str, str], Path]) -> Path:
    return write_csv("lab_norms.csv", LAB_NORMS)
