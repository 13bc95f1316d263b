"""Whole-slide images: sections found at low resolution, each analysed from its own box,
coordinates in the slide's full-resolution frame; lazy reads equal eager ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from ienfd.cli import main
from ienfd.parallel import find_sections, read_region
from ienfd.synthetic import SectionSpec, generate_section
from ienfd.workflow import ReaderOptions, SectionJob, run_section
from tests.parallel._slides import write_slide

pytestmark = [pytest.mark.dask, pytest.mark.slow]

PIXEL_UM = 0.6
SHAPE = (2000, 2000)
CORNERS = [(100, 100), (100, 1100), (1100, 400)]


@pytest.fixture(scope="module")
def slide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path_factory.mktemp("slide")
    sections = [
        generate_section(
            SectionSpec(
                modality="brightfield",
                length_um=400,
                pixel_size_um=PIXEL_UM,
                noise=0.01,
                seed=seed,
                rotation_deg=0,
                illumination_gradient=0.0,
            )
        ).image
        for seed in (1, 2, 3)
    ]
    path = folder / "slide.ome.tif"
    write_slide(path, SHAPE, sections, CORNERS, pixel_size_um=PIXEL_UM, tile=256, levels=2)
    return path, sections


def _inside(box: dict[str, int], row: float, col: float) -> bool:
    return box["row0"] <= row < box["row1"] and box["col0"] <= col < box["col1"]


@pytest.mark.parametrize("levels", [2, 0])
def test_sections_found_around_each_pasted_section(
    slide: tuple[Path, list[np.ndarray]], tmp_path: Path, levels: int
) -> None:
    path, sections = slide
    if levels == 0:  # no pyramid: level 0 is block-averaged chunk by chunk
        path = tmp_path / "flat.ome.tif"
        write_slide(path, SHAPE, sections, CORNERS, pixel_size_um=PIXEL_UM, tile=256, levels=0)
    found = find_sections(path)
    assert found.shape == SHAPE and found.pixel_size_um == PIXEL_UM
    assert (found.level > 0) == (levels > 0)
    assert [r.region.index for r in found.regions] == [1, 2, 3]
    # reading order: the two upper sections left to right, then the lower one
    for region, (r, c), sec in zip(
        found.regions, [CORNERS[0], CORNERS[1], CORNERS[2]], sections, strict=True
    ):
        box = region.region.to_dict()
        assert _inside(box, r + sec.shape[0] / 2, c + sec.shape[1] / 2)
        # the box holds the pasted section's tissue, not the whole slide
        assert region.region.shape[0] < 1.5 * sec.shape[0] + 300
        assert region.region.shape[1] < 1.5 * sec.shape[1] + 300


def test_read_region_equals_the_eager_crop_inside_the_section(
    slide: tuple[Path, list[np.ndarray]],
) -> None:
    path, _ = slide
    eager = tifffile.imread(path)
    for region in find_sections(path).regions:
        r = region.region
        image = read_region(path, region)
        assert image.rgb is not None and image.rgb.shape == (*r.shape, 3)
        own = np.repeat(np.repeat(region.mask, region.scale, 0), region.scale, 1)
        own = own[: r.shape[0], : r.shape[1]]
        crop = eager[r.row0 : r.row1, r.col0 : r.col1]
        h, w = own.shape
        np.testing.assert_array_equal(image.rgb[:h, :w][own], crop[:h, :w][own])
        assert image.pixel_size_um == PIXEL_UM


def test_batch_on_a_slide_writes_one_result_per_section_in_slide_coordinates(
    slide: tuple[Path, list[np.ndarray]], client: object, tmp_path: Path
) -> None:
    path, sections = slide
    address = client.scheduler.address  # type: ignore[attr-defined]
    out = tmp_path / "out"
    code = main(["batch", str(path), "--out", str(out), "--slide-mb", "1", "--scheduler", address])
    assert code == 0
    table = pd.read_csv(out / "sections.csv")
    assert table["section_index"].tolist() == [1, 2, 3]
    assert table["result_json"].tolist() == [f"slide_s0{k}.json" for k in (1, 2, 3)]
    standalone_dir = tmp_path / "standalone"
    standalone_dir.mkdir()
    for k, sec in enumerate(sections, start=1):
        result = json.loads((out / f"slide_s0{k}.json").read_text())
        assert result["image"] == str(path)
        assert result["image_shape"] == list(SHAPE)
        assert result["section_index"] == k
        box = result["region"]
        assert all(_inside(box, c["row"], c["col"]) for c in result["crossings"])
        assert all(_inside(box, p[0], p[1]) for line in result["dej"] for p in line)
        # the section analysed from the slide is the section analysed on its own
        single = tmp_path / f"section{k}.tif"
        tifffile.imwrite(
            single,
            sec,
            photometric="rgb",
            resolution=(1e4 / PIXEL_UM,) * 2,
            resolutionunit="CENTIMETER",
        )
        alone = run_section(
            SectionJob(
                image=str(single),
                path=str(single),
                out_dir=str(standalone_dir),
                stem=f"s{k}",
                overlay=False,
            )
        ).record
        assert result["dej_length_um"] == pytest.approx(alone["dej_length_um"], rel=0.05)
        assert result["modality"] == "brightfield"
    run = json.loads((out / "run.json").read_text())
    assert run["inputs"][0]["whole_slide"] and run["inputs"][0]["sections"] == 3


def test_slide_without_pixel_size_is_an_error_row(
    slide: tuple[Path, list[np.ndarray]], client: object, tmp_path: Path
) -> None:
    _, sections = slide
    path = tmp_path / "nosize.ome.tif"
    write_slide(path, SHAPE, sections, CORNERS, pixel_size_um=None, tile=256, levels=1)
    address = client.scheduler.address  # type: ignore[attr-defined]
    out = tmp_path / "out"
    code = main(["batch", str(path), "--out", str(out), "--slide-mb", "1", "--scheduler", address])
    assert code == 1
    table = pd.read_csv(out / "sections.csv")
    assert table["status"].tolist() == ["error"]
    assert "nosize.ome.tif" in table["error"].iloc[0] and "no pixel size" in table["error"].iloc[0]
    found = find_sections(path, reader=ReaderOptions(pixel_size_um=PIXEL_UM))
    assert len(found.regions) == 3


def test_fluorescence_region_keeps_the_channels_and_pixels(tmp_path: Path) -> None:
    from ienfd.io import read_section, write_section_tiff

    sec = generate_section(
        SectionSpec(modality="fluorescence", length_um=400, pixel_size_um=PIXEL_UM, seed=4)
    )
    path = tmp_path / "fl.ome.tif"
    write_section_tiff(
        path,
        sec.image[::-1],  # collagen IV first: the channels must be found by name
        pixel_size_um=PIXEL_UM,
        kind="ome",
        channel_names=sec.channel_names[::-1],
        pyramid_levels=2,
    )
    (region,) = find_sections(path, target_um=2.0).regions
    image = read_region(path, region)
    whole = read_section(path)
    assert image.modality == "fluorescence"
    assert (image.fibre_channel, image.membrane_channel) == (1, 0)
    assert image.channel_names == ("ColIV", "PGP9.5")
    assert image.fibre is not None and image.membrane is not None
    assert whole.fibre is not None and whole.membrane is not None
    r = region.region
    own = np.repeat(np.repeat(region.mask, region.scale, 0), region.scale, 1)
    h, w = min(own.shape[0], r.shape[0]), min(own.shape[1], r.shape[1])
    own = own[:h, :w]
    for lazy, eager in ((image.fibre, whole.fibre), (image.membrane, whole.membrane)):
        crop = eager[r.row0 : r.row0 + h, r.col0 : r.col0 + w]
        np.testing.assert_array_equal(lazy[:h, :w][own], crop[own])
    with pytest.raises(ValueError, match="pipeline is for brightfield"):
        read_region(path, region, reader=ReaderOptions(modality="brightfield"))
    # A pixel size given against the one the slide records is used, and noted
    assert not any("given by the user" in w for w in image.warnings)
    given = read_region(path, region, reader=ReaderOptions(pixel_size_um=2 * PIXEL_UM))
    assert given.pixel_size_um == 2 * PIXEL_UM
    (note,) = [w for w in given.warnings if "given by the user replaces" in w]
    assert f"the {PIXEL_UM:.4g} µm the file records" in note
