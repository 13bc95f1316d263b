"""Workflows above the core, free of dask: one section end to end, pipelines, batch tables.

:func:`run_section` reads, analyses and writes one section;
:func:`attempt_section` runs it with the one error path (a failure becomes a
:class:`SectionRun` with status ``'error'``), and :func:`run_sections` runs
many, serially for ``ienfd analyze`` or through a runner that
:mod:`ienfd.parallel` gives for ``ienfd batch``. :func:`plan_jobs` turns a
batch's inputs into sections, jobs, keys and resume decisions;
:func:`write_synthetic_sections` writes generated sections with their truth;
:func:`finish_batch` writes a batch's tables and run record.
:func:`read_pipeline` / :func:`write_pipeline` handle pipeline files,
:func:`collect_inputs` turns a folder, glob or manifest into input rows, and
:func:`section_table` / :func:`biopsy_table` build the batch tables from the
result JSONs (and correction sidecars) in an output folder. ``io`` and
``core`` never import this package.
"""

from ienfd.workflow._finish import BatchReport, finish_batch, now_utc, remove_temporaries
from ienfd.workflow._inputs import MANIFEST_COLUMNS, BatchInputError, InputRow, collect_inputs
from ienfd.workflow._pipeline import (
    PIPELINE_FORMAT,
    Pipeline,
    PipelineError,
    default_pipeline,
    read_parameters,
    read_pipeline,
    update_pipeline_file,
    write_pipeline,
)
from ienfd.workflow._plan import (
    BatchPlan,
    InputPlan,
    PlanAction,
    PlannedSection,
    analysis_jobs,
    decided_runs,
    is_done,
    job_key,
    plan_jobs,
    reader_for_row,
    settle_entries,
)
from ienfd.workflow._run import (
    Runner,
    SectionEvent,
    SectionRun,
    SectionStatus,
    attempt_section,
    failed_section,
    run_sections,
    serial_runner,
)
from ienfd.workflow._section import (
    IMAGE_SUFFIXES,
    ReaderOptions,
    Region,
    SectionJob,
    SectionOutcome,
    image_stem,
    output_folder,
    output_stems,
    remove_outputs,
    run_section,
)
from ienfd.workflow._synth import TiffKind, WrittenSection, write_synthetic_sections
from ienfd.workflow._tables import (
    SECTION_COLUMNS,
    SectionEntry,
    biopsy_table,
    section_table,
    write_table,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "MANIFEST_COLUMNS",
    "PIPELINE_FORMAT",
    "SECTION_COLUMNS",
    "BatchInputError",
    "BatchPlan",
    "BatchReport",
    "InputPlan",
    "InputRow",
    "Pipeline",
    "PipelineError",
    "PlanAction",
    "PlannedSection",
    "ReaderOptions",
    "Region",
    "Runner",
    "SectionEntry",
    "SectionEvent",
    "SectionJob",
    "SectionOutcome",
    "SectionRun",
    "SectionStatus",
    "TiffKind",
    "WrittenSection",
    "analysis_jobs",
    "attempt_section",
    "biopsy_table",
    "collect_inputs",
    "decided_runs",
    "default_pipeline",
    "failed_section",
    "finish_batch",
    "image_stem",
    "is_done",
    "job_key",
    "now_utc",
    "output_folder",
    "output_stems",
    "plan_jobs",
    "read_parameters",
    "read_pipeline",
    "reader_for_row",
    "remove_outputs",
    "remove_temporaries",
    "run_section",
    "run_sections",
    "section_table",
    "serial_runner",
    "settle_entries",
    "update_pipeline_file",
    "write_pipeline",
    "write_synthetic_sections",
    "write_table",
]
