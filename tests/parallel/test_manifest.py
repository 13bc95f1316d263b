"""Manifest input: patients and sites, the biopsy table, ``ienfd classify`` on the section
table, correction sidecars, and bad manifest rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.clinical import density_ci
from ienfd.io import Correction, bind_correction, write_correction, write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section
from ienfd.workflow import BatchInputError, collect_inputs
from tests.parallel.conftest import PIXEL_UM

pytestmark = [pytest.mark.dask, pytest.mark.slow]

MANIFEST = """image,patient_id,site,section,age,sex
leg_a.tif,P1,Distal leg,1,54,F
leg_b.ome.tif,P1,distal_leg,2,54,F
{leg_d},P1,distal-leg,3,54,F
thigh_c.ome.tif,P1,proximal_thigh,1,54,F
corrupt.tif,P2,distal_leg,1,61,m
"""


def _batch(args: list[str], client: object) -> int:
    address = client.scheduler.address  # type: ignore[attr-defined]
    return main(["batch", *args, "--scheduler", address])


@pytest.fixture(scope="module")
def manifest_run(
    section_folder: Path, client: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    # A third leg section of its own (the same image twice would be counted once).
    leg_d = tmp_path_factory.mktemp("more") / "leg_d.tif"
    spec = SectionSpec(
        modality="brightfield", length_um=400, pixel_size_um=PIXEL_UM, noise=0.01, seed=13
    )
    write_section_tiff(leg_d, generate_section(spec).image, pixel_size_um=PIXEL_UM, kind="tiff")
    manifest = section_folder / "manifest.csv"
    manifest.write_text(MANIFEST.format(leg_d=leg_d))
    out = tmp_path_factory.mktemp("manifest") / "out"
    assert _batch([str(manifest), "--out", str(out), "--no-overlay", "-q"], client) == 1
    return manifest, out


def test_section_table_carries_the_manifest_and_feeds_classify(
    manifest_run: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = manifest_run
    table = pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False)
    assert table["site"].tolist() == ["distal_leg"] * 3 + ["proximal_thigh", "distal_leg"]
    assert table["patient_id"].tolist() == ["P1"] * 4 + ["P2"]
    assert table["image"].tolist()[0] == "leg_a.tif"  # as written in the manifest
    assert table["status"].tolist() == ["ok"] * 4 + ["error"]
    assert table["error"].iloc[4].startswith("corrupt.tif: ")  # as the manifest names it ...
    assert table["error"].iloc[4].count("corrupt.tif") == 1  # ... once, not again as a path
    assert table["image"].tolist()[2].endswith("leg_d.tif")  # an absolute path, as written
    assert len(set(table["result_json"].iloc[:4])) == 4
    assert len(set(table["input_sha256"].iloc[:4])) == 4
    assert json.loads((out / table["result_json"].iloc[1]).read_text())["patient_id"] == "P1"

    code = main(["classify", str(out / "sections.csv"), "--out", str(tmp_path / "clin")])
    assert code == 0
    patients = pd.read_csv(tmp_path / "clin" / "patients.csv")
    assert patients["patient_id"].tolist() == ["P1"]
    assert (tmp_path / "clin" / "excluded.csv").exists()  # the error row, not dropped


def test_biopsy_table_is_total_count_over_total_length(
    manifest_run: tuple[Path, Path], tmp_path: Path
) -> None:
    _, out = manifest_run
    sections = pd.read_csv(out / "sections.csv")
    biopsies = pd.read_csv(out / "biopsies.csv")
    assert set(zip(biopsies["patient_id"], biopsies["site"], strict=True)) == {
        ("P1", "distal_leg"),
        ("P1", "proximal_thigh"),
        ("P2", "distal_leg"),
    }
    leg = sections[(sections["site"] == "distal_leg") & (sections["status"] == "ok")]
    row = biopsies[biopsies["site"] == "distal_leg"].iloc[0]
    expected = density_ci(leg["count"], leg["dej_length_um"] / 1000.0)
    assert row["n_sections"] == 3
    assert row["n_sections_failed"] == 0
    assert row["total_count"] == leg["count"].sum()
    assert row["density_per_mm"] == pytest.approx(expected.density_per_mm)
    assert row["ci_low"] == pytest.approx(expected.ci_low)
    per_section = leg["count"] / (leg["dej_length_um"] / 1000.0)
    assert row["section_density_sd"] == pytest.approx(per_section.std())
    thigh = biopsies[biopsies["site"] == "proximal_thigh"].iloc[0]
    assert thigh["n_sections"] == 1 and bool(thigh["few_sections"])
    assert thigh["n_sections_failed"] == 0
    # P2's only section, a corrupt file, failed: the biopsy keeps its row, without a density
    (lost,) = biopsies[biopsies["patient_id"] == "P2"].itertuples()
    assert (lost.site, lost.n_sections, lost.n_sections_failed) == ("distal_leg", 0, 1)
    assert math.isnan(lost.density_per_mm) and bool(lost.few_sections)
    assert lost.status == "error" and "none of its 1 listed section(s)" in lost.error
    assert set(biopsies[biopsies["patient_id"] == "P1"]["status"]) == {"ok"}
    # classify takes the biopsy table as it is: P2 excluded and listed, not an input error
    assert main(["classify", str(out / "biopsies.csv"), "--out", str(tmp_path / "clin")]) == 0
    excluded = pd.read_csv(tmp_path / "clin" / "excluded.csv")
    assert excluded["patient_id"].tolist() == ["P2"]
    assert math.isnan(thigh["ci_low"])
    assert pd.read_parquet(out / "biopsies.parquet")["n_sections"].tolist() == [3, 1, 0]


def test_corrections_are_used_without_reanalysis_and_bad_ones_are_errors(
    manifest_run: tuple[Path, Path], client: object, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, out = manifest_run
    sections = pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False)
    first = out / sections["result_json"].iloc[0]
    result = json.loads(first.read_text())
    final = result["count"] + 2
    crossings = [{**c, "source": "auto"} for c in result["crossings"]]
    crossings += [{"row": 10.0, "col": float(k), "source": "manual"} for k in (1, 2)]
    write_correction(
        out / first.name.replace(".json", ".correction.json"),
        bind_correction(Correction(
            image=result["image"],
            auto_count=result["count"],
            final_count=final,
            pixel_size_um=result["pixel_size_um"],
            length_basis="dej",
            dej_length_um=500.0,
            surface_length_um=480.0,
            user="tech1",
            saved_at="2026-11-21T22:00:00+00:00",
            status="accepted",
            crossings=crossings,
        ), result),
    )  # fmt: skip
    second = out / sections["result_json"].iloc[1]
    (out / second.name.replace(".json", ".correction.json")).write_text("{not json")

    capsys.readouterr()
    code = _batch([str(manifest), "--out", str(out), "--no-overlay"], client)
    printed = capsys.readouterr()
    assert code == 1
    table = pd.read_csv(out / "sections.csv", dtype=str, keep_default_na=False)
    assert table["skipped"].iloc[:4].tolist() == ["True"] * 4  # nothing re-analysed
    row = table.iloc[0]
    assert (int(row["count"]), int(row["count_auto"])) == (final, result["count"])
    assert row["corrected"] == "True" and row["review_status"] == "accepted"
    assert float(row["dej_length_um"]) == 500.0
    assert float(row["density_per_mm"]) == pytest.approx(final / 0.5)
    assert (
        table["corrected"].iloc[2] == "False"
        and table["count_auto"].iloc[2] == table["count"].iloc[2]
    )
    bad = table.iloc[1]
    assert bad["status"] == "error"
    assert "correction.json" in bad["error"] and "not valid JSON" in bad["error"]
    assert "corrected counts" in printed.out
    assert second.name.replace(".json", ".correction.json") in printed.err
    biopsies = pd.read_csv(out / "biopsies.csv")
    leg = biopsies[biopsies["site"] == "distal_leg"].iloc[0]
    assert leg["n_sections"] == 2 and leg["n_corrected"] == 1


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("missing.tif,P1,distal_leg,1", r"data row 2 \(line 3\), column 'image': no such file"),
        ("leg_a.tif,P1,ankle,2", r"data row 2 \(line 3\), column 'site': unknown site 'ankle'"),
        ("leg_a.tif,,distal_leg,2", r"data row 2 \(line 3\), column 'patient_id': empty"),
        ("leg_a.tif,P1,distal_leg,1", r"data row 2 \(line 3\): the same image"),
    ],
)
def test_bad_manifest_row_is_named(
    section_folder: Path, tmp_path: Path, row: str, expected: str
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        f"image,patient_id,site,section\n{section_folder / 'leg_a.tif'},P1,distal_leg,1\n"
        + row.replace("leg_a.tif", str(section_folder / "leg_a.tif"))
        + "\n"
    )
    with pytest.raises(BatchInputError, match=expected):
        collect_inputs(str(manifest))


def test_bad_manifest_exits_2_naming_every_bad_row(
    section_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = section_folder / "bad_manifest.csv"
    manifest.write_text(
        "image,patient_id,site,section,pixel_size_um\n"
        "leg_a.tif,P1,distal_leg,1,\n"
        "nope.tif,P1,distal_leg,2,\n"
        "leg_b.ome.tif,P1,forearm,3,-1\n"
    )
    try:
        code = main(["batch", str(manifest), "--out", str(tmp_path / "o")])
    finally:
        manifest.unlink()
    err = capsys.readouterr().err
    assert code == 2
    assert "data row 2 (line 3), column 'image': no such file 'nope.tif'" in err
    assert "data row 3 (line 4), column 'site': unknown site 'forearm'" in err
    assert "data row 3 (line 4), column 'pixel_size_um'" in err
    assert not (tmp_path / "o").exists()


def test_extra_site_is_accepted_with_site_option(section_folder: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        f"image,patient_id,site,section\n{section_folder / 'leg_a.tif'},P1,Forearm,1\n"
    )
    with pytest.raises(BatchInputError, match=r"unknown site 'Forearm'"):
        collect_inputs(str(manifest))
    assert collect_inputs(str(manifest), extra_sites=("forearm",))[0].site == "forearm"


def test_a_file_refused_while_planning_is_named_once(client: object, tmp_path: Path) -> None:
    # An OME-TIFF cut short before its OME-XML fails when the batch probes it, before any
    # analysis; the reader names the file by the path it opened (absolute), the row by the
    # manifest's name for it: the message gives the name once.
    spec = SectionSpec(modality="brightfield", length_um=300, pixel_size_um=PIXEL_UM, seed=3)
    whole = tmp_path / "whole.ome.tif"
    write_section_tiff(whole, generate_section(spec).image, pixel_size_um=PIXEL_UM, kind="ome")
    data = whole.read_bytes()
    (tmp_path / "cut.ome.tif").write_bytes(data[: len(data) // 4])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("image,patient_id,site,section\ncut.ome.tif,P1,distal_leg,1\n")
    out = tmp_path / "out"
    assert _batch([str(manifest), "--out", str(out), "--no-overlay", "-q"], client) == 1
    (error,) = pd.read_csv(out / "sections.csv")["error"]
    assert error.startswith("cut.ome.tif: truncated TIFF") and error.count("cut.ome.tif") == 1
