"""Workflows above the core, free of dask: one section end to end, pipelines, batch tables.

:func:`run_section` reads, analyses and writes one section (``ienfd analyze``
calls it in a loop; :mod:`ienfd.parallel` calls it inside dask tasks).
:mod:`._pipeline` reads and writes pipeline files, :mod:`._inputs` turns a
folder, glob or manifest into input rows, :mod:`._tables` builds the section
and biopsy tables from the result JSONs (and correction sidecars) in an output
folder. ``io`` and ``core`` never import this package.
"""

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

__all__ = [
    "IMAGE_SUFFIXES",
    "ReaderOptions",
    "Region",
    "SectionJob",
    "SectionOutcome",
    "image_stem",
    "output_stems",
    "remove_outputs",
    "run_section",
]
