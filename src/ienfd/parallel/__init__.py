"""Dask layer: the batch graph on a dask.distributed cluster, and whole-slide images.

The core and the workflow stay free of dask; this package only schedules
them. One task per input finds out about it (hashes the file, finds the
sections of a whole-slide image at low resolution), then
:func:`ienfd.workflow.plan_jobs` expands the inputs into jobs and
:func:`ienfd.workflow.run_sections` runs them, one task per section
(:func:`cluster_runner`). On an existing scheduler, :func:`check_workers`
first asks every worker whether it sees the inputs and the output folder,
and no wait lasts longer than ``worker_timeout`` seconds without a worker
(:class:`ClusterLostError`). dask and distributed come with the plain install.
"""

from ienfd.parallel._batch import (
    DEFAULT_SLIDE_BYTES,
    analyse_section,
    cluster_runner,
    plan_input,
    run_batch,
)
from ienfd.parallel._cluster import (
    CONNECT_TIMEOUT_S,
    DEFAULT_WORKER_TIMEOUT_S,
    SINGLE_THREAD_ENV,
    ClusterError,
    ClusterLostError,
    as_finished,
    batch_client,
    check_scheduler_address,
    check_workers,
    default_workers,
    result_of,
)
from ienfd.parallel._slide import SlideRegion, SlideSections, find_sections, read_region
from ienfd.workflow import BatchReport, finish_batch  # what run_batch returns, and its last step

__all__ = [
    "CONNECT_TIMEOUT_S",
    "DEFAULT_SLIDE_BYTES",
    "DEFAULT_WORKER_TIMEOUT_S",
    "SINGLE_THREAD_ENV",
    "BatchReport",
    "ClusterError",
    "ClusterLostError",
    "SlideRegion",
    "SlideSections",
    "analyse_section",
    "as_finished",
    "batch_client",
    "check_scheduler_address",
    "check_workers",
    "cluster_runner",
    "default_workers",
    "find_sections",
    "finish_batch",
    "plan_input",
    "read_region",
    "result_of",
    "run_batch",
]
