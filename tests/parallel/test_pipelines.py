"""pipelines/*.json: each loads, holds every AnalysisParameters field, and can be refreshed."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ienfd.core import AnalysisParameters
from ienfd.workflow import PipelineError, read_pipeline, update_pipeline_file

PIPELINES = sorted((Path(__file__).parents[2] / "pipelines").glob("*.json"))
FIELDS = [f.name for f in dataclasses.fields(AnalysisParameters)]


def test_there_is_a_brightfield_and_a_fluorescence_pipeline() -> None:
    assert {read_pipeline(p).modality for p in PIPELINES} == {"brightfield", "fluorescence"}


@pytest.mark.parametrize("path", PIPELINES, ids=[p.name for p in PIPELINES])
def test_pipeline_file_holds_every_parameter_and_loads(path: Path) -> None:
    raw = json.loads(path.read_text())
    assert sorted(raw["parameters"]) == sorted(FIELDS), (
        f"{path.name} is out of date with AnalysisParameters: run `python pipelines/update.py`"
    )
    pipeline = read_pipeline(path)
    for key in ("name", "version", "description", "validated_on"):
        assert getattr(pipeline, key).strip()
    assert pipeline.length_basis in ("dej", "surface")
    assert pipeline.parameters.to_dict() == raw["parameters"]
    assert len(pipeline.sha256 or "") == 64
    assert pipeline.record()["parameters"] == raw["parameters"]


def test_missing_parameter_is_refused_and_update_restores_it(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    data = json.loads(PIPELINES[0].read_text())
    removed = FIELDS[0]
    kept = FIELDS[1]
    del data["parameters"][removed]
    data["parameters"][kept] = data["parameters"][kept] * 2  # a lab's own validated value
    data["parameters"]["retired_parameter"] = 1.0
    path.write_text(json.dumps(data))
    with pytest.raises(PipelineError, match=rf"p\.json: parameters lack \['{removed}'\]"):
        read_pipeline(path)
    changes = update_pipeline_file(path)
    assert any(removed in c and "added" in c for c in changes)
    assert any("retired_parameter" in c and "removed" in c for c in changes)
    refreshed = read_pipeline(path)
    assert getattr(refreshed.parameters, removed) == getattr(AnalysisParameters(), removed)
    assert refreshed.parameters.to_dict()[kept] == data["parameters"][kept]
    assert update_pipeline_file(path) == []
    changes = update_pipeline_file(path, defaults=True)
    assert (
        f"{kept}: {data['parameters'][kept]!r} -> {getattr(AnalysisParameters(), kept)!r} "
        "(the core's default)"
    ) in changes
    assert read_pipeline(path).parameters == AnalysisParameters()


def test_update_script_runs_on_a_copy(tmp_path: Path) -> None:
    copy = tmp_path / PIPELINES[0].name
    shutil.copy(PIPELINES[0], copy)
    script = Path(__file__).parents[2] / "pipelines" / "update.py"
    done = subprocess.run(
        [sys.executable, str(script), str(copy)], capture_output=True, text=True, check=True
    )
    assert "up to date" in done.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other/1"}, "format is 'other/1'"),
        ({"modality": "xray"}, "modality 'xray'"),
        ({"length_basis": "area"}, "length_basis 'area'"),
        ({"colour": "red"}, r"unknown key\(s\) \['colour'\]"),
    ],
)
def test_bad_pipeline_file_is_named(tmp_path: Path, change: dict[str, str], message: str) -> None:
    data = json.loads(PIPELINES[0].read_text())
    data.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PipelineError, match=message):
        read_pipeline(path)
