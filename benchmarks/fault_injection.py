"""Fault injection: `ienfd batch --scheduler` killed at random moments, then run to completion.

A real `dask scheduler` and two `dask worker` processes (one thread each) run
on 127.0.0.1, in a folder of their own. A batch of small generated sections
(a manifest of two patients) is run once without interruption: the reference.
Then, ``--rounds`` times, the same batch is started into a fresh folder and, at
a random moment (a quarter in its first 8 s: start-up, the worker check,
planning; the others 0-3 s after a random section finished, the last one
included: the tables are being written), one fault is injected (a batch that
ended before its moment is started again at a new one):

``worker``       SIGKILL one worker process (its nanny starts a new one);
``all-workers``  SIGKILL both workers with their nannies (the batch must stop
                 within ``--worker-timeout`` seconds; two new workers are started);
``cli-kill``     SIGKILL the ``ienfd batch`` process (the scheduler's client);
``cli-int``      SIGINT (Ctrl-C) to the ``ienfd batch`` process.

The same command is then run again until it exits 0 (at most three times) and
the folder is checked: every JSON, PNG, CSV and Parquet file readable, no
temporary file left, every section present once, and the section table, the
biopsy table, every result JSON (without ``elapsed_s``) and every overlay's
pixels identical to the reference's. The random seed is printed and recorded;
the same seed gives the same faults and moments.

    .venv/bin/python benchmarks/fault_injection.py --rounds 20 --seed 20261126

Writes ``benchmarks/results/fault_injection.json`` (every round) and prints a
summary. Scratch files go to the system's temporary folder (removed unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from PIL import Image

import ienfd
from ienfd.io import write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section

HERE = Path(__file__).resolve().parent
DASK = Path(sys.executable).parent / "dask"
FAULTS = ("worker", "all-workers", "cli-kill", "cli-int")
PIXEL_UM = 0.6


class Cluster:
    """A dask scheduler and its workers, each in its own process group."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root / "cluster_cwd"
        self.cwd.mkdir()
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def _start(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.root / log, "ab") as fh:
            return subprocess.Popen(
                args,
                cwd=self.cwd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )

    def start(self, n_workers: int) -> None:
        file = self.root / "scheduler.json"
        self.scheduler = self._start(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file)],
            "scheduler.log",
        )
        deadline = time.monotonic() + 120
        while not self.address:
            if time.monotonic() > deadline:
                raise RuntimeError("the scheduler did not start (see scheduler.log)")
            try:
                self.address = json.loads(file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        self.add_workers(n_workers)

    def add_workers(self, n: int) -> None:
        for _ in range(n):
            k = len(self.workers)
            self.workers.append(
                self._start(
                    [str(DASK), "worker", self.address, "--nthreads", "1", "--no-dashboard"]
                    + ["--name", f"w{k}"],
                    f"worker{k}.log",
                )
            )
        self.wait_workers(len(self.alive_workers()))

    def alive_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    def wait_workers(self, n: int, timeout: float = 180) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            deadline = time.monotonic() + timeout
            while len(client.nthreads()) != n:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.address}: not {n} workers after {timeout} s")
                time.sleep(0.2)

    def kill_worker_process(self, rng: random.Random) -> int:
        """SIGKILL the worker process (not its nanny) of a random worker; its pid."""
        nanny = psutil.Process(rng.choice(self.alive_workers()).pid)
        procs = [
            p
            for p in nanny.children(recursive=True)
            if "spawn_main" in " ".join(p.cmdline())  # not multiprocessing's resource tracker
        ]
        if not procs:
            raise RuntimeError("no worker process under the nanny")
        procs[0].send_signal(signal.SIGKILL)
        return procs[0].pid

    @staticmethod
    def kill_group(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)

    def kill_all_workers(self) -> None:
        for w in self.alive_workers():
            self.kill_group(w)

    def close(self) -> None:
        for proc in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            self.kill_group(proc)


