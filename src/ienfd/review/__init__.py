"""Reviewing a section: live measurement, audited corrections, review queue, export.

Pure Python and numpy, no napari and no Qt: the napari plugin
(:mod:`ienfd.napari`) is glue around these, and scripts can use them directly.

- :func:`measure_section`: count, DEJ and surface lengths and density of an
  edited section (what the plugin shows live).
- :class:`ReviewSession`: one section under review: its automatic result, the
  audited edits, and the correction sidecar it writes
  (:func:`ienfd.io.write_correction`).
- :func:`build_queue` / :func:`section_uncertainty`: the results in a batch
  output folder, the least certain first.
- :func:`export_csv` / :func:`export_geojson`: points and junction for
  spreadsheets and QuPath.
- :func:`rebuild_trace`: the fibre trace of a result read from disk, traced
  again from its image (:func:`read_result_image`), to recount after a
  junction edit.
"""

from ienfd.review._export import export_csv, export_geojson, to_geojson
from ienfd.review._measure import Measurement, measure_section, polylines_length_px
from ienfd.review._queue import QueueEntry, build_queue, section_uncertainty
from ienfd.review._session import ReviewSession, find_image, read_result
from ienfd.review._trace import RebuiltTrace, read_result_image, rebuild_trace

__all__ = [
    "Measurement",
    "QueueEntry",
    "RebuiltTrace",
    "ReviewSession",
    "build_queue",
    "export_csv",
    "export_geojson",
    "find_image",
    "measure_section",
    "polylines_length_px",
    "read_result",
    "read_result_image",
    "rebuild_trace",
    "section_uncertainty",
    "to_geojson",
]
