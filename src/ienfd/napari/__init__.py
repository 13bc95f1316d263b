"""napari plugin for reviewing ienfd counts (manifest: ``napari.yaml`` beside this file).

Glue only: readers (:mod:`._reader`), sample data (:mod:`._sample`), the layers
of a section (:mod:`._layers`, :mod:`._section`) and the dock widget
(:mod:`._widget`), which holds the section under review and its panels:
analysis (:mod:`._analysis_panel`, running :mod:`._analysis` in a thread),
review (:mod:`._review_panel`), export (:mod:`._export_panel`) and the review
queue (:mod:`._queue_panel`). The review logic itself is the pure :mod:`ienfd.review`.
This package imports napari and Qt lazily, in its submodules; ``import ienfd``
never imports it.
"""

__all__: list[str] = []
