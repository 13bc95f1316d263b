"""The dask.distributed client a batch runs on, and the checks that keep it from hanging.

:func:`batch_client` starts a LocalCluster or connects to an existing
scheduler (a bad address is refused at once, an unreachable one within
:data:`CONNECT_TIMEOUT_S`). :func:`check_workers` asks every worker, before a
run, whether it sees the inputs and the very output folder the client sees.
:func:`as_finished` yields tasks as they finish and raises
:class:`ClusterLostError` when no worker has been there (or the scheduler has
not answered) for ``worker_timeout`` seconds, instead of waiting forever, and
:func:`result_of` fetches a finished task's result under the same watch.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DEFAULT_WORKER_TIMEOUT_S",
    "SINGLE_THREAD_ENV",
    "ClusterError",
    "ClusterLostError",
    "as_finished",
    "batch_client",
    "check_scheduler_address",
    "check_workers",
    "default_workers",
    "result_of",
    "scheduler_address",
]

logger = logging.getLogger(__name__)

#: One thread per worker for every numerical library: sections are the unit of
#: parallel work, so a worker's libraries must not compete for the other cores.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
#: Memory a worker should have for one section (the core peaks near 11x the
#: image bytes: a 3 mm section at 0.25 µm is ~150 MB of RGB).
WORKER_MEMORY_BYTES = 2 * 2**30
#: Seconds to wait for an existing scheduler to answer before giving up.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a batch waits with no worker (none joined, or all lost) before it stops.
DEFAULT_WORKER_TIMEOUT_S = 60.0
#: Start of the name of the file the client writes in the output folder for the workers
#: to find (ending ``.tmp``: one a killed run leaves is removed with its other temporaries).
PROBE_PREFIX = ".ienfd-probe-"
#: Address schemes distributed connects to with a host and a port.
_HOST_PORT_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


class ClusterError(OSError):
    """The dask cluster cannot run the batch: unreachable, no worker, or a worker that
    does not see the inputs or the output folder. ``address`` is the scheduler's."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"dask scheduler {address}: {reason}")
        self.address = address
        self.reason = reason


class ClusterLostError(ClusterError):
    """The cluster went away during a run: no worker, or no answer from the scheduler,
    for longer than the worker timeout. What was finished is kept; nothing else is."""


