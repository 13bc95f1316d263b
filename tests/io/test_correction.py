"""Correction sidecars: round trip, derived density, and refusal of inconsistent files."""

import json
import re

import pytest

from ienfd.io import (
    CORRECTION_FORMAT,
    Correction,
    CorrectionError,
    CorrectionEvent,
    bind_correction,
    check_plausible,
    correction_path,
    correction_problem,
    read_correction,
    result_key,
    write_correction,
)


def _correction(**changes):
    values = dict(
        image="slides/leg_1.ome.tif",
        auto_count=3,
        final_count=2,
        pixel_size_um=0.5,
        length_basis="dej",
        dej_length_um=800.0,
        surface_length_um=760.0,
        user="tech1",
        saved_at="2026-11-21T10:00:00+00:00",
        status="accepted",
        crossings=[
            {"row": 10.0, "col": 20.0, "source": "auto"},
            {"row": 11.5, "col": 90.0, "source": "manual"},
        ],
        dej=[[0.0, 0.0], [0.0, 1600.0]],
        surface=[[-100.0, 0.0], [-100.0, 1520.0]],
        events=[
            CorrectionEvent("2026-11-21T09:59:00+00:00", "tech1", "remove_fibre", 50.0, 60.0),
            CorrectionEvent("2026-11-21T09:59:30+00:00", "tech1", "remove_fibre", 51.0, 70.0),
            CorrectionEvent("2026-11-21T09:59:40+00:00", "tech1", "add_fibre", 11.5, 90.0),
        ],
    )
    values.update(changes)
    return Correction(**values)


def test_round_trip_keeps_every_field_and_derives_density(tmp_path):
    c = _correction()
    path = write_correction(tmp_path / "leg_1.correction.json", c)
    raw = json.loads(path.read_text())
    assert raw["format"] == CORRECTION_FORMAT
    assert raw["density_per_mm"] == pytest.approx(2 / 0.8)
    back = read_correction(path)
    assert back == c
    assert back.events[2].action == "add_fibre"
    assert _correction(length_basis="surface").density_per_mm == pytest.approx(2 / 0.76)


def test_sidecar_path_sits_beside_the_result():
    assert correction_path("out/a.b.json").as_posix() == "out/a.b.correction.json"
    with pytest.raises(ValueError, match="already a correction sidecar"):
        correction_path("out/a.correction.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"final_count": 3}, "final_count is 3 but 2 crossings"),
        ({"status": "done"}, "status 'done' is not one of"),
        ({"dej_length_um": 0.0}, "dej_length_um must be finite and > 0"),
        ({"auto_count": -1}, "auto_count must be a whole number"),
        ({"events": [CorrectionEvent("t", "u", "delete_all")]}, "action 'delete_all'"),
        (
            {"crossings": [{"row": 1, "col": 2, "source": "ai"}] * 2},
            r"crossings\[0\] source 'ai'",
        ),
    ],
)
def test_inconsistent_corrections_are_refused_and_nothing_is_written(tmp_path, changes, message):
    target = tmp_path / "x.correction.json"
    with pytest.raises(CorrectionError, match=message):
        write_correction(target, _correction(**changes))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "other/9"}', "format is 'other/9'"),
        (json.dumps({"format": CORRECTION_FORMAT, "image": "a"}), "wrong keys"),
    ],
)
def test_bad_sidecar_files_name_the_file_and_reason(tmp_path, text, message):
    path = tmp_path / "bad.correction.json"
    path.write_text(text)
    with pytest.raises(CorrectionError, match=message) as info:
        read_correction(path)
    assert str(path) in str(info.value)


def test_junction_pieces_round_trip_and_older_files_without_them_still_read(tmp_path):
    pieces = [[[0.0, 0.0], [0.0, 800.0]], [[5.0, 900.0], [5.0, 1700.0]]]
    c = _correction(dej=pieces[0], dej_pieces=pieces, surface_pieces=[[[-1.0, 0.0], [-1.0, 9.0]]])
    path = write_correction(tmp_path / "p.correction.json", c)
    assert read_correction(path).dej_pieces == pieces
    raw = json.loads(path.read_text())
    del raw["dej_pieces"], raw["surface_pieces"]  # a file written before the pieces existed
    path.write_text(json.dumps(raw))
    old = read_correction(path)
    assert old.dej_pieces == [] and old.dej == pieces[0]


# -- bound to the result it corrects ----------------------------------------------------

RESULT = {
    "image": "slides/leg_1.ome.tif",
    "input_sha256": "ab" * 32,
    "count": 3,
    "pixel_size_um": 0.5,
    "modality": "brightfield",
    "length_basis": "dej",
    "dej_length_um": 780.0,
    "surface_length_um": 750.0,
    "crossings": [{"row": 10.0, "col": 20.0}, {"row": 50.0, "col": 60.0}, {"row": 51, "col": 70}],
    "parameters": {"min_fibre_length_um": 5.0},
    "reader_options": {"pixel_size_um": None},
    "region": None,
    "ienfd_version": "0.1.0",
    "elapsed_s": 1.2,
    "overlay": "leg_1.overlay.png",
}


