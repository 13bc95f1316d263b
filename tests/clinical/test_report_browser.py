"""Every HTML report opened in a real headless Chromium: no broken image or link; it prints.

The reports are those of ``ienfd classify`` on a folder as ``ienfd batch``
leaves it (QC overlays beside ``sections.csv``), with one overlay missing and one
patient whose only section failed (listed on the cohort page, linking ``excluded.csv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ienfd.clinical import run_classify
from tests.clinical._chromium import check_page, pdf_pages, print_to_pdf
from tests.clinical.conftest import LAB_NORMS
from tests.clinical.test_report_html import write_batch_folder

A4 = (595.3, 841.9)  # points


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("browser")
    norms = tmp / "lab_norms.csv"
    norms.write_text(LAB_NORMS, encoding="utf-8")
    table = write_batch_folder(
        tmp / "batch", missing="B_distal_leg_3.overlay.png", failed_patient=True
    )
    return run_classify(table, tmp / "batch" / "clinical", norms_path=norms)


def _pages(outputs: Any) -> list[Path]:
    return [outputs.cohort_html, *outputs.reports.values()]


def test_every_report_loads_with_no_broken_image_or_link(outputs: Any) -> None:
    seen = {}
    for page in _pages(outputs):
        check = check_page(page)
        assert check.images, page
        assert check.broken_images() == [], page
        assert check.broken_links() == [], page
        seen[page.name] = check
    # the cohort links both reports and the excluded rows (C, not classified, is listed there);
    # A's report links its six QC pictures, all loaded
    cohort = seen["cohort.html"]
    assert sorted(Path(str(link["href"])).name for link in cohort.links) == [
        "A.html", "B.html", "excluded.csv",
    ]  # fmt: skip
    assert outputs.not_classified == ["C"]
    report_a = seen["A.html"]
    assert len([i for i in report_a.images if str(i["src"]).startswith("data:image/jpeg")]) == 6
    assert all(int(str(i["width"])) > 100 for i in report_a.images)
    pictures = [Path(str(link["href"])).name for link in report_a.links]
    assert sorted(pictures) == sorted(
        f"A_{site}_{k}.overlay.png" for site in ("distal_leg", "proximal_thigh") for k in (1, 2, 3)
    )


def test_a_broken_image_or_link_is_caught(outputs: Any, tmp_path: Path) -> None:
    """The check itself fails on a page with a missing picture and a dead link."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><img alt='x' src='missing.png'>"
        "<a href='nowhere.html'>dead</a><a href='#nothing'>anchor</a>"
        "<a href='https://example.org/'>web</a></body></html>",
        encoding="utf-8",
    )
    check = check_page(page)
    assert check.broken_images() == ["missing.png"]
    assert check.broken_links() == ["nowhere.html", "#nothing", "https://example.org/"]


@pytest.mark.parametrize("which", ["A.html", "cohort.html"])
def test_reports_print_on_a4(outputs: Any, tmp_path: Path, which: str) -> None:
    page = next(p for p in _pages(outputs) if p.name == which)
    data = print_to_pdf(page, tmp_path / "report.pdf")
    assert data.startswith(b"%PDF-")
    sizes = pdf_pages(data)
    assert 1 <= len(sizes) <= 3, sizes
    for width, height in sizes:
        assert width == pytest.approx(A4[0], abs=1) and height == pytest.approx(A4[1], abs=1)
    images = data.count(b"/Subtype /Image")
    assert images >= (7 if which == "A.html" else 1)  # plot and six thumbnails
