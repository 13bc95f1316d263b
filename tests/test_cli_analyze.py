"""``ienfd analyze``: the output contract, the overlay, batches and bad input.

Real files are written with :func:`ienfd.io.write_section_tiff` from small
synthetic sections.  The core is still being tuned, so nothing here asserts a
particular count: only the contract (keys, types, units, the density identity,
crossings inside the image) and the behaviour on failure.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ienfd import __version__
from ienfd.cli import main
from ienfd.cli._common import shorten
from ienfd.io import file_sha256, write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section, random_spec
from tests.io._tiffs import brightfield_rgb, claim_size, write_plain

PIXEL_UM = 0.6
CONTRACT_TYPES: dict[str, type | tuple[type, ...]] = {
    "image": str,
    "modality": str,
    "pixel_size_um": float,
    "count": int,
    "crossings": list,
    "dej_length_um": float,
    "surface_length_um": float,
    "density_per_mm": (int, float),
    "length_basis": str,
}


def _spec(modality: str) -> SectionSpec:
    return SectionSpec(modality=modality, length_um=400, pixel_size_um=PIXEL_UM, noise=0.01, seed=3)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A bright-field plain TIFF and a two-channel fluorescence OME-TIFF."""
    folder = tmp_path_factory.mktemp("images")
    bf = generate_section(_spec("brightfield"))
    fl = generate_section(_spec("fluorescence"))
    paths = {"brightfield": folder / "bf_section.tif", "fluorescence": folder / "fl.ome.tif"}
    write_section_tiff(paths["brightfield"], bf.image, pixel_size_um=PIXEL_UM, kind="tiff")
    write_section_tiff(
        paths["fluorescence"],
        fl.image,
        pixel_size_um=PIXEL_UM,
        kind="ome",
        channel_names=fl.channel_names,
    )
    return paths


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["analyze", *(str(a) for a in args)])
    out, err = capsys.readouterr()
    return code, out, err


def _load(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


@pytest.mark.parametrize("modality", ["brightfield", "fluorescence"])
def test_contract(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], modality: str
) -> None:
    image = files[modality]
    code, out, err = _run(capsys, image, "--out", tmp_path, "--no-overlay")
    assert code == 0, err
    stem = image.name.split(".")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{stem}.json"]
    data = _load(tmp_path / f"{stem}.json")

    assert list(data)[: len(CONTRACT_TYPES)] == list(CONTRACT_TYPES)  # contract keys first
    for key, kind in CONTRACT_TYPES.items():
        assert isinstance(data[key], kind), key
        assert not isinstance(data[key], bool), key
    assert data["image"] == str(image)  # the path exactly as given
    assert data["modality"] == modality
    assert data["pixel_size_um"] == pytest.approx(PIXEL_UM)
    assert data["pixel_size_source"] in ("tiff-resolution", "ome")
    assert data["length_basis"] == "dej"
    assert data["dej_length_um"] > 0 and data["surface_length_um"] > 0
    assert data["count"] == len(data["crossings"]) >= 0
    assert data["density_per_mm"] == data["count"] / (data["dej_length_um"] / 1000.0)

    rows, cols = data["image_shape"]
    for point in data["crossings"]:
        assert set(point) == {"row", "col"}
        assert all(isinstance(v, float) and math.isfinite(v) for v in point.values())
        assert 0 <= point["row"] <= rows - 1 and 0 <= point["col"] <= cols - 1

    assert data["ienfd_version"] == __version__
    assert isinstance(data["elapsed_s"], float) and data["elapsed_s"] >= 0
    assert isinstance(data["reader_warnings"], list)
    assert data["overlay"] is None
    assert isinstance(data["parameters"], dict) and "min_fibre_um" in data["parameters"]
    if modality == "fluorescence":
        assert data["channels"] == {"fibre": 0, "membrane": 1, "names": ["PGP9.5", "ColIV"]}
    else:
        assert data["channels"]["fibre"] is None and data["channels"]["membrane"] is None

    header, row, summary = out.strip().splitlines()
    assert header.split()[:2] == ["image", "modality"] and header.endswith("status")
    assert row.startswith(str(image)) and row.split()[1] == modality
    assert row.split()[3] == str(data["count"])
    status = row.rsplit("  ", 1)[-1]
    assert isinstance(data["needs_review"], bool) and isinstance(data["qc"], dict)
    assert data["needs_review"] == bool(data["qc_reasons"])
    if data["needs_review"]:  # the quality checks decide; never a plain "ok" then
        assert status.startswith(f"review: {data['qc_reasons'][0]}")
    else:
        assert status.startswith("ok")
    assert summary.startswith("1 of 1 image(s) analysed")


