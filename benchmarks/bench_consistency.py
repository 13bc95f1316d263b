"""What ``--consistency`` costs, on one core, against the analysis it checks.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_consistency.py

The check analyses a section again at 1.25 and 1.5 times its pixel size
(``ienfd.core.assess_consistency``); ``ienfd analyze --consistency`` passes the
ordinary result as the run at the section's own size (``own=``), so that it is
not analysed twice. This times, in one process and in turn (two rounds, the
fastest of each kept), the analysis, the check with the result passed and the
check without it, and splits the check into its anti-aliased reductions and
its analyses, on two bright-field sections: the 1.1-megapixel sample
``sample_images/brightfield_sg.ome.tif`` and an 8.8-megapixel generated one.
Machines are noisy: read the ratios, measured in one run. Writes
benchmarks/results/consistency.json.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from _measure import load, machine  # noqa: E402

from ienfd.core import analyze_section, assess_consistency  # noqa: E402
from ienfd.core._consistency import _reduce  # noqa: E402
from ienfd.io import read_section  # noqa: E402
from ienfd.synthetic import SectionSpec, generate_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCALES = (1.25, 1.5)


def _cpu(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds of CPU for ``call(*args, **kwargs)``, and what it returned."""
    start = time.process_time()
    out = call(*args, **kwargs)
    return time.process_time() - start, out


def measure(name: str, image: np.ndarray, spacing: float, rounds: int = 2) -> dict[str, object]:
    """Seconds of CPU for the analysis and the check, the fastest of ``rounds``."""
    analysis, with_own, without = [], [], []
    for _ in range(rounds):
        seconds, result = _cpu(analyze_section, image, spacing=spacing)
        analysis.append(seconds)
        with_own.append(_cpu(assess_consistency, image, spacing=spacing, own=result)[0])
        without.append(_cpu(assess_consistency, image, spacing=spacing)[0])
    parts = {}
    for scale in SCALES:
        reduce_s, small = _cpu(_reduce, image, scale)
        analyse_s, _ = _cpu(analyze_section, small, spacing=spacing * scale)
        parts[str(scale)] = {"reduce_s": round(reduce_s, 2), "analysis_s": round(analyse_s, 2)}
    base = min(analysis)
    return {
        "section": name,
        "megapixels": round(image.shape[0] * image.shape[1] / 1e6, 1),
        "analysis_s": round(base, 2),
        "check_s": round(min(with_own), 2),
        "check_before_s": round(min(without), 2),
        "analysis_and_check_x": round((base + min(with_own)) / base, 2),
        "analysis_and_check_before_x": round((base + min(without)) / base, 2),
        "rescaled_copies": parts,
    }


def main() -> None:
    sample = read_section(ROOT / "sample_images" / "brightfield_sg.ome.tif")
    spec = SectionSpec(
        modality="brightfield",
        pixel_size_um=0.5,
        length_um=1900.0,
        rotation_deg=20.0,
        dermis_depth_um=300.0,
        seed=7,
    )
    generated = generate_section(spec).image
    rows = [
        measure("sample_images/brightfield_sg.ome.tif", sample.rgb, sample.pixel_size_um),
        measure("generated: SectionSpec(seed=7), 1900 um at 0.5 um", generated, 0.5),
    ]
    record = {**machine(), "load_average": load(), "sections": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "consistency.json").write_text(json.dumps(record, indent=1) + "\n")
    for row in rows:
        print(
            f"{row['section']} ({row['megapixels']} MP): analysis {row['analysis_s']} s CPU; "
            f"check {row['check_s']} s, analysis and check {row['analysis_and_check_x']}x the "
            f"analysis (before own=: {row['analysis_and_check_before_x']}x); "
            f"copies {row['rescaled_copies']}"
        )


if __name__ == "__main__":
    main()
