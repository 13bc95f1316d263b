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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it: loaded on first use, so that ``ienfd analyze``
#: does not pay for the batch tables (pandas) or the generator (scipy.interpolate).
_LAZY = {
    "BatchReport": "ienfd.workflow._finish",
    "finish_batch": "ienfd.workflow._finish",
    "now_utc": "ienfd.workflow._finish",
    "remove_temporaries": "ienfd.workflow._finish",
    "BatchInputError": "ienfd.workflow._inputs",
    "InputRow": "ienfd.workflow._inputs",
    "MANIFEST_COLUMNS": "ienfd.workflow._inputs",
    "SkippedInput": "ienfd.workflow._inputs",
    "collect_inputs": "ienfd.workflow._inputs",
    "PIPELINE_FORMAT": "ienfd.workflow._pipeline",
    "Pipeline": "ienfd.workflow._pipeline",
    "PipelineError": "ienfd.workflow._pipeline",
    "PixelModelRef": "ienfd.workflow._pipeline",
    "default_pipeline": "ienfd.workflow._pipeline",
    "read_parameters": "ienfd.workflow._pipeline",
    "read_pipeline": "ienfd.workflow._pipeline",
    "save_trained_pipeline": "ienfd.workflow._pipeline",
    "update_pipeline_file": "ienfd.workflow._pipeline",
    "write_pipeline": "ienfd.workflow._pipeline",
    "BatchPlan": "ienfd.workflow._plan",
    "InputPlan": "ienfd.workflow._plan",
    "PlanAction": "ienfd.workflow._plan",
    "PlannedSection": "ienfd.workflow._plan",
    "analysis_jobs": "ienfd.workflow._plan",
    "decided_runs": "ienfd.workflow._plan",
    "is_done": "ienfd.workflow._plan",
    "job_key": "ienfd.workflow._plan",
    "plan_jobs": "ienfd.workflow._plan",
    "reader_for_row": "ienfd.workflow._plan",
    "settle_entries": "ienfd.workflow._plan",
    "Runner": "ienfd.workflow._run",
    "SectionEvent": "ienfd.workflow._run",
    "SectionRun": "ienfd.workflow._run",
    "SectionStatus": "ienfd.workflow._run",
    "attempt_section": "ienfd.workflow._run",
    "failed_section": "ienfd.workflow._run",
    "run_sections": "ienfd.workflow._run",
    "serial_runner": "ienfd.workflow._run",
    "IMAGE_SUFFIXES": "ienfd.workflow._section",
    "ReaderOptions": "ienfd.workflow._section",
    "Region": "ienfd.workflow._section",
    "SectionJob": "ienfd.workflow._section",
    "SectionOutcome": "ienfd.workflow._section",
    "image_stem": "ienfd.workflow._section",
    "output_folder": "ienfd.workflow._section",
    "output_stems": "ienfd.workflow._section",
    "remove_outputs": "ienfd.workflow._section",
    "run_section": "ienfd.workflow._section",
    "TiffKind": "ienfd.workflow._synth",
    "WrittenSection": "ienfd.workflow._synth",
    "write_synthetic_sections": "ienfd.workflow._synth",
    "SECTION_COLUMNS": "ienfd.workflow._tables",
    "SectionEntry": "ienfd.workflow._tables",
    "biopsy_table": "ienfd.workflow._tables",
    "section_table": "ienfd.workflow._tables",
    "write_table": "ienfd.workflow._tables",
}

if TYPE_CHECKING:
    from ienfd.workflow._finish import BatchReport, finish_batch, now_utc, remove_temporaries
    from ienfd.workflow._inputs import (
        MANIFEST_COLUMNS,
        BatchInputError,
        InputRow,
        SkippedInput,
        collect_inputs,
    )
    from ienfd.workflow._pipeline import (
        PIPELINE_FORMAT,
        Pipeline,
        PipelineError,
        PixelModelRef,
        default_pipeline,
        read_parameters,
        read_pipeline,
        save_trained_pipeline,
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
    "PixelModelRef",
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
    "SkippedInput",
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
    "save_trained_pipeline",
    "section_table",
    "serial_runner",
    "settle_entries",
    "update_pipeline_file",
    "write_pipeline",
    "write_synthetic_sections",
    "write_table",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ienfd.workflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
