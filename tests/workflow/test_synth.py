"""Writing synthetic sections: files, names, kinds in turn, and refusals before any write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from ienfd.synthetic import generate_section, random_spec
from ienfd.workflow import write_synthetic_sections

SMALL = {"length_um": 150.0}


def test_sections_are_written_with_their_truth(tmp_path: Path) -> None:
    out = tmp_path / "new"
    written = list(
        write_synthetic_sections(
            out, 3, seed=5, kinds=["ome", "imagej"], stem="leg", overrides=SMALL
        )
    )
    assert [w.image_path.name for w in written] == [
        "leg_000.ome.tif",
        "leg_001.tif",
        "leg_002.ome.tif",
    ]
    assert [w.kind for w in written] == ["ome", "imagej", "ome"]
    for w in written:
        truth = json.loads(w.truth_path.read_text(encoding="utf-8"))
        assert truth == json.loads(json.dumps(w.truth))
        assert truth["image"] == w.image_path.name and truth["kind"] == w.kind
        assert truth["count"] == len(truth["crossings"])
    with tifffile.TiffFile(written[1].image_path) as tif:
        assert tif.is_imagej


def test_the_same_seed_gives_the_same_sections_as_drawn_directly(tmp_path: Path) -> None:
    (w,) = write_synthetic_sections(tmp_path, 1, seed=9, stem="one", overrides=SMALL)
    assert w.image_path.name == "one.ome.tif"
    spec = random_spec(np.random.default_rng(9), **SMALL)
    assert w.spec == spec
    assert np.array_equal(tifffile.imread(w.image_path), generate_section(spec).image)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n": 0}, "n = 0"),
        ({"kinds": ["png"]}, "kinds"),
        ({"kinds": []}, "kinds"),
        ({"overrides": {"pixel_size_um": 5.0}}, "pixel_size_um"),
        ({"overrides": {"colour": "red"}}, "colour"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, kw: dict[str, object], match: str
) -> None:
    out = tmp_path / "never"
    with pytest.raises((ValueError, TypeError), match=match):
        write_synthetic_sections(out, **kw)  # type: ignore[arg-type]
    assert not out.exists()
