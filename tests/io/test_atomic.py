"""The one atomic writer: every output follows the user's umask, is synced, never partial."""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ienfd.clinical._io import write_bytes_atomic, write_csv_atomic, write_text_atomic
from ienfd.io import atomic_path, write_bytes, write_json, write_section_tiff, write_text
from ienfd.io._write import current_umask
from ienfd.review import export_csv, export_geojson
from ienfd.workflow._tables import write_table

SRC = Path(__file__).resolve().parents[2] / "src" / "ienfd"
LINE = [np.array([[10.0, 10.0], [10.0, 400.0]])]
POINTS = np.array([[12.0, 50.0]])


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"image": ["a.tif"], "count": [3]})


#: Every public writer, each writing one file into a folder; returns the paths written.
WRITERS: dict[str, Callable[[Path], list[Path]]] = {
    "write_json": lambda d: [write_json(d / "r.json", {"a": 1}) or d / "r.json"],
    "write_text": lambda d: [write_text(d / "t.txt", "x\n")],
    "write_bytes": lambda d: [write_bytes(d / "b.bin", b"\x00\x01")],
    "write_section_tiff": lambda d: [
        write_section_tiff(d / "s.tif", np.zeros((8, 8), np.uint8), pixel_size_um=0.5, kind="tiff")
        or d / "s.tif"
    ],
    "clinical csv": lambda d: [write_csv_atomic(_frame(), d / "patients.csv")],
    "clinical text": lambda d: [write_text_atomic("<html/>", d / "report.html")],
    "clinical bytes": lambda d: [write_bytes_atomic(b"png", d / "plot.png")],
    "batch tables": lambda d: list(write_table(_frame(), d / "sections")),
    "review csv": lambda d: [
        export_csv(d / "e.csv", POINTS, ["auto"], LINE, LINE, pixel_size_um=0.5)
    ],
    "review geojson": lambda d: [
        export_geojson(d / "e.geojson", POINTS, ["auto"], LINE, LINE, pixel_size_um=0.5)
    ],
}


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
@pytest.mark.parametrize("name", list(WRITERS))
def test_outputs_follow_the_umask(
    tmp_path: Path, umask: Callable[[int], None], name: str, mask: int
) -> None:
    umask(mask)
    assert current_umask() == mask
    paths = WRITERS[name](tmp_path)
    assert paths
    for path in paths:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, (name, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_syncs_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("replace", str(src)))
        real_replace(src, dst)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the synced file")
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    WRITERS[name](tmp_path)
    renamed = [src for what, src in events if what == "replace"]
    assert renamed
    for src in renamed:
        i = events.index(("replace", src))
        assert ("fsync", src) in events[:i], (name, events)


def test_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = write_text(tmp_path / "keep.csv", "old\n")
    with pytest.raises(RuntimeError, match="mid-write"), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("mid-write")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


def test_write_bytes_refuses_text(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="bytes"):
        write_bytes(tmp_path / "x", "text")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_one_atomic_writer_in_the_package() -> None:
    """No module but ienfd.io._write makes temporary files or renames them into place."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "io" / "_write.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("mkstemp", "replace", "rename"):
                base = node.value
                if isinstance(base, ast.Name) and base.id in ("os", "tempfile"):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {base.id}.{node.attr}")
    assert offenders == []
