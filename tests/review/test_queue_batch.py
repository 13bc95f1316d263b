"""The review queue over a folder written by ``ienfd batch``: clean and flagged sections."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ienfd.cli import main
from ienfd.io import write_section_tiff
from ienfd.review import build_queue, read_result, section_uncertainty
from ienfd.synthetic import generate_section, random_spec

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


@pytest.fixture(scope="module")
def batch_folder(tmp_path_factory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("queue")
    images = root / "images"
    images.mkdir()
    for name in ("brightfield_sg.ome.tif", "fluorescence.ome.tif", "brightfield_dab_rot42.tif"):
        shutil.copy(SAMPLES / name, images / name)
    # Flagged: a fluorescence section without fibres ("no fibre counted"), and a
    # stress-appearance bright-field section whose junction lies above fibres that
    # stop just below it (count 0 against 2 true).
    empty = generate_section(random_spec(4, modality="fluorescence", density_per_mm=0.0,
                                         length_um=400, pixel_size_um=0.6))  # fmt: skip
    write_section_tiff(images / "zero.ome.tif", empty.image, pixel_size_um=0.6, kind="ome",
                       channel_names=empty.channel_names)  # fmt: skip
    stress = generate_section(random_spec(73001, appearance="stress", modality="brightfield",
                                          length_um=500, pixel_size_um=0.6))  # fmt: skip
    write_section_tiff(images / "stress.ome.tif", stress.image, pixel_size_um=0.6, kind="ome")
    out = root / "out"
    code = main(["batch", str(images), "--out", str(out), "--workers", "1", "--no-overlay", "-q"])
    assert code == 0
    return out


def test_flagged_sections_head_the_queue_with_the_results_own_reasons(batch_folder) -> None:  # type: ignore[no-untyped-def]
    queue = build_queue(batch_folder)
    records = {e.stem: read_result(e.result_json) for e in queue}
    assert len(queue) == 5
    flagged = [e for e in queue if e.needs_review]
    assert {e.stem for e in flagged} >= {"zero", "stress"}
    assert {e.stem for e in flagged} == {s for s, r in records.items() if r["needs_review"]}
    assert queue[: len(flagged)] == flagged  # every section that needs review first
    for entry in queue:
        record = records[entry.stem]
        # The reasons shown are the result's own words, as written by ienfd batch.
        assert entry.qc_reasons == record["qc_reasons"]
        assert entry.reasons[: len(record["qc_reasons"])] == record["qc_reasons"]
        assert (entry.uncertainty, entry.doubts) == section_uncertainty(record)
        tooltip = entry.explain().splitlines()
        if entry.needs_review:
            assert tooltip[:-1] == [f"needs review: {r}" for r in record["qc_reasons"]]
            assert f"REVIEW: {record['qc_reasons'][0]}" in entry.describe()
        else:
            assert len(tooltip) == 1 and "REVIEW" not in entry.describe()
        assert tooltip[-1].startswith(f"doubtful calls (u={entry.uncertainty:.2f})")
    zero = next(e for e in queue if e.stem == "zero")
    assert zero.qc_reasons[0].startswith("no fibre counted")
    # Within each part, the least certain first.
    for part in (flagged, queue[len(flagged) :]):
        scores = [e.uncertainty for e in part]
        assert scores == sorted(scores, reverse=True)
