"""The fibre trace of a result read from disk, rebuilt from its image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ienfd.core import GivenJunction, recount_section
from ienfd.io import write_section_tiff
from ienfd.review import read_result_image, rebuild_trace
from ienfd.synthetic import SectionSpec, generate_section
from ienfd.workflow import SectionJob, run_section


@pytest.fixture(scope="module")
def written(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("trace")
    section = generate_section(SectionSpec(seed=3, length_um=500, pixel_size_um=0.6))
    image = folder / "s.ome.tif"
    write_section_tiff(image, section.image, pixel_size_um=0.6, kind="ome")
    job = SectionJob(image=str(image), path=str(image), out_dir=str(folder), stem="s",
                     overlay=False)  # fmt: skip
    run_section(job)
    return image, folder / "s.json"


def test_the_rebuilt_trace_counts_what_the_result_says(written) -> None:  # type: ignore[no-untyped-def]
    _, result_json = written
    record = json.loads(result_json.read_text())
    rebuilt = rebuild_trace(record, read_result_image(record, result_json))
    assert rebuilt.count == record["count"] > 0
    assert "with the result's parameters, its junction searched for again" in rebuilt.note
    dej = tuple(np.asarray(line, float) for line in record["dej"])
    surface = tuple(np.asarray(line, float) for line in record["surface"])
    again = recount_section(rebuilt.trace, GivenJunction(dej=dej, surface=surface))
    assert again.count == record["count"]
    assert len(again.fragments) == record["n_fragments"]


def test_a_drawn_junction_is_taken_from_the_result(written) -> None:  # type: ignore[no-untyped-def]
    _, result_json = written
    record = json.loads(result_json.read_text()) | {"junction_method": "given"}
    rebuilt = rebuild_trace(record, read_result_image(record, result_json))
    assert "around the result's DEJ and surface" in rebuilt.note
    assert abs(rebuilt.count - record["count"]) <= 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pixel_size_um": 0.5}, "0.6 µm pixels, the result 0.5 µm"),
        ({"image_shape": [10, 10]}, "the result's was \\[10, 10\\]"),
        ({"input_sha256": "0" * 64}, "has changed since the analysis"),
        ({"region": {"index": 1}}, "whole-slide image"),
    ],
)
def test_an_image_that_is_not_the_results_is_refused(written, change, message) -> None:  # type: ignore[no-untyped-def]
    _, result_json = written
    record = json.loads(result_json.read_text())
    image = read_result_image(record, result_json)
    with pytest.raises(ValueError, match=message):
        rebuild_trace(record | change, image)


def test_a_missing_image_is_named(written, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, result_json = written
    record = json.loads(result_json.read_text()) | {"image": str(tmp_path / "gone.ome.tif")}
    with pytest.raises(FileNotFoundError, match=r"gone\.ome\.tif"):
        read_result_image(record, tmp_path / "elsewhere" / "s.json")
