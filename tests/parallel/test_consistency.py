"""``ienfd batch --consistency``: every section, also one cut from a whole-slide image, is
analysed in its eight orientations at two pixel sizes; a result without those runs is not
taken as done when they are asked for, and one with them serves a run that does not ask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.io import write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section, random_spec
from tests.parallel._slides import write_slide

pytestmark = [pytest.mark.dask, pytest.mark.slow]

PIXEL_UM = 0.8  # short sections at a coarse pixel: 17 analyses take seconds


def _batch(client: object, *args: str | Path) -> int:
    address = client.scheduler.address  # type: ignore[attr-defined]
    return main(["batch", *(str(a) for a in args), "--scheduler", address, "-q"])


def _load(path: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return record


def _check_runs(record: dict[str, Any]) -> None:
    runs = record["consistency"]
    assert len(runs) == 3 and record["qc"]["consistency_runs"] == 3
    own = record["pixel_size_um"]
    assert [r["pixel_size_um"] for r in runs] == pytest.approx(
        [own, 1.25 * own, 1.5 * own], rel=0.01
    )
    assert runs[0]["count"] == record["count"]  # the copy at its own size is the reported analysis
    assert record["needs_review"] == bool(record["qc_reasons"])


def test_batch_consistency_and_resume(
    client: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    spec = random_spec(4, modality="brightfield", length_um=300, pixel_size_um=PIXEL_UM)
    write_section_tiff(
        inputs / "leg.ome.tif", generate_section(spec).image, pixel_size_um=PIXEL_UM, kind="ome"
    )
    out = tmp_path / "out"

    def skipped() -> bool:
        table = pd.read_csv(out / "sections.csv")
        return bool(table["skipped"].item())

    assert _batch(client, inputs, "--out", out, "--no-overlay") == 0
    assert "consistency" not in _load(out / "leg.json")
    # asked for now: the plain result is not taken as done
    assert _batch(client, inputs, "--out", out, "--no-overlay", "--consistency") == 0
    assert not skipped()
    record = _load(out / "leg.json")
    _check_runs(record)
    table = pd.read_csv(out / "sections.csv", keep_default_na=False)
    assert bool(table["needs_review"].item()) == record["needs_review"]
    assert table["qc_reasons"].item() == "; ".join(record["qc_reasons"])
    assert _load(out / "run.json")["consistency"] is True
    # the section's line says what the check found (printed without -q)
    address = client.scheduler.address  # type: ignore[attr-defined]
    capsys.readouterr()
    args = ["batch", str(inputs), "--out", str(out), "--no-overlay", "--consistency", "--force"]
    assert main([*args, "--scheduler", address]) == 0
    low, high = record["qc"]["consistency_count_min"], record["qc"]["consistency_count_max"]
    found = f"{low}" + (f"-{high}" if high != low else "")
    said = capsys.readouterr()
    assert f"[consistency: count {found}]" in said.out + said.err
    again = _load(out / "leg.json")
    assert again["consistency"] == record["consistency"] and again["count"] == record["count"]
    record = again
    # done with the runs: skipped whether they are asked for again or not
    assert _batch(client, inputs, "--out", out, "--no-overlay", "--consistency") == 0
    assert skipped()
    assert _batch(client, inputs, "--out", out, "--no-overlay") == 0
    assert skipped() and _load(out / "leg.json") == record
    assert _load(out / "run.json")["consistency"] is False


def test_whole_slide_sections_get_the_runs_too(client: object, tmp_path: Path) -> None:
    section = generate_section(
        SectionSpec(
            modality="brightfield",
            length_um=300,
            pixel_size_um=PIXEL_UM,
            noise=0.01,
            seed=2,
            rotation_deg=0,
            illumination_gradient=0.0,
        )
    ).image
    rows, cols = section.shape[:2]
    path = tmp_path / "slide.ome.tif"
    shape = (rows + 300, cols + 300)
    write_slide(path, shape, [section], [(150, 150)], pixel_size_um=PIXEL_UM, tile=256, levels=2)
    out = tmp_path / "out"
    code = _batch(client, path, "--out", out, "--slide-mb", "0.5", "--no-overlay", "--consistency")
    assert code == 0
    record = _load(out / "slide_s01.json")
    assert record["section_index"] == 1 and record["image_shape"] == list(shape)
    _check_runs(record)
    box = record["region"]
    lengths = np.array([r["dej_length_um"] for r in record["consistency"] if r["error"] is None])
    assert lengths.min() > 0 and record["qc"]["consistency_dej_spread"] == pytest.approx(
        (lengths.max() - lengths.min()) / np.median(lengths), abs=0.002
    )
    assert box["row1"] - box["row0"] < shape[0]  # a box cut from the slide, not the slide
