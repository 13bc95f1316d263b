"""A correction sidecar applies only to the result it was made on.

The reproduction: analyse a folder on a real cluster, correct a section in a review
session, replace that section's image with another one and run the batch again. The
section is analysed again; the old correction must not override the new result. The
row keeps the automatic result, says why, and needs review; the review queue reopens
it with the old edits. Also: a sidecar of the format before the link (not applied,
with the reason), and impossible corrected values (refused, naming the file and field;
the error row carries no numbers).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ienfd.io import correction_path, file_sha256, write_section_tiff
from ienfd.parallel import run_batch
from ienfd.review import ReviewSession, build_queue
from ienfd.synthetic import generate_section
from ienfd.workflow import InputRow, default_pipeline
from tests.parallel.conftest import PIXEL_UM, _spec

pytestmark = [pytest.mark.dask, pytest.mark.slow]

SEEDS = {"leg_1.tif": 3, "leg_2.tif": 5, "leg_3.tif": 9}
REPLACEMENT_SEED = 21


def _write(path: Path, seed: int) -> None:
    section = generate_section(_spec("brightfield", seed))
    write_section_tiff(path, section.image, pixel_size_um=PIXEL_UM, kind="tiff")


def _rows(folder: Path) -> list[InputRow]:
    return [
        InputRow(str(folder / name), str(folder / name), "P1", "distal_leg", str(i))
        for i, name in enumerate(SEEDS, start=1)
    ]


def _batch(folder: Path, out: Path, client: object) -> pd.DataFrame:
    run_batch(
        _rows(folder),
        out,
        client=client,  # type: ignore[arg-type]
        pipeline=default_pipeline(),
        overlay=False,
    )
    return pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False)


def _correct(result_json: Path) -> int:
    """Remove one automatic fibre, accept, save; return the corrected count."""
    session = ReviewSession.open(result_json, user="tech1")
    points, sources = session.initial_fibres()
    assert len(points) >= 1
    kept, kept_sources = points[1:], sources[1:]
    session.log_point_changes(points, kept)
    session.set_status("accepted")
    session.save(kept, kept_sources, session.initial_dej(), session.initial_surface())
    return len(kept)


@pytest.fixture(scope="module")
def corrected_run(
    client: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, int]:
    """A batch over three sections, the first corrected by a reviewer (count one lower)."""
    root = tmp_path_factory.mktemp("stale")
    folder, out = root / "in", root / "out"
    folder.mkdir()
    for name, seed in SEEDS.items():
        _write(folder / name, seed)
    table = _batch(folder, out, client)
    assert table["status"].tolist() == ["ok"] * 3
    final = _correct(out / table["result_json"].iloc[0])
    return folder, out, final


def _copy(run: tuple[Path, Path, int], tmp_path: Path) -> tuple[Path, Path, int]:
    folder, out, final = run
    shutil.copytree(folder, tmp_path / "in")
    shutil.copytree(out, tmp_path / "out")
    return tmp_path / "in", tmp_path / "out", final


def test_a_correction_made_on_this_result_applies(
    corrected_run: tuple[Path, Path, int], client: object, tmp_path: Path
) -> None:
    folder, out, final = _copy(corrected_run, tmp_path)
    table = _batch(folder, out, client)  # resumed: nothing analysed again
    assert table["skipped"].tolist() == ["True"] * 3
    row = table.iloc[0]
    assert (row["corrected"], row["review_status"], row["needs_review"]) == (
        "True",
        "accepted",
        "False",
    )
    assert int(row["count"]) == final == int(row["count_auto"]) - 1


def test_a_stale_correction_does_not_override_the_new_result(
    corrected_run: tuple[Path, Path, int], client: object, tmp_path: Path
) -> None:
    folder, out, final = _copy(corrected_run, tmp_path)
    first = folder / "leg_1.tif"
    old_sha = file_sha256(first)[0]
    _write(first, REPLACEMENT_SEED)  # the same name, another image
    assert file_sha256(first)[0] != old_sha

    table = _batch(folder, out, client)
    row = table.iloc[0]
    result_json = out / row["result_json"]
    record = json.loads(result_json.read_text())
    assert row["skipped"] == "False" and record["input_sha256"] != old_sha  # analysed again
    # the new automatic result stands; the old correction is not applied
    assert row["corrected"] == "False"
    assert int(row["count"]) == int(row["count_auto"]) == record["count"]
    assert float(row["dej_length_um"]) == record["dej_length_um"]
    assert float(row["density_per_mm"]) == pytest.approx(record["density_per_mm"])
    # ... and the row says why, and needs review
    assert row["review_status"] == "stale" and row["needs_review"] == "True"
    assert "leg_1.correction.json: correction made on a different image" in row["qc_reasons"]
    assert "review again" in row["qc_reasons"]
    run = json.loads((out / "run.json").read_text())
    assert run["n_corrected"] == 0 and run["n_need_review"] >= 1
    biopsy = pd.read_csv(out / "biopsies.csv").iloc[0]
    assert biopsy["n_corrected"] == 0 and biopsy["n_sections_need_review"] >= 1
    assert "correction made on a different image" in biopsy["review_reasons"]

    # the review queue reopens the section, first, with the reason and the old edits
    queue = build_queue(out)
    entry = next(e for e in queue if e.result_json == result_json)
    assert entry.status == "stale" and entry.needs_review
    assert entry.qc_reasons[0].startswith("correction made on a different image")
    assert queue[0].result_json == result_json
    session = ReviewSession.open(result_json, user="tech2")
    assert session.stale_reason is not None and "review again" in session.stale_reason
    assert session.status == "in_review"
    points, _ = session.initial_fibres()
    assert len(points) == final  # the old edits, shown for checking

    # reviewed again on the new result: the correction is bound to it and applies
    auto = np.array([[c["row"], c["col"]] for c in record["crossings"]]).reshape(-1, 2)
    session.log_point_changes(points, auto)
    session.set_status("accepted")
    session.save(auto, ["auto"] * len(auto), session.initial_dej(), session.initial_surface())
    assert session.stale_reason is None
    row = _batch(folder, out, client).iloc[0]
    assert (row["corrected"], row["review_status"]) == ("True", "accepted")
    assert int(row["count"]) == record["count"]


def test_a_sidecar_from_before_the_link_is_not_applied(
    corrected_run: tuple[Path, Path, int], client: object, tmp_path: Path
) -> None:
    folder, out, _ = _copy(corrected_run, tmp_path)
    sidecar = correction_path(out / "leg_1.json")
    raw = json.loads(sidecar.read_text())
    raw["format"] = "ienfd-correction/1"  # as an older ienfd wrote it: no link to the result
    for key in ("input_sha256", "result_key", "ienfd_version"):
        del raw[key]
    sidecar.write_text(json.dumps(raw))
    row = _batch(folder, out, client).iloc[0]
    assert row["status"] == "ok" and row["corrected"] == "False"
    assert row["count"] == row["count_auto"]
    assert row["review_status"] == "stale" and row["needs_review"] == "True"
    assert "not linked to the result it corrects" in row["qc_reasons"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dej_length_um", 0.001, "dej_length_um is 0.001 µm; a corrected length must be at least"),
        ("length_basis", "surface", "length_basis is 'surface' but the result's is 'dej'"),
        ("surface_length_um", 1e6, "surface_length_um is 1e\\+06 µm against"),
    ],
)
def test_impossible_corrected_values_are_refused_naming_file_and_field(
    corrected_run: tuple[Path, Path, int],
    client: object,
    tmp_path: Path,
    field: str,
    value: object,
    message: str,
) -> None:
    folder, out, _ = _copy(corrected_run, tmp_path)
    sidecar = correction_path(out / "leg_1.json")
    raw = json.loads(sidecar.read_text())
    raw[field] = value
    sidecar.write_text(json.dumps(raw))
    table = _batch(folder, out, client)
    row = table.iloc[0]
    assert row["status"] == "error"
    assert str(sidecar) in row["error"]
    assert pd.Series(row["error"]).str.contains(message).all(), row["error"]
    # an error row carries no numbers
    for column in ("count", "count_auto", "dej_length_um", "surface_length_um", "density_per_mm"):
        assert row[column] == "", (column, row[column])
    assert json.loads((out / "run.json").read_text())["n_failed"] == 1
