"""``pip install ienfd`` without extras: the command line, batch and the clinical module, no napari.

A real, fresh virtual environment gets the package from this checkout with no
extras, and the commands run in it. Slow (a few minutes: it installs numpy,
scikit-image, dask ... from the package index or pip's cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_images" / "brightfield_sg.ome.tif"


def _run(args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(
        args, capture_output=True, text=True, timeout=1500, check=False, env=env, **kw
    )  # type: ignore[call-overload]


@pytest.mark.slow
def test_plain_install_runs_analyze_and_batch_without_napari(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    # A copy of the sources: the build must not write into the checkout.
    source = tmp_path / "src_copy"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "out", "site", "*.egg-info", "__pycache__", "build", "docs", "tests"
        ),
    )
    install = _run([python, "-m", "pip", "install", "--quiet", str(source)])
    assert install.returncode == 0, install.stderr[-3000:]

    probe = _run(
        [
            python,
            "-c",
            "import importlib.util as u, ienfd, ienfd.workflow, ienfd.parallel, ienfd.clinical;"
            "print(ienfd.analyze_section.__name__);"
            "print([m for m in ('napari', 'qtpy', 'PyQt6', 'PyQt5') if u.find_spec(m)])",
        ]
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines() == ["analyze_section", "[]"]

    ienfd = str(env_dir / "bin" / "ienfd")
    out = tmp_path / "out"
    analyzed = _run([ienfd, "analyze", str(SAMPLE), "--out", str(out / "a")])
    assert analyzed.returncode == 0, analyzed.stderr
    assert (out / "a" / "brightfield_sg.json").exists()
    assert (out / "a" / "brightfield_sg.overlay.png").exists()

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    batched = _run(
        [ienfd, "batch", str(folder), "--out", str(out / "b"), "--workers", "1", "-q"],
        cwd=tmp_path,
    )
    assert batched.returncode == 0, batched.stdout + batched.stderr
    assert (out / "b" / "sections.csv").exists()
