"""``ienfd analyze IMAGE --junction FILE`` and the batch manifest's ``junction`` column."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ienfd.workflow import (
    BatchInputError,
    InputPlan,
    collect_inputs,
    default_pipeline,
    job_key,
    plan_jobs,
)

from ._run import run_ienfd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_images" / "brightfield_sg.ome.tif"
TRUTH = ROOT / "sample_images" / "brightfield_sg.truth.json"


def _geojson(path: Path, *lines: tuple[str, Any]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"classification": {"name": name}},
            "geometry": {
                "type": "LineString",
                "coordinates": np.asarray(line, dtype=float)[:, ::-1].tolist(),
            },
        }
        for name, line in lines
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return json.loads(TRUTH.read_text())


def test_analyze_counts_across_the_given_junction(tmp_path: Path, truth: dict[str, Any]) -> None:
    drawn = _geojson(tmp_path / "sg.geojson", ("DEJ", truth["dej"]), ("Surface", truth["surface"]))
    done = run_ienfd("analyze", SAMPLE, "--out", tmp_path / "out", "--junction", drawn)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "out" / "brightfield_sg.json").read_text())
    assert record["junction_method"] == "given"
    assert record["junction_file"] == str(drawn)
    assert len(record["junction_source"]) == 64
    assert abs(record["count"] - truth["count"]) <= 1
    # The drawn DEJ is the DEJ measured.
    assert record["dej_length_um"] == pytest.approx(truth["dej_length_um"], rel=0.01)
    assert (tmp_path / "out" / "brightfield_sg.overlay.png").exists()


def test_analyze_refuses_junction_misuse(tmp_path: Path, truth: dict[str, Any]) -> None:
    drawn = _geojson(tmp_path / "sg.geojson", ("DEJ", truth["dej"]))
    two = run_ienfd("analyze", SAMPLE, SAMPLE, "--out", tmp_path, "--junction", drawn)
    assert two.returncode == 2 and "belongs to one image; 2 were given" in two.stderr
    both = run_ienfd("analyze", SAMPLE, "--out", tmp_path, "--junction", drawn, "--consistency")
    assert both.returncode == 2 and "with --junction there is none" in both.stderr
    missing = run_ienfd("analyze", SAMPLE, "--out", tmp_path, "--junction", tmp_path / "no.geojson")
    assert missing.returncode == 2 and "no.geojson: no such file" in missing.stderr


def test_a_bad_junction_file_is_an_error_naming_it(tmp_path: Path) -> None:
    drawn = tmp_path / "empty.geojson"
    drawn.write_text('{"type": "FeatureCollection", "features": []}')
    done = run_ienfd("analyze", SAMPLE, "--out", tmp_path / "out", "--junction", drawn)
    assert done.returncode == 1
    assert f"{drawn}: no feature classified DEJ" in done.stderr
    assert not (tmp_path / "out" / "brightfield_sg.json").exists()


def test_manifest_junction_column_is_read_checked_and_keyed(
    tmp_path: Path, truth: dict[str, Any]
) -> None:
    shutil.copy(SAMPLE, tmp_path / "a.ome.tif")
    _geojson(tmp_path / "a.geojson", ("DEJ", truth["dej"]))
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "image,patient_id,site,section,junction\n"
        "a.ome.tif,P1,distal_leg,1,a.geojson\n"
        "a.ome.tif,P1,distal_leg,2,\n"
    )
    rows = collect_inputs(str(manifest))
    assert rows[0].junction == str(tmp_path / "a.geojson")
    assert rows[1].junction is None
    plans = [InputPlan(row, "0" * 64, 1) for row in rows]
    plan = plan_jobs(plans, tmp_path / "out", pipeline=default_pipeline())
    first, second = (s.job for s in plan.sections)
    assert first.junction == rows[0].junction and second.junction is None
    key = job_key("0" * 64, first)
    assert key != job_key("0" * 64, second)
    # Redrawing the junction makes the result stale.
    _geojson(tmp_path / "a.geojson", ("DEJ", np.asarray(truth["dej"]) + 2.0))
    assert job_key("0" * 64, first) != key

    manifest.write_text(
        "image,patient_id,site,section,junction\na.ome.tif,P1,distal_leg,1,gone.geojson\n"
    )
    with pytest.raises(BatchInputError, match=r"data row 1 .*column 'junction': no such file"):
        collect_inputs(str(manifest))
