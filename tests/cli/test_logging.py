"""Logging: the library logs and never prints; the command line shows it, with -v and -q.

tifffile reports a damaged file only in its log. At the default verbosity its
raw lines stay off the terminal, and what it said reaches the section's error
message instead; ``-v`` shows them as they come.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from ienfd.cli import build_parser, main
from tests.cli._run import run_ienfd

ROOT = Path(__file__).resolve().parents[2]
#: An OME-TIFF whose OME-XML (ImageDescription, tag 270) is stored after the pixels.
SAMPLE = ROOT / "sample_images" / "brightfield_sg.ome.tif"


@pytest.fixture(scope="module")
def truncated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample cut in half: tifffile logs that tag 270 lies beyond the end."""
    path = tmp_path_factory.mktemp("bad") / "truncated.ome.tif"
    data = SAMPLE.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_the_library_logs_and_prints_nothing(
    truncated: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ienfd.workflow import analysis_jobs, attempt_section

    (job,) = analysis_jobs([str(truncated)], tmp_path, overlay=False)
    with caplog.at_level(logging.WARNING):
        run = attempt_section(job)
    assert capsys.readouterr() == ("", "")
    logged = [r for r in caplog.records if r.name == "tifffile"]
    assert logged, "tifffile said nothing about a cut-off file"
    # what tifffile said reaches the error message, the only thing a user reads by default
    assert run.status == "error" and "tifffile reported:" in run.error
    assert logged[0].getMessage() in run.error


def test_by_default_tifffile_lines_stay_off_the_terminal_and_the_error_says_it(
    truncated: Path, tmp_path: Path
) -> None:
    done = run_ienfd("analyze", truncated, "--out", tmp_path, "--no-overlay")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert not [line for line in lines if "tifffile:" in line or "[tifffile]" in line], lines
    (error,) = [line for line in lines if line.startswith("ienfd analyze: error: ")]
    assert str(truncated) in error and "tifffile reported:" in error


def test_verbose_shows_tifffile_as_it_speaks(truncated: Path, tmp_path: Path) -> None:
    for flags in (["-v"], ["--verbose"]):
        done = run_ienfd("analyze", truncated, "--out", tmp_path, "--no-overlay", *flags)
        assert done.returncode == 1
        assert [
            line
            for line in done.stderr.splitlines()
            if line.startswith(
                ("ienfd analyze: warning [tifffile]: ", "ienfd analyze: error [tifffile]: ")
            )
        ], done.stderr
    # -v before the command counts the same
    done = run_ienfd("-v", "analyze", truncated, "--out", tmp_path, "--no-overlay")
    assert "[tifffile]: " in done.stderr


def test_quiet_prints_errors_only(truncated: Path, tmp_path: Path) -> None:
    done = run_ienfd("analyze", SAMPLE, truncated, "--out", tmp_path, "--no-overlay", "-q")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("ienfd analyze: error: ") for line in lines), lines


def test_library_warnings_are_shown_as_the_command_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning the clinical module logs is printed as 'ienfd classify: warning: ...'."""
    table = tmp_path / "sections.csv"
    table.write_text(  # a table from an older ienfd: no quality-check columns
        "image,patient_id,site,section,count,count_auto,length_mm\n"
        + "".join(f"s{i}.tif,P1,distal_leg,{i},8,8,0.9\n" for i in range(3)),
        encoding="utf-8",
    )
    code = main(["classify", str(table), "--out", str(tmp_path / "c"), "--no-reports"])
    err = capsys.readouterr().err
    assert code == 0
    assert "ienfd classify: warning: " in err and "without quality checks" in err
    code = main(["classify", str(table), "--out", str(tmp_path / "c"), "--no-reports", "-q"])
    assert code == 0 and capsys.readouterr() == ("", "")


def _commands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable (sub-)command and its parser."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                deeper = _commands(sub, (*prefix, name))
                found += deeper or [((*prefix, name), sub)]
    return found


def test_every_command_takes_verbose_and_quiet() -> None:
    commands = _commands(build_parser())
    names = {" ".join(words) for words, _ in commands}
    assert {"analyze", "batch", "synth", "info", "classify", "agreement", "norms build"} <= names
    for words, parser in commands:
        flags = {opt for action in parser._actions for opt in action.option_strings}
        assert {"-v", "--verbose", "-q", "--quiet"} <= flags, words


def test_quiet_before_the_command_works_as_after_it(truncated: Path, tmp_path: Path) -> None:
    """``ienfd -q CMD`` is ``ienfd CMD -q``, as ``ienfd -v CMD`` is ``ienfd CMD -v``."""
    for flag in ("-q", "--quiet"):
        before = run_ienfd(
            flag, "analyze", SAMPLE, truncated, "--out", tmp_path / flag, "--no-overlay"
        )
        after = run_ienfd(
            "analyze", SAMPLE, truncated, "--out", tmp_path / f"after{flag}", "--no-overlay", flag
        )
        assert before.returncode == after.returncode == 1, before.stderr
        assert before.stdout == after.stdout == ""
        lines = before.stderr.splitlines()
        assert lines and all(line.startswith("ienfd analyze: error: ") for line in lines), lines
        assert str(truncated) in before.stderr
    # and without it, the same run prints its table: -q is what silenced it
    loud = run_ienfd("analyze", SAMPLE, "--out", tmp_path / "loud", "--no-overlay")
    assert loud.returncode == 0 and loud.stdout


def test_quiet_before_the_command_silences_clinical_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "sections.csv"
    table.write_text(  # no quality-check columns: classify warns
        "image,patient_id,site,section,count,count_auto,length_mm\n"
        + "".join(f"s{i}.tif,P1,distal_leg,{i},8,8,0.9\n" for i in range(3)),
        encoding="utf-8",
    )
    out = str(tmp_path / "c")
    assert main(["classify", str(table), "--out", out, "--no-reports"]) == 0
    assert "warning" in capsys.readouterr().err
    assert main(["-q", "classify", str(table), "--out", out, "--no-reports"]) == 0
    assert capsys.readouterr() == ("", "")
