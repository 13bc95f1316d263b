"""What ``ienfd analyze`` and ``ienfd synth`` print and write on fixed inputs, as plain data.

The golden file ``tests/cli/data/golden.json`` holds this for the four
sample images and for a small seeded ``synth`` run, recorded from the code
before the command line was split into modules. A change to the analysis
that moves a number changes it on purpose; regenerate it then, from the
repository root, and commit the difference with the change::

    .venv/bin/python -m tests.cli._golden

Only what varies from run to run is left out: the elapsed time and the
package version in each JSON, and the output folder in the printed text.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from ienfd.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("data") / "golden.json"
SAMPLES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "sample_images").glob("*.tif"))
#: Keys of a result JSON that differ between two runs of the same code.
VOLATILE = ("elapsed_s", "ienfd_version")
#: The headline values kept in the clear, so that a failure says what moved.
HEADLINE = (
    "image",
    "modality",
    "pixel_size_um",
    "count",
    "dej_length_um",
    "surface_length_um",
    "density_per_mm",
    "needs_review",
    "qc_reasons",
)
SYNTH_ARGS = ["--n", "3", "--seed", "7", "--kind", "mixed", "--length", "300"]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _run(argv: list[str], out: Path) -> dict[str, Any]:
    """Run the command line in-process from the repository root; its code and text."""
    stdout, stderr = io.StringIO(), io.StringIO()
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
    finally:
        os.chdir(cwd)
    return {
        "exit_code": code,
        "stdout": stdout.getvalue().replace(str(out), "<OUT>"),
        "stderr": stderr.getvalue().replace(str(out), "<OUT>"),
    }


def analyze_output(out: Path) -> dict[str, Any]:
    """``ienfd analyze sample_images/*.tif --out OUT``: text, files and every JSON value."""
    run = _run(["analyze", *SAMPLES, "--out", str(out)], out)
    records = {}
    for path in sorted(out.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        stable = {k: v for k, v in record.items() if k not in VOLATILE}
        records[path.name] = {
            "keys": list(record),
            "headline": {k: record[k] for k in HEADLINE},
            "sha256": _digest(stable),
        }
    return {**run, "files": sorted(p.name for p in out.iterdir()), "records": records}


def synth_output(out: Path) -> dict[str, Any]:
    """``ienfd synth OUT`` on a fixed seed: text, files, truth values and pixel digests."""
    run = _run(["synth", str(out), *SYNTH_ARGS], out)
    files: dict[str, Any] = {}
    for path in sorted(out.iterdir()):
        if path.name.endswith(".truth.json"):
            files[path.name] = _digest(json.loads(path.read_text(encoding="utf-8")))
        else:
            pixels = np.ascontiguousarray(tifffile.imread(path))
            files[path.name] = [
                str(pixels.dtype),
                list(pixels.shape),
                hashlib.sha256(pixels.tobytes()).hexdigest(),
            ]
    return {**run, "files": files}


def record(root: Path) -> dict[str, Any]:
    """Both runs, into folders under ``root``."""
    return {
        "analyze": analyze_output(root / "analyze"),
        "synth": synth_output(root / "synth"),
    }


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = record(Path(tmp))
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}", file=sys.stderr)
