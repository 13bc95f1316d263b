"""Dask layer: the batch graph on a dask.distributed cluster, and whole-slide images.

The core stays free of dask; this package only schedules it. One task per
input plans (hashes the file, finds the sections of a whole-slide image at
low resolution) and one task per section analyses it with
:func:`ienfd.workflow.run_section`. Requires the ``dask`` extra.
"""

from ienfd.parallel._batch import (
    DEFAULT_SLIDE_BYTES,
    BatchEvent,
    BatchReport,
    InputPlan,
    analyse_section,
    finish_batch,
    plan_input,
    run_batch,
)
from ienfd.parallel._cluster import SINGLE_THREAD_ENV, batch_client, default_workers
from ienfd.parallel._slide import SlideRegion, SlideSections, find_sections, read_region

__all__ = [
    "DEFAULT_SLIDE_BYTES",
    "SINGLE_THREAD_ENV",
    "BatchEvent",
    "BatchReport",
    "InputPlan",
    "SlideRegion",
    "SlideSections",
    "analyse_section",
    "batch_client",
    "default_workers",
    "find_sections",
    "finish_batch",
    "plan_input",
    "read_region",
    "run_batch",
]