@pytest.fixture(scope="module")
def no_fibres(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real fluorescence OME-TIFF of a section without a single nerve fibre."""
    spec = random_spec(4, modality="fluorescence", density_per_mm=0.0, length_um=400,
                       pixel_size_um=PIXEL_UM)  # fmt: skip
    section = generate_section(spec)
    assert section.truth["count"] == 0
    path = tmp_path_factory.mktemp("empty") / "no_fibres.ome.tif"
    write_section_tiff(path, section.image, pixel_size_um=PIXEL_UM, kind="ome",
                       channel_names=section.channel_names)  # fmt: skip
    return path


def test_a_result_that_needs_review_is_marked_but_not_an_error(
    files: dict[str, Path], no_fibres: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        capsys, files["brightfield"], no_fibres, "--out", tmp_path, "--no-overlay"
    )
    assert code == 0, err  # needing review is not a failure
    data = _load(tmp_path / "no_fibres.json")
    assert data["count"] == 0 and data["needs_review"] is True
    assert data["qc_reasons"][0].startswith("no fibre counted")
    _, _, second, summary = out.strip().splitlines()
    assert second.startswith(str(no_fibres))
    status = second.rsplit("  ", 1)[-1]
    more = len(data["qc_reasons"]) - 1
    first = shorten(data["qc_reasons"][0])  # cut at a word; in full on stderr
    assert status == f"review: {first}" + (f" (+{more} more)" if more else "")
    for reason in data["qc_reasons"]:  # every reason where the user sees it
        assert f"ienfd analyze: review: {no_fibres}: {reason}" in err
    other = _load(tmp_path / "bf_section.json")
    n_review = 1 + other["needs_review"]
    assert f"2 of 2 image(s) analysed, {n_review} need" in summary


def test_status_names_the_first_reason_and_how_many_more() -> None:
    from ienfd.cli import _status
    from ienfd.workflow import SectionOutcome

    two = SectionOutcome({"needs_review": True, "qc_reasons": ["a b", "c"]}, notes=["n"])
    assert _status(two) == "review: a b (+1 more)"
    ok = {"needs_review": False, "qc_reasons": []}
    assert _status(SectionOutcome(ok, ["membrane weak"])) == "ok, note: membrane weak"
    assert _status(SectionOutcome(ok, ["a", "b", "c"])) == "ok, note: a (+2 more)"
    long = SectionOutcome(ok, ["no pixel size; pass pixel_size_um " + "x" * 100])
    shown = _status(long)  # shortened, in the command line's words
    assert shown.startswith("ok, note: no pixel size; pass --pixel-size UM") and len(shown) < 90
    assert shown.endswith("…")
    old = SectionOutcome({"count": 3}, [])  # a record without checks is never plain ok
    assert _status(old).startswith("review: no quality checks")


def test_the_status_of_a_failed_image_is_its_reason_not_the_exception_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _not_tiff(tmp_path)
    code, out, err = _run(capsys, path, "--out", tmp_path / "out")
    assert code == 1
    (row,) = [line for line in out.splitlines() if line.startswith(str(path))]
    status = row.split("  ")[-1]
    assert status.startswith("error: not a TIFF file"), row  # the file is named in column 1
    assert "ImageReadError" not in out
    assert f"error: {path}: not a TIFF file" in err  # in full on stderr


def test_non_finite_quality_values_are_written_as_null(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import ienfd.workflow._section as section_module

    real = section_module._analyse

    def with_nan(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        return dataclasses.replace(result, qc={**result.qc, "made_up": float("nan")})

    monkeypatch.setattr(section_module, "_analyse", with_nan)
    assert main(["analyze", str(files["brightfield"]), "--out", str(tmp_path), "-q"]) == 0
    text = (tmp_path / "bf_section.json").read_text(encoding="utf-8")
    assert "NaN" not in text
    assert json.loads(text)["qc"]["made_up"] is None


def test_length_basis_surface(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = files["brightfield"]
    code, _, err = _run(
        capsys, image, "--out", tmp_path, "--no-overlay", "--length-basis", "surface"
    )
    assert code == 0, err
    data = _load(tmp_path / "bf_section.json")
    assert data["length_basis"] == "surface"
    assert data["density_per_mm"] == data["count"] / (data["surface_length_um"] / 1000.0)
    assert data["density_per_mm_dej"] == pytest.approx(
        data["count"] / (data["dej_length_um"] / 1000.0), abs=1e-3
    )


def test_overlay_png(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, files["fluorescence"], "--out", tmp_path)
    assert code == 0, err
    data = _load(tmp_path / "fl.json")
    assert data["overlay"] == "fl.overlay.png"
    with Image.open(tmp_path / "fl.overlay.png") as png:
        assert png.format == "PNG"
        pixels = np.asarray(png.convert("RGB"), dtype=float)
    assert min(pixels.shape[:2]) > 100
    assert pixels.std() > 20  # not blank
    # the false-colour composite: a dark field with green (fibre) pixels in it
    green = (pixels[..., 1] > 150) & (pixels[..., 0] < 100)
    assert green.sum() > 100
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left over


def test_pixel_size_override(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys, files["brightfield"], "--out", tmp_path, "--no-overlay", "--pixel-size", "0.5"
    )
    assert code == 0, err
    data = _load(tmp_path / "bf_section.json")
    assert data["pixel_size_um"] == 0.5
    assert data["pixel_size_source"] == "user"
    # The file records 0.6 µm: the override is said, on stderr and in the JSON.
    said = "pixel size 0.5 µm given by the user replaces the 0.6 µm the file records"
    assert said in err and any(said in note for note in data["reader_warnings"])
    code, _, err = _run(
        capsys, files["brightfield"], "--out", tmp_path, "--no-overlay", "--pixel-size", "0.6"
    )
    assert code == 0 and "given by the user replaces" not in err


def test_channels_by_name(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        capsys,
        files["fluorescence"],
        "--out",
        tmp_path,
        "--no-overlay",
        "--fibre-channel",
        "pgp9.5",
        "--membrane-channel",
        "1",
        "--modality",
        "fluorescence",
    )
    assert code == 0, err
    assert _load(tmp_path / "fl.json")["channels"]["fibre"] == 0


def test_batch_with_a_bad_file(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_text("not an image\n")
    out = tmp_path / "out"
    code, stdout, err = _run(
        capsys, files["brightfield"], bad, files["fluorescence"], "--out", out, "--no-overlay"
    )
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["bf_section.json", "fl.json"]
    assert f"error: {bad}: not a TIFF" in err
    assert "Traceback" not in err
    rows = stdout.strip().splitlines()
    assert len(rows) == 5  # header, three images, summary
    assert rows[2].startswith(str(bad)) and "error" in rows[2]
    assert "2 of 3 image(s) analysed, 1 failed" in rows[4]


def test_shared_stems_are_disambiguated(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copies = []
    for folder in ("leg", "thigh"):
        (tmp_path / folder).mkdir()
        copy = tmp_path / folder / "s1.tif"
        copy.write_bytes(files["brightfield"].read_bytes())
        copies.append(copy)
    out = tmp_path / "out"
    code, _, err = _run(capsys, *copies, "--out", out, "--no-overlay")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["s1__leg.json", "s1__thigh.json"]
    assert _load(out / "s1__thigh.json")["image"] == str(copies[1])
    assert "s1__leg.json" in err


def test_stale_result_of_a_failed_file_is_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "sec.tif"
    bad.write_bytes(b"II*\x00garbage")
    out = tmp_path / "out"
    out.mkdir()
    (out / "sec.json").write_text('{"count": 12}')
    code, _, err = _run(capsys, bad, "--out", out)
    assert code == 1
    assert not (out / "sec.json").exists()
    assert "removed" in err


def test_params_file(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"min_fibre_um": 4.0, "fibre_width_um": [0.8, 1.6]}))
    out = tmp_path / "out"
    code, _, err = _run(
        capsys, files["brightfield"], "--out", out, "--no-overlay", "--params", params
    )
    assert code == 0, err
    data = _load(out / "bf_section.json")
    assert data["parameters"]["min_fibre_um"] == 4.0

    # an earlier result works as a parameter file: its "parameters" are used
    code, _, err = _run(
        capsys,
        files["brightfield"],
        "--out",
        out,
        "--no-overlay",
        "--params",
        out / "bf_section.json",
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"no_such_parameter": 1}', "unknown analysis parameter"),
        ("[1, 2", "not a JSON file (Expecting"),
        ("x", "not a JSON file (Expecting value at line 1, column 1)"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_params_file(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    reason: str,
) -> None:
    params = tmp_path / "params.json"
    params.write_text(content)
    out = tmp_path / "out"
    code, _, err = _run(capsys, files["brightfield"], "--out", out, "--params", params)
    assert code == 2
    assert str(params) in err and reason in err
    assert not out.exists() or not list(out.iterdir())


def test_out_that_is_a_file_is_named_so(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "results"
    taken.write_text("a file, not a folder")
    code, _, err = _run(capsys, files["brightfield"], "--out", taken)
    assert code == 2 and f"--out {taken}: is a file, not a folder" in err
    assert taken.read_text() == "a file, not a folder"


# --- bad input: each a file the command must refuse, by name and reason --------------


def _truncated(folder: Path) -> Path:
    good = folder / "whole.tif"
    write_section_tiff(good, brightfield_rgb(), pixel_size_um=0.5, kind="tiff", compression=None)
    data = good.read_bytes()
    good.unlink()
    path = folder / "truncated.tif"
    path.write_bytes(data[: len(data) // 2])
    return path


def _not_tiff(folder: Path) -> Path:
    path = folder / "notes.tif"
    path.write_text("hello, not an image\n")
    return path


def _one_pixel(folder: Path) -> Path:
    path = folder / "one_pixel.tif"
    write_section_tiff(path, np.full((1, 1, 3), 200, np.uint8), pixel_size_um=0.5, kind="tiff")
    return path


def _greyscale(folder: Path) -> Path:
    grey = np.full((96, 128), 230, np.uint8)
    grey[40:60] = 120
    path = folder / "grey.tif"
    write_section_tiff(path, grey, pixel_size_um=0.5, kind="tiff")
    return path


def _two_channels(folder: Path) -> Path:
    data = np.zeros((2, 96, 128), np.uint16)
    data[0, 30:40] = 1000
    data[1, 50:52] = 2000
    path = folder / "two_channels.ome.tif"
    write_section_tiff(path, data, pixel_size_um=0.5, kind="ome", channel_names=["PGP9.5", "ColIV"])
    return path


def _no_pixel_size(folder: Path) -> Path:
    path = folder / "no_pixel_size.tif"
    write_section_tiff(path, brightfield_rgb(), pixel_size_um=None, kind="tiff")
    return path


def _nan(folder: Path) -> Path:
    data = np.zeros((96, 128), np.float32)
    data[40:50] = 1.0
    data[10, 10] = np.nan
    path = folder / "nan.tif"
    write_section_tiff(path, data, pixel_size_um=0.5, kind="tiff")
    return path


def _huge_header(folder: Path) -> Path:
    path = write_plain(
        folder / "huge.tif", brightfield_rgb(), pixel_um=0.5, metadata=None, photometric="rgb"
    )
    claim_size(path, 100_000, 100_000)
    return path


def _blank(folder: Path) -> Path:
    path = folder / "blank.tif"
    write_section_tiff(path, np.full((200, 300, 3), 255, np.uint8), pixel_size_um=0.5, kind="tiff")
    return path


BAD_INPUTS: list[tuple[str, Callable[[Path], Path], list[str], str]] = [
    ("truncated", _truncated, [], r"truncated"),
    ("not-a-tiff", _not_tiff, [], r"not a TIFF"),
    ("1x1", _one_pixel, [], r"too small"),
    ("grey-as-brightfield", _greyscale, ["--modality", "brightfield"], r"greyscale.*bright-field"),
    ("unknown-channel", _two_channels, ["--fibre-channel", "tubulin"], r"unknown fibre channel"),
    ("no-pixel-size", _no_pixel_size, [], r"no pixel size.*--pixel-size"),
    ("nan", _nan, [], r"NaN"),
    ("absurd-header", _huge_header, [], r"too large"),
    ("blank", _blank, [], r"no tissue"),
]


@pytest.mark.parametrize(
    ("make", "extra", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_bad_input(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], Path],
    extra: list[str],
    reason: str,
) -> None:
    import re

    path = make(tmp_path)
    out = tmp_path / "out"
    code, stdout, err = _run(capsys, path, "--out", out, *extra)
    assert code == 1
    message = [line for line in err.splitlines() if "error:" in line]
    assert len(message) == 1, err
    assert str(path) in message[0] and re.search(reason, message[0]), message[0]
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no JSON, no overlay, no temporary file
    assert "0 of 1 image(s) analysed, 1 failed" in stdout


@pytest.mark.parametrize("value", ["0", "-1", "0.005", "nan", "inf", "abc", "100"])
def test_bad_pixel_size_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["analyze", "x.tif", "--out", str(tmp_path / "out"), f"--pixel-size={value}"])
    assert info.value.code == 2
    assert "--pixel-size" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_quiet(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, files["brightfield"], "--out", tmp_path, "--no-overlay", "-q")
    assert code == 0 and out == "" and err == ""


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["analyze", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for needle in ("--pixel-size", "--length-basis", "exit status", "examples:", "overlay"):
        assert needle in text
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "analyze" in capsys.readouterr().out


def test_subprocess(files: dict[str, Path], tmp_path: Path) -> None:
    """The real command line, in a fresh interpreter, with an overlay."""
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ienfd.cli",
            "analyze",
            str(files["brightfield"]),
            str(bad),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout.splitlines()[0].startswith("image")
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["bf_section.json", "bf_section.overlay.png"]
    data = _load(tmp_path / "out" / "bf_section.json")
    assert data["image"] == str(files["brightfield"])


# --consistency: the section analysed again at other pixel sizes

CONSISTENCY_UM = 0.8
RUN_KEYS = {"rotation", "flip", "pixel_size_um", "count", "dej_length_um", "needs_review", "error"}


@pytest.fixture(scope="module")
def small_section(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short bright-field OME-TIFF (300 µm at 0.8 µm) so that 4 analyses take seconds."""
    spec = random_spec(4, modality="brightfield", length_um=300, pixel_size_um=CONSISTENCY_UM)
    section = generate_section(spec)
    path = tmp_path_factory.mktemp("consistency") / "small.ome.tif"
    write_section_tiff(path, section.image, pixel_size_um=CONSISTENCY_UM, kind="ome")
    return path


@pytest.mark.slow
def test_consistency_writes_three_runs_and_their_checks(
    small_section: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, small_section, "--out", tmp_path, "--no-overlay", "--consistency")
    assert code == 0, err
    data = _load(tmp_path / "small.json")
    runs = data["consistency"]
    assert len(runs) == 3 and all(set(run) == RUN_KEYS for run in runs)
    # the file's pixel size, 1.25 and 1.5 times it; none turned (that changes nothing)
    sizes = [r["pixel_size_um"] for r in runs]
    assert sizes == pytest.approx([CONSISTENCY_UM * f for f in (1.0, 1.25, 1.5)], rel=0.01)
    assert all((r["rotation"], r["flip"]) == (0, False) for r in runs)
    # the copy at the file's pixel size is the analysis the JSON reports
    first = runs[0]
    assert first["error"] is None and first["count"] == data["count"]
    assert first["dej_length_um"] == pytest.approx(data["dej_length_um"], abs=0.06)
    # ... with its own quality checks' verdict, before the consistency reasons
    own_reasons = [r for r in data["qc_reasons"] if "rescaled" not in r]
    assert first["needs_review"] is bool(own_reasons)

    qc = data["qc"]
    done = [r for r in runs if r["error"] is None]
    assert qc["consistency_runs"] == 3
    assert qc["consistency_failed_runs"] == 3 - len(done)
    assert all(isinstance(r["count"], int) and r["dej_length_um"] > 0 for r in done)
    counts = [r["count"] for r in done]
    assert (qc["consistency_count_min"], qc["consistency_count_max"]) == (min(counts), max(counts))
    lengths = np.array([r["dej_length_um"] for r in done])
    spread = (lengths.max() - lengths.min()) / np.median(lengths)
    assert qc["consistency_dej_spread"] == pytest.approx(spread, abs=0.002)
    # the documented tolerances decide whether the section is flagged for it
    unstable = bool(
        len(done) < 3
        or max(counts) - min(counts) > max(2.0, 0.15 * float(np.median(counts)))
        or spread > 0.1
    )
    flagged = [r for r in data["qc_reasons"] if "rescaled" in r]
    assert bool(flagged) == unstable
    assert data["needs_review"] == bool(data["qc_reasons"])
    status = out.strip().splitlines()[1].rsplit("  ", 1)[-1]
    assert status.startswith("review:") == data["needs_review"]
    # ... and what the check found is said on stderr
    count = f"{min(counts)}" + (f"-{max(counts)}" if max(counts) != min(counts) else "")
    assert f"small.ome.tif: consistency: count {count} over 3 pixel sizes (0.8-1.2 µm)" in err


def test_without_consistency_there_are_no_runs(
    small_section: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, small_section, "--out", tmp_path, "--no-overlay")
    assert code == 0, err
    data = _load(tmp_path / "small.json")
    assert "consistency" not in data
    assert not any(key.startswith("consistency") for key in data["qc"])
    assert not any("rescaled" in r for r in data["qc_reasons"])


def test_an_unstable_section_needs_review(
    small_section: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wiring from the report to the JSON and the terminal, with the runs stubbed:
    a count from 2 to 9 and one copy without a section are flagged, in words, everywhere."""
    import ienfd.workflow._section as section_module
    from ienfd.core import ConsistencyReport

    calls: list[dict[str, Any]] = []

    def unstable(pixels: np.ndarray, **kwargs: Any) -> ConsistencyReport:
        calls.append({"shape": pixels.shape, **kwargs})
        runs: list[dict[str, object]] = [
            {"rotation": k % 4, "flip": k >= 4, "pixel_size_um": CONSISTENCY_UM,
             "count": 2 + k, "dej_length_um": 300.0, "error": None}
            for k in range(8)
        ]  # fmt: skip
        runs[-1] = {**runs[-1], "count": None, "dej_length_um": None, "error": "no epidermis"}
        return ConsistencyReport(runs=runs)

    monkeypatch.setattr(section_module, "assess_consistency", unstable)
    code, out, err = _run(capsys, small_section, "--out", tmp_path, "--no-overlay", "--consistency")
    assert code == 0, err  # needing review is not a failure
    (call,) = calls  # the same pixels, pixel size and settings as the analysis itself
    assert call["spacing"] == pytest.approx(CONSISTENCY_UM) and call["modality"] == "brightfield"
    assert call["membrane"] is None and call["length_basis"] == "dej"
    data = _load(tmp_path / "small.json")
    assert call["shape"][:2] == tuple(data["image_shape"])
    assert data["consistency"][-1]["error"] == "no epidermis"
    assert data["qc"]["consistency_runs"] == 8 and data["qc"]["consistency_failed_runs"] == 1
    assert (data["qc"]["consistency_count_min"], data["qc"]["consistency_count_max"]) == (2, 8)
    assert data["needs_review"] is True
    reasons = [r for r in data["qc_reasons"] if "rescaled" in r]
    assert reasons[0] == ("no section found in 1 of 8 rescaled (or turned) copies of the image")
    assert reasons[1].startswith("the count changes from 2 to 8")
    for reason in reasons:
        assert f"ienfd analyze: review: {small_section}: {reason}" in err
    assert "review:" in out.strip().splitlines()[1]


def test_help_warns_that_consistency_is_slow(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("analyze", "batch"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--consistency" in text and "2 more analyses per section" in text


# --pipeline: a pipeline made for the other modality is refused per image, as by batch

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def test_a_pipeline_of_the_other_modality_is_refused_per_image(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fluorescence = PIPELINES / "fluorescence_pgp95_col4.json"
    stale = tmp_path / "bf_section.json"
    stale.write_text("{}")  # an earlier run's result must not pass for this one's
    code, out, err = _run(
        capsys, files["brightfield"], files["fluorescence"], "--out", tmp_path, "--no-overlay",
        "--pipeline", fluorescence,
    )  # fmt: skip
    assert code == 1
    said = (
        f"{files['brightfield']}: the pipeline is for fluorescence images but this is a "
        "brightfield image"
    )
    assert said in err and "choose the brightfield pipeline" in err
    assert not stale.exists() and (tmp_path / "fl.json").exists()
    # the result records the pipeline it was analysed with, by content and hash
    used = _load(tmp_path / "fl.json")["pipeline"]
    assert used["sha256"] == file_sha256(fluorescence)[0] and used["modality"] == "fluorescence"
    assert "1 of 2 image(s) analysed, 1 failed" in out
    # Given on purpose, --modality reads the file as the pipeline's modality would not:
    # analysed, with a note that the pipeline was made for the other one.
    code, _, err = _run(
        capsys, files["fluorescence"], "--out", tmp_path, "--no-overlay",
        "--pipeline", PIPELINES / "brightfield_pgp95.json", "--modality", "fluorescence",
    )  # fmt: skip
    assert code == 0
    assert "--modality fluorescence overrules the pipeline's brightfield" in err
