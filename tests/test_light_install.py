"""``pip install ienfd`` without extras: the command line, batch and the clinical module, no napari.

A real, fresh virtual environment gets the package from this checkout with no
extras, and the commands run in it. Then the same environment gets the test
extras that bring no Qt (``test-cli``, ``formats``, ``docs``) and runs the test
suite itself: everything but the napari tests, which skip themselves. Slow
(10-20 minutes: it installs numpy, scikit-image, dask ... from the package index
or pip's cache, then runs the suite).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_images" / "brightfield_sg.ome.tif"


NAPARI_FREE = "print([m for m in ('napari', 'qtpy', 'PyQt6', 'PyQt5') if u.find_spec(m)])"


def _run(
    args: list[str], *, timeout: float = 1500, **kw: object
) -> subprocess.CompletedProcess[str]:
    # nothing of the outer run leaks in: no PYTHONPATH, no outer virtualenv, no pytest state
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, check=False, env=env, **kw
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
            ".venv", ".git", "out", "site", "*.egg-info", "__pycache__", "build", ".*_cache"
        ),
    )
    install = _run([python, "-m", "pip", "install", "--quiet", str(source)])
    assert install.returncode == 0, install.stderr[-3000:]

    probe = _run(
        [
            python,
            "-c",
            "import importlib.util as u, ienfd, ienfd.workflow, ienfd.parallel, ienfd.clinical;"
            "print(ienfd.analyze_section.__name__);" + NAPARI_FREE,
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

    # The test suite in the same environment, with the extras that bring no Qt. Editable:
    # --doctest-modules imports src/ienfd from the copy, which must be the ienfd installed.
    extras = _run(
        [python, "-m", "pip", "install", "--quiet", "-e", f"{source}[test-cli,formats,docs]"]
    )
    assert extras.returncode == 0, extras.stderr[-3000:]
    probe = _run([python, "-c", "import importlib.util as u;" + NAPARI_FREE])
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines() == ["[]"]

    suite = _run(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-m",
            "not napari",
            "--ignore=tests/test_light_install.py",  # this test, already running
        ],
        cwd=source,
        timeout=3600,
    )
    summary = suite.stdout.strip().splitlines()[-1] if suite.stdout.strip() else ""
    assert suite.returncode == 0, suite.stdout[-8000:] + suite.stderr[-3000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 500, summary
    # the napari test modules skip themselves (importorskip), named in the -ra summary
    assert re.search(r"^SKIPPED .*tests/napari/test_widget\.py.*napari", suite.stdout, re.M), (
        suite.stdout[-5000:]
    )
    print(summary)
