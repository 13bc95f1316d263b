"""``ienfd batch`` on real TIFF files and a real 2-worker LocalCluster.

Nothing here asserts a particular fibre count (the core is still tuned): a
good section's row must equal what the eager single-section path
(:func:`ienfd.workflow.run_section`, as ``ienfd analyze``) finds on the same
file, and bad files must become error rows naming the file and the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.workflow import SECTION_COLUMNS, SectionJob, run_section

pytestmark = [pytest.mark.dask, pytest.mark.slow]

RESULT_COLUMNS = [
    "image",
    "status",
    "count",
    "dej_length_um",
    "surface_length_um",
    "density_per_mm",
    "pixel_size_um",
    "modality",
    "input_sha256",
]


def _table(out: Path) -> pd.DataFrame:
    """sections.csv with empty text cells as ''."""
    table = pd.read_csv(out / "sections.csv")
    for column in ("error", "overlay", "result_json", "region", "review_status"):
        table[column] = table[column].astype(object).where(table[column].notna(), "")
    return table


def _batch(args: list[str], client: object) -> int:
    address = client.scheduler.address  # type: ignore[attr-defined]
    return main(["batch", *args, "--scheduler", address])


@pytest.fixture(scope="module")
def first_run(
    section_folder: Path, client: object, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("batch") / "out"
    code = _batch([str(section_folder), "--out", str(out)], client)
    return out, code


def test_good_rows_match_eager_analysis_and_bad_files_are_error_rows(
    first_run: tuple[Path, int], section_folder: Path, tmp_path: Path
) -> None:
    out, code = first_run
    assert code == 1  # two files failed
    table = _table(out)
    assert list(table.columns) == list(SECTION_COLUMNS)
    assert len(table) == 5
    by_name = {
        Path(i).name: r for i, r in zip(table["image"], table.to_dict("records"), strict=True)
    }
    for name in ("leg_a.tif", "leg_b.ome.tif", "thigh_c.ome.tif"):
        row = by_name[name]
        assert row["status"] == "ok" and row["error"] == ""
        eager = run_section(
            SectionJob(
                image=name,
                path=str(section_folder / name),
                out_dir=str(tmp_path),
                stem=Path(name).stem,
                overlay=False,
            )
        ).record
        assert row["count"] == eager["count"]
        assert row["dej_length_um"] == pytest.approx(eager["dej_length_um"])
        assert row["surface_length_um"] == pytest.approx(eager["surface_length_um"])
        assert row["modality"] == eager["modality"]
        result = json.loads((out / row["result_json"]).read_text())
        assert result["crossings"] == eager["crossings"]
        assert result["image"] == str(section_folder / name)  # path as given
        assert result["parameters"] == eager["parameters"]
        assert result["pipeline"]["name"] == "default"
        assert (out / row["overlay"]).is_file()
    corrupt, no_size = by_name["corrupt.tif"], by_name["no_pixel_size.tif"]
    assert corrupt["status"] == "error" and "corrupt.tif" in corrupt["error"]
    assert "truncated" in corrupt["error"] or "corrupt" in corrupt["error"]
    assert no_size["status"] == "error" and "no_pixel_size.tif" in no_size["error"]
    assert "no pixel size" in no_size["error"]
    for bad in ("corrupt", "no_pixel_size"):
        assert not (out / f"{bad}.json").exists()
    run = json.loads((out / "run.json").read_text())
    assert run["n_failed"] == 2 and len(run["failures"]) == 2
    assert {Path(f["image"]).name for f in run["failures"]} == {"corrupt.tif", "no_pixel_size.tif"}
    hashes = {Path(i["image"]).name: i["sha256"] for i in run["inputs"]}
    assert len(hashes["leg_a.tif"]) == 64
    assert run["pipeline"]["parameters"]["min_fibre_um"] > 0
    assert run["started_at"] <= run["finished_at"]
    parquet = pd.read_parquet(out / "sections.parquet")
    assert parquet["image"].tolist() == table["image"].tolist()
    assert parquet["count"].dropna().tolist() == table["count"].dropna().tolist()
    assert parquet["status"].tolist() == table["status"].tolist()


def test_summary_lists_failures(
    first_run: tuple[Path, int],
    section_folder: Path,
    client: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, _ = first_run
    code = _batch([str(section_folder), "--out", str(out)], client)
    captured = capsys.readouterr()
    assert code == 1
    assert "corrupt.tif" in captured.err and "no_pixel_size.tif" in captured.err
    assert "2 FAILED" in captured.out


def test_second_run_skips_every_done_section_and_force_redoes_it(
    first_run: tuple[Path, int], section_folder: Path, client: object
) -> None:
    out, _ = first_run
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("leg_*.json")}
    _batch([str(section_folder), "--out", str(out)], client)
    table = _table(out)
    ok = table[table["status"] == "ok"]
    assert len(ok) == 3 and ok["skipped"].all()
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("leg_*.json")} == before
    _batch([str(section_folder), "--out", str(out), "--force"], client)
    table2 = _table(out)
    assert not table2["skipped"].any()
    assert table2[RESULT_COLUMNS].equals(table[RESULT_COLUMNS])


def test_changed_parameters_are_not_skipped(
    first_run: tuple[Path, int], section_folder: Path, client: object, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0], out)
    pipeline = json.loads(Path("pipelines/brightfield_pgp95.json").read_text())
    pipeline["parameters"]["min_fibre_um"] = 4.0
    (tmp_path / "p.json").write_text(json.dumps(pipeline))
    _batch(
        [
            str(section_folder / "leg_a.tif"),
            "--out",
            str(out),
            "--pipeline",
            str(tmp_path / "p.json"),
        ],
        client,
    )
    table = _table(out)
    assert len(table) == 1 and not table["skipped"].iloc[0]
    assert json.loads((out / "leg_a.json").read_text())["parameters"]["min_fibre_um"] == 4.0


def test_one_and_two_workers_give_identical_results(
    first_run: tuple[Path, int], section_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "one"
    code = main(["batch", str(section_folder), "--out", str(out), "--workers", "1", "-q"])
    assert code == 1
    one = _table(out)
    two = _table(first_run[0])
    columns = [c for c in SECTION_COLUMNS if c != "skipped"]
    assert one[columns].equals(two[columns])
    for name in ("leg_a", "leg_b", "thigh_c"):
        a = json.loads((out / f"{name}.json").read_text())
        b = json.loads((first_run[0] / f"{name}.json").read_text())
        a.pop("elapsed_s"), b.pop("elapsed_s")
        assert a == b


def test_pipeline_for_the_other_modality_is_an_error_row(
    section_folder: Path, client: object, tmp_path: Path
) -> None:
    code = _batch(
        [
            str(section_folder / "thigh_c.ome.tif"),
            "--out",
            str(tmp_path),
            "--pipeline",
            "pipelines/brightfield_pgp95.json",
        ],
        client,
    )
    table = _table(tmp_path)
    assert code == 1
    assert table["status"].iloc[0] == "error"
    assert "thigh_c.ome.tif" in table["error"].iloc[0]
    assert "fluorescence" in table["error"].iloc[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers 0"),
        (["--pipeline", "no_such_pipeline.json"], "no_such_pipeline.json"),
        (["--pixel-size", "0"], "pixel size"),
    ],
)
def test_bad_command_line_exits_2(
    section_folder: Path,
    tmp_path: Path,
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) if "--pixel-size" in args else contextlib.nullcontext():
        code = main(["batch", str(section_folder), "--out", str(tmp_path / "o"), *args])
        assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "sections.csv").exists()


def test_an_unquoted_glob_is_named_as_the_likely_cause(
    section_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(str(p) for p in section_folder.glob("*.tif"))  # what the shell passes
    assert len(files) >= 2
    with pytest.raises(SystemExit) as exited:
        main(["batch", *files, "--out", str(tmp_path / "o")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"unrecognized arguments: {' '.join(files[1:])}" in err
    assert "a glob in quotes such as 'slides/*.tif'): an unquoted glob is expanded by the " in err
    assert f"shell into {len(files)} arguments" in err
    # an unknown option is only that
    with pytest.raises(SystemExit):
        main(["batch", files[0], "--out", str(tmp_path / "o"), "--bogus"])
    err = capsys.readouterr().err
    assert "unrecognized arguments: --bogus" in err and "glob" not in err
    assert not (tmp_path / "o").exists()


def test_no_input_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path / "nothing*.tif"), "--out", str(tmp_path / "o")]) == 2
    assert "matches no file" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_stale_results_of_failing_files_are_removed(
    section_folder: Path, client: object, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "notes.tif").write_text("not a TIFF at all\n")  # fails while planning
    stale = {"corrupt.json", "no_pixel_size.json", "notes.json", "notes.overlay.png"}
    for name in stale:
        (out / name).write_text('{"count": 99}')
    for bad in ("corrupt.tif", "no_pixel_size.tif"):
        shutil.copy(section_folder / bad, tmp_path / bad)
    assert _batch([str(tmp_path / "*.tif"), "--out", str(out), "-q"], client) == 1
    assert not stale & {p.name for p in out.iterdir()}
    table = _table(out)
    assert table["status"].tolist() == ["error"] * 3
    assert "notes.tif" in table["error"].iloc[2] and "TIFF" in table["error"].iloc[2]
