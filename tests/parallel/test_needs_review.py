"""``ienfd batch``: a section whose quality checks fail is marked in the progress line, the
section table (``needs_review``, ``qc_reasons``), the biopsy table and the run record; an
accepted correction clears it; a result without quality checks (an older ienfd) is analysed
again, and read as needing review where it is found."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.io import (
    UNCHECKED_REASON,
    Correction,
    bind_correction,
    write_correction,
    write_section_tiff,
)
from ienfd.synthetic import generate_section, random_spec
from ienfd.workflow import SectionEntry, section_table
from tests.parallel.conftest import PIXEL_UM, _spec

pytestmark = [pytest.mark.dask, pytest.mark.slow]

MANIFEST = """image,patient_id,site,section,age,sex
good.ome.tif,P1,distal_leg,1,54,F
empty.ome.tif,P1,distal_leg,2,54,F
thigh.ome.tif,P1,proximal_thigh,1,54,F
"""


def _write(path: Path, image: object, channel_names: list[str]) -> None:
    write_section_tiff(path, image, pixel_size_um=PIXEL_UM, kind="ome",  # type: ignore[arg-type]
                       channel_names=channel_names)  # fmt: skip


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three real fluorescence OME-TIFFs, one of a section without any nerve fibre."""
    folder = tmp_path_factory.mktemp("review_inputs")
    for name, seed in (("good.ome.tif", 7), ("thigh.ome.tif", 8)):
        section = generate_section(_spec("fluorescence", seed))
        _write(folder / name, section.image, section.channel_names)
    spec = random_spec(4, modality="fluorescence", density_per_mm=0.0, length_um=400,
                       pixel_size_um=PIXEL_UM)  # fmt: skip
    empty = generate_section(spec)
    assert empty.truth["count"] == 0
    _write(folder / "empty.ome.tif", empty.image, empty.channel_names)
    (folder / "manifest.csv").write_text(MANIFEST)
    return folder


def _batch(args: list[str], client: object) -> int:
    address = client.scheduler.address  # type: ignore[attr-defined]
    return main(["batch", *args, "--scheduler", address])


def _sections(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False).set_index("image")


@pytest.fixture(scope="module")
def review_run(
    inputs: Path, client: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int, str]:
    """The batch over the manifest: output folder, exit status and what it printed."""
    out = tmp_path_factory.mktemp("review_batch") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = _batch([str(inputs / "manifest.csv"), "--out", str(out), "--no-overlay"], client)
    return out, code, printed.getvalue()


def test_needs_review_reaches_every_table_and_the_progress_line(
    review_run: tuple[Path, int, str],
) -> None:
    out, code, printed = review_run
    assert code == 0  # needing review is not a failure
    table = _sections(out)
    for image, row in table.iterrows():  # the table says what each JSON says
        result = json.loads((out / row["result_json"]).read_text())
        assert row["needs_review"] == str(result["needs_review"]), image
        assert row["qc_reasons"] == "; ".join(result["qc_reasons"]), image
        word = "review" if result["needs_review"] else "ok"
        assert f"{image}  {word}  count {result['count']}" in printed
    empty = table.loc["empty.ome.tif"]
    assert (empty["count"], empty["needs_review"]) == ("0", "True")
    assert empty["qc_reasons"].startswith("no fibre counted")
    assert "empty.ome.tif  review  count 0  0.00/mm  (no fibre counted" in printed
    assert "empty.ome.tif  ok" not in printed
    n_review = int((table["needs_review"] == "True").sum())
    assert f"{n_review} section(s) need review" in printed
    assert pd.read_parquet(out / "sections.parquet")["needs_review"].tolist() == [
        v == "True" for v in table["needs_review"]
    ]
    assert json.loads((out / "run.json").read_text())["n_need_review"] == n_review

    biopsies = pd.read_csv(out / "biopsies.csv", keep_default_na=False).set_index("site")
    leg = table[table["site"] == "distal_leg"]
    expected = int((leg["needs_review"] == "True").sum())
    assert int(biopsies.loc["distal_leg", "n_sections_need_review"]) == expected >= 1
    assert "section 2: no fibre counted" in biopsies.loc["distal_leg", "review_reasons"]


