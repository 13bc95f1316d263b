"""The dask.distributed client a batch runs on: a LocalCluster, or an existing scheduler."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["SINGLE_THREAD_ENV", "batch_client", "default_workers"]

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


def default_workers() -> int:
    """Workers for this machine: one per core, fewer if memory is short (>= 2 GB each)."""
    import psutil

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    by_memory = int(psutil.virtual_memory().total // WORKER_MEMORY_BYTES)
    return max(1, min(cores or 1, by_memory))


@contextmanager
def batch_client(*, workers: int | None = None, scheduler: str | None = None) -> Iterator[Client]:
    """Connect to ``scheduler``, or start a LocalCluster of single-threaded worker processes.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the LocalCluster (default :func:`default_workers`).
        With ``scheduler`` it is ignored (the cluster decides).
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``), e.g. of a
        dask-jobqueue ``SLURMCluster`` or a Kubernetes deployment. Its workers
        must have ienfd installed and see the input and output paths.

    Yields
    ------
    distributed.Client
        Closed (with its LocalCluster) on exit.

    Raises
    ------
    ValueError
        ``workers`` < 1.
    OSError
        The scheduler cannot be reached (distributed's own timeout error).
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
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
