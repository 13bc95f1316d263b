"""docs/synthetic.md documents every appearance parameter and stress factor."""

from __future__ import annotations

from pathlib import Path

from ienfd.synthetic import APPEARANCE_FIELDS, STRESS_FACTORS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "synthetic.md"


def test_appearance_table_names_every_factor() -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Appearance sets", 1)[1].split("\n## ", 1)[0]
    for name in STRESS_FACTORS:
        assert f"`{name}`" in section, name
    for name in APPEARANCE_FIELDS:
        assert f"`{name}`" in section, name
    assert "images/synthetic_appearance.png" in text
