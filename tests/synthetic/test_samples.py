"""The committed sample images still match their truth and the current generator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ienfd.synthetic import GENERATOR_VERSION, SectionSpec, generate_section

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"
TRUTHS = sorted(SAMPLES.glob("*.truth.json"))


def test_four_samples() -> None:
    assert len(TRUTHS) == 4


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: p.name)
def test_sample_matches_truth_and_generator(truth_path: Path) -> None:
    truth = json.loads(truth_path.read_text())
    assert truth["generator_version"] == GENERATOR_VERSION
    image_path = SAMPLES / truth["image"]
    assert image_path.stat().st_size < 3.2e6
    with tifffile.TiffFile(image_path) as tif:
        image = tif.series[0].asarray()
    plane = image.shape[:2] if truth["modality"] == "brightfield" else image.shape[1:]
    assert list(plane) == truth["shape"]
    again = generate_section(SectionSpec(**truth["spec"]))
    assert again.truth["count"] == truth["count"] == len(truth["crossings"])
    got = [[c["row"], c["col"]] for c in again.truth["crossings"]]
    want = [[c["row"], c["col"]] for c in truth["crossings"]]
    np.testing.assert_allclose(got, want, atol=1e-6)
    # pixels agree up to last-bit floating-point differences between platforms
    assert np.mean(again.image != image) < 1e-3
