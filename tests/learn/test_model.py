"""Training from painted labels, the model file, and its safe and identical loading."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ienfd.learn import (
    MODEL_FORMAT,
    PixelModelError,
    TrainingSection,
    check_labels,
    read_pixel_model,
    train_pixel_model,
    write_pixel_model,
)
from tests.learn._painted import painted_crop


@pytest.fixture(scope="module")
def crop() -> tuple[np.ndarray, np.ndarray, dict]:
    return painted_crop()


@pytest.fixture(scope="module")
def model(crop: tuple[np.ndarray, np.ndarray, dict]):  # type: ignore[no-untyped-def]
    rgb, labels, entry = crop
    section = TrainingSection(rgb, labels, entry["pixel_size_um"], name="W0043340", sha256="ab")
    return train_pixel_model([section], lab="Test lab")


def test_training_records_what_it_was_trained_on(model, crop) -> None:  # type: ignore[no-untyped-def]
    _, labels, entry = crop
    meta = model.metadata
    assert meta["lab"] == "Test lab" and meta["created"] and meta["ienfd_version"]
    (record,) = meta["trained_on"]
    assert record["sha256"] == "ab" and record["pixel_size_um"] == entry["pixel_size_um"]
    assert record["labelled_pixels"]["epidermis"] == int(np.count_nonzero(labels == 2))
    assert record["labelled_pixels"]["dermis"] == int(np.count_nonzero(labels == 3))
    assert model.classes == (2, 3)  # no glass in view of this crop: none painted


def test_model_file_loads_identically_in_a_fresh_process(model, crop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rgb, _, entry = crop
    path = write_pixel_model(tmp_path / "lab.model.npz", model)
    here = model.predict_proba(rgb, spacing=entry["pixel_size_um"])
    np.save(tmp_path / "rgb.npy", rgb)
    code = (
        "import sys, numpy as np; from ienfd.learn import read_pixel_model;"
        f"m = read_pixel_model({str(path)!r});"
        f"rgb = np.load({str(tmp_path / 'rgb.npy')!r});"
        f"p = m.predict_proba(rgb, spacing={entry['pixel_size_um']});"
        f"np.save({str(tmp_path / 'there.npy')!r}, p);"
        "print('sklearn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    there = np.load(tmp_path / "there.npy")
    assert np.array_equal(here, there)  # bit for bit
    assert done.stdout.strip() == "False"  # prediction needs no scikit-learn
    assert read_pixel_model(path).metadata == json.loads(json.dumps(model.metadata))


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_a_pickled_object_is_refused_not_loaded(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arrays = dict(model.forest.arrays())
    arrays["header"] = np.array([{"format": MODEL_FORMAT}], dtype=object)
    bad = tmp_path / "evil.npz"
    bad.write_bytes(_npz(**arrays))
    with pytest.raises(PixelModelError, match=r"evil\.npz.*not a pixel model file"):
        read_pixel_model(bad)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("format", "format is 'other/1'"),
        ("drop", r"missing array\(s\) \['roots'\]"),
        ("zip", "not a pixel model file"),
        ("classes", "class codes"),
    ],
)
def test_bad_model_files_name_the_file(model, tmp_path: Path, change: str, match: str) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.npz"
    write_pixel_model(good, model)
    with np.load(good) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(str(arrays["header"]))
    if change == "format":
        header["format"] = "other/1"
    elif change == "classes":
        header["classes"] = [2, 9]
    arrays["header"] = np.array(json.dumps(header))
    if change == "drop":
        del arrays["roots"]
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip" if change == "zip" else _npz(**arrays))
    with pytest.raises(PixelModelError, match=match) as info:
        read_pixel_model(bad)
    assert str(bad) in str(info.value)
    assert not zipfile.is_zipfile(bad) or change != "zip"


@pytest.mark.parametrize(
    ("labels", "shape", "match"),
    [
        (np.zeros((4, 5), np.uint8), (4, 5), "nothing is painted"),
        (np.ones((4, 4), np.uint8), (4, 5), r"labels of shape \(4, 4\), the image is \(4, 5\)"),
        (np.full((4, 5), 9, np.uint8), (4, 5), "codes must be 0-6"),
        (np.ones((4, 5), np.float32), (4, 5), "integers 0-6"),
    ],
)
def test_bad_labels(labels: np.ndarray, shape: tuple[int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_labels(labels, shape, "x_labels.tif")


def test_training_needs_epidermis_and_dermis(crop) -> None:  # type: ignore[no-untyped-def]
    rgb, labels, entry = crop
    no_dermis = np.where(labels == 3, 0, labels).astype(np.uint8)
    with pytest.raises(ValueError, match=r"W0043340: no stroke of dermis"):
        train_pixel_model([TrainingSection(rgb, no_dermis, entry["pixel_size_um"], "W0043340")])
