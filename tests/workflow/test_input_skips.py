"""Folder and glob input name every entry that looks like an image and is not one, with the
reason; nothing is left out silently. And the plan counts one image once."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from ienfd.workflow import BatchInputError, InputPlan, InputRow, collect_inputs, default_pipeline
from ienfd.workflow._inputs import SkippedInput, why_not_input
from ienfd.workflow._plan import mark_duplicates, plan_jobs


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    """One real image file among entries named like images that are not files."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    (d / "good.tif").write_bytes(b"II*\x00 any bytes: read later")
    os.symlink(d / "gone.tif", d / "dangling.tif")
    os.mkfifo(d / "pipe.tif")
    (d / "folder.tif").mkdir()  # a folder named like an image (no OME-Zarr)
    (d / "folder.tif" / "inner.png").write_bytes(b"\x89PNG any")
    (d / "elsewhere").mkdir()
    os.symlink(d / "elsewhere", d / "sub" / "linked")  # a link to a folder
    os.symlink(d / "good.tif", d / "sub" / "link_to_good.tif")  # a link to a file: an input
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(d / "sock.tif"))
    (d / "notes.txt").write_text("not named like an image: not listed")
    os.symlink(d / "nowhere", d / "dangling.txt")  # nor this one
    return d


def test_folder_input_names_what_it_skipped(odd_folder: Path) -> None:
    skipped: list[SkippedInput] = []
    rows = collect_inputs(str(odd_folder), on_skip=skipped.append)
    found = [Path(r.path).relative_to(odd_folder).as_posix() for r in rows]
    assert found == ["folder.tif/inner.png", "good.tif", "sub/link_to_good.tif"]
    reasons = {Path(e.path).relative_to(odd_folder).as_posix(): e.reason for e in skipped}
    assert list(reasons) == sorted(reasons)  # in path order
    assert set(reasons) == {"dangling.tif", "folder.tif", "pipe.tif", "sock.tif", "sub/linked"}
    assert reasons["dangling.tif"] == (
        f"a symbolic link to {odd_folder / 'gone.tif'}, which does not exist (a dangling link)"
    )
    assert reasons["pipe.tif"] == "a named pipe (FIFO), not a regular file"
    assert reasons["sock.tif"] == "a socket, not a regular file"
    assert reasons["folder.tif"].startswith("a folder named like an image, not an OME-Zarr")
    assert "links to folders are not followed" in reasons["sub/linked"]


def test_without_a_listener_skips_are_logged(
    odd_folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="ienfd.workflow._inputs"):
        collect_inputs(str(odd_folder))
    logged = caplog.text
    assert "pipe.tif: a named pipe (FIFO)" in logged and "dangling.tif" in logged


def test_a_glob_names_its_matches_that_are_not_inputs(odd_folder: Path) -> None:
    skipped: list[SkippedInput] = []
    rows = collect_inputs(str(odd_folder / "*.tif"), on_skip=skipped.append)
    assert [Path(r.path).name for r in rows] == ["good.tif"]
    assert [Path(e.path).name for e in skipped] == [
        "dangling.tif",
        "folder.tif",
        "pipe.tif",
        "sock.tif",
    ]


def test_a_folder_of_nothing_but_skips_lists_them_in_the_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "only.tif")
    with pytest.raises(BatchInputError) as info:
        collect_inputs(str(tmp_path))
    assert info.value.problems[0].startswith(f"{tmp_path}: no image files in this folder")
    assert info.value.problems[1] == (
        f"{tmp_path / 'only.tif'}: skipped: a named pipe (FIFO), not a regular file"
    )


