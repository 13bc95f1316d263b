"""The package root: its public names, and what importing it does not pull in."""

from __future__ import annotations

import subprocess
import sys

import ienfd
import ienfd.core
import ienfd.io


def test_the_root_gives_the_public_api() -> None:
    assert ienfd.analyze_section is ienfd.core.analyze_section
    assert ienfd.AnalysisParameters is ienfd.core.AnalysisParameters
    assert ienfd.SectionResult is ienfd.core.SectionResult
    assert ienfd.read_section is ienfd.io.read_section
    assert ienfd.probe_image is ienfd.io.probe_image
    assert ienfd.PixelSize is ienfd.io.PixelSize
    for name in ienfd.__all__:
        assert getattr(ienfd, name) is not None
        assert name in dir(ienfd)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        ienfd.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def _modules_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.split()


HEAVY = {"dask", "distributed", "napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy"}


def test_import_ienfd_is_light() -> None:
    loaded = set(_modules_after("import ienfd"))
    assert not loaded & (HEAVY | {"skimage", "scipy", "matplotlib", "pandas", "tifffile"})


def test_the_public_api_and_the_cli_never_import_dask_napari_or_qt() -> None:
    code = (
        "import ienfd, ienfd.io, ienfd.core, ienfd.workflow, ienfd.clinical, ienfd.review, "
        "ienfd.cli; [getattr(ienfd, n) for n in ienfd.__all__]"
    )
    assert not set(_modules_after(code)) & HEAVY
