"""Dask layer: the batch graph on a dask.distributed cluster, and whole-slide images.

The core and the workflow stay free of dask; this package only schedules
them. One task per input finds out about it (hashes the file, finds the
sections of a whole-slide image at low resolution), then
:func:`ienfd.workflow.plan_jobs` expands the inputs into jobs and
:func:`ienfd.workflow.run_sections` runs them, one task per section
(:func:`cluster_runner`). Requires the ``dask`` extra.
"""

from ienfd.parallel._batch import (
    DEFAULT_SLIDE_BYTES,
    analyse_section,
    cluster_runner,
    plan_input,
    run_batch,
)
from ienfd.parallel._cluster import SINGLE_THREAD_ENV, batch_client, default_workers
from ienfd.parallel._slide import SlideRegion, SlideSections, find_sections, read_region
from ienfd.workflow import BatchReport, finish_batch  # what run_batch returns, and its last step

__all__ = [
    "DEFAULT_SLIDE_BYTES",
    "SINGLE_THREAD_ENV",
    "BatchReport",
    "SlideRegion",
    "SlideSections",
    "analyse_section",
    "batch_client",
    "cluster_runner",
    "default_workers",
    "find_sections",
    "finish_batch",
    "plan_input",
    "read_region",
    "run_batch",
]
