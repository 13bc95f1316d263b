"""Finding inputs of every readable format: a folder's CZI, PNG and OME-Zarr (one input, not
searched inside), manifests naming an OME-Zarr folder, stems without the format's ending, and
the scene as part of the reader options and the batch key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ienfd.io import is_image_folder
from ienfd.workflow import (
    BatchInputError,
    InputRow,
    ReaderOptions,
    SectionJob,
    collect_inputs,
    default_pipeline,
    image_stem,
    job_key,
    output_stems,
    reader_for_row,
)
from tests.io._formats import write_czi, write_ome_zarr, write_png


def _channels() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 4000, size=(2, 96, 128), dtype=np.uint16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CZI, a PNG, an OME-Zarr folder, a TIFF one level down, and files that are not inputs."""
    d = tmp_path_factory.mktemp("formats")
    write_czi(d / "a.czi", _channels(), pixel_um=0.5, channel_names=["PGP9.5", "ColIV"])
    rgb = np.full((96, 128, 3), 200, np.uint8)
    write_png(d / "b.png", rgb)
    write_png(d / "b.overlay.png", rgb)  # an overlay ienfd drew: not an input
    write_ome_zarr(d / "c.ome.zarr", _channels(), pixel_um=0.5, labels=["PGP9.5", "ColIV"])
    (d / "sub").mkdir()
    (d / "sub" / "d.tif").write_bytes((d / "a.czi").read_bytes())  # a name is enough to list it
    (d / "notes.txt").write_text("not an image")
    (d / "empty.zarr").mkdir()  # named like an image folder but holds no zarr group
    return d


def test_folder_finds_each_format_and_the_zarr_as_one_input(folder: Path) -> None:
    assert is_image_folder(folder / "c.ome.zarr")
    assert any(p.is_file() for p in (folder / "c.ome.zarr").rglob("*"))  # it has files inside
    rows = collect_inputs(str(folder))
    found = [Path(r.path).relative_to(folder).as_posix() for r in rows]
    assert found == ["a.czi", "b.png", "c.ome.zarr", "sub/d.tif"]
    assert [r.image for r in rows] == [r.path for r in rows]
    assert output_stems([r.image for r in rows]) == ["a", "b", "c", "d"]


def test_an_ome_zarr_folder_is_an_input_by_itself_and_in_a_glob(folder: Path) -> None:
    (row,) = collect_inputs(str(folder / "c.ome.zarr"))
    assert row.path == str(folder / "c.ome.zarr")
    matched = [Path(r.path).name for r in collect_inputs(str(folder / "*"))]
    assert "c.ome.zarr" in matched and "sub" not in matched and "empty.zarr" not in matched


def test_a_folder_without_images_names_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(BatchInputError, match=r"no image files in this folder .*\.czi.*\.png"):
        collect_inputs(str(tmp_path))


def test_manifest_may_name_an_ome_zarr_folder(folder: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "image,patient_id,site,section\n"
        f"{folder / 'c.ome.zarr'},P1,distal_leg,1\n"
        f"{folder / 'a.czi'},P1,distal_leg,2\n"
    )
    rows = collect_inputs(str(manifest))
    assert [Path(r.path).name for r in rows] == ["c.ome.zarr", "a.czi"]
    manifest.write_text(f"image,patient_id,site,section\n{folder / 'empty.zarr'},P1,distal_leg,1\n")
    with pytest.raises(BatchInputError, match=r"no such file .* a file or an OME-Zarr folder"):
        collect_inputs(str(manifest))


@pytest.mark.parametrize(
    ("path", "stem"),
    [
        ("x/a.czi", "a"),
        ("x/b.ome.zarr", "b"),
        ("x/b.ome.zarr/", "b"),
        ("c.PNG", "c"),
        ("d.jpeg", "d"),
        ("e.nd2", "e"),
        ("f.ome.tif", "f"),
        ("g.svs", "g"),
        ("h.lif", "h"),
    ],
)
def test_stems_drop_the_format_ending(path: str, stem: str) -> None:
    assert image_stem(path) == stem


def test_the_scene_is_part_of_the_reader_options_and_the_key() -> None:
    job = SectionJob(image="a.czi", path="a.czi", out_dir="out", stem="a")
    assert ReaderOptions().to_dict()["scene"] is None
    other = replace(job, reader=ReaderOptions(scene=1))
    named = replace(job, reader=ReaderOptions(scene="1"))
    keys = {job_key("0" * 64, j) for j in (job, other, named)}
    assert len(keys) == 3


def test_the_batch_scene_reaches_every_input_reader() -> None:
    row = InputRow(image="a.czi", path="a.czi", pixel_size_um=0.5)
    rd = reader_for_row(row, default_pipeline(), ReaderOptions(scene="thigh"))
    assert rd.scene == "thigh" and rd.pixel_size_um == 0.5
