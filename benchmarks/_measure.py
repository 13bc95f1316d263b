"""What the slide benchmarks share: the machine, its load, and a command's peak process-tree memory.

Imported by the benchmark scripts of this folder (run as
``.venv/bin/python benchmarks/bench_x.py``, which puts this folder on the path).
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from ienfd import __version__
from ienfd.synthetic import SectionSpec, generate_section

SAMPLE_EVERY_S = 0.05  # RSS sampling period of run_sampled


def load() -> list[float]:
    """The machine's 1-, 5- and 15-minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """The ienfd version, Python version, CPU count and memory of this machine."""
    return {
        "ienfd_version": __version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def own_peak_rss_mb() -> float:
    """Peak RSS of this process so far, in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and all its descendants."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # exited between listing and reading
            pass
    return total


@dataclass(frozen=True)
class SampledRun:
    """A finished subprocess: exit code, wall time, and its process tree's peak RSS."""

    exit_code: int
    seconds: float
    peak_rss_bytes: int
    rss_samples: int
    load_before: list[float]
    load_after: list[float]


def run_sampled(cmd: Sequence[str]) -> SampledRun:
    """Run ``cmd``, sampling its whole process tree's RSS every 50 ms until it exits."""
    load_before = load()
    proc = psutil.Popen(list(cmd))
    peak = 0
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, samples
        while not stop.is_set():
            peak = max(peak, tree_rss(proc))
            samples += 1
            time.sleep(SAMPLE_EVERY_S)

    t = threading.Thread(target=sample)
    t0 = time.perf_counter()
    t.start()
    code = proc.wait()
    stop.set()
    t.join()
    seconds = time.perf_counter() - t0
    return SampledRun(code, seconds, peak, samples, load_before, load())


def run_batch_sampled(
    slide: Path, out: Path, workers: int, *options: str
) -> tuple[list[str], SampledRun]:
    """``ienfd batch SLIDE --out OUT --workers N [options] -q`` through :func:`run_sampled`."""
    cmd = [
        str(Path(sys.executable).parent / "ienfd"),
        "batch",
        str(slide),
        "--out",
        str(out),
        "--workers",
        str(workers),
        *options,
        "-q",
    ]
    return cmd, run_sampled(cmd)


def slide_record(
    path: Path, side: int, sections: Sequence[np.ndarray], started: float
) -> dict[str, Any]:
    """The size of a written side x side RGB slide, its sections, and seconds since ``started``."""
    return {
        "decoded_gb": round(side * side * 3 / 1e9, 2),
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "sections": len(sections),
        "section_shapes": [list(s.shape) for s in sections],
        "write_s": round(time.perf_counter() - started, 1),
    }


def slide_sections(
    side: int, n_sections: int, pixel_size_um: float
) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """``n_sections`` 2-mm bright-field sections and their top-left corners on a side x side slide.

    Two a row, 2000 px from the slide's edges; seeds 200, 201, ...
    """
    sections, corners = [], []
    per_row = 2
    for k in range(n_sections):
        spec = SectionSpec(
            modality="brightfield",
            length_um=2000,
            pixel_size_um=pixel_size_um,
            seed=200 + k,
            rotation_deg=0.0,
            illumination_gradient=0.0,
        )
        sections.append(generate_section(spec).image)
        row, col = divmod(k, per_row)
        corners.append(
            (
                2000 + row * (side - 4000) // max(1, (n_sections - 1) // per_row),
                2000 + col * (side // 2),
            )
        )
    return sections, corners