def test_format_is_versioned_and_the_link_round_trips(tmp_path):
    assert CORRECTION_FORMAT == "ienfd-correction/2"
    c = bind_correction(_correction(), RESULT)
    assert c.bound and c.input_sha256 == RESULT["input_sha256"]
    assert c.result_key == result_key(RESULT) and c.ienfd_version == "0.1.0"
    path = write_correction(tmp_path / "leg_1.correction.json", c, result=RESULT)
    raw = json.loads(path.read_text())
    assert raw["format"] == "ienfd-correction/2" and raw["result_key"] == result_key(RESULT)
    back = read_correction(path)
    assert back == c and correction_problem(back, RESULT) is None


def test_the_key_ignores_run_time_and_overlay_but_not_the_analysis():
    assert result_key(RESULT) == result_key({**RESULT, "elapsed_s": 99.0, "overlay": None})
    for key, value in (
        ("pixel_size_um", 0.25),
        ("parameters", {"min_fibre_length_um": 8.0}),
        ("reader_options", {"pixel_size_um": 0.25}),
        ("region", {"row0": 0, "row1": 10, "col0": 0, "col1": 10, "index": 1}),
        ("dej_length_um", 781.0),
        ("scene", 1),
    ):
        assert result_key(RESULT) != result_key({**RESULT, key: value}), key


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"image": "slides/leg_2.ome.tif"},
            r"different image \('slides/leg_1.ome.tif', the",
        ),
        ({"input_sha256": "cd" * 32}, r"different image \(sha256 abababababab\.\.\. then, cdcd"),
        (
            {"count": 4, "crossings": [*RESULT["crossings"], {"row": 1, "col": 1}]},
            r"different analysis \(automatic count 3 then, 4 now\)",
        ),
        ({"ienfd_version": "0.2.0"}, r"different analysis \(ienfd 0.1.0 then, 0.2.0 now\)"),
        ({"pixel_size_um": 0.6}, "different analysis .parameters, reader options, region, pixel"),
        ({"parameters": {"min_fibre_length_um": 9.0}}, "different analysis"),
    ],
)
def test_a_correction_does_not_apply_to_another_image_or_analysis(tmp_path, changes, reason):
    c = bind_correction(_correction(), RESULT)
    other = {**RESULT, **changes}
    problem = correction_problem(c, other)
    assert problem is not None and problem.endswith("; review again")
    assert re.search(reason, problem), problem
    with pytest.raises(CorrectionError, match="review again"):
        write_correction(tmp_path / "x.correction.json", c, result=other)
    assert list(tmp_path.iterdir()) == []


def test_a_format_1_sidecar_reads_as_unbound_and_applies_to_nothing(tmp_path):
    raw = _correction().to_dict()
    raw["format"] = "ienfd-correction/1"
    for key in ("input_sha256", "result_key", "ienfd_version"):
        del raw[key]
    path = tmp_path / "old.correction.json"
    path.write_text(json.dumps(raw))
    old = read_correction(path)
    assert not old.bound and old.final_count == 2
    assert correction_problem(old, RESULT) == (
        "correction not linked to the result it corrects (made by an older ienfd); review again"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"dej_length_um": 0.001},
            r"dej_length_um is 0.001 µm; a corrected length must be at least 10",
        ),
        ({"surface_length_um": 99.0}, "surface_length_um is 99.0 µm"),
        ({"length_basis": "surface"}, "length_basis is 'surface' but the result's is 'dej'"),
        ({"dej_length_um": 2500.0}, r"dej_length_um is 2500 µm against 780 µm found automatically"),
        ({"surface_length_um": 240.0}, r"surface_length_um is 240 µm against 750 µm"),
        ({"pixel_size_um": 0.25}, "pixel_size_um is 0.25 but the result's is 0.5"),
    ],
)
def test_impossible_corrected_values_are_refused_naming_file_and_field(tmp_path, changes, message):
    c = bind_correction(_correction(**changes), RESULT)
    target = tmp_path / "x.correction.json"
    if "length_basis" not in changes:  # a reviewer may save the other basis; read, it is refused
        with pytest.raises(CorrectionError, match=message) as info:
            write_correction(target, c, result=RESULT)
        assert str(target) in str(info.value)
        assert list(tmp_path.iterdir()) == []
    # the same values edited into a file are refused when read against the result
    good = write_correction(target, bind_correction(_correction(), RESULT), result=RESULT)
    raw = json.loads(good.read_text())
    raw.update(changes)
    good.write_text(json.dumps(raw))
    with pytest.raises(CorrectionError, match=message) as info:
        check_plausible(read_correction(good), RESULT, good)
    assert str(good) in str(info.value)