def test_an_accepted_correction_clears_the_need_for_review(
    review_run: tuple[Path, int, str], client: object, inputs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(review_run[0], out)
    result_json = out / _sections(out).loc["empty.ome.tif", "result_json"]
    result = json.loads(result_json.read_text())
    sidecar = result_json.with_name(result_json.stem + ".correction.json")

    def review(status: str) -> pd.Series:
        write_correction(
            sidecar,
            bind_correction(Correction(
                image=result["image"], auto_count=0, final_count=0,
                pixel_size_um=result["pixel_size_um"], length_basis="dej",
                dej_length_um=result["dej_length_um"],
                surface_length_um=result["surface_length_um"], user="tech1",
                saved_at="2026-11-26T09:00:00+00:00", status=status,  # type: ignore[arg-type]
            ), result),
        )  # fmt: skip
        manifest = str(inputs / "manifest.csv")
        assert _batch([manifest, "--out", str(out), "--no-overlay", "-q"], client) == 0
        return _sections(out).loc["empty.ome.tif"]

    in_review = review("in_review")  # a review in progress is no verdict
    assert (in_review["needs_review"], in_review["corrected"]) == ("True", "True")
    accepted = review("accepted")
    assert accepted["skipped"] == "True"  # nothing analysed again
    assert (accepted["needs_review"], accepted["review_status"]) == ("False", "accepted")
    assert accepted["qc_reasons"] == "; ".join(result["qc_reasons"])  # the record stays
    table = _sections(out)
    leg = table[table["site"] == "distal_leg"]
    biopsies = pd.read_csv(out / "biopsies.csv", keep_default_na=False).set_index("site")
    assert int(biopsies.loc["distal_leg", "n_sections_need_review"]) == int(
        (leg["needs_review"] == "True").sum()
    )
    assert "section 2" not in biopsies.loc["distal_leg", "review_reasons"]
    n_left = int((table["needs_review"] == "True").sum())
    patient = _classify(out / "sections.csv", tmp_path / "clinical")
    assert int(patient["sections_need_review"]) == n_left
    assert patient["reason"].startswith("Indeterminate until reviewed") == (n_left > 0)
    flagged = review("flagged")
    assert flagged["needs_review"] == "True"


NORMS = """site,sex,age_min,age_max,p05_per_mm,source
distal_leg,any,18,90,6.0,test lab (made-up numbers for tests only)
proximal_thigh,any,18,90,9.0,test lab (made-up numbers for tests only)
"""


def _classify(sections_csv: Path, out: Path) -> pd.Series:
    """``ienfd classify`` on a batch's section table; P1's row of patients.csv."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "norms.csv").write_text(NORMS)
    args = ["classify", str(sections_csv), "--norms", str(out / "norms.csv"), "--out", str(out)]
    assert main([*args, "--min-sections", "1"]) == 0
    patients = pd.read_csv(out / "patients.csv", keep_default_na=False)
    return patients.set_index("patient_id").loc["P1"]


def test_classify_on_the_batch_table_holds_the_pattern_until_reviewed(
    review_run: tuple[Path, int, str], tmp_path: Path
) -> None:
    out = review_run[0]
    patient = _classify(out / "sections.csv", tmp_path)
    table = _sections(out)
    assert int(patient["sections_need_review"]) == int((table["needs_review"] == "True").sum())
    assert patient["pattern"] == "indeterminate"
    assert patient["reason"].startswith("Indeterminate until reviewed: ")
    assert "section 2: no fibre counted" in patient["reason"]
    assert "From the counts as they stand: " in patient["reason"]
    page = (tmp_path / "reports" / "P1.html").read_text(encoding="utf-8")
    notes = [line for line in page.splitlines() if line.startswith("<div class='review'>")]
    assert any("at distal leg need" in n and "section 2: no fibre counted" in n for n in notes)


def test_a_result_without_quality_checks_needs_review_and_is_analysed_again(
    review_run: tuple[Path, int, str], client: object, inputs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(review_run[0], out)
    name = _sections(out).loc["good.ome.tif", "result_json"]
    old = json.loads((out / name).read_text())
    for key in ("needs_review", "qc_reasons", "qc"):  # as an older ienfd wrote it
        del old[key]
    (out / name).write_text(json.dumps(old))

    # read where it is found: never "ok", the reason says why
    table = section_table([SectionEntry(image="good.ome.tif", stem=name[: -len(".json")])], out)
    assert table["needs_review"].tolist() == [True]
    assert table["qc_reasons"].tolist() == [UNCHECKED_REASON]

    # and a batch does not take it as done: it is analysed again, with its checks
    assert _batch([str(inputs / "manifest.csv"), "--out", str(out), "--no-overlay", "-q"],
                  client) == 0  # fmt: skip
    sections = _sections(out)
    assert sections.loc["good.ome.tif", "skipped"] == "False"
    assert sections.loc["empty.ome.tif", "skipped"] == "True"
    again = json.loads((out / name).read_text())
    assert isinstance(again["needs_review"], bool) and "qc" in again
