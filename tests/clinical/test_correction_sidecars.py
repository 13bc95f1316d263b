"""What the clinical module reads of correction sidecars: only those made on the result beside
them; a stale, unlinked or impossible one is refused, naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ienfd.clinical import ClinicalInputError, read_correction_sidecars
from ienfd.io import Correction, bind_correction, write_correction, write_json

RESULT = {
    "image": "run/s1.ome.tif",
    "input_sha256": "ab" * 32,
    "count": 2,
    "crossings": [{"row": 1.0, "col": 5.0}, {"row": 1.0, "col": 9.0}],
    "pixel_size_um": 0.5,
    "length_basis": "dej",
    "dej_length_um": 600.0,
    "surface_length_um": 560.0,
    "ienfd_version": "0.1.0",
}


def _folder(tmp_path: Path, result: dict[str, object] = RESULT) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    write_json(folder / "s1.json", result)
    correction = Correction(
        image="run/s1.ome.tif", auto_count=2, final_count=3, pixel_size_um=0.5,
        length_basis="dej", dej_length_um=610.0, surface_length_um=560.0, user="tech1",
        saved_at="2026-11-26T09:00:00+00:00", status="accepted",
        crossings=[{"row": 1.0, "col": float(c), "source": "auto"} for c in (5, 9, 20)],
    )  # fmt: skip
    write_correction(folder / "s1.correction.json", bind_correction(correction, RESULT))
    return folder


def test_a_correction_of_the_result_beside_it_is_read(tmp_path: Path) -> None:
    table = read_correction_sidecars(_folder(tmp_path))
    assert table[["image", "count", "sidecar_auto_count"]].values.tolist() == [
        ["run/s1.ome.tif", "3", "2"]
    ]


def test_a_correction_of_a_replaced_image_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    write_json(folder / "s1.json", {**RESULT, "input_sha256": "cd" * 32})  # analysed again
    with pytest.raises(ClinicalInputError, match="correction made on a different image") as info:
        read_correction_sidecars(folder)
    assert "s1.correction.json" in str(info.value) and "review again" in str(info.value)


def test_a_correction_from_before_the_link_is_refused_beside_a_result(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    sidecar = folder / "s1.correction.json"
    raw = json.loads(sidecar.read_text())
    raw["format"] = "ienfd-correction/1"
    for key in ("input_sha256", "result_key", "ienfd_version"):
        del raw[key]
    sidecar.write_text(json.dumps(raw))
    with pytest.raises(ClinicalInputError, match="not linked to the result it corrects"):
        read_correction_sidecars(folder)


def test_an_impossible_length_is_refused_naming_the_field(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    sidecar = folder / "s1.correction.json"
    raw = json.loads(sidecar.read_text())
    raw["dej_length_um"] = 0.001
    sidecar.write_text(json.dumps(raw))
    with pytest.raises(ClinicalInputError, match=r"dej_length_um is 0\.001 µm") as info:
        read_correction_sidecars(folder)
    assert "s1.correction.json" in str(info.value)