def test_a_fifo_given_as_input_or_in_a_manifest_says_what_it_is(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "p.tif")
    with pytest.raises(BatchInputError, match=r"p\.tif: a named pipe \(FIFO\), not a regular"):
        collect_inputs(str(tmp_path / "p.tif"))
    os.symlink(tmp_path / "gone.tif", tmp_path / "d.tif")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "image,patient_id,site,section\np.tif,P1,distal_leg,1\nd.tif,P1,distal_leg,2\n"
    )
    with pytest.raises(BatchInputError) as info:
        collect_inputs(str(manifest))
    assert "data row 1 (line 2), column 'image': 'p.tif' is a named pipe (FIFO)" in str(info.value)
    assert "data row 2 (line 3), column 'image': 'd.tif' is a symbolic link to" in str(info.value)
    assert "(a dangling link)" in str(info.value)


def test_entries_in_the_output_folder_are_not_listed(tmp_path: Path) -> None:
    (tmp_path / "a.tif").write_bytes(b"II*\x00")
    (tmp_path / "out").mkdir()
    os.mkfifo(tmp_path / "out" / "p.tif")
    skipped: list[SkippedInput] = []
    rows = collect_inputs(str(tmp_path), exclude=str(tmp_path / "out"), on_skip=skipped.append)
    assert [Path(r.path).name for r in rows] == ["a.tif"] and skipped == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_a_folder_that_cannot_be_listed_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.tif").write_bytes(b"II*\x00")
    closed = tmp_path / "closed"
    closed.mkdir()
    closed.chmod(0)
    try:
        skipped: list[SkippedInput] = []
        collect_inputs(str(tmp_path), on_skip=skipped.append)
    finally:
        closed.chmod(0o755)
    assert [(e.path, e.reason.split(":")[0]) for e in skipped] == [
        (str(closed), "a folder ienfd cannot list")
    ]


def test_why_not_input_for_a_file_and_a_missing_path(tmp_path: Path) -> None:
    (tmp_path / "a.tif").write_bytes(b"x")
    assert why_not_input(tmp_path / "a.tif") is None
    assert why_not_input(tmp_path / "b.tif") == "no such file or folder"


# -- one image twice in a plan -------------------------------------------------------------


def _plan(image: str, sha: str) -> InputPlan:
    return InputPlan(InputRow(image=image, path=image), sha, 10)


def test_a_repeat_of_the_same_bytes_and_scene_is_an_error_naming_both(tmp_path: Path) -> None:
    plans = [
        _plan("a.tif", "1" * 64),
        _plan("b.tif", "2" * 64),
        _plan("copy/a.tif", "1" * 64),
        InputPlan(InputRow(image="m.czi", path="m.czi", row=4), "3" * 64, 5, scene=0, n_scenes=2),
        InputPlan(InputRow(image="m.czi", path="m.czi", row=4), "3" * 64, 5, scene=1, n_scenes=2),
        InputPlan(InputRow(image="m.czi", path="m.czi", row=7), "3" * 64, 5, scene=1, n_scenes=2),
    ]
    marked = mark_duplicates(plans)
    assert [p.duplicate_of for p in marked] == ["", "", "a.tif", "", "", "m.czi"]
    assert marked[2].error.startswith("copy/a.tif: duplicate of a.tif (same sha256 111111111111")
    assert marked[5].error.startswith(
        "m.czi scene 2 (manifest data row 7): duplicate of m.czi scene 2 (manifest data row 4)"
    )
    batch = plan_jobs(plans, tmp_path, pipeline=default_pipeline())
    assert [s.action for s in batch.sections] == ["run", "run", "error", "run", "run", "error"]
    assert batch.inputs[2]["duplicate_of"] == "a.tif" and "duplicate_of" not in batch.inputs[0]
    assert batch.sections[5].entry.section == "scene2"


def test_an_input_that_failed_to_plan_is_no_original(tmp_path: Path) -> None:
    failed = InputPlan(InputRow(image="a.tif", path="a.tif"), error="a.tif: planning failed")
    plans = [failed, _plan("b.tif", "1" * 64), _plan("c.tif", "1" * 64)]
    assert [p.duplicate_of for p in mark_duplicates(plans)] == ["", "", "b.tif"]
    assert mark_duplicates(plans)[0].error == "a.tif: planning failed"
