"""The same image twice in one batch (same bytes, same scene) is analysed and counted once:
every later copy is an error row naming both, listed in run.json, never a section of a biopsy.
Different scenes of one multi-scene file are different sections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tifffile

from ienfd.cli import main
from ienfd.synthetic import SectionSpec, generate_section
from tests.parallel.conftest import PIXEL_UM

pytestmark = [pytest.mark.dask, pytest.mark.slow]


def _batch(args: list[str], client: object) -> int:
    address = client.scheduler.address  # type: ignore[attr-defined]
    return main(["batch", *args, "--scheduler", address, "--no-overlay", "-q"])


def _run(out: Path) -> dict[str, Any]:
    return json.loads((out / "run.json").read_text())


def test_a_manifest_listing_one_file_twice_counts_it_once(
    section_folder: Path, client: object, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.csv"
    leg_a, leg_b = section_folder / "leg_a.tif", section_folder / "leg_b.ome.tif"
    manifest.write_text(
        "image,patient_id,site,section\n"
        f"{leg_a},P1,distal_leg,1\n"
        f"{leg_b},P1,distal_leg,2\n"
        f"{leg_a},P1,distal_leg,3\n"
    )
    out = tmp_path / "out"
    assert _batch([str(manifest), "--out", str(out)], client) == 1
    table = pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False)
    assert table["status"].tolist() == ["ok", "ok", "error"]
    error = table["error"].iloc[2]
    assert f"{leg_a} (manifest data row 3): duplicate of {leg_a} (manifest data row 1)" in error
    assert "same sha256" in error
    assert table["count"].iloc[2] == "" and table["result_json"].iloc[2] == ""
    biopsy = pd.read_csv(out / "biopsies.csv").iloc[0]
    assert biopsy["n_sections"] == 2
    ok = table[table["status"] == "ok"]
    assert biopsy["total_count"] == ok["count"].astype(int).sum()
    run = _run(out)
    assert run["inputs"][2]["duplicate_of"] == str(leg_a)
    assert run["inputs"][2]["error"] == error
    assert [f["error"] for f in run["failures"]] == [error]
    assert len([p for p in out.glob("*.json") if p.name != "run.json"]) == 2


def _two_scene_tiff(path: Path) -> None:
    """An OME-TIFF holding the same section twice, as two images (scenes)."""
    spec = SectionSpec(modality="fluorescence", length_um=300, pixel_size_um=PIXEL_UM, seed=9)
    data = generate_section(spec).image
    with tifffile.TiffWriter(path, ome=True) as tif:
        for name in ("first", "second"):
            tif.write(
                data,
                metadata={
                    "axes": "CYX",
                    "Name": name,
                    "PhysicalSizeX": PIXEL_UM,
                    "PhysicalSizeY": PIXEL_UM,
                    "Channel": {"Name": ["PGP9.5", "ColIV"]},
                },
            )


def test_byte_copies_in_a_folder_are_counted_once_but_scenes_are_not_copies(
    section_folder: Path, client: object, tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.tif").write_bytes((section_folder / "leg_a.tif").read_bytes())
    (inputs / "b_copy_of_a.tif").write_bytes((section_folder / "leg_a.tif").read_bytes())
    _two_scene_tiff(inputs / "c.ome.tif")  # two scenes with equal pixels: two sections
    (inputs / "d_copy_of_c.ome.tif").write_bytes((inputs / "c.ome.tif").read_bytes())
    out = tmp_path / "out"
    assert _batch([str(inputs), "--out", str(out)], client) == 1
    table = pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False)
    names = [Path(p).name for p in table["image"]]
    assert names == ["a.tif", "b_copy_of_a.tif"] + ["c.ome.tif"] * 2 + ["d_copy_of_c.ome.tif"] * 2
    assert table["section"].tolist()[2:] == ["scene1", "scene2"] * 2
    assert table["status"].tolist() == ["ok", "error", "ok", "ok", "error", "error"]
    assert f"{inputs / 'b_copy_of_a.tif'}: duplicate of {inputs / 'a.tif'}" in table["error"][1]
    copy = inputs / "d_copy_of_c.ome.tif"
    for k in (1, 2):
        expected = f"{copy} scene {k}: duplicate of {inputs / 'c.ome.tif'} scene {k} (same sha256"
        assert expected in table["error"][3 + k]
    assert table["count"][2] == table["count"][3]  # the scenes hold the same pixels
    run = _run(out)
    assert [i.get("duplicate_of") for i in run["inputs"]] == [
        None,
        str(inputs / "a.tif"),
        None,
        None,
        str(inputs / "c.ome.tif"),
        str(inputs / "c.ome.tif"),
    ]
    assert run["n_failed"] == 3

    # Renaming the first copy away makes the other the only one: analysed, no error.
    (inputs / "a.tif").unlink()
    assert _batch([str(inputs / "b*.tif"), "--out", str(out)], client) == 0
    table = pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False)
    assert table["result_json"].tolist() == ["b_copy_of_a.json"]
    assert table["status"].tolist() == ["ok"]
