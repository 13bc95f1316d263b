"""Speed and memory of analysing one ~10-megapixel section on one core.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_section.py

Prints seconds per section (median of 3 runs after a warm-up) and the peak
memory that numpy and Python allocate during one analysis (tracemalloc, which
sees numpy's buffers), as a multiple of the image's own size. Writes the
figures to benchmarks/results/section.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from ienfd import __version__  # noqa: E402
from ienfd.core import analyze_section  # noqa: E402
from ienfd.synthetic import SectionSpec, estimate_shape, generate_section  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def spec_near(megapixels: float, modality: str, seed: int) -> SectionSpec:
    """A section spec whose image is close to ``megapixels``."""
    best = None
    for length in range(600, 4001, 100):
        spec = SectionSpec(
            modality=modality,
            pixel_size_um=0.5,
            length_um=float(length),
            rotation_deg=20.0,
            dermis_depth_um=300.0,
            seed=seed,
        )
        rows, cols = estimate_shape(spec)[-2:]
        error = abs(rows * cols / 1e6 - megapixels)
        if best is None or error < best[0]:
            best = (error, spec)
    assert best is not None
    return best[1]


def measure(modality: str, megapixels: float = 10.0, seed: int = 7) -> dict[str, float]:
    section = generate_section(spec_near(megapixels, modality, seed))
    if modality == "brightfield":
        image, membrane = section.image, None
    else:
        image, membrane = section.image[0], section.image[1]
    nbytes = section.image.nbytes
    analyze_section(image, spacing=0.5, membrane=membrane)  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = analyze_section(image, spacing=0.5, membrane=membrane)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    analyze_section(image, spacing=0.5, membrane=membrane)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "modality": modality,
        "shape": list(section.image.shape),
        "megapixels": round(image.shape[0] * image.shape[1] / 1e6, 2),
        "image_mb": round(nbytes / 1e6, 1),
        "seconds_median": round(statistics.median(times), 3),
        "seconds_all": [round(t, 3) for t in times],
        "peak_mb": round(peak / 1e6, 1),
        "peak_over_image": round(peak / nbytes, 2),
        "count": result.count,
        "true_count": section.truth["count"],
    }


def main() -> int:
    """Measure both modalities and write the results."""
    rows = [measure("brightfield"), measure("fluorescence")]
    RESULTS.mkdir(exist_ok=True)
    record = {
        "ienfd_version": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": os.environ["OMP_NUM_THREADS"],
        "results": rows,
    }
    (RESULTS / "section.json").write_text(json.dumps(record, indent=2) + "\n")
    for row in rows:
        print(
            f"{row['modality']:>12}: {row['megapixels']} MP ({row['image_mb']} MB): "
            f"{row['seconds_median']} s per section, peak {row['peak_mb']} MB = "
            f"{row['peak_over_image']}x the image"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
