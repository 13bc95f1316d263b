"""What ``ienfd analyze`` imports: only the reading, analysis and drawing it uses.

Start-up is a large part of one section's time end to end
(``benchmarks/bench_e2e.py``): the batch layer (dask, distributed), the
clinical tables (pandas), plotting (matplotlib), the viewer (napari, Qt), the
generator and scipy's statistics must stay off the ``analyze`` path. The
command runs for real, in a fresh interpreter, on the sample images; the
modules loaded when it ends are checked by name (a structural test, not a
timed one).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_images"

#: Never loaded by ``ienfd analyze``, with or without its overlay: package -> why it is heavy.
NOT_ON_THE_ANALYZE_PATH = {
    "dask": "batch and whole-slide reading only",
    "distributed": "batch only",
    "pandas": "batch and clinical tables only",
    "matplotlib": "clinical reports only",
    "napari": "the viewer plugin only",
    "qtpy": "the viewer plugin only",
    "PyQt5": "the viewer plugin only",
    "PyQt6": "the viewer plugin only",
    "scipy.stats": "clinical statistics only (skimage.feature loads it too)",
    "scipy.optimize": "clinical statistics only",
    "scipy.interpolate": "the synthetic generator only",
    "ienfd.clinical": "classify, norms, agreement and the batch's biopsy table",
    "ienfd.synthetic": "ienfd synth only",
    "ienfd.parallel": "ienfd batch only",
    "ienfd.napari": "the viewer plugin only",
    # scipy's array-API layer asks numpy for every public name, which imports
    # these; ienfd.cli._startup defers them while scipy is first imported.
    "numpy.f2py": "Fortran wrappers, never used (it loads charset_normalizer)",
    "numpy.testing": "numpy's test helpers (it loads unittest and email)",
    "charset_normalizer": "loaded by numpy.f2py only",
    "unittest": "loaded by numpy.testing only",
    "skimage.transform._warps": "the --consistency check's rescaled copies only",
    "skimage.transform._geometric": "loaded with the rescaling only",
}


def _modules_after_analyze(
    images: list[Path], out: Path, *extra: str, preload: str = "pass"
) -> set[str]:
    """Run ``ienfd analyze`` in a fresh interpreter; the names in ``sys.modules`` at its end.

    ``preload`` is run first (the test that shows the probe sees an import).
    """
    code = (
        f"{preload}\n"
        "import sys, json\n"
        "from ienfd.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "print(json.dumps({'status': status, 'modules': sorted(sys.modules)}))\n"
    )
    args = ["analyze", *map(str, images), "--out", str(out), "--quiet", *extra]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 0
    return set(report["modules"])


def _loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(m.startswith(name + ".") for m in modules)


@pytest.mark.parametrize("image", ["brightfield_sg.ome.tif", "fluorescence.ome.tif"])
def test_ienfd_analyze_loads_nothing_it_does_not_use(tmp_path: Path, image: str) -> None:
    modules = _modules_after_analyze([SAMPLES / image], tmp_path)
    # The command did its work: a result and its overlay were written.
    stem = image.split(".")[0]
    result = json.loads((tmp_path / f"{stem}.json").read_text(encoding="utf-8"))
    assert result["count"] >= 1
    assert (tmp_path / f"{stem}.overlay.png").stat().st_size > 0
    # What it needed was loaded ...
    for needed in ("numpy", "scipy.ndimage", "tifffile", "ienfd.core", "ienfd.io"):
        assert _loaded(modules, needed), needed
    # ... and nothing else.
    loaded = {name: why for name, why in NOT_ON_THE_ANALYZE_PATH.items() if _loaded(modules, name)}
    assert not loaded, f"ienfd analyze imported {loaded}"


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    """The check can fail: a command that loads pandas is caught by the same probe."""
    image = SAMPLES / "brightfield_sg.ome.tif"
    modules = _modules_after_analyze([image], tmp_path, "--no-overlay", preload="import pandas")
    assert _loaded(modules, "pandas")


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_scipy_imported_without_numpys_unused_submodules_still_reaches_them() -> None:
    """The deferred submodules stay out of the process until used, and then work as ever."""
    code = (
        "import sys, json\n"
        "from ienfd.cli._startup import defer_numpy_submodules\n"
        "defer_numpy_submodules('scipy.ndimage')\n"
        "before = [m for m in ('numpy.f2py', 'numpy.testing') if m in sys.modules]\n"
        "import numpy as np\n"
        "from scipy._lib.array_api_compat import numpy as xp\n"
        "xp.testing.assert_array_equal(np.arange(3), [0, 1, 2])  # scipy's copy imports it\n"
        "np.testing.assert_array_equal(np.ones(2), [1, 1])  # and numpy's own name\n"
        "print(json.dumps({'before': before, 'after': 'numpy.testing' in sys.modules,\n"
        "                  'same': np.testing is sys.modules['numpy.testing']}))\n"
    )
    report = json.loads(_fresh(code))
    assert report == {"before": [], "after": True, "same": True}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_allocator_is_tuned_only_when_the_user_has_not() -> None:
    code = "from ienfd.cli._startup import tune_allocator; print(tune_allocator())"
    # dask.distributed's nanny sets MALLOC_TRIM_THRESHOLD_ in the process that
    # starts it: an earlier test's cluster leaves it in this one's environment.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}

    def tuned(env: dict[str, str]) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip()

    if platform.libc_ver()[0] == "glibc":
        assert tuned(clean) == "True"
    assert tuned({**clean, "MALLOC_ARENA_MAX": "2"}) == "False"
