"""The progress bar: live, with rate and time left, on a terminal; plain lines elsewhere.

The command line runs in a subprocess whose stdout and stderr are a real
pseudo-terminal (:func:`pty.openpty`), as in a user's terminal, or pipes, as
in CI or a log file. Nothing here depends on how long anything takes.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from ienfd.cli._common import Progress
from tests.cli._run import run_ienfd

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    ROOT / "sample_images" / "brightfield_sg.ome.tif",
    ROOT / "sample_images" / "fluorescence.ome.tif",
]
#: tqdm's rate, either way round ("1.52section/s", " 2.10s/section").
RATE = r" *\d+\.\d\d(section/s|s/section)"


def run_on_terminal(*args: str | Path, size: tuple[int, int] = (30, 120)) -> tuple[int, str]:
    """``python -m ienfd.cli ARGS`` with stdout and stderr on one pseudo-terminal.

    ``size`` is the terminal's (rows, columns); (0, 0) is one that reports no size.
    Returns the exit code and everything written to the terminal.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ienfd.cli", *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        cwd=ROOT,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = proc.wait(timeout=600)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def _bar_lines(text: str) -> list[str]:
    """What the terminal showed of the bar: the pieces between carriage returns."""
    return [piece for piece in re.split(r"[\r\n]+", text) if " elapsed, " in piece]


@pytest.mark.slow
@pytest.mark.parametrize("size", [(30, 120), (0, 0)], ids=["sized", "no-size"])
def test_analyze_on_a_terminal_shows_a_bar_with_rate_and_time_left(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    code, text = run_on_terminal("analyze", *SAMPLES, "--out", tmp_path, "--no-overlay", size=size)
    assert code == 0, text
    bars = _bar_lines(text)
    assert bars, text
    final = bars[-1]
    assert final.startswith("analyze 2/2 |") and "100%" in final, final
    assert re.search(r"\d\d:\d\d elapsed, \d\d:\d\d left, " + RATE, final), final
    # the bar counted along: 0 of 2 before the first image, then 1 of 2 with a rate
    assert any(b.startswith("analyze 0/2 |") for b in bars), bars
    assert any(b.startswith("analyze 1/2 |") and re.search(RATE, b) for b in bars), bars
    # the table's lines are all there, written above the bar
    for sample in SAMPLES:
        assert f"\n{sample.relative_to(ROOT)}" not in text  # given as absolute paths
        assert any(line.startswith(str(sample)) for line in text.splitlines()), text
    assert "2 of 2 image(s) analysed" in text


@pytest.mark.slow
def test_analyze_without_a_terminal_prints_plain_lines(tmp_path: Path) -> None:
    done = run_ienfd("analyze", *SAMPLES, "--out", tmp_path, "--no-overlay")
    assert done.returncode == 0, done.stderr
    for stream in (done.stdout, done.stderr):
        assert "\r" not in stream and " elapsed, " not in stream and "section/s" not in stream
    lines = done.stdout.splitlines()
    assert lines[0].startswith("image ") and lines[-1].startswith("2 of 2 image(s) analysed")
    assert [line.split()[0] for line in lines[1:-1]] == [str(s) for s in SAMPLES]


@pytest.mark.slow
def test_quiet_and_single_images_draw_no_bar(tmp_path: Path) -> None:
    code, text = run_on_terminal("analyze", *SAMPLES, "--out", tmp_path, "--no-overlay", "-q")
    assert code == 0 and text == ""
    code, text = run_on_terminal("analyze", SAMPLES[0], "--out", tmp_path, "--no-overlay")
    assert code == 0 and not _bar_lines(text) and str(SAMPLES[0]) in text


@pytest.mark.slow
@pytest.mark.dask
def test_batch_on_a_terminal_shows_a_bar_and_a_rerun_counts_skipped_sections(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for sample in SAMPLES:
        shutil.copy(sample, folder)
    out = tmp_path / "out"
    args = ("batch", folder, "--out", out, "--workers", "1", "--no-overlay")
    code, text = run_on_terminal(*args)
    assert code == 0, text
    assert re.search(r"\[1/2\] .*  ok  count \d+", text) and re.search(r"\[2/2\] ", text), text
    final = _bar_lines(text)[-1]
    assert final.startswith("batch 2/2 |") and "100%" in final, final
    assert re.search(r"elapsed, \d\d:\d\d left, ", final), final

    code, text = run_on_terminal(*args)  # everything done: both skipped
    assert code == 0, text
    assert text.count("skipped (done earlier") == 2, text
    final = _bar_lines(text)[-1]
    assert final.startswith("batch 2/2 |") and "100%" in final, final
    # skipped sections are not work done: no rate is made of them
    assert final.endswith("?section/s"), final


def test_skipped_sections_do_not_count_in_the_rate(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("batch", quiet=False, bar=True) as progress:
        progress.advance(total=4, skipped=True)  # the bar starts with the first section
        progress.advance(total=4, skipped=True)
        assert progress.bar is not None
        assert (progress.bar.n, progress.bar.initial) == (2, 2)
        progress.advance(total=4)
        assert (progress.bar.n, progress.bar.initial, progress.bar.total) == (3, 2, 4)
        progress.write("a line above the bar")
    out, err = capsys.readouterr()
    assert out == "a line above the bar\n"
    assert "batch 3/4 |" in err  # the bar went to stderr


def test_quiet_progress_prints_only_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress("batch", total=2, quiet=True, bar=True) as progress:
        assert progress.bar is None
        progress.write("a section line")
        progress.advance()
        progress.error("ienfd batch: error: x.tif: no such file")
    assert capsys.readouterr() == ("", "ienfd batch: error: x.tif: no such file\n")
