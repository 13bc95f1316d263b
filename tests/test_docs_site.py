"""The documentation site builds with ``mkdocs build --strict`` (as CI runs it).

Strict mode turns every warning into a failure: a page missing from the
navigation, a broken link or anchor between pages, an image that is not
there, a docstring mkdocstrings cannot read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_docs_site_builds_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    assert not re.search(r"^WARNING", done.stderr, re.M), done.stderr[-5000:]
    # the API reference is generated from the docstrings, numpydoc sections as tables
    io_page = (site / "api" / "io.html").read_text(encoding="utf-8")
    assert "save_overlay" in io_page and "Raises" in io_page
    clinical_page = (site / "api" / "clinical.html").read_text(encoding="utf-8")
    assert "icc_a1_ci" in clinical_page and "McGraw" in clinical_page
    # Sphinx roles in the docstrings show as code, not as ":func:" (scripts/mkdocs_hooks.py)
    for page in (site / "api").glob("*.html"):
        assert not re.search(r":(func|class|mod|meth|attr|exc):<code>", page.read_text("utf-8"))
    # the README's pictures and the validation pages are in the site
    index = (site / "index.html").read_text(encoding="utf-8")
    for picture in ("overlay_brightfield_sg.png", "napari_review.png", "report_patient.png"):
        assert f"images/{picture}" in index
        assert (site / "images" / picture).is_file()
    for page in ("validation", "validation-wide", "validation-stress", "validation-real-tissue"):
        assert (site / f"{page}.html").is_file()
    assert (site / "search" / "search_index.json").is_file()
