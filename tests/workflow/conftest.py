"""Small real section files for the workflow tests (no cluster anywhere here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ienfd.io import write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section

PIXEL_UM = 0.6


@pytest.fixture(scope="session")
def section_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small analysable bright-field section (plain TIFF with resolution tags)."""
    sec = generate_section(
        SectionSpec(
            modality="brightfield", length_um=250, pixel_size_um=PIXEL_UM, noise=0.01, seed=3
        )
    )
    path = tmp_path_factory.mktemp("in") / "leg.tif"
    write_section_tiff(path, sec.image, pixel_size_um=PIXEL_UM, kind="tiff")
    return path


@pytest.fixture(scope="session")
def corrupt_file(section_file: Path) -> Path:
    """The same file cut in half."""
    data = section_file.read_bytes()
    path = section_file.with_name("corrupt.tif")
    path.write_bytes(data[: len(data) // 2])
    return path
