"""``ienfd analyze`` of one ~10-megapixel bright-field section, end to end, on one core.

Phases (read, analyse, write, overlay) and the peak resident memory, for this
checkout and for another one ("before", e.g. the code before a change), in
one table. Each version runs in its own processes (``PYTHONPATH`` pointing at
its ``src``) with one thread (``--pin`` also keeps it on one CPU: fair only on an
idle machine); the two versions alternate, so that a busy machine slows both
alike. The load average before and after the run is recorded with the table.

Run, for the code as of a revision REV against the working tree::

    git worktree add --detach /tmp/ienfd_before REV
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_e2e.py --before /tmp/ienfd_before
    git worktree remove /tmp/ienfd_before

On a machine shared with other work, ``nice -n -20`` (as root) with ``--pin``
comes closest to one idle core; the header then says so. Without ``--before``
only this checkout is measured. Writes the table to
``benchmarks/results/e2e.md`` and every figure to ``benchmarks/results/e2e.json``.

What is measured:

* phases, in one process, the median of 6 runs (two processes of 3, each
  after a warm-up run), in wall-clock and in CPU seconds (``time.process_time``):
  ``read`` = :func:`ienfd.io.read_section`; ``analyse`` =
  :func:`ienfd.core.analyze_section` with the file's pixel size;
  ``write`` = :func:`ienfd.io.write_json` of the result;
  ``overlay`` = :func:`ienfd.io.save_overlay`;
* ``analyze`` end to end: the command ``ienfd analyze IMAGE --out DIR`` in a
  fresh interpreter (imports included), median of 5, with and without
  ``--no-overlay``: wall-clock, the CPU seconds the process used (user + system,
  from ``wait4``: on a machine shared with other work, where wall-clock time
  waits for a core, the CPU time is the steadier figure) and its peak RSS (the
  process's ``ru_maxrss``);
* the imports of ``ienfd analyze`` alone: ``python -X importtime``, the sum over
  the modules imported at top level, median of 3.

Every version's bytecode is compiled first (``compileall``) and kept, as after
``pip install``: a ``PYTHONDONTWRITEBYTECODE`` in the shell is not passed on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PHASES = ("read", "analyse", "write", "overlay")
#: Runs of each measurement the medians are taken over (the phases: ROUNDS processes of
#: PHASE_REPEATS runs each).
ROUNDS, PHASE_REPEATS, CLI_REPEATS = 2, 3, 5


def _one_cpu() -> None:
    """With ``--pin``: keep the calling process on one CPU (``IENFD_BENCH_PIN=1``).

    Every run is single-threaded anyway (``OMP_NUM_THREADS=1`` and the like);
    pinning is only fair on an idle machine, where it shows the one-core time.
    """
    if os.environ.get("IENFD_BENCH_PIN") == "1" and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})


def _env(src: Path) -> dict[str, str]:
    # Bytecode is cached, as after ``pip install`` (which compiles it): a
    # PYTHONDONTWRITEBYTECODE inherited from the shell would make every run
    # compile ienfd's sources again, a tenth of a second no user pays.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **THREADS, "PYTHONPATH": str(src)}


def compile_sources(src: Path) -> None:
    """Write the bytecode of the ``ienfd`` under ``src`` (as ``pip install`` does)."""
    cmd = [sys.executable, "-m", "compileall", "-q", str(src / "ienfd")]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=_env(src))


def import_seconds(src: Path, image: Path) -> float:
    """Seconds ``ienfd analyze IMAGE`` spends importing, from ``python -X importtime``.

    The sum of the cumulative times of the modules imported at top level (the
    ones that pull in all the others), in a fresh interpreter; the tracing
    itself adds a little.
    """
    with tempfile.TemporaryDirectory() as out:
        code = "import sys; from ienfd.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-X", "importtime", "-c", code, "analyze", str(image),
               "--out", out, "--no-overlay", "--quiet"]  # fmt: skip
        done = subprocess.run(
            cmd, env=_env(src), capture_output=True, text=True, check=True, preexec_fn=_one_cpu
        )
    total = 0
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):
                total += int(cumulative)  # microseconds, top-level modules only
    return total / 1e6


def make_section(folder: Path, counterstain: str = "none") -> Path:
    """A 2327 x 4180 (9.7 MP) bright-field SG section at 0.5 µm, as an OME-TIFF.

    With ``counterstain`` other than "none", the same section under that
    counterstain (the analysis then traces its fibres twice, see
    docs/algorithm.md, "Fibre signal under a counterstain").
    """
    cmd = [sys.executable, "-m", "ienfd.cli", "synth", str(folder), "--n", "1", "--seed", "7",
           "--modality", "brightfield", "--chromogen", "sg", "--pixel-size", "0.5",
           "--kind", "ome", "--length", "2000", "--rotation", "20", "--flip", "no",
           "--set", "dermis_depth_um=300", "--set", f"counterstain={counterstain}",
           "--stem", "bf10"]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=_env(ROOT / "src"))
    return folder / "bf10.ome.tif"


def worker(image: Path, out: Path, repeats: int) -> dict[str, Any]:
    """The phases in this process (``ienfd`` from ``PYTHONPATH``)."""
    import ienfd
    from ienfd.core import analyze_section
    from ienfd.io import read_section, save_overlay, write_json

    _one_cpu()
    runs: dict[str, list[float]] = {p: [] for p in PHASES}
    cpu: dict[str, list[float]] = {p: [] for p in PHASES}
    count = None

    def now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    for k in range(repeats + 1):
        t0 = now()
        section = read_section(image)
        t1 = now()
        pixels = section.rgb if section.rgb is not None else section.fibre
        result = analyze_section(
            pixels,
            spacing=section.pixel_size_um,
            membrane=section.membrane,
            modality=section.modality,
        )
        t2 = now()
        write_json(out / "bf10.json", {"image": str(image), **result.to_dict()})
        t3 = now()
        save_overlay(out / "bf10.overlay.png", section, result, title=str(image))
        t4 = now()
        count = int(result.count)
        if k:  # the first run warms up (imports, caches)
            for phase, a, b in zip(PHASES, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True):
                runs[phase].append(b[0] - a[0])
                cpu[phase].append(b[1] - a[1])
    return {
        "ienfd_file": ienfd.__file__,
        "count": count,
        "runs": runs,
        "cpu": cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "overlay_png_mb": (out / "bf10.overlay.png").stat().st_size / 1e6,
    }


def run_worker(src: Path, image: Path, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, __file__, "--worker", str(image), "--out", out,
               "--repeats", str(repeats)]  # fmt: skip
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_env(src))
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not record["ienfd_file"].startswith(str(src)):
        raise RuntimeError(f"imported {record['ienfd_file']}, not the code under {src}")
    return record


def run_cli(src: Path, image: Path, *, overlay: bool) -> tuple[float, float, float]:
    """Wall-clock seconds, CPU seconds and peak RSS (MB) of ``ienfd analyze`` in a fresh
    interpreter."""
    with tempfile.TemporaryDirectory() as out:
        code = "import sys; from ienfd.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-c", code, "analyze", str(image), "--out", out]
        if not overlay:
            cmd.append("--no-overlay")
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=_env(src), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_one_cpu,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"ienfd analyze failed ({proc.returncode}) with {src}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(versions: dict[str, Path], image: Path) -> dict[str, Any]:
    """Alternate the versions: ROUNDS worker processes, then CLI_REPEATS CLI runs of each kind."""
    found: dict[str, dict[str, Any]] = {
        name: {
            "runs": {p: [] for p in PHASES},
            "cpu": {p: [] for p in PHASES},
            "cli": [],
            "cli_cpu": [],
            "cli_no_overlay": [],
            "cli_no_overlay_cpu": [],
            "peak_rss_mb": 0.0,
            "cli_peak_rss_mb": 0.0,
        }
        for name in versions
    }
    for _ in range(ROUNDS):
        for name, src in versions.items():
            rec = run_worker(src, image, repeats=PHASE_REPEATS)
            for phase in PHASES:
                found[name]["runs"][phase] += rec["runs"][phase]
                found[name]["cpu"][phase] += rec["cpu"][phase]
            found[name]["peak_rss_mb"] = max(found[name]["peak_rss_mb"], rec["peak_rss_mb"])
            found[name]["count"] = rec["count"]
            found[name]["overlay_png_mb"] = rec["overlay_png_mb"]
    for name, src in versions.items():
        found[name]["imports"] = [import_seconds(src, image) for _ in range(3)]
    for _ in range(CLI_REPEATS):
        for name, src in versions.items():
            seconds, cpu, rss = run_cli(src, image, overlay=True)
            found[name]["cli"].append(seconds)
            found[name]["cli_cpu"].append(cpu)
            found[name]["cli_peak_rss_mb"] = max(found[name]["cli_peak_rss_mb"], rss)
            seconds, cpu, _ = run_cli(src, image, overlay=False)
            found[name]["cli_no_overlay"].append(seconds)
            found[name]["cli_no_overlay_cpu"].append(cpu)
    for rec in found.values():
        rec["median_s"] = {p: statistics.median(v) for p, v in rec["runs"].items()}
        rec["median_s"]["analyze"] = statistics.median(rec["cli"])
        rec["median_s"]["analyze_no_overlay"] = statistics.median(rec["cli_no_overlay"])
        rec["median_s"]["imports"] = statistics.median(rec["imports"])
        rec["median_cpu_s"] = {p: statistics.median(v) for p, v in rec["cpu"].items()}
        rec["median_cpu_s"]["analyze"] = statistics.median(rec["cli_cpu"])
        rec["median_cpu_s"]["analyze_no_overlay"] = statistics.median(rec["cli_no_overlay_cpu"])
    return found


def table(found: dict[str, dict[str, Any]]) -> str:
    names = list(found)
    rows = [
        ("read (s)", "read"),
        ("analyse (s)", "analyse"),
        ("write JSON (s)", "write"),
        ("overlay (s)", "overlay"),
        ("`ienfd analyze`, end to end (s)", "analyze"),
        ("`ienfd analyze --no-overlay` (s)", "analyze_no_overlay"),
    ]
    head = (
        "| | "
        + " | ".join(f"{n}, wall | {n}, CPU" for n in names)
        + " |\n|---|"
        + "---:|" * (2 * len(names))
        + "\n"
    )
    body = ""
    for label, key in rows:
        cells = [
            f"{found[n][kind][key]:.3f}" for n in names for kind in ("median_s", "median_cpu_s")
        ]
        body += f"| {label} | " + " | ".join(cells) + " |\n"
    singles = [
        ("peak RSS, phases process (MB)", lambda rec: f"{rec['peak_rss_mb']:.0f}"),
        ("peak RSS, `ienfd analyze` (MB)", lambda rec: f"{rec['cli_peak_rss_mb']:.0f}"),
        ("overlay PNG (MB)", lambda rec: f"{rec['overlay_png_mb']:.2f}"),
        ("count", lambda rec: str(rec["count"])),
    ]
    body += (
        "| imports of `ienfd analyze`, `-X importtime` (s) | "
        + " | ".join(f"{found[n]['median_s']['imports']:.3f} | " for n in names)
        + "|\n"
    )
    for label, cell in singles:  # one figure per version, in its wall-clock column
        body += f"| {label} | " + " | ".join(f"{cell(found[n])} | " for n in names) + "|\n"
    return head + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--pin", action="store_true", help="pin every run to one CPU")
    parser.add_argument(
        "--counterstain",
        choices=["none", "haematoxylin", "he"],
        default="none",
        help="the section's counterstain (results to e2e_<counterstain>.md/.json when not none)",
    )
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=PHASE_REPEATS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.out, args.repeats)))
        return 0
    if args.pin:
        os.environ["IENFD_BENCH_PIN"] = "1"
    versions = {}
    if args.before is not None:
        versions["before"] = (args.before / "src").resolve()
    versions["this checkout"] = (ROOT / "src").resolve()
    load_before = os.getloadavg()[0]
    for src in versions.values():
        compile_sources(src)
    with tempfile.TemporaryDirectory(prefix="ienfd-e2e-") as tmp:
        image = make_section(Path(tmp), args.counterstain)
        found = measure(versions, image)
    load_after = os.getloadavg()[0]
    revs = {}
    for name, src in versions.items():
        git = ["git", "-C", str(src)]
        rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=False).stdout.strip()  # fmt: skip
        dirty = subprocess.run([*git, "status", "--porcelain", "--", "."], capture_output=True,
                               text=True, check=False).stdout.strip()  # fmt: skip
        revs[name] = rev + (" + uncommitted changes" if dirty else "")
    text = table(found)
    header = (
        "One 2327 x 4180 (9.7 MP) bright-field section"
        + ("" if args.counterstain == "none" else f" under a {args.counterstain} counterstain")
        + ", one thread"
        + (", pinned to one CPU" if args.pin else "")
        + (f", at scheduling priority nice {os.nice(0)}" if os.nice(0) else "")
        + f"; medians of {ROUNDS * PHASE_REPEATS} runs (phases) and {CLI_REPEATS} runs (the "
        "command), bytecode compiled as by pip install "
        f"({platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f} before and {load_after:.1f} after; "
        + "; ".join(f"{n}: {r}" for n, r in revs.items())
        + ").\n\n"
    )
    RESULTS.mkdir(exist_ok=True)
    stem = "e2e" if args.counterstain == "none" else f"e2e_{args.counterstain}"
    (RESULTS / f"{stem}.md").write_text(header + text, encoding="utf-8")
    record = {
        "revisions": revs,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "pinned": bool(args.pin),
        "nice": os.nice(0),
        "load_average": [load_before, load_after],
        "results": found,
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(header + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
