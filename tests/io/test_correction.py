"""Correction sidecars: round trip, derived density, and refusal of inconsistent files."""

import json

import pytest

from ienfd.io import (
    CORRECTION_FORMAT,
    Correction,
    CorrectionError,
    CorrectionEvent,
    correction_path,
    read_correction,
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
