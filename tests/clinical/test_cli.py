"""The command line: classify, norms show/check, agreement (files in tmp_path)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.clinical import PATIENT_COLUMNS

BATCH = """
image,patient_id,site,section,status,error,count,count_auto,corrected,dej_length_um,surface_length_um,length_basis,density_per_mm,pixel_size_um,modality,age,sex
img/a1.tif,A,distal_leg,1,ok,,3,4,true,1000,1100,dej,3.0,0.4,brightfield,50,female
img/a2.tif,A,distal_leg,2,ok,,3,3,false,1000,1100,dej,3.0,0.4,brightfield,50,female
img/a3.tif,A,distal_leg,3,ok,,3,3,false,1000,1100,dej,3.0,0.4,brightfield,50,female
img/a4.tif,A,distal_leg,4,error,DEJ not found,,,,,,,,0.4,brightfield,50,female
img/a5.tif,A,proximal_thigh,1,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,50,female
img/a6.tif,A,proximal_thigh,2,ok,,12,11,false,1000,1100,dej,12.0,0.4,brightfield,50,female
img/a7.tif,A,proximal_thigh,3,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,50,female
img/b1.tif,B,distal_leg,1,ok,,8,8,false,1000,1100,dej,8.0,0.4,brightfield,60,male
img/b2.tif,B,distal_leg,2,ok,,8,8,false,1000,1100,dej,8.0,0.4,brightfield,60,male
img/b3.tif,B,distal_leg,3,ok,,8,8,false,1000,1100,dej,8.0,0.4,brightfield,60,male
"""


def test_classify_batch_table(
    write_csv: Callable[[str, str], Path],
    lab_norms: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inp = write_csv("batch.csv", BATCH)
    out = tmp_path / "out"
    assert main(["classify", str(inp), "--norms", str(lab_norms), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "length-dependent" in printed
    res = pd.read_csv(out / "patients.csv", keep_default_na=False)
    assert res.columns.tolist() == list(PATIENT_COLUMNS)
    a = res.set_index("patient_id").loc["A"]
    assert a["pattern"] == "length-dependent"
    assert float(a["ratio_distal_proximal"]) == pytest.approx(3.0 / 12.0)
    assert a["sections_corrected"] == "1 of 6"
    assert int(a["sections_excluded"]) == 1
    b = res.set_index("patient_id").loc["B"]
    assert b["pattern"] == "indeterminate" and b["proximal_status"] == "missing"
    excluded = pd.read_csv(out / "excluded.csv", keep_default_na=False)
    assert excluded[["row", "error"]].values.tolist() == [[4, "DEJ not found"]]
    page = (out / "reports" / "A.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert 'src="http' not in page and "<link" not in page and "<script" not in page
    assert "DEJ not found" in page
    assert "Sections corrected by hand: 1 of 6" in page
    assert (out / "reports" / "B.html").exists()
    cohort = pd.read_csv(out / "cohort_summary.csv")
    assert dict(zip(cohort["pattern"], cohort["n_patients"], strict=True)) == {
        "normal": 0, "length-dependent": 1, "non-length-dependent": 0, "indeterminate": 1,
    }  # fmt: skip
    assert "data:image/png;base64," in (out / "cohort.html").read_text(encoding="utf-8")


def test_classify_surface_basis(
    write_csv: Callable[[str, str], Path], lab_norms: Path, tmp_path: Path
) -> None:
    inp = write_csv("batch.csv", BATCH)
    out = tmp_path / "o"
    args = ["classify", str(inp), "--norms", str(lab_norms), "--out", str(out),
            "--length-basis", "surface", "--no-reports"]  # fmt: skip
    assert main(args) == 0
    res = pd.read_csv(out / "patients.csv").set_index("patient_id")
    # 9 fibres over 3 x 1.1 mm of surface = 2.7273 /mm
    assert res.loc["A", "distal_density_per_mm"] == pytest.approx(9 / 3.3)
    assert not (out / "reports").exists()


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("P,50,female,elbow,1,3,1.0", r"data row 1 \(line 2\), column 'site': unknown site"),
        ("P,50,female,distal_leg,1,-3,1.0", r"data row 1 .*column 'count': negative count"),
        ("P,50,female,distal_leg,1,3,0", r"data row 1 .*column 'length_mm': length is zero"),
        ("P,50,other,distal_leg,1,3,1.0", r"data row 1 .*column 'sex': unknown sex"),
        ("P,10,female,distal_leg,1,3,1.0", r"data row 1 .*column 'age': age 10 is outside"),
    ],
)
def test_classify_errors_exit_1(
    write_csv: Callable[[str, str], Path],
    lab_norms: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    row: str,
    match: str,
) -> None:
    inp = write_csv("in.csv", "patient_id,age,sex,site,section,count,length_mm\n" + row + "\n")
    rc = main(["classify", str(inp), "--norms", str(lab_norms), "--out", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("ienfd classify: error: ")
    assert "in.csv" in err

    assert re.search(match, err)


def test_norms_show_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["norms", "show"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("site,sex,age_min,age_max,p05_per_mm,source")
    assert "Collongues" in text and "Bursova" in text
    path = tmp_path / "b.csv"
    assert main(["norms", "show", "--out", str(path)]) == 0
    assert main(["norms", "check", str(path)]) == 0
    assert ": ok" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "site,sex,age_min,age_max,p05_per_mm,source\n"
        "distal_leg,male,20,50,6,a\ndistal_leg,male,40,60,5,a\n",
        encoding="utf-8",
    )
    assert main(["norms", "check", str(bad)]) == 1
    assert "data row 2 (line 3), column 'age_min'" in capsys.readouterr().err


AUTO = """
image,count,count_auto,status
run/s1.ome.tif,3,2,ok
run/s2.ome.tif,4,4,ok
run/s3.ome.tif,8,6,ok
run/s4.ome.tif,9,8,ok
run/s5.ome.tif,,,error
run/s6.ome.tif,5,5,ok
"""


def _sidecars(folder: Path) -> None:
    folder.mkdir()
    for stem, auto, final in (("s1.ome", 2, 3), ("s2.ome", 4, 4), ("s3.ome", 6, 8),
                              ("s4.ome", 8, 9)):  # fmt: skip
        (folder / f"{stem}.correction.json").write_text(
            json.dumps({"image": f"/data/{stem}.tif", "auto_count": auto, "final_count": final,
                        "user": "tech1", "saved_at": "2024-05-01T10:00:00"}),
            encoding="utf-8",
        )  # fmt: skip


@pytest.mark.parametrize("manual_kind", ["csv", "sidecars"])
def test_agreement(
    write_csv: Callable[[str, str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manual_kind: str,
) -> None:
    auto = write_csv("auto.csv", AUTO)
    if manual_kind == "csv":
        manual = write_csv(
            "manual.csv",
            "image,manual_count\ns1.ome.tif,3\ns2.ome.tif,4\ns3.ome.tif,8\ns4.ome.tif,9\n",
        )
    else:
        manual = tmp_path / "corrections"
        _sidecars(manual)
    out = tmp_path / "agr"
    assert main(["agreement", str(auto), str(manual), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # auto (count_auto) 2, 4, 6, 8 vs manual 3, 4, 8, 9: ICC(A,1) = 88/97 = 0.907,
    # bias -1, SD sqrt(2/3) = 0.816 (hand-computed in test_agreement_stats.py)
    assert "sections paired: 4" in printed
    assert "ICC(A,1): 0.907 (95% CI " in printed
    assert "limits of agreement" in printed and "(CI " in printed
    summary = json.loads((out / "agreement_summary.json").read_text())
    assert summary["icc_a1"] == pytest.approx(88 / 97)
    assert summary["bias"] == pytest.approx(-1.0)
    assert summary["loa_high"] == pytest.approx(-1 + 1.96 * (2 / 3) ** 0.5)
    table = pd.read_csv(out / "agreement_sections.csv")
    assert table["difference"].tolist() == [-1.0, 0.0, -2.0, -1.0]
    unmatched = pd.read_csv(out / "agreement_unmatched.csv")
    assert sorted(unmatched["why"]) == ["auto_status_not_ok", "only_in_auto"]
    assert (out / "bland_altman.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("manual", "match"),
    [
        ("image,manual_count\ns1.tif,3\ns1.tif,4\n", r"data row 2 .*'image'.*appears twice"),
        ("image,manual_count\ns1.tif,-3\n", r"data row 1 .*column 'manual_count': count '-3'"),
        ("image,manual_count\ns1.tif,\n", r"data row 1 .*column 'manual_count': count is missing"),
        ("image,notes\ns1.tif,x\n", r"missing count column"),
        ("section,manual_count\n1,3\n", r"missing column 'image'"),
        ("image,manual_count\nzz.tif,3\n", r"only 0 section\(s\) could be paired"),
    ],
)  # fmt: skip
def test_agreement_errors(
    write_csv: Callable[[str, str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    manual: str,
    match: str,
) -> None:
    auto = write_csv("auto.csv", AUTO)
    man = write_csv("manual.csv", manual)
    assert main(["agreement", str(auto), str(man), "--out", str(tmp_path / "o")]) == 1

    assert re.search(match, capsys.readouterr().err)


def test_agreement_bad_sidecar(tmp_path: Path, write_csv: Callable[[str, str], Path],
                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "s1.correction.json").write_text('{"image": "s1.tif"}', encoding="utf-8")
    auto = write_csv("auto.csv", AUTO)
    assert main(["agreement", str(auto), str(folder), "--out", str(tmp_path / "o")]) == 1
    assert "s1.correction.json, column 'final_count': missing key" in capsys.readouterr().err


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "clinical"


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="docs examples not present")
def test_docs_worked_examples(tmp_path: Path) -> None:
    """The worked examples in docs/clinical.md give the patterns the docs state."""
    norms = str(EXAMPLES / "simulated_norms.csv")
    args = ["classify", str(EXAMPLES / "patients.csv"), "--norms", norms, "--out", str(tmp_path)]
    rc = main([*args, "--no-reports"])
    assert rc == 0
    res = pd.read_csv(tmp_path / "patients.csv").set_index("patient_id")
    assert res["pattern"].to_dict() == {
        "N01": "normal",
        "L01": "length-dependent",
        "L02": "length-dependent",
        "NL1": "non-length-dependent",
        "BD1": "indeterminate",
        "IN1": "indeterminate",
        "IN2": "indeterminate",
    }
    assert res.loc["BD1", "distal_status"] == "borderline"
    rc = main(["agreement", str(EXAMPLES / "auto_counts.csv"), str(EXAMPLES / "corrections"),
               "--out", str(tmp_path / "agr")])  # fmt: skip
    assert rc == 0


REVIEW = """
image,patient_id,site,section,status,error,count,count_auto,corrected,dej_length_um,surface_length_um,length_basis,density_per_mm,pixel_size_um,modality,age,sex,needs_review,qc_reasons,review_status
img/a1.tif,A,distal_leg,1,ok,,2,2,false,1000,1100,dej,2.0,0.4,brightfield,50,female,False,,
img/a2.tif,A,distal_leg,2,ok,,0,0,false,1000,1100,dej,0.0,0.4,brightfield,50,female,True,no fibre counted,
img/a3.tif,A,distal_leg,3,ok,,2,0,true,1000,1100,dej,2.0,0.4,brightfield,50,female,False,no fibre counted,accepted
img/a4.tif,A,distal_leg,4,error,DEJ not found,,,,,,,,0.4,brightfield,50,female,,,
img/a5.tif,A,proximal_thigh,1,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,50,female,False,,
img/a6.tif,A,proximal_thigh,2,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,50,female,False,,
img/a7.tif,A,proximal_thigh,3,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,50,female,False,,
img/b1.tif,B,distal_leg,1,ok,,3,3,false,1000,1100,dej,3.0,0.4,brightfield,60,male,False,,
img/b2.tif,B,distal_leg,2,ok,,3,3,false,1000,1100,dej,3.0,0.4,brightfield,60,male,False,,
img/b3.tif,B,distal_leg,3,ok,,3,3,false,1000,1100,dej,3.0,0.4,brightfield,60,male,False,,
img/b4.tif,B,proximal_thigh,1,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,60,male,False,,
img/b5.tif,B,proximal_thigh,2,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,60,male,False,,
img/b6.tif,B,proximal_thigh,3,ok,,12,12,false,1000,1100,dej,12.0,0.4,brightfield,60,male,False,,
"""  # noqa: E501


def test_classify_marks_sites_whose_sections_need_review(
    write_csv: Callable[[str, str], Path],
    lab_norms: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inp = write_csv("sections.csv", REVIEW)
    out = tmp_path / "out"
    assert main(["classify", str(inp), "--norms", str(lab_norms), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "1 section(s) of 1 patient(s) need review" in printed
    patients = pd.read_csv(out / "patients.csv", keep_default_na=False).set_index("patient_id")
    assert list(patients.reset_index().columns) == list(PATIENT_COLUMNS)
    a, b = patients.loc["A"], patients.loc["B"]
    # A's distal leg (4 fibres / 3 mm, CI 0-4.2, below 6/mm) would be length-dependent: not
    # final while section 2 (0 fibres, not reviewed) is unconfirmed; section 3 (corrected
    # from 0 to 2 and accepted) no longer needs review
    assert (a["pattern"], a["distal_status"], int(a["sections_need_review"])) == (
        "indeterminate", "abnormal", 1,
    )  # fmt: skip
    assert a["reason"].startswith(
        "Indeterminate until reviewed: 1 section at distal leg needs review: "
        "section 2: no fibre counted."
    )
    assert "From the counts as they stand: Length-dependent loss" in a["reason"]
    assert (b["pattern"], int(b["sections_need_review"])) == ("length-dependent", 0)
    sites = pd.read_csv(out / "sites.csv", keep_default_na=False)
    leg = sites[(sites["patient_id"] == "A") & (sites["site"] == "distal_leg")].iloc[0]
    assert int(leg["sections_need_review"]) == 1
    assert leg["review_reasons"] == "section 2: no fibre counted"
    page = (out / "reports" / "A.html").read_text(encoding="utf-8")
    assert "Pattern: indeterminate (not final: 1 section needs review)" in page
    assert (
        "<div class='review'>1 section at distal leg needs review: "
        "section 2: no fibre counted</div>" in page
    )
    assert "(provisional: sections need review)" in page
    page_b = (out / "reports" / "B.html").read_text(encoding="utf-8")
    assert "<div class='review'>" not in page_b and "not final" not in page_b
    assert "1 patient(s) have sections that need review" in (out / "cohort.html").read_text(
        encoding="utf-8"
    )


def test_a_patient_whose_only_section_failed_is_named_not_dropped(tmp_path: Path) -> None:
    """``ienfd batch`` with one patient's only image unreadable, then ``ienfd classify``.

    The patient cannot be classified; the cohort page says so with the reason and links
    ``excluded.csv``, and the warning names the row, the patient and the file written.
    """
    from tests.cli._run import run_ienfd

    samples = Path(__file__).resolve().parents[2] / "sample_images"
    bad = tmp_path / "P003_leg.tif"
    bad.write_bytes(b"not a tiff at all")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "image,patient_id,site,section,age,sex\n"
        f"{samples / 'brightfield_sg.ome.tif'},P001,distal_leg,1,50,female\n"
        f"{samples / 'brightfield_dab_rot42.tif'},P001,distal_leg,2,50,female\n"
        f"{bad},P003,distal_leg,1,60,male\n",
        encoding="utf-8",
    )
    res = tmp_path / "res"
    batch = run_ienfd("batch", manifest, "--out", res, "--workers", "1", "--no-overlay")
    assert (res / "sections.csv").is_file(), batch.stderr
    sections = pd.read_csv(res / "sections.csv", keep_default_na=False)
    (failed,) = sections.index[sections["patient_id"] == "P003"] + 1  # 1-based data row
    assert sections.loc[failed - 1, "status"] == "error"
    reason = sections.loc[failed - 1, "error"]

    out = res / "clinical"
    done = run_ienfd("classify", res / "sections.csv", "--out", out)
    assert done.returncode == 0, done.stderr
    excluded = out / "excluded.csv"
    assert excluded.is_file()
    (warning,) = [line for line in done.stderr.splitlines() if "excluded" in line]
    assert warning.startswith("ienfd classify: warning: ")
    assert f"row {failed} (P003" in warning
    assert str(excluded) in warning
    assert "not classified" in warning and "P003" in warning.split("not classified")[1]
    assert "P003" in done.stdout and "not classified" in done.stdout

    page = (out / "cohort.html").read_text(encoding="utf-8")
    assert "<td>P001</td>" in page or ">P001</a>" in page  # the classified patient's row
    listed = re.search(r"<li>(P003.*?)</li>", page, re.S)
    assert listed, "P003 is not listed on the cohort page"
    assert "all sections failed" in listed.group(1)
    assert html_text(reason)[:40] in listed.group(1)
    links = re.findall(r"href='([^']*excluded\.csv)'", page)
    assert links and all((out / link).resolve() == excluded.resolve() for link in links)


def html_text(text: str) -> str:
    """``text`` as the report escapes it."""
    import html

    return html.escape(text)


#: Columns that hold counts (of fibres, sections, patients) or a row number.
COUNT_COLUMN = re.compile(
    r"(^|_)(count|n_sections|n_corrected|n_patients|n_controls|sections_excluded|"
    r"sections_need_review|row|difference)$"
)


@pytest.mark.parametrize("manual_kind", ["csv", "sidecars"])
def test_counts_are_integers_in_every_csv(
    write_csv: Callable[[str, str], Path], lab_norms: Path, tmp_path: Path, manual_kind: str
) -> None:
    """Every CSV that classify and agreement write prints its counts as integers ("3", never "3.0").

    Patient B has no proximal thigh biopsy, so a column of patients.csv has an empty cell
    beside its counts; the agreement counts are read from text, as numbers.
    """
    out = tmp_path / "out"
    assert main(["-q", "classify", str(write_csv("batch.csv", BATCH)), "--norms",
                 str(lab_norms), "--out", str(out)]) == 0  # fmt: skip
    if manual_kind == "csv":
        manual = write_csv("manual.csv", "image,manual_count\ns1.ome.tif,3\ns2.ome.tif,4.0\n"
                                         "s3.ome.tif,8\ns4.ome.tif,9\n")  # fmt: skip
    else:
        manual = tmp_path / "corrections"
        _sidecars(manual)
    agreement = tmp_path / "agreement"
    assert main(["-q", "agreement", str(write_csv("auto.csv", AUTO)), str(manual), "--out",
                 str(agreement)]) == 0  # fmt: skip
    written = sorted([*out.glob("*.csv"), *agreement.glob("*.csv")])
    names = {p.name for p in written}
    assert {"patients.csv", "sites.csv", "cohort_summary.csv", "excluded.csv",
            "agreement_sections.csv"} <= names  # fmt: skip
    checked = []
    for path in written:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in table.columns:
            if not COUNT_COLUMN.search(column):
                continue
            cells = [c for c in table[column] if c != ""]
            bad = [c for c in cells if not re.fullmatch(r"-?\d+", c)]
            assert not bad, f"{path.name}: column {column!r} has {bad}"
            checked.append((path.name, column))
    assert ("agreement_sections.csv", "auto_count") in checked
    assert ("patients.csv", "proximal_n_sections") in checked
    sections = pd.read_csv(agreement / "agreement_sections.csv")
    assert sections["difference"].tolist() == [-1, 0, -2, -1]


@pytest.mark.parametrize("count", ["3.5", "1e-1"])
def test_agreement_refuses_a_count_that_is_not_whole(
    write_csv: Callable[[str, str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    count: str,
) -> None:
    manual = write_csv("manual.csv", f"image,manual_count\ns1.tif,{count}\ns2.tif,4\n")
    auto = write_csv("auto.csv", "image,count\ns1.tif,3\ns2.tif,4\n")
    done = main(["agreement", str(auto), str(manual), "--out", str(tmp_path / "a")])
    assert done == 1
    err = capsys.readouterr().err
    assert re.search(
        rf"manual\.csv.*data row 1 .*column 'manual_count': count '{re.escape(count)}' "
        "is not a whole number",
        err,
    ), err
    assert not (tmp_path / "a").exists()


def test_biopsy_totals_are_integers(write_csv: Callable[[str, str], Path]) -> None:
    """aggregate_sections' counts (batch writes them to biopsies.csv) print as integers."""
    from ienfd.clinical import aggregate_sections, prepare_sections, read_table

    biopsies = aggregate_sections(prepare_sections(read_table(write_csv("b.csv", BATCH))))
    text = biopsies[["patient_id", "site", "n_sections", "total_count"]].to_csv(index=False)
    assert text.splitlines()[1:] == [
        "A,distal_leg,3,9",
        "A,proximal_thigh,3,36",
        "B,distal_leg,3,24",
    ]
    by_density = write_csv(
        "biopsy.csv",
        "patient_id,site,density_per_mm,n_sections\nA,distal_leg,8.5,3\nB,distal_leg,7.5,\n",
    )
    given = aggregate_sections(prepare_sections(read_table(by_density)))
    assert given["n_sections"].iloc[0] == 3 and np.isnan(given["n_sections"].iloc[1])
    assert given["total_count"].isna().all()  # a density per biopsy: no count given


def _doc_block(command: str) -> list[str]:
    """The lines docs/clinical.md shows under ``$ COMMAND`` (to the end of its code block)."""
    text = (EXAMPLES.parents[1] / "clinical.md").read_text(encoding="utf-8")
    start = text.index(f"$ {command}\n") + len(command) + 3
    return text[start : text.index("```", start)].splitlines()


@pytest.mark.parametrize(
    "command",
    [
        "ienfd classify patients.csv --norms simulated_norms.csv --out out",
        "ienfd agreement auto_counts.csv corrections --out agreement",
    ],
)
def test_the_docs_show_what_the_commands_print(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/clinical.md shows what the worked example prints (stdout, then stderr), all of it."""
    import shutil

    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path / "examples")
    assert main(command.split()[1:]) == 0
    out, err = capsys.readouterr()
    printed = (out + err).splitlines()
    shown = _doc_block(command)
    assert shown == printed