def default_workers() -> int:
    """Workers for this machine: one per core, fewer if memory is short (>= 2 GB each)."""
    import psutil

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    by_memory = int(psutil.virtual_memory().total // WORKER_MEMORY_BYTES)
    return max(1, min(cores or 1, by_memory))


def check_scheduler_address(address: str) -> str:
    """``address`` as distributed connects to it, or ValueError saying what is accepted.

    Accepted: ``tcp://HOST:PORT`` (also ``tls://``, ``ws://``, ``wss://``,
    ``ucx://``), or ``HOST:PORT`` for tcp, as ``dask scheduler`` prints it.
    Nothing is contacted.

    Raises
    ------
    ValueError
        An unknown scheme (the dashboard's ``http://`` address among them), a
        missing host or port, or a port outside 1-65535.
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    accepted = "accepted: tcp://HOST:PORT as `dask scheduler` prints it (or tls://, ws://)"
    text = address.strip()
    scheme, location = parse_address(text) if "://" in text else ("tcp", text)
    if scheme in ("http", "https"):
        raise ValueError(
            f"scheduler address {address!r} is a web address (the dashboard's?); {accepted}, "
            "port 8786 by default"
        )
    try:
        get_backend(scheme)
    except ValueError:
        raise ValueError(
            f"scheduler address {address!r}: unknown scheme {scheme!r}; {accepted}"
        ) from None
    if scheme in _HOST_PORT_SCHEMES:
        try:
            host, port = parse_host_port(location)
        except ValueError:
            raise ValueError(f"scheduler address {address!r}: no port; {accepted}") from None
        if not host or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"scheduler address {address!r}: no host or a bad port; {accepted}")
    return f"{scheme}://{location}"


def scheduler_address(client: Client) -> str:
    """The address of the client's scheduler (as given when it is not known yet)."""
    scheduler = getattr(client, "scheduler", None)
    return str(getattr(scheduler, "address", None) or "(unknown scheduler)")


@contextmanager
def batch_client(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = CONNECT_TIMEOUT_S,
) -> Iterator[Client]:
    """Connect to ``scheduler``, or start a LocalCluster of single-threaded worker processes.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the LocalCluster (default :func:`default_workers`).
        With ``scheduler`` it is ignored (the cluster decides).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``), e.g. of a
        dask-jobqueue ``SLURMCluster`` or a Kubernetes deployment. Its workers
        must have ienfd installed and see the input and output paths
        (:func:`check_workers` checks it).
    connect_timeout : float
        Seconds to wait for ``scheduler`` to answer.

    Yields
    ------
    distributed.Client
        Closed (with its LocalCluster) on exit.

    Raises
    ------
    ValueError
        ``workers`` < 1, or ``scheduler`` is not a scheduler address
        (:func:`check_scheduler_address`).
    ClusterError
        The scheduler did not answer within ``connect_timeout`` seconds.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        address = check_scheduler_address(scheduler)
        try:
            client = Client(address, timeout=connect_timeout)
        except OSError as exc:  # distributed's connect timeout is an OSError
            raise ClusterError(
                address,
                f"no answer within {connect_timeout:g} s ({exc}); is the scheduler running "
                "there, and is the address (host and port) right?",
            ) from exc
        with client:
            yield client
        return
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never collides with another cluster
            env=SINGLE_THREAD_ENV,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _worker_view(
    out_dir: str, probe: str, token: str, paths: Sequence[str], dask_worker: Any = None
) -> dict[str, Any]:
    """What one worker sees (run on every worker by :func:`check_workers`)."""
    import tempfile

    import ienfd

    problems: list[str] = []
    out = Path(out_dir)
    if not out.is_dir():
        problems.append(f"cannot see the output folder {out_dir}")
    else:
        try:
            seen = (out / probe).read_text(encoding="ascii")
        except OSError:
            seen = ""
        if seen != token:
            problems.append(
                f"sees another folder at {out_dir} (not the check file the client wrote in "
                "it): is the shared file system mounted under the same path there?"
            )
        try:
            with tempfile.NamedTemporaryFile(dir=out, prefix=PROBE_PREFIX, suffix=".tmp") as fh:
                fh.write(b"ienfd")
                fh.flush()
        except OSError as exc:
            problems.append(f"cannot write in the output folder {out_dir}: {exc.strerror or exc}")
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        problems.append(f"cannot see input {', '.join(missing[:3])}{more}")
    orphans = 0
    if dask_worker is not None:  # sections of an interrupted run still being written
        orphans = sum(
            ts.state == "cancelled" and str(ts.key).startswith("section-")
            for ts in dask_worker.state.tasks.values()
        )
    return {"problems": problems, "version": ienfd.__version__, "orphans": orphans}


def check_workers(
    client: Client,
    out_dir: str | os.PathLike[str],
    paths: Iterable[str],
    *,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
    orphan_timeout: float = 300.0,
) -> int:
    """Check, from every worker, that it sees the inputs and the client's output folder.

    Waits up to ``worker_timeout`` seconds for a first worker. The client
    writes a check file in ``out_dir``; each worker must find it there (the
    same folder, not one of the same name on another file system), be able
    to write there, and see every path in ``paths``. Sections that a run
    interrupted earlier left running on a worker are waited for (up to
    ``orphan_timeout`` seconds), so that they cannot write into the folder
    while this run cleans it.

    Returns
    -------
    int
        The number of workers checked.

    Raises
    ------
    ClusterError
        No worker within ``worker_timeout`` seconds; a worker that does not see
        an input or the output folder, cannot write there, or runs another
        ienfd version (each named, with the path); sections of an earlier run
        still running after ``orphan_timeout`` seconds.
    """
    import ienfd

    address = scheduler_address(client)
    try:
        client.wait_for_workers(1, timeout=worker_timeout)
    except (TimeoutError, OSError) as exc:
        raise ClusterError(
            address,
            f"no worker joined within {worker_timeout:g} s; start workers with "
            f"`dask worker {address} --nthreads 1` (same ienfd, same file system)",
        ) from exc
    out = Path(out_dir)
    token = secrets.token_hex(16)
    probe = f"{PROBE_PREFIX}{token[:12]}.tmp"
    wanted = sorted(set(paths))
    (out / probe).write_text(token, encoding="ascii")
    try:
        deadline = time.monotonic() + orphan_timeout
        while True:
            views = client.run(_worker_view, str(out), probe, token, wanted, on_error="return")
            orphans = sum(v.get("orphans", 0) for v in views.values() if isinstance(v, dict))
            if not orphans:
                break
            if time.monotonic() > deadline:
                raise ClusterError(
                    address,
                    f"{orphans} section(s) of an interrupted run are still running after "
                    f"{orphan_timeout:g} s; wait for them or restart the workers",
                )
            logger.warning(
                "waiting for %d section(s) of an interrupted run still running on the workers",
                orphans,
            )
            time.sleep(1.0)
    finally:
        (out / probe).unlink(missing_ok=True)
    problems = []
    for worker, view in sorted(views.items()):
        if not isinstance(view, dict):  # it died meanwhile, or cannot import ienfd
            problems.append(f"worker {worker}: the check failed there: {view!r}")
            continue
        problems.extend(f"worker {worker}: {p}" for p in view["problems"])
        if view["version"] != ienfd.__version__:
            problems.append(
                f"worker {worker}: runs ienfd {view['version']}, this client {ienfd.__version__}"
            )
    if problems:
        raise ClusterError(address, "; ".join(problems))
    return len(views)


def _n_workers(client: Client, wait: float) -> int | None:
    """Workers the scheduler has now, or None when it does not answer within ``wait`` s."""
    if client.status != "running":
        return None
    try:
        return len(client.nthreads(callback_timeout=wait))
    except (OSError, TimeoutError):  # lost connection, or no answer in time
        return None


class _Watch:
    """The clock of a wait for tasks: how long the cluster has had no worker.

    :meth:`check` asks the scheduler how many workers it has; after
    ``worker_timeout`` seconds with none (or no answer) it raises
    :class:`ClusterLostError`, and it warns once half-way (at most 5 s in).
    A worker that comes back in time resets the clock.
    """

    def __init__(self, client: Client, worker_timeout: float, poll: float) -> None:
        self.client, self.worker_timeout, self.poll = client, worker_timeout, poll
        self.address = scheduler_address(client)
        self.idle_since: float | None = None
        self.warned = False

    def check(self, n_pending: int) -> None:
        n = _n_workers(self.client, max(self.poll, 5.0))
        if n:
            self.idle_since, self.warned = None, False
            return
        now = time.monotonic()
        self.idle_since = now if self.idle_since is None else self.idle_since
        idle = now - self.idle_since
        what = "no worker" if n == 0 else "no answer from the scheduler"
        if idle >= self.worker_timeout:
            raise ClusterLostError(
                self.address,
                f"{what} for {idle:.0f} s (all workers lost?) with {n_pending} task(s) "
                f"left; start workers with `dask worker {self.address}`",
            )
        if not self.warned and idle >= min(5.0, self.worker_timeout / 2):
            logger.warning(
                "%s: %s for %.0f s; waiting up to %.0f s more", self.address, what, idle,
                self.worker_timeout - idle,
            )  # fmt: skip
            self.warned = True


def as_finished(
    client: Client,
    futures: Iterable[Any],
    *,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
    poll: float = 1.0,
) -> Iterator[Any]:
    """Yield ``futures`` as they finish (done, erred or cancelled); never wait forever.

    Between finished tasks the scheduler is asked how many workers it has.
    When it has had none (all lost, or none joined), or has not answered, for
    ``worker_timeout`` seconds while tasks remain, :class:`ClusterLostError` is
    raised. A worker that comes back in time resets the clock. Take each
    result with :func:`result_of`: a finished task's result can still be lost
    with its worker.

    Raises
    ------
    ClusterLostError
        No worker, or no scheduler, for ``worker_timeout`` seconds.
    """
    from distributed import wait

    pending = set(futures)
    watch = _Watch(client, worker_timeout, poll)
    while pending:
        try:
            done, pending = wait(pending, timeout=poll, return_when="FIRST_COMPLETED")
        except TimeoutError:  # nothing finished within poll seconds
            done = set()
        yield from done
        if not pending:
            return
        watch.check(len(pending))


def result_of(
    client: Client,
    future: Any,
    *,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
    poll: float = 1.0,
) -> Any:
    """The result of a finished ``future``, or its task's error; never waits forever.

    A finished task's result stays on the worker that ran it until it is
    fetched. When that worker is lost first, the scheduler runs the task
    again, which needs a worker: with none for ``worker_timeout`` seconds
    :class:`ClusterLostError` is raised instead of waiting for one.

    Raises
    ------
    ClusterLostError
        No worker, or no scheduler, for ``worker_timeout`` seconds.
    """
    watch = _Watch(client, worker_timeout, poll)
    while True:
        try:
            return future.result(timeout=poll)
        except TimeoutError:  # not fetched within poll seconds: is anyone there to run it?
            watch.check(1)
