"""Pure review logic: live measurement, audit trail and sidecar, queue order, export."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from ienfd.io import (
    UNCHECKED_REASON,
    CorrectionError,
    correction_problem,
    read_correction,
    write_json,
)
from ienfd.review import (
    ReviewSession,
    build_queue,
    export_csv,
    export_geojson,
    find_image,
    measure_section,
    polylines_length_px,
    read_result,
    section_uncertainty,
    to_geojson,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


def _record(**changes):
    record = {
        "image": "images/leg.tif",
        "modality": "brightfield",
        "pixel_size_um": 0.5,
        "count": 2,
        "crossings": [{"row": 10.0, "col": 100.0}, {"row": 12.0, "col": 300.0}],
        "dej_length_um": 500.0,
        "surface_length_um": 450.0,
        "density_per_mm": 4.0,
        "length_basis": "dej",
        "fragments": [],
        "short_fibres": [],
        "dej": [[[10.0, 0.0], [10.0, 1000.0]]],
        "surface": [[[0.0, 0.0], [0.0, 900.0]]],
        "warnings": [],
        "needs_review": False,
        "qc_reasons": [],
        "qc": {},
    }
    record.update(changes)
    return record


def test_measure_matches_the_core_definitions():
    dej = [np.array([[0.0, 0.0], [0.0, 1000.0]]), np.array([[5.0, 0.0], [5.0, 1000.0]])]
    m = measure_section(7, dej, [np.array([[0.0, 0.0], [30.0, 40.0]])], pixel_size_um=0.5)
    assert m.dej_length_um == pytest.approx(1000.0)
    assert m.surface_length_um == pytest.approx(25.0)
    assert m.density_per_mm == pytest.approx(7.0)
    surface_basis = measure_section(1, dej, [np.array([[0, 0], [0, 2000]])], pixel_size_um=0.5,
                                    length_basis="surface")  # fmt: skip
    assert surface_basis.density_per_mm == pytest.approx(1.0)
    assert math.isnan(measure_section(3, [], [], pixel_size_um=0.5).density_per_mm)
    assert polylines_length_px([np.array([[1.0, 1.0]])]) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": -1}, "count must be >= 0"),
        ({"pixel_size_um": 0.0}, "pixel_size_um must be finite"),
        ({"length_basis": "epidermis"}, "length_basis must be"),
    ],
)
def test_measure_refuses_bad_arguments(kwargs, message):
    args = {"count": 1, "pixel_size_um": 0.5, "length_basis": "dej"} | kwargs
    with pytest.raises(ValueError, match=message):
        measure_section(args.pop("count"), [], [], **args)


def test_session_audits_point_changes_and_saves_a_checked_sidecar(tmp_path):
    result = tmp_path / "leg.json"
    write_json(result, _record())
    session = ReviewSession.open(result, user="tech1")
    points, sources = session.initial_fibres()
    assert sources == ["auto", "auto"]
    added = np.vstack([points, [[11.0, 600.0]]])
    events = session.log_point_changes(points, added)
    assert [(e.action, e.row, e.col, e.user) for e in events] == [
        ("add_fibre", 11.0, 600.0, "tech1")
    ]
    final = added[1:]  # the first automatic fibre removed
    assert [e.action for e in session.log_point_changes(added, final)] == ["remove_fibre"]
    moved = final + [[0.0, 1.0], [0.0, 0.0]]
    assert [(e.action, e.detail) for e in session.log_point_changes(final, moved)] == [
        ("remove_fibre", "moved"),
        ("add_fibre", "moved"),
    ]
    dej = [np.array([[10.0, 0.0], [10.0, 1200.0]])]
    session.log("edit_dej", detail="longer")
    session.set_status("accepted")
    path = session.save(moved, ["auto", "manual"], dej, session.initial_surface())
    saved = read_correction(path)
    assert path == tmp_path / "leg.correction.json"
    assert (saved.auto_count, saved.final_count, saved.status) == (2, 2, "accepted")
    assert saved.dej_length_um == pytest.approx(600.0)
    assert saved.density_per_mm == pytest.approx(2 / 0.6)
    assert [e.action for e in saved.events] == [
        "add_fibre", "remove_fibre", "remove_fibre", "add_fibre", "edit_dej", "accept",
    ]  # fmt: skip
    reopened = ReviewSession.open(result, user="tech2")
    assert reopened.status == "accepted"
    np.testing.assert_allclose(reopened.initial_fibres()[0], moved)
    assert reopened.initial_fibres()[1] == ["auto", "manual"]
    np.testing.assert_allclose(reopened.initial_dej()[0], dej[0])
    reopened.log("add_fibre", row=1, col=2)
    assert reopened.status == "in_review"  # an edit reopens an accepted section


def test_a_state_without_junction_is_not_saved(tmp_path):
    result = tmp_path / "leg.json"
    write_json(result, _record())
    session = ReviewSession.open(result)
    with pytest.raises(CorrectionError, match="dej_length_um must be finite and > 0"):
        session.save(np.empty((0, 2)), [], [], session.initial_surface())
    assert not session.sidecar_path.exists()


def test_read_result_and_find_image_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"image": "x"}')
    with pytest.raises(ValueError, match=r"bad\.json: not an ienfd result \(missing keys"):
        read_result(bad)
    (tmp_path / "images").mkdir()
    image = tmp_path / "images" / "leg.tif"
    image.write_bytes(b"")
    result = tmp_path / "out" / "leg.json"
    result.parent.mkdir()
    assert find_image(_record(), result) == tmp_path / "images" / "leg.tif"
    with pytest.raises(FileNotFoundError, match=r"leg\.json: image 'nowhere/a\.tif' not found"):
        find_image(_record(image="nowhere/a.tif"), result)


def test_uncertainty_counts_doubtful_calls_per_fibre():
    near = {"row": 14.0, "col": 500.0}  # 2 µm from the DEJ (row 10, 0.5 µm pixels)
    far = {"row": 200.0, "col": 500.0}
    score, reasons = section_uncertainty(_record(fragments=[near, far]))
    assert score == pytest.approx(1 / 3, abs=1e-4) and reasons == ["1 fragment(s) near the DEJ"]
    score, _ = section_uncertainty(_record(short_fibres=[far, far], warnings=["weak"]))
    assert score == pytest.approx((2 + 2) / 3, abs=1e-4)
    assert section_uncertainty(_record())[0] == 0.0


def test_queue_puts_the_least_certain_first_and_reviewed_last(tmp_path):
    write_json(tmp_path / "a.json", _record())
    write_json(tmp_path / "b.json", _record(warnings=["membrane too weak"]))
    write_json(tmp_path / "c.json", _record(short_fibres=[{"row": 0.0, "col": 0.0}]))
    write_json(tmp_path / "summary.json", {"n": 3})  # not a result: skipped
    write_json(tmp_path / "d.json", _record(warnings=["x", "y"]))
    session = ReviewSession.open(tmp_path / "d.json")
    session.set_status("flagged")
    session.save(*session.initial_fibres(), session.initial_dej(), session.initial_surface())
    queue = build_queue(tmp_path)
    assert [e.stem for e in queue] == ["b", "c", "a", "d"]
    assert [e.status for e in queue] == ["new", "new", "new", "flagged"]
    assert queue[-1].final_count == 2
    with pytest.raises(NotADirectoryError, match="not a folder"):
        build_queue(tmp_path / "a.json")


def test_geojson_is_a_qupath_feature_collection_with_um_and_pixels(tmp_path):
    pts = np.array([[10.0, 20.0], [30.0, 40.0]])
    dej = [np.array([[0.0, 0.0], [0.0, 100.0]])]
    fc = to_geojson(pts, ["auto", "manual"], dej, [], pixel_size_um=0.5,
                    fragments=np.array([[5.0, 5.0]]))  # fmt: skip
    assert fc["type"] == "FeatureCollection"
    kinds = [f["properties"]["classification"]["name"] for f in fc["features"]]
    assert kinds == ["IENF crossing", "IENF crossing", "IENF fragment (not counted)", "DEJ"]
    first = fc["features"][1]
    assert first["properties"]["objectType"] == "annotation"
    assert first["geometry"] == {"type": "Point", "coordinates": [40.5, 30.5]}
    assert (first["properties"]["row_um"], first["properties"]["col_um"]) == (15.0, 20.0)
    assert first["properties"]["source"] == "manual"
    line = fc["features"][-1]
    assert line["geometry"]["coordinates"] == [[0.5, 0.5], [100.5, 0.5]]
    assert line["properties"]["measurements"]["length_um"] == 50.0
    path = export_geojson(tmp_path / "s.geojson", pts, ["auto", "manual"], dej, [],
                          pixel_size_um=0.5)  # fmt: skip
    assert json.loads(path.read_text())["features"][0]["properties"]["row_px"] == 10.0


def test_csv_lists_every_point_in_pixels_and_um(tmp_path):
    path = export_csv(tmp_path / "s.csv", np.array([[10.0, 20.0]]), ["manual"],
                      [np.array([[0.0, 0.0], [0.0, 4.0]])], [], pixel_size_um=0.5)  # fmt: skip
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["kind"] for r in rows] == ["fibre", "dej", "dej"]
    assert rows[0] | {} == {
        "kind": "fibre", "piece": "0", "index": "0", "source": "manual",
        "row_px": "10.00", "col_px": "20.00", "row_um": "5.000", "col_um": "10.000",
    }  # fmt: skip


def test_queue_over_real_analyze_output(tmp_path):
    from ienfd.workflow import SectionJob, image_stem, run_section

    for name in ("brightfield_sg.ome.tif", "fluorescence.ome.tif"):
        shutil.copy(SAMPLES / name, tmp_path / name)
        run_section(SectionJob(image=name, path=str(tmp_path / name), out_dir=str(tmp_path),
                               stem=image_stem(name), overlay=False))  # fmt: skip
    queue = build_queue(tmp_path)
    assert len(queue) == 2
    scores = [section_uncertainty(read_result(e.result_json))[0] for e in queue]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert find_image(read_result(queue[0].result_json), queue[0].result_json).is_file()


def _review(**changes):
    return _record(needs_review=True, **changes)


def test_sections_that_need_review_head_the_queue_with_their_reasons_first(tmp_path):
    write_json(tmp_path / "a.json", _record(short_fibres=[{"row": 0.0, "col": 0.0}] * 5))
    write_json(tmp_path / "b.json", _review(qc_reasons=["no fibre counted"], count=0,
                                            crossings=[]))  # fmt: skip
    write_json(tmp_path / "c.json", _record(warnings=["w"] * 3))
    old = _record()
    for key in ("needs_review", "qc_reasons", "qc"):
        del old[key]  # written by an ienfd without quality checks
    write_json(tmp_path / "d.json", old)
    write_json(tmp_path / "e.json", _review(qc_reasons=["epidermis too thin", "x"],
                                            short_fibres=[{"row": 0.0, "col": 0.0}]))  # fmt: skip
    queue = build_queue(tmp_path)
    # needs review before anything else, however unsure the others are (c: u=2.0, a: u=1.67,
    # e: 0.33, b and d: 0); then the least certain first
    assert [e.stem for e in queue] == ["e", "b", "d", "c", "a"]
    assert [e.needs_review for e in queue] == [True, True, True, False, False]
    assert queue[0].reasons == ["epidermis too thin", "x", "1 short fibre(s)"]
    assert queue[0].describe().endswith("REVIEW: epidermis too thin (+1 more)")
    assert queue[2].qc_reasons == [UNCHECKED_REASON]
    assert "REVIEW" not in queue[3].describe()
    # accepted: done, and no longer needs review (the reasons stay on record)
    session = ReviewSession.open(tmp_path / "e.json")
    session.set_status("accepted")
    session.save(*session.initial_fibres(), session.initial_dej(), session.initial_surface())
    queue = build_queue(tmp_path)
    assert [e.stem for e in queue] == ["b", "d", "c", "a", "e"]
    assert (queue[-1].needs_review, queue[-1].qc_reasons) == (False, ["epidermis too thin", "x"])
    # flagged by a reviewer: done for this reviewer, but it needs review
    session = ReviewSession.open(tmp_path / "c.json")
    session.set_status("flagged")
    session.save(*session.initial_fibres(), session.initial_dej(), session.initial_surface())
    queue = build_queue(tmp_path)
    assert [(e.stem, e.needs_review) for e in queue[-2:]] == [("c", True), ("e", False)]


def test_queue_docstring_examples_run():
    import doctest

    import ienfd.review._queue

    result = doctest.testmod(ienfd.review._queue)
    assert result.attempted > 0 and result.failed == 0


def test_a_real_section_without_fibres_heads_the_queue(tmp_path):
    from ienfd.io import write_section_tiff
    from ienfd.synthetic import generate_section, random_spec
    from ienfd.workflow import SectionJob, image_stem, run_section

    spec = random_spec(4, modality="fluorescence", density_per_mm=0.0, length_um=400,
                       pixel_size_um=0.6)  # fmt: skip
    empty = generate_section(spec)
    write_section_tiff(tmp_path / "zero.ome.tif", empty.image, pixel_size_um=0.6, kind="ome",
                       channel_names=empty.channel_names)  # fmt: skip
    for name in ("brightfield_sg.ome.tif", "fluorescence.ome.tif"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    for name in ("brightfield_sg.ome.tif", "fluorescence.ome.tif", "zero.ome.tif"):
        run_section(SectionJob(image=name, path=str(tmp_path / name), out_dir=str(tmp_path),
                               stem=image_stem(name), overlay=False))  # fmt: skip
    queue = build_queue(tmp_path)
    records = {e.stem: read_result(e.result_json) for e in queue}
    assert records["zero"]["count"] == 0 and records["zero"]["needs_review"] is True
    flagged = [e.stem for e in queue if e.needs_review]
    assert "zero" in flagged
    assert [e.stem for e in queue][: len(flagged)] == flagged  # all of them first
    zero = next(e for e in queue if e.stem == "zero")
    assert zero.qc_reasons == records["zero"]["qc_reasons"]
    assert zero.reasons[0].startswith("no fibre counted")


def _reviewed(tmp_path, record):
    write_json(tmp_path / "leg.json", record)
    session = ReviewSession.open(tmp_path / "leg.json", user="tech1")
    points, sources = session.initial_fibres()
    session.set_status("accepted")
    session.save(points[:1], sources[:1], session.initial_dej(), session.initial_surface())
    return session


def test_a_saved_correction_is_bound_to_the_result_under_review(tmp_path):
    record = _record(input_sha256="ab" * 32, ienfd_version="0.1.0")
    _reviewed(tmp_path, record)
    saved = read_correction(tmp_path / "leg.correction.json")
    assert saved.bound and saved.input_sha256 == "ab" * 32 and saved.ienfd_version == "0.1.0"
    assert correction_problem(saved, record) is None
    entry = build_queue(tmp_path)[0]
    assert (entry.status, entry.final_count, entry.needs_review) == ("accepted", 1, False)


def test_a_correction_of_a_replaced_image_is_reopened_with_its_old_edits(tmp_path):
    _reviewed(tmp_path, _record(input_sha256="ab" * 32))
    write_json(tmp_path / "leg.json", _record(input_sha256="cd" * 32, count=3,
               crossings=[{"row": 10.0, "col": float(c)} for c in (100, 300, 500)]))  # fmt: skip
    entry = build_queue(tmp_path)[0]
    assert entry.status == "stale" and entry.needs_review and entry.final_count is None
    assert entry.qc_reasons[0].startswith("correction made on a different image")
    assert "REVIEW: correction made on a different image" in entry.describe()
    session = ReviewSession.open(tmp_path / "leg.json")
    assert session.status == "in_review" and "review again" in (session.stale_reason or "")
    points, sources = session.initial_fibres()
    assert points.tolist() == [[10.0, 100.0]] and sources == ["auto"]  # the old edits


def test_saving_refuses_a_junction_redrawn_to_an_impossible_length(tmp_path):
    write_json(tmp_path / "leg.json", _record())
    session = ReviewSession.open(tmp_path / "leg.json")
    points, sources = session.initial_fibres()
    tiny = [np.array([[10.0, 0.0], [10.0, 100.0]])]  # 50 µm of DEJ against 500 found
    with pytest.raises(CorrectionError, match=r"dej_length_um is 50\.0 µm; a corrected length"):
        session.save(points, sources, tiny, session.initial_surface())
    huge = [np.array([[10.0, 0.0], [10.0, 4000.0]])]  # 2000 µm against 500
    with pytest.raises(CorrectionError, match="dej_length_um is 2000 µm against 500 µm"):
        session.save(points, sources, huge, session.initial_surface())
    assert not (tmp_path / "leg.correction.json").exists()
