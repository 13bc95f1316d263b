"""Patient and cohort reports: what a clinician reads (integers, yes/no, QC pictures, links)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ienfd.clinical import PatientResult, run_classify
from ienfd.clinical._report import _ratio_figure, _table, overlay_thumbnail
from ienfd.io import save_overlay
from tests.clinical.conftest import LAB_NORMS

HEADER = (
    "image,patient_id,site,section,status,error,count,count_auto,corrected,dej_length_um,"
    "surface_length_um,length_basis,density_per_mm,pixel_size_um,modality,age,sex,"
    "needs_review,qc_reasons,overlay"
)


def _overlay(path: Path, count: int) -> None:
    """A real QC overlay PNG of a small made-up section."""
    z = np.zeros((0, 2))
    img = np.full((120, 200, 3), 230, np.uint8)
    img[20:60] = (190, 150, 160)
    result = SimpleNamespace(
        count=count, crossings=np.array([[60.0, 20.0 + 15 * k] for k in range(count)]),
        fragments=z, short_fibres=z, dej=[np.array([[60.0, 5.0], [60.0, 195.0]])],
        surface=[np.array([[20.0, 5.0], [20.0, 195.0]])], dej_length_um=1000.0,
        surface_length_um=1000.0, density_per_mm=float(count), length_basis="dej",
    )  # fmt: skip
    save_overlay(path, img, result, title=path.name)


def write_batch_folder(
    folder: Path, *, missing: str | None = None, failed_patient: bool = False
) -> Path:
    """A folder as ``ienfd batch`` leaves it: overlays and sections.csv naming them.

    Patient A (distal leg 3, 4, 5 fibres; proximal thigh 12, 13, 14; leg section 2
    needs review and was corrected by hand); patient B (one site, one failed section);
    with ``failed_patient``, patient C whose only section failed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    counts = {("A", "distal_leg"): (3, 4, 5), ("A", "proximal_thigh"): (12, 13, 14),
              ("B", "distal_leg"): (8, 9, 7)}  # fmt: skip
    for (pid, site), values in counts.items():
        for k, count in enumerate(values, start=1):
            stem = f"{pid}_{site}_{k}"
            _overlay(folder / f"{stem}.overlay.png", count)
            review = pid == "A" and site == "distal_leg" and k == 2
            lines.append(
                f"img/{stem}.tif,{pid},{site},{k},ok,,{count},{count + review},"
                f"{str(review).lower()},1000,1050,dej,{count:.1f},0.5,brightfield,"
                f"{60 if pid == 'A' else 41},{'female' if pid == 'A' else 'male'},"
                f"{str(review).lower()},{'no fibre counted' if review else ''},"
                f"{stem}.overlay.png"
            )
    lines.append("img/B_bad.tif,B,distal_leg,4,error,DEJ not found,,,,,,,,,,41,male,,,")
    if failed_patient:
        lines.append("img/C_leg.tif,C,distal_leg,1,error,not a TIFF file,,,,,,,,,,55,male,,,")
    if missing:
        (folder / missing).unlink()
    path = folder / "sections.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def classified(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``ienfd classify`` of a batch folder (one overlay missing), with a lab's norms."""
    tmp = tmp_path_factory.mktemp("reports")
    norms = tmp / "lab_norms.csv"
    norms.write_text(LAB_NORMS, encoding="utf-8")
    table = write_batch_folder(tmp / "batch", missing="B_distal_leg_3.overlay.png")
    return run_classify(table, tmp / "batch" / "clinical", norms_path=norms)


def _cells(page: str, row_start: str) -> list[str]:
    row = re.search(rf"<tr><td>{row_start}</td>(.*?)</tr>", page)
    assert row, row_start
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def test_counts_are_integers_and_flags_yes_no(classified: Any) -> None:
    page = classified.reports["A"].read_text(encoding="utf-8")
    page = page[page.index("<h2>Sections</h2>") :]
    # site, section, image, fibres, length, IENFD, corrected, needs review, why
    cells = _cells(page, "distal leg")
    assert cells[:7] == ["1", "A_distal_leg_1.tif", "3", "1.000", "3.0", "no", "no"]
    second = re.findall(r"<tr><td>distal leg</td>(.*?)</tr>", page)[1]
    assert re.findall(r"<td>(.*?)</td>", second)[5:8] == ["yes", "yes", "no fibre counted"]
    assert not re.search(r"<td>\d+\.00</td>", page)  # no "3.00" counts
    assert "False" not in page and "True" not in page


def test_each_section_has_its_overlay_thumbnail_linking_to_the_picture(
    classified: Any,
) -> None:
    report = classified.reports["A"]
    page = report.read_text(encoding="utf-8")
    links = re.findall(r"<a href='([^']+\.overlay\.png)'", page)
    assert len(links) == 6
    for href in links:
        target = (report.parent / urllib.parse.unquote(href)).resolve()
        assert target.is_file() and target.parent == report.parent.parent.parent
    assert page.count("data:image/jpeg;base64,") == 6
    assert "distal leg, section 2: 4 fibres <span class='flag'>needs review</span>" in page


def test_a_missing_overlay_is_said_not_linked(classified: Any) -> None:
    page = classified.reports["B"].read_text(encoding="utf-8")
    assert "QC picture not found: B_distal_leg_3.overlay.png" in page
    assert "href='../../B_distal_leg_3.overlay.png'" not in page
    assert page.count("data:image/jpeg;base64,") == 2


