"""Workflows above the core, free of dask: one section end to end, pipelines, batch tables.

:func:`run_section` reads, analyses and writes one section (``ienfd analyze``
calls it in a loop; :mod:`ienfd.parallel` calls it inside dask tasks).
:func:`read_pipeline` / :func:`write_pipeline` handle pipeline files,
:func:`collect_inputs` turns a folder, glob or manifest into input rows, and
:func:`section_table` / :func:`biopsy_table` build the batch tables from the
result JSONs (and correction sidecars) in an output folder. ``io`` and
``core`` never import this package.
"""

from ienfd.workflow._inputs import MANIFEST_COLUMNS, BatchInputError, InputRow, collect_inputs
from ienfd.workflow._pipeline import (
    PIPELINE_FORMAT,
    Pipeline,
    PipelineError,
    default_pipeline,
    read_pipeline,
    update_pipeline_file,
    write_pipeline,
)
from ienfd.workflow._section import (
    IMAGE_SUFFIXES,
    ReaderOptions,
    Region,
    SectionJob,
    SectionOutcome,
    image_stem,
    output_stems,
    remove_outputs,
    run_section,
)
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
    "InputRow",
    "Pipeline",
    "PipelineError",
    "ReaderOptions",
    "Region",
    "SectionEntry",
    "SectionJob",
    "SectionOutcome",
    "biopsy_table",
    "collect_inputs",
    "default_pipeline",
    "image_stem",
    "output_stems",
    "read_pipeline",
    "remove_outputs",
    "run_section",
    "section_table",
    "update_pipeline_file",
    "write_pipeline",
    "write_table",
]