def write_inputs(folder: Path, n: int) -> Path:
    """``n`` generated sections and a manifest: P1 bright-field, P2 fluorescence."""
    folder.mkdir(parents=True)
    rows = ["image,patient_id,site,section"]
    for k in range(n):
        fluo = k >= n // 2
        modality = "fluorescence" if fluo else "brightfield"
        spec = SectionSpec(
            modality=modality, length_um=500, pixel_size_um=PIXEL_UM, noise=0.01, seed=100 + k
        )
        section = generate_section(spec)
        name = f"s{k:02d}.ome.tif"
        write_section_tiff(
            folder / name,
            section.image,
            pixel_size_um=PIXEL_UM,
            kind="ome",
            channel_names=section.channel_names if fluo else None,
        )
        rows.append(f"{name},{'P2' if fluo else 'P1'},distal_leg,{k + 1}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


class Batch:
    """One `ienfd batch` process, its output lines collected as they come."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ienfd.cli", "batch", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def progress(self) -> int:
        return sum(line.startswith("[") for line in self.out)

    def wait(self, timeout: float) -> int | None:
        """Exit code, or None after ``timeout`` seconds (a hang: the process is killed)."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        for t in self._threads:
            t.join(timeout=10)
        return code


def check_folder(out: Path, reference: Path | None, n: int) -> dict[str, Any]:
    """Corrupt files, leftovers, lost or duplicated sections, differences from ``reference``."""
    corrupt: list[str] = []
    for path in sorted(out.iterdir()):
        try:
            if path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".png":
                with Image.open(path) as im:
                    im.load()
            elif path.suffix == ".csv":
                pd.read_csv(path)
            elif path.suffix == ".parquet":
                pd.read_parquet(path)
        except Exception as exc:  # any failure to read is a corrupt file
            corrupt.append(f"{path.name}: {type(exc).__name__}: {exc}")
    leftovers = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    results = sorted(p.name for p in out.glob("s*.json"))
    expected = [f"s{k:02d}.json" for k in range(n)]
    report: dict[str, Any] = {
        "corrupt": corrupt,
        "leftovers": leftovers,
        "lost": sorted(set(expected) - set(results)),
        "unexpected": sorted(set(results) - set(expected)),
    }
    table_path = out / "sections.csv"
    if not table_path.exists():
        report["table"] = "missing"
        return report
    table = pd.read_csv(table_path, keep_default_na=False, dtype=str)
    report["rows"] = len(table)
    report["duplicated"] = sorted(table.result_json[table.result_json.duplicated()])
    report["not_ok"] = sorted(table.image[table.status != "ok"])
    if reference is None:
        return report
    ref = pd.read_csv(reference / "sections.csv", keep_default_na=False, dtype=str)
    cols = [c for c in ref.columns if c != "skipped"]  # whether this run redid it
    report["sections_table_identical"] = bool(table[cols].equals(ref[cols]))
    bio, ref_bio = (pd.read_csv(p / "biopsies.csv", dtype=str) for p in (out, reference))
    report["biopsy_table_identical"] = bool(bio.equals(ref_bio))
    differ = []
    for name in expected:
        if name not in results:
            continue
        a, b = (json.loads((p / name).read_text()) for p in (out, reference))
        a.pop("elapsed_s", None)
        b.pop("elapsed_s", None)
        if a != b:
            differ.append(name)
        png = name.replace(".json", ".overlay.png")
        with Image.open(out / png) as x, Image.open(reference / png) as y:
            if not np.array_equal(np.asarray(x), np.asarray(y)):
                differ.append(png)
    report["files_differing"] = differ
    return report


def pick_moment(rng: random.Random, n: int) -> tuple[int, float]:
    """When to inject: ``(k, s)``, ``s`` seconds after the k-th progress line (0: the start).

    A quarter of the faults fall in the first 8 s (start-up, the worker check,
    planning); the others 0-3 s after section k of n finished (k = n: while the
    tables are written).
    """
    if rng.random() < 0.25:
        return 0, rng.uniform(0.5, 8.0)
    return rng.randint(1, n), rng.uniform(0.0, 3.0)


def run_round(
    k: int,
    fault: str,
    args: list[str],
    cwd: Path,
    cluster: Cluster,
    rng: random.Random,
    worker_timeout: float,
    n: int,
) -> dict[str, Any]:
    """One interrupted run and the runs that finish it; what happened, with times.

    A batch that ends before its moment comes is not a fault: its folder is
    removed and the round is tried again at a new moment (``attempts``).
    """
    for attempt in range(1, 6):  # noqa: B007 (the number of tries is recorded)
        after, delay = pick_moment(rng, n)
        out = cwd / args[args.index("--out") + 1]
        shutil.rmtree(out, ignore_errors=True)
        batch = Batch(args, cwd)
        while batch.progress() < after and batch.proc.poll() is None:
            time.sleep(0.05)
        time.sleep(delay)
        if batch.proc.poll() is None:
            break
        batch.wait(timeout=60)
    injected = time.monotonic()
    done_before = batch.progress()
    exited_before = batch.proc.poll() is not None
    detail = ""
    if not exited_before:
        if fault == "worker":
            detail = f"worker process {cluster.kill_worker_process(rng)}"
        elif fault == "all-workers":
            cluster.kill_all_workers()
        elif fault == "cli-kill":
            batch.proc.send_signal(signal.SIGKILL)
        else:
            batch.proc.send_signal(signal.SIGINT)
    code = batch.wait(timeout=worker_timeout + 300)
    to_exit = time.monotonic() - injected
    record: dict[str, Any] = {
        "round": k,
        "fault": fault,
        "attempts": attempt,
        "after_section": after,
        "delay_s": round(delay, 2),
        "seconds_from_start": round(injected - batch.started, 1),
        "sections_reported_before": done_before,
        "finished_before_fault": exited_before,
        "detail": detail,
        "exit_code": code,
        "hang": code is None,
        "seconds_fault_to_exit": round(to_exit, 1),
        "stderr_last": batch.err[-1] if batch.err else "",
    }
    if fault == "all-workers" and not exited_before:
        cluster.add_workers(2)
    reruns = []
    for _ in range(3):
        again = Batch(args, cwd)
        rc = again.wait(timeout=worker_timeout + 600)
        reruns.append(
            {"exit_code": rc, "seconds": round(time.monotonic() - again.started, 1),
             "summary": next((x for x in again.out if "section(s) done" in x), ""),
             "stderr": again.err[-3:]}
        )  # fmt: skip
        if rc == 0:
            break
    record["reruns"] = reruns
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sections", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    parser.add_argument("--worker-timeout", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "fault_injection.json")
    opts = parser.parse_args()
    # Ctrl-C reaches the batch as in a terminal even when this script runs in the background
    # (where SIGINT is ignored, and an ignored signal stays ignored in the children)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    seed = opts.seed if opts.seed is not None else secrets.randbelow(2**31)
    print(f"fault injection: seed {seed} (again: --seed {seed})", flush=True)
    rng = random.Random(seed)
    commit = subprocess.run(  # at the start: the code the workers and the batches import
        ["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True, check=False
    ).stdout.strip()
    faults = [FAULTS[k % len(FAULTS)] for k in range(opts.rounds)]
    rng.shuffle(faults)
    root = Path(tempfile.mkdtemp(prefix="ienfd-faults-"))
    cluster = Cluster(root)
    rounds: list[dict[str, Any]] = []
    started = time.time()
    load_before = os.getloadavg()
    try:
        write_inputs(root / "lab" / "B1", opts.sections)
        cluster.start(2)
        print(f"scheduler {cluster.address}, 2 workers, scratch {root}", flush=True)

        def batch_args(out: str) -> list[str]:
            return ["B1/manifest.csv", "--out", out, "--scheduler", cluster.address]  + [
                "--worker-timeout", f"{opts.worker_timeout:g}"
            ]  # fmt: skip

        lab = root / "lab"
        ref = Batch(batch_args("reference"), lab)
        ref_code = ref.wait(timeout=900)
        ref_seconds = time.monotonic() - ref.started
        if ref_code != 0:
            print("\n".join(ref.err), file=sys.stderr)
            raise SystemExit(f"the reference run failed (exit {ref_code})")
        ref_check = check_folder(lab / "reference", None, opts.sections)
        print(f"reference run: {ref_seconds:.1f} s, {ref_check}", flush=True)
        for k, fault in enumerate(faults, start=1):
            cluster.wait_workers(2)  # a worker killed in the last round is back
            record = run_round(
                k, fault, batch_args(f"round{k:02d}"), lab, cluster, rng,
                opts.worker_timeout, opts.sections,
            )  # fmt: skip
            record["check"] = check_folder(lab / f"round{k:02d}", lab / "reference", opts.sections)
            rounds.append(record)
            c = record["check"]
            print(
                f"[{k:>2}/{opts.rounds}] {fault:<11} at {record['seconds_from_start']:>5.1f} s "
                f"({record['sections_reported_before']} reported, try {record['attempts']}): "
                f"exit {record['exit_code']} "
                f"{record['seconds_fault_to_exit']:.1f} s after; reruns "
                f"{[r['exit_code'] for r in record['reruns']]}; corrupt {len(c['corrupt'])}, "
                f"left {len(c['leftovers'])}, lost {len(c['lost'])}, "
                f"dup {len(c.get('duplicated', []))}, tables "
                f"{c.get('sections_table_identical')}/{c.get('biopsy_table_identical')}, "
                f"files differing {len(c.get('files_differing', []))}",
                flush=True,
            )
    finally:
        cluster.close()
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    all_workers = [
        r for r in rounds if r["fault"] == "all-workers" and not r["finished_before_fault"]
    ]
    summary = {
        "rounds": len(rounds),
        "faults": {f: sum(r["fault"] == f for r in rounds) for f in FAULTS},
        "finished_before_fault": sum(r["finished_before_fault"] for r in rounds),
        "corrupt_files": sum(len(r["check"]["corrupt"]) for r in rounds),
        "files_left": sum(len(r["check"]["leftovers"]) for r in rounds),
        "lost_sections": sum(len(r["check"]["lost"]) for r in rounds),
        "duplicated_sections": sum(len(r["check"].get("duplicated", [])) for r in rounds),
        "sections_not_ok": sum(len(r["check"].get("not_ok", [])) for r in rounds),
        "tables_identical": sum(
            bool(r["check"].get("sections_table_identical"))
            and bool(r["check"].get("biopsy_table_identical"))
            for r in rounds
        ),
        "results_differing": sum(len(r["check"].get("files_differing", [])) for r in rounds),
        "hangs": sum(r["hang"] or any(x["exit_code"] is None for x in r["reruns"]) for r in rounds),
        "max_reruns_to_finish": max((len(r["reruns"]) for r in rounds), default=0),
        "not_finished": sum(r["reruns"][-1]["exit_code"] != 0 for r in rounds),
        "worker_timeout_s": opts.worker_timeout,
        "all_workers_exit_codes": sorted({r["exit_code"] for r in all_workers}),
        "max_seconds_all_workers_lost_to_error": max(
            (r["seconds_fault_to_exit"] for r in all_workers), default=None
        ),
        "max_seconds_sigint_to_exit": max(
            (
                r["seconds_fault_to_exit"]
                for r in rounds
                if r["fault"] == "cli-int" and not r["finished_before_fault"]
            ),
            default=None,
        ),
    }
    result = {
        "seed": seed,
        "command": f".venv/bin/python benchmarks/fault_injection.py --rounds {opts.rounds} "
        f"--sections {opts.sections} --worker-timeout {opts.worker_timeout:g} --seed {seed}",
        "sections": opts.sections,
        "reference_seconds": round(ref_seconds, 1),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "ienfd": {"version": ienfd.__version__, "from": str(Path(ienfd.__file__).parent)},
        "commit": commit,
        "summary": summary,
        "rounds": rounds,
    }
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {opts.json}")
    bad = (
        summary["corrupt_files"] + summary["files_left"] + summary["lost_sections"]
        + summary["duplicated_sections"] + summary["hangs"] + summary["not_finished"]
        + summary["results_differing"] + (summary["rounds"] - summary["tables_identical"])
    )  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