def test_cohort_links_every_patient_report(classified: Any) -> None:
    cohort = classified.cohort_html
    page = cohort.read_text(encoding="utf-8")
    hrefs = dict(re.findall(r"<a href='([^']+)'>([^<]+)</a>", page))
    # B's failed section is excluded: the page links the file that lists it
    excluded = {href for href, text in hrefs.items() if text == "excluded.csv"}
    assert [(cohort.parent / h).resolve() for h in excluded] == [
        (cohort.parent / "excluded.csv").resolve()
    ]
    assert (cohort.parent / "excluded.csv").is_file()
    hrefs = {href: text for href, text in hrefs.items() if href not in excluded}
    assert sorted(hrefs.values()) == ["A", "B"]
    for href, pid in hrefs.items():
        assert (cohort.parent / urllib.parse.unquote(href)).resolve() == (
            classified.reports[pid].resolve()
        )


def test_a_table_without_overlays_has_no_picture_section(
    tmp_path: Path, write_csv: Callable[[str, str], Path], lab_norms: Path
) -> None:
    table = write_batch_folder(tmp_path / "batch")
    frame = pd.read_csv(table, dtype=str, keep_default_na=False).drop(columns="overlay")
    frame.to_csv(table, index=False)
    out = run_classify(table, tmp_path / "out", norms_path=lab_norms)
    page = out.reports["A"].read_text(encoding="utf-8")
    assert "QC pictures" not in page and "data:image/jpeg" not in page


def test_table_formats_by_column() -> None:
    frame = pd.DataFrame(
        {"count": [3.0], "n_patients": [2], "percent": [33.333], "corrected": [True],
         "needs_review": [pd.NA], "density_per_mm": [12.345], "length_mm": [0.5]}
    )  # fmt: skip
    cells = re.findall(r"<td>(.*?)</td>", _table(frame))
    assert cells == ["3", "2", "33", "yes", "", "12.3", "0.500"]


def test_overlay_thumbnail_is_a_small_jpeg(tmp_path: Path) -> None:
    _overlay(tmp_path / "o.png", 3)
    data = overlay_thumbnail(tmp_path / "o.png", width=200)
    assert data[:3] == b"\xff\xd8\xff"
    (tmp_path / "t.jpg").write_bytes(data)
    with Image.open(tmp_path / "t.jpg") as im, Image.open(tmp_path / "o.png") as full:
        assert im.width == 200
        assert im.height == pytest.approx(200 * full.height / full.width, abs=1)
    with pytest.raises(OSError):
        overlay_thumbnail(tmp_path / "missing.png")


def _patient(pid: str, pattern: str, ratio: float | None) -> PatientResult:
    return PatientResult(
        patient_id=pid, age=50.0, sex="female", modality="brightfield", sites={},
        ratio_distal_proximal=ratio, pattern=pattern, reason="",  # type: ignore[arg-type]
    )  # fmt: skip


def test_ratio_plot_keeps_every_pattern_inside_the_axes() -> None:
    results = [_patient("a", "normal", 0.9), _patient("b", "length-dependent", 0.4),
               _patient("c", "non-length-dependent", 2.6)]  # fmt: skip
    ax = _ratio_figure(results).axes[0]
    ticks = ax.get_xticks()
    left, right = ax.get_xlim()
    assert left < ticks.min() - 0.3 and right > ticks.max() + 0.3  # not on the edges
    bottom, top = ax.get_ylim()
    assert bottom == 0 and top >= 2.6 * 1.05
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "normal\n(n = 1)" and labels[3] == "indeterminate\n(n = 0)"


def test_a_wide_interval_does_not_stretch_the_density_axis(
    tmp_path: Path, write_csv: Callable[[str, str], Path], lab_norms: Path
) -> None:
    """Two leg sections of 1 and 15 fibres: 8/mm with a 95 % CI reaching far above it.

    The axis stays on the densities and the normal limits; the interval's bar is cut at
    the top with a marker saying where it ends, and its numbers are in the site table.
    """
    from ienfd.clinical import read_norms
    from ienfd.clinical._report import _sites_figure

    table = write_csv(
        "sections.csv",
        "patient_id,age,sex,site,section,count,length_mm,modality\n"
        + "".join(
            f"P1,60,male,{site},{k},{count},1.0,brightfield\n"
            for site, counts in (("distal_leg", (1, 15)), ("proximal_thigh", (10, 11, 12)))
            for k, count in enumerate(counts, start=1)
        ),
    )
    out = run_classify(table, tmp_path / "out", norms_path=lab_norms)
    (result,) = out.results
    leg = result.sites["distal_leg"]
    assert leg.density_per_mm == pytest.approx(8.0)
    assert leg.ci_high is not None and leg.ci_low is not None and leg.ci_high > 50
    largest = max(v for s in result.sites.values() for v in (s.density_per_mm, s.limit_per_mm) if v)
    fig = _sites_figure(result, read_norms(lab_norms), site_modality={})
    for ax, site in zip(fig.axes, result.sites.values(), strict=True):
        bottom, top = ax.get_ylim()
        assert bottom == 0
        assert max(site.density_per_mm or 0, site.limit_per_mm or 0) * 1.1 <= top
        assert top <= 2.5 * largest, (site.site, top, largest)
    leg_ax = fig.axes[list(result.sites).index("distal_leg")]
    notes = [t.get_text() for t in leg_ax.texts]
    assert any(f"{leg.ci_high:.1f}" in text for text in notes), notes
    page = out.reports["P1"].read_text(encoding="utf-8")
    assert f"<td>{leg.ci_low:.1f}&ndash;{leg.ci_high:.1f}</td>" in page
