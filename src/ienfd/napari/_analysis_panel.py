"""The analysis panel: choose an image, a results folder and a length basis; analyse it.

The analysis runs in a worker thread (:func:`ienfd.napari._analysis.run_analysis`);
its result JSON is opened as layers by the host widget.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from napari.layers import Layer
from napari.qt.threading import FunctionWorker, create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ienfd.core import FibreTrace
from ienfd.io import SectionImage
from ienfd.napari._analysis import (
    Analysed,
    default_results_folder,
    run_analysis,
    section_from_layers,
)
from ienfd.napari._layers import layer_info, list_image_layers
from ienfd.review import RebuiltTrace, read_result_image, rebuild_trace
from ienfd.review._session import default_user

if TYPE_CHECKING:
    from ienfd.napari._section import SectionLayers
    from ienfd.napari._widget import ReviewWidget

__all__ = ["AnalysisPanel"]

#: Fibre traces kept, of the sections analysed last (the section under review's among them).
_TRACES_KEPT = 4


class AnalysisPanel(QWidget):
    """Image, results folder, length basis and user; the Analyse button and its progress."""

    def __init__(self, host: ReviewWidget) -> None:
        super().__init__()
        self.host = host
        self.worker: FunctionWorker[Analysed] | None = None
        # The fibre trace of each section analysed in this session, by result JSON
        # (the last few only: a trace holds a skeleton of the section's size).
        self.traces: dict[str, FibreTrace] = {}
        #: The worker rebuilding a trace for a result read from disk (None: none running).
        self.rebuilding: FunctionWorker[RebuiltTrace] | None = None
        self.image_combo = QComboBox()
        self.basis_combo = QComboBox()
        self.basis_combo.addItems(["dej", "surface"])
        self.basis_combo.currentTextChanged.connect(self._basis_changed)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("default: ienfd_results beside the image")
        self.user_edit = QLineEdit(default_user())
        self.user_edit.textChanged.connect(self._user_changed)
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.clicked.connect(self.analyse)
        # Progress: elapsed seconds, repainted once a second. (An animated busy bar
        # repaints the whole window many times a second, which with software OpenGL
        # doubled the analysis time on a 2-core machine.)
        self.progress = QLabel("")
        self.progress.setVisible(False)
        self._started = 0.0
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._show_elapsed)

        form = QFormLayout()
        form.addRow("Image", self.image_combo)
        form.addRow("Results folder", self.out_edit)
        form.addRow("Density per mm of", self.basis_combo)
        form.addRow("User", self.user_edit)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.analyse_button)
        layout.addWidget(self.progress)

    @property
    def user(self) -> str | None:
        """The reviewer's name as typed (None when empty)."""
        return self.user_edit.text() or None

    def refresh_images(self) -> None:
        """List the viewer's image layers that can be analysed (not membrane channels)."""
        list_image_layers(self.image_combo, self.host.viewer.layers)

    def show_basis(self, basis: str) -> None:
        """Show a section's length basis without treating it as the user's change."""
        self.basis_combo.blockSignals(True)
        self.basis_combo.setCurrentText(basis)
        self.basis_combo.blockSignals(False)

    def trace_for(self, result_json: str | Path) -> FibreTrace | None:
        """The fibre trace of a section analysed in this session (None for another)."""
        return self.traces.get(str(Path(result_json)))

    def rebuild_trace(self, current: SectionLayers, edit: str, dej_before_um: float | None) -> None:
        """Rebuild the fibre trace of a result read from disk, then recount `edit`.

        Once per section, on its first junction edit: the image (the layer open
        in the viewer, else the file the result names) is analysed again in a
        worker thread with the result's parameters
        (:func:`ienfd.review.rebuild_trace`); the status line says so, and
        again when the count is updated, or that it cannot be.
        """
        if self.rebuilding is not None:
            current.recount_note = "the fibre trace is being rebuilt: the count updates after it"
            return
        session = current.session
        key = str(Path(session.result_json))
        image = self._open_image(key)

        def rebuild() -> RebuiltTrace:
            section = image or read_result_image(session.record, session.result_json)
            return rebuild_trace(session.record, section)

        # Errors are shown by _not_rebuilt, not raised again in Qt's event loop.
        worker = create_worker(rebuild, _progress=False, _ignore_errors=True)
        worker.returned.connect(
            lambda rebuilt: self._rebuilt(current, rebuilt, edit, dej_before_um)
        )
        worker.errored.connect(lambda exc: self._not_rebuilt(current, exc))
        worker.finished.connect(self._rebuild_finished)
        self.rebuilding = worker
        current.recount_note = (
            "rebuilding the fibre trace from the image (once, with the result's parameters): "
            "the count updates when it is done"
        )
        self.host.say(f"{session.result_json.name}: {current.recount_note}")
        worker.start()

    def _open_image(self, section: str) -> SectionImage | None:
        """The section's image as open in the viewer (None when it is not)."""
        for layer in self.host.viewer.layers:
            info = layer_info(layer)
            if info.get("section") == section and info.get("role") in ("image", "fibre"):
                try:
                    return section_from_layers(layer, self.host.viewer.layers)
                except ValueError:
                    return None
        return None

    def _rebuilt(
        self, current: SectionLayers, rebuilt: RebuiltTrace, edit: str, dej_before: float | None
    ) -> None:
        key = str(Path(current.session.result_json))
        self.traces[key] = rebuilt.trace
        while len(self.traces) > _TRACES_KEPT:
            self.traces.pop(next(iter(self.traces)))
        if self.host.current is not current:  # another section opened meanwhile
            return
        current.set_trace(rebuilt.trace)
        current.recount_edit(f"{edit}; {rebuilt.note}", dej_before_um=dej_before)
        self.host.say(f"{rebuilt.note}; recounted: {current.recount_note}")

    def _not_rebuilt(self, current: SectionLayers, exc: BaseException) -> None:
        reason = (
            str(exc)
            if not isinstance(exc, FileNotFoundError)
            else (f"the image is not available ({exc})")
        )
        if self.host.current is current:
            current.cannot_recount(reason)
        self.host.say(f"the count cannot be updated: {reason}")

    def _rebuild_finished(self) -> None:
        self.rebuilding = None

    def analyse(self) -> FunctionWorker[Analysed] | None:
        """Analyse the chosen image layer in a worker thread; returns the worker."""
        viewer = self.host.viewer
        name = self.image_combo.currentText()
        if name not in viewer.layers:
            self.host.say("no image layer to analyse")
            return None
        layer = viewer.layers[name]
        try:
            section = section_from_layers(layer, viewer.layers)
        except ValueError as exc:
            show_error(str(exc))
            self.host.say(str(exc))
            return None
        out_dir = (
            Path(self.out_edit.text()) if self.out_edit.text() else default_results_folder(layer)
        )
        basis = "surface" if self.basis_combo.currentText() == "surface" else "dej"
        self.worker = create_worker(
            run_analysis,
            section,
            out_dir,
            length_basis=basis,
            _progress=False,  # no animated bar in napari's activity dock (see above)
        )
        self.worker.returned.connect(lambda analysed: self._done(analysed, layer))
        self.worker.errored.connect(self._failed)
        self.worker.finished.connect(self._finished)
        self.analyse_button.setEnabled(False)
        self._started = time.perf_counter()
        self._show_elapsed()
        self.progress.setVisible(True)
        self._tick.start()
        self.host.say(f"analysing {layer.name} ...")
        self.worker.start()
        return self.worker

    def _show_elapsed(self) -> None:
        seconds = time.perf_counter() - self._started
        self.progress.setText(f"analysing ... {seconds:.0f} s")

    def _done(self, analysed: Analysed, image_layer: Layer) -> None:
        key = str(Path(analysed.json_path))
        self.traces.pop(key, None)
        if analysed.trace is not None:
            self.traces[key] = analysed.trace
            while len(self.traces) > _TRACES_KEPT:
                self.traces.pop(next(iter(self.traces)))
        self.host.show_result(analysed.json_path, image_layer)

    def _failed(self, exc: BaseException) -> None:
        show_error(f"ienfd: {exc}")
        self.host.say(f"analysis failed: {exc}")

    def _finished(self) -> None:
        self.analyse_button.setEnabled(True)
        self._tick.stop()
        self.progress.setVisible(False)

    def _user_changed(self, text: str) -> None:
        if self.host.current is not None:
            self.host.current.session.user = text or default_user()

    def _basis_changed(self, basis: str) -> None:
        current = self.host.current
        if current is not None:
            current.session.length_basis = "surface" if basis == "surface" else "dej"
            current.save()
            self.host.review_panel.show_measurement(current.measure())
