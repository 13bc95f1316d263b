"""`ienfd batch --scheduler` against real `dask scheduler` and `dask worker` processes.

Every process is started here on 127.0.0.1 (free ports chosen by the scheduler,
its address read from its scheduler file), in a working folder that is not the
test's nor the client's, in its own process group, and killed by group when the
test ends, passed or failed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest

from ienfd.cli import main
from ienfd.io import write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section

pytestmark = [pytest.mark.dask, pytest.mark.slow]

DASK = Path(sys.executable).parent / "dask"
PIXEL_UM = 0.6


class Processes:
    """Dask schedulers and workers started for a test, each in its own process group."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[subprocess.Popen[bytes]] = []

    def _start(self, args: Sequence[str], cwd: Path, log: str) -> subprocess.Popen[bytes]:
        cwd.mkdir(parents=True, exist_ok=True)
        with open(self.root / log, "ab") as fh:
            proc = subprocess.Popen(
                list(args),
                cwd=cwd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: the worker's nanny and process die too
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
        self.started.append(proc)
        return proc

    def scheduler(self) -> str:
        """Start a scheduler on a free port; its address."""
        n = len(self.started)
        file = self.root / f"scheduler{n}.json"
        self._start(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(file)],
            self.root / f"scheduler{n}",
            f"scheduler{n}.log",
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if file.exists():
                try:
                    return str(json.loads(file.read_text())["address"])
                except (ValueError, KeyError):  # being written
                    pass
            time.sleep(0.2)
        raise AssertionError(f"the scheduler did not start: {(self.root / 'scheduler.log')}")

    def worker(
        self, address: str, cwd: Path, *, wrap: Sequence[str] = ()
    ) -> subprocess.Popen[bytes]:
        """Start a one-thread worker (with its nanny) in ``cwd``, optionally under ``wrap``."""
        n = len(self.started)
        args = [str(DASK), "worker", address, "--nthreads", "1", "--no-dashboard"]
        return self._start([*wrap, *args, "--name", f"w{n}"], cwd, f"worker{n}.log")

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process's whole group (a worker: its nanny and its worker process)."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def close(self) -> None:
        for proc in self.started:
            self.kill(proc)


def wait_workers(address: str, n: int) -> list[str]:
    """Wait until the scheduler has exactly ``n`` workers; their addresses."""
    from distributed import Client

    with Client(address, timeout=30) as client:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            workers = sorted(client.nthreads())
            if len(workers) == n:
                return workers
            time.sleep(0.2)
    raise AssertionError(f"{address} has {len(workers)} workers, not {n}")


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    procs = Processes(tmp_path_factory.mktemp("dask"))
    try:
        yield procs
    finally:
        procs.close()


@pytest.fixture(scope="module")
def cluster(processes: Processes) -> str:
    """A scheduler with two workers started in a folder of their own."""
    address = processes.scheduler()
    for _ in range(2):
        processes.worker(address, processes.root / "workers_cwd")
    wait_workers(address, 2)
    return address


@pytest.fixture(scope="module")
def bare(processes: Processes) -> str:
    """A scheduler that starts with no worker (tests add and kill theirs)."""
    return processes.scheduler()


def write_sections(folder: Path, n: int) -> list[Path]:
    """``n`` small generated sections, bright-field and fluorescence OME-TIFFs."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        modality = "fluorescence" if k % 4 == 3 else "brightfield"
        spec = SectionSpec(
            modality=modality, length_um=400, pixel_size_um=PIXEL_UM, noise=0.01, seed=40 + k
        )
        section = generate_section(spec)
        path = folder / f"s{k:02d}.ome.tif"
        write_section_tiff(
            path,
            section.image,
            pixel_size_um=PIXEL_UM,
            kind="ome",
            channel_names=section.channel_names if modality == "fluorescence" else None,
        )
        paths.append(path)
    return paths


def run_cli(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ienfd.cli", "batch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def results(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*.json") if p.name != "run.json")


def test_help_timeouts_are_the_library_defaults() -> None:
    from ienfd.cli.batch import _BATCH_EPILOG, WORKER_TIMEOUT_DEFAULT
    from ienfd.parallel import CONNECT_TIMEOUT_S, DEFAULT_WORKER_TIMEOUT_S

    assert WORKER_TIMEOUT_DEFAULT == DEFAULT_WORKER_TIMEOUT_S
    assert f"unreachable within {CONNECT_TIMEOUT_S:g} s" in _BATCH_EPILOG


def test_relative_manifest_and_out_as_in_the_help(
    tmp_path: Path, cluster: str, processes: Processes
) -> None:
    # the --help example: `ienfd batch manifest.csv --out results --scheduler ADDRESS`,
    # typed in a folder that is not the workers' working folder
    client_cwd = tmp_path / "lab"
    write_sections(client_cwd / "B1", 3)
    (client_cwd / "manifest.csv").write_text(
        "image,patient_id,site,section\n"
        + "".join(f"B1/s{k:02d}.ome.tif,P1,distal_leg,{k + 1}\n" for k in range(3))
    )
    done = run_cli(client_cwd, "manifest.csv", "--out", "results", "--scheduler", cluster)
    assert done.returncode == 0, done.stderr
    out = client_cwd / "results"
    assert [p.name for p in results(out)] == [f"s{k:02d}.json" for k in range(3)]
    table = pd.read_csv(out / "sections.csv", keep_default_na=False)
    assert list(table.status) == ["ok"] * 3 and list(table.image) == [
        f"B1/s{k:02d}.ome.tif" for k in range(3)
    ]
    biopsies = pd.read_csv(out / "biopsies.csv")
    assert list(biopsies.n_sections) == [3]
    assert not list((processes.root / "workers_cwd").rglob("*.json"))  # nothing landed there
    # a folder given relatively, the output relative too, from another folder
    again = run_cli(
        client_cwd / "B1", ".", "--out", "../results2", "--scheduler", cluster, "--no-overlay"
    )
    assert again.returncode == 0, again.stderr
    assert len(results(client_cwd / "results2")) == 3


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("not-an-address", "no port"),
        ("http://127.0.0.1:8787", "web address"),
        ("tcp://127.0.0.1:0", "bad port"),
        ("gopher://127.0.0.1:8786", "unknown scheme"),
    ],
)
def test_bad_address_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, words: str
) -> None:
    write_sections(tmp_path / "in", 1)
    code = main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out")] + [
        "--scheduler", address
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"--scheduler: scheduler address {address!r}" in err and words in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything


def test_unreachable_scheduler_fails_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    write_sections(tmp_path / "in", 1)
    code = main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out")] + [
        "--scheduler", address
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"dask scheduler {address}: no answer within 5 s" in err
    assert "Traceback" not in err


def test_no_worker_is_an_error_naming_the_scheduler(
    tmp_path: Path, bare: str, capsys: pytest.CaptureFixture[str]
) -> None:
    wait_workers(bare, 0)
    write_sections(tmp_path / "in", 1)
    code = main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out")] + [
        "--scheduler", bare, "--worker-timeout", "5"
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert f"dask scheduler {bare}: no worker joined within 5 s" in err
    assert not results(tmp_path / "out") and not (tmp_path / "out" / "sections.csv").exists()


def test_all_workers_killed_mid_run_then_resumed(
    tmp_path: Path, bare: str, processes: Processes
) -> None:
    inputs = tmp_path / "in"
    write_sections(inputs, 5)
    out = tmp_path / "out"
    workers = [processes.worker(bare, tmp_path / "w") for _ in range(2)]
    wait_workers(bare, 2)
    args = [str(inputs), "--out", str(out), "--scheduler", bare, "--worker-timeout", "5"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ienfd.cli", "batch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the first section finished: kill every worker
            if line.startswith("[") and ("  ok  " in line or "  review  " in line):
                break
        for worker in workers:
            processes.kill(worker)
        _, err = proc.communicate(timeout=180)  # the guard against a hang, not a timing
    finally:
        proc.kill()
        proc.communicate()  # reaped, and its pipes closed, whatever happened
    assert proc.returncode == 3, err
    assert f"dask scheduler {bare}: no worker for " in err and "run the same command again" in err
    kept = results(out)
    assert 1 <= len(kept) < 5
    for path in kept:  # what was finished is whole
        assert json.loads(path.read_text())["count"] >= 0
    assert not (out / "sections.csv").exists()
    # a worker comes back: the same command finishes the rest, redoing nothing
    processes.worker(bare, tmp_path / "w")
    wait_workers(bare, 1)
    resumed = run_cli(tmp_path, *args)
    assert resumed.returncode == 0, resumed.stderr
    table = pd.read_csv(out / "sections.csv", keep_default_na=False)
    assert len(table) == 5 and set(table.status) == {"ok"}
    assert sorted(table.result_json[table.skipped]) == [p.name for p in kept]
    assert not list(out.glob(".*"))  # a temporary a killed worker left is gone too
    for proc_ in processes.started[-1:]:
        processes.kill(proc_)
    wait_workers(bare, 0)


def test_a_result_lost_with_its_worker_gives_a_clear_error_not_a_hang(
    tmp_path: Path, bare: str, processes: Processes
) -> None:
    # A task finished, and its worker was killed before its result was fetched: the
    # scheduler schedules the task again, and with no worker left to run it a plain
    # Future.result() waits forever (the batch hung so, once in CI).
    from concurrent.futures import ThreadPoolExecutor

    from distributed import Client, wait

    from ienfd.parallel import ClusterLostError, result_of

    worker = processes.worker(bare, tmp_path / "w")
    wait_workers(bare, 1)
    pool = ThreadPoolExecutor(1)
    with Client(bare, timeout=30) as client:
        future = client.submit(sum, [1, 2, 3], pure=False)
        wait([future], timeout=120)
        assert future.status == "finished"
        processes.kill(worker)
        wait_workers(bare, 0)
        fetch = pool.submit(result_of, client, future, worker_timeout=3)
        error = fetch.exception(timeout=120)  # the guard against a hang, not a timing
        assert isinstance(error, ClusterLostError), error
        assert f"dask scheduler {bare}: no worker for " in str(error)
        # a worker back in time: the task runs again and its result comes
        processes.worker(bare, tmp_path / "w")
        wait_workers(bare, 1)
        assert pool.submit(result_of, client, future, worker_timeout=60).result(120) == 6
    pool.shutdown(wait=False)
    processes.kill(processes.started[-1])
    wait_workers(bare, 0)


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-Urm", "true"], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs `unshare -Urm` (user and mount namespaces)")
def test_worker_that_sees_another_folder_is_named_and_nothing_runs(
    tmp_path: Path, cluster: str, processes: Processes
) -> None:
    # One worker runs in a mount namespace where an empty file system covers the shared
    # folder, and an empty results folder of the same name is made in it: the same paths,
    # other files, as on a node that does not mount the share.
    shared = tmp_path / "shared"
    write_sections(shared / "in", 2)
    out = shared / "results"
    out.mkdir()
    script = 'mount -t tmpfs none "$1" && mkdir "$2" && shift 2 && exec "$@"'
    stranger = processes.worker(
        cluster,
        tmp_path / "stranger",
        wrap=["unshare", "-Urm", "sh", "-c", script, "sh", str(shared), str(out)],
    )
    try:
        addresses = wait_workers(cluster, 3)
        done = run_cli(tmp_path, str(shared / "in"), "--out", str(out), "--scheduler", cluster)
        assert done.returncode == 2, done.stderr
        err = done.stderr
        assert "Traceback" not in err
        assert f"dask scheduler {cluster}: worker " in err
        problems = re.findall(r"worker (tcp://[0-9.]+:[0-9]+): ([^;]*)", err)
        assert len(problems) == 2, err  # that worker only, both of its problems
        (stranger_address, _), (same, _) = problems
        assert stranger_address == same and stranger_address in addresses
        assert problems[0][1].startswith(f"sees another folder at {out} ")
        assert problems[1][1].startswith(f"cannot see input {shared / 'in' / 's00.ome.tif'}")
        assert not list(out.iterdir())  # nothing written, not even the check file

        # a task that reaches such a worker anyway (one that joins after the check)
        # fails with an error naming the worker and the path; it writes nothing
        from distributed import Client

        from ienfd.parallel import plan_input
        from ienfd.workflow import InputRow, ReaderOptions

        path = str(shared / "in" / "s00.ome.tif")
        with Client(cluster, timeout=30) as client:
            plan, _ = client.submit(
                plan_input,
                InputRow(image="in/s00.ome.tif", path=path),
                ReaderOptions(),
                2**30,
                workers=[stranger_address],
                pure=False,
            ).result(timeout=60)
        assert plan.error == (
            f"in/s00.ome.tif: worker {stranger_address} cannot see {path}: no such file there "
            "(is the file system shared under the same path?)"
        )
    finally:
        processes.kill(stranger)
    wait_workers(cluster, 2)
