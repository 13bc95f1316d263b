"""``ienfd train`` and ``--pipeline``: painted labels in, a lab pipeline out, used by analyze."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tests.cli._run import run_ienfd
from tests.learn._painted import CROP, painted_crop

PX = "0.696"  # the crop's estimated pixel size (tests/data/real_skin/README.md)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipeline trained by the command line on the painted real-tissue crop."""
    folder = tmp_path_factory.mktemp("teach")
    _, labels, _ = painted_crop()
    tifffile.imwrite(folder / "crop_labels.tif", labels)
    done = run_ienfd(
        "train", CROP, folder / "crop_labels.tif", "--out", folder / "lab.json",
        "--pixel-size", PX, "--lab", "Test lab",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "% painted (epidermis" in done.stdout and "learnt: epidermis, dermis" in done.stdout
    return folder / "lab.json"


def test_train_writes_a_pipeline_naming_its_model(trained: Path) -> None:
    data = json.loads(trained.read_text(encoding="utf-8"))
    assert data["format"] == "ienfd-pipeline/1" and data["modality"] == "brightfield"
    ref = data["pixel_model"]
    assert ref["file"] == "lab.model.npz" and ref["lab"] == "Test lab"
    (section,) = ref["trained_on"]
    assert section["name"] == CROP.name and len(section["sha256"]) == 64
    assert 0 < section["labelled_fraction"] < 0.02
    assert "NOT VALIDATED" in data["validated_on"]


def test_analyze_with_the_pipeline_counts_across_the_models_junction(
    trained: Path, tmp_path: Path
) -> None:
    done = run_ienfd("analyze", CROP, "--pixel-size", PX, "--out", tmp_path, "--no-overlay",
                     "--pipeline", trained)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / f"{CROP.stem}.json").read_text(encoding="utf-8"))
    assert record["junction_method"] == "model"
    model_sha = json.loads(trained.read_text(encoding="utf-8"))["pixel_model"]["sha256"]
    assert record["junction_source"] == f"pixel model {model_sha}"
    assert record["dej_length_um"] > 300  # the junction runs across the crop (522 µm wide)
    assert "model_confidence" in record["qc"]


@pytest.mark.slow
def test_batch_with_the_pipeline(trained: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(CROP, inputs / CROP.name)
    done = run_ienfd("batch", inputs, "--out", tmp_path / "out", "--pipeline", trained,
                     "--pixel-size", PX, "--workers", "1", "--no-overlay")  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "out" / f"{CROP.stem}.json").read_text(encoding="utf-8"))
    assert record["junction_method"] == "model"
    assert record["pipeline"]["pixel_model"]["file"] == "lab.model.npz"


@pytest.mark.parametrize("damage", ["changed", "missing"])
def test_a_changed_or_missing_model_is_refused(trained: Path, tmp_path: Path, damage: str) -> None:
    copy = tmp_path / "lab.json"
    shutil.copy(trained, copy)
    if damage == "changed":
        (tmp_path / "lab.model.npz").write_bytes(
            (trained.parent / "lab.model.npz").read_bytes() + b"\0"
        )
    done = run_ienfd("analyze", CROP, "--pixel-size", PX, "--out", tmp_path / "out",
                     "--pipeline", copy)  # fmt: skip
    assert done.returncode == 2
    assert str(copy) in done.stderr and "lab.model.npz" in done.stderr
    assert ("has sha256" if damage == "changed" else "does not exist") in done.stderr
    assert not (tmp_path / "out" / f"{CROP.stem}.json").exists()


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("odd", "expected IMAGE LABELS pairs"),
        ("shape", "labels of shape (10, 10), the image is (375, 750)"),
        ("empty", "nothing is painted"),
        ("no_dermis", "no stroke of dermis"),
        ("not_tiff", "not a label TIFF"),
        ("codes", "label codes must be 0-6"),
    ],
)
def test_bad_training_inputs(tmp_path: Path, case: str, match: str) -> None:
    _, labels, _ = painted_crop()
    path = tmp_path / "labels.tif"
    if case == "shape":
        tifffile.imwrite(path, np.ones((10, 10), np.uint8))
    elif case == "empty":
        tifffile.imwrite(path, np.zeros_like(labels))
    elif case == "no_dermis":
        tifffile.imwrite(path, np.where(labels == 3, 0, labels).astype(np.uint8))
    elif case == "not_tiff":
        path.write_text("not an image")
    elif case == "codes":
        tifffile.imwrite(path, np.where(labels == 3, 7, labels).astype(np.uint8))
    else:
        tifffile.imwrite(path, labels)
    pairs = [CROP] if case == "odd" else [CROP, path]
    done = run_ienfd("train", *pairs, "--out", tmp_path / "lab.json", "--pixel-size", PX)
    assert done.returncode == 2
    assert match in done.stderr
    if case != "odd":
        assert str(path) in done.stderr or CROP.name in done.stderr
    assert not (tmp_path / "lab.json").exists()
