"""Fixtures for the napari plugin tests (real viewer under Xvfb, started by pytest-xvfb)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_API", "pyqt6")

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


@pytest.fixture(autouse=True)
def _sample_cache(tmp_path_factory, monkeypatch):
    """Generated samples go to a per-session folder, not the user's temp folder."""
    monkeypatch.setenv("IENFD_SAMPLE_DIR", str(tmp_path_factory.getbasetemp() / "samples"))


@pytest.fixture
def section_file(tmp_path):
    """A copy of the committed bright-field sample (a real OME-TIFF, 0.5 µm pixels)."""
    target = tmp_path / "images" / "brightfield_sg.ome.tif"
    target.parent.mkdir()
    shutil.copy(SAMPLES / "brightfield_sg.ome.tif", target)
    return target


@pytest.fixture(scope="session")
def results_folder(tmp_path_factory):
    """``ienfd analyze`` output of three committed samples (written once per session)."""
    from ienfd.workflow import SectionJob, image_stem, run_section

    out = tmp_path_factory.mktemp("batch")
    images = out / "images"
    images.mkdir()
    for name in ("brightfield_sg.ome.tif", "fluorescence.ome.tif", "brightfield_dab_rot42.tif"):
        shutil.copy(SAMPLES / name, images / name)
        job = SectionJob(
            image=f"images/{name}",  # relative, as a user would type it in the folder above
            path=str(images / name),
            out_dir=str(out),
            stem=image_stem(name),
            overlay=False,
        )
        run_section(job)
    return out


def wait_for_section(qtbot, viewer, widget, worker):
    """Wait until an analysis worker has finished and its layers are attached."""
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    qtbot.waitUntil(lambda: widget.current is not None, timeout=10_000)
