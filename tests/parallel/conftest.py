"""Real section files and a real 2-worker LocalCluster shared by the batch tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ienfd.io import write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section

PIXEL_UM = 0.6


def _spec(modality: str, seed: int, **kw: object) -> SectionSpec:
    return SectionSpec(
        modality=modality, length_um=400, pixel_size_um=PIXEL_UM, noise=0.01, seed=seed, **kw
    )


def write_good_sections(folder: Path) -> list[Path]:
    """Three analysable sections: bright-field plain TIFF and OME, fluorescence OME."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, modality, seed, kind in (
        ("leg_a.tif", "brightfield", 3, "tiff"),
        ("leg_b.ome.tif", "brightfield", 5, "ome"),
        ("thigh_c.ome.tif", "fluorescence", 7, "ome"),
    ):
        sec = generate_section(_spec(modality, seed))
        path = folder / name
        write_section_tiff(
            path,
            sec.image,
            pixel_size_um=PIXEL_UM,
            kind=kind,
            channel_names=sec.channel_names if modality == "fluorescence" else None,
        )
        paths.append(path)
    return paths


def write_bad_sections(folder: Path) -> tuple[Path, Path]:
    """A truncated TIFF and a section without any pixel size."""
    sec = generate_section(_spec("brightfield", 11))
    whole = folder / "whole.tmp"
    write_section_tiff(whole, sec.image, pixel_size_um=PIXEL_UM, kind="tiff", compression=None)
    data = whole.read_bytes()
    whole.unlink()
    corrupt = folder / "corrupt.tif"
    corrupt.write_bytes(data[: len(data) // 2])
    no_size = folder / "no_pixel_size.tif"
    write_section_tiff(no_size, sec.image, pixel_size_um=None, kind="tiff")
    return corrupt, no_size


@pytest.fixture(scope="session")
def section_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three good sections, one corrupt file, one file without pixel size."""
    folder = tmp_path_factory.mktemp("sections")
    write_good_sections(folder)
    write_bad_sections(folder)
    return folder


@pytest.fixture(scope="session")
def client() -> Iterator[object]:
    """A real LocalCluster of 2 single-threaded worker processes."""
    from ienfd.parallel import batch_client

    with batch_client(workers=2) as c:
        yield c
