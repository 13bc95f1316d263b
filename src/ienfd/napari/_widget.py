"""The dock widget: analyse a section, correct it, review a batch, save and export.

Glue only: the analysis is :func:`ienfd.napari._analysis.run_analysis` (the core,
in a worker thread), the edits and the sidecar are
:class:`ienfd.napari._section.SectionLayers` / :class:`ienfd.review.ReviewSession`,
the queue is :func:`ienfd.review.build_queue`.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Image, Layer
from napari.qt.threading import FunctionWorker, create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ienfd.io import result_quality
from ienfd.napari._analysis import default_results_folder, run_analysis, section_from_layers
from ienfd.napari._layers import result_layers
from ienfd.napari._section import SectionLayers, section_roles
from ienfd.review import Measurement, QueueEntry, ReviewSession, build_queue
from ienfd.review._session import default_user

if TYPE_CHECKING:
    import napari

__all__ = ["ReviewWidget"]

logger = logging.getLogger(__name__)

#: Colour of a queue row whose section needs review (readable on napari's dark and light themes).
REVIEW_COLOUR = "#e08a00"

#: Keyboard shortcuts (bound on the viewer; act at the mouse position).
ADD_KEY = "Shift-F"
REMOVE_KEY = "Shift-D"

HELP = (
    f"<b>{ADD_KEY}</b>: add a fibre at the mouse; <b>{REMOVE_KEY}</b>: remove the fibre "
    "nearest the mouse. Or select the fibres layer: add mode (2) adds with one click, "
    "select (3) + Delete removes. Select the DEJ layer, direct-select (4), drag its vertices."
)


def _info(layer: Layer) -> dict[str, Any]:
    info = layer.metadata.get("ienfd") if isinstance(layer.metadata, dict) else None
    return info if isinstance(info, dict) else {}


class ReviewWidget(QWidget):
    """Count, correct and review IENFD sections.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (napari passes it).
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.current: SectionLayers | None = None
        self.queue: list[QueueEntry] = []
        self.queue_folder: Path | None = None
        self.queue_index = -1
        self.worker: FunctionWorker[Path] | None = None
        # Autosave on the event loop's next turn: the new numbers are painted first.
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(0)
        self._save_timer.timeout.connect(self._autosave)
        self._build_ui()
        self.viewer.layers.events.inserted.connect(self._on_inserted)
        self.viewer.layers.events.removed.connect(self._on_removed)
        self.viewer.bind_key(ADD_KEY, self._key_add, overwrite=True)
        self.viewer.bind_key(REMOVE_KEY, self._key_remove, overwrite=True)
        self._refresh_images()
        for layer in list(self.viewer.layers):  # a section opened before the widget
            if _info(layer).get("role") == "fibres":
                self.attach(_info(layer)["section"])

    # -- user interface --------------------------------------------------------------------

    def _build_ui(self) -> None:
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

        self.numbers = QLabel("no section")
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        # why the current section needs review (its failed quality checks); hidden when none
        self.review_label = QLabel("")
        self.review_label.setTextFormat(Qt.TextFormat.RichText)
        self.review_label.setWordWrap(True)
        self.review_label.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        help_label = QLabel(HELP)
        help_label.setWordWrap(True)

        self.accept_button = QPushButton("Accept")
        self.flag_button = QPushButton("Flag")
        self.save_button = QPushButton("Save")
        self.export_button = QPushButton("Export...")
        self.accept_button.clicked.connect(self.accept)
        self.flag_button.clicked.connect(self.flag)
        self.save_button.clicked.connect(self.save)
        self.export_button.clicked.connect(self._export_dialog)
        review_row = QHBoxLayout()
        for b in (self.accept_button, self.flag_button, self.save_button, self.export_button):
            review_row.addWidget(b)

        self.folder_button = QPushButton("Open results folder...")
        self.folder_button.clicked.connect(self._folder_dialog)
        self.queue_list = QListWidget()
        self.queue_list.itemDoubleClicked.connect(
            lambda item: self.open_entry(self.queue_list.row(item))
        )
        self.prev_button = QPushButton("< Previous")
        self.next_button = QPushButton("Next >")
        self.prev_button.clicked.connect(self.previous_section)
        self.next_button.clicked.connect(self.next_section)
        nav = QHBoxLayout()
        nav.addWidget(self.prev_button)
        nav.addWidget(self.next_button)
        queue_box = QGroupBox("Review queue (needs review first, then least certain)")
        self.queue_box = queue_box
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.addWidget(self.folder_button)
        queue_layout.addWidget(self.queue_list)
        queue_layout.addLayout(nav)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.analyse_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.numbers)
        layout.addWidget(self.review_label)
        layout.addLayout(review_row)
        layout.addWidget(help_label)
        layout.addWidget(queue_box)
        layout.addWidget(self.status)
        layout.addStretch()

    def _autosave(self) -> None:
        if self.current is not None:
            self.current.save()
            if self.current.last_error:
                self._say(f"not saved: {self.current.last_error}")

    def _schedule_save(self, _save: Any) -> None:
        self._save_timer.start()

    def flush(self) -> None:
        """Write a pending autosave now (before switching section or closing)."""
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._autosave()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        logger.info("%s", text)

    def _refresh_images(self) -> None:
        names = [
            layer.name
            for layer in self.viewer.layers
            if isinstance(layer, Image) and _info(layer).get("role") != "membrane"
        ]
        current = self.image_combo.currentText()
        self.image_combo.clear()
        self.image_combo.addItems(names)
        if current in names:
            self.image_combo.setCurrentText(current)

    def show_measurement(self, m: Measurement) -> None:
        """Show count, lengths and density (called after every edit)."""
        session = self.current.session if self.current else None
        auto = f" (automatic {session.auto_count})" if session else ""
        density = "-" if math.isnan(m.density_per_mm) else f"{m.density_per_mm:.2f}"
        status = session.status if session else ""
        self.numbers.setText(
            f"<b>{m.count}</b> fibres{auto} &nbsp; <b>{density}</b> /mm of "
            f"{'DEJ' if m.length_basis == 'dej' else 'surface'}<br>"
            f"DEJ {m.dej_length_um / 1000:.3f} mm, surface {m.surface_length_um / 1000:.3f} mm"
            f" &nbsp; [{status}]"
        )
        self._show_review(session.record if session else None, status)
        if self.current and self.current.last_error:
            self._say(f"not saved: {self.current.last_error}")

    def _show_review(self, record: dict[str, Any] | None, status: str) -> None:
        """Say why the section needs review (its failed quality checks), or hide the line."""
        try:
            quality = result_quality(record) if record is not None else None
        except ValueError as exc:  # a result edited by hand
            self.review_label.setText(f"<b>Needs review:</b> {html.escape(str(exc))}")
            self.review_label.setVisible(True)
            return
        if quality is None or not (quality.needs_review or status == "flagged"):
            self.review_label.setVisible(False)
            return
        reasons = "; ".join(html.escape(r) for r in quality.reasons)
        if quality.after_review(status):
            head = f"<b style='color:{REVIEW_COLOUR}'>Needs review:</b>"
            text = f"{head} {reasons}" if reasons else f"{head} flagged for a second look"
        else:  # accepted by a reviewer: the automatic verdict stays on record
            text = f"Reviewed and accepted; the quality checks had said: {reasons}"
        self.review_label.setText(text)
        self.review_label.setVisible(True)

    # -- layers coming and going -----------------------------------------------------------

    def _on_inserted(self, event: Any) -> None:
        self._refresh_images()
        info = _info(event.value)
        if info.get("role") == "fibres":
            try:
                self.attach(info["section"])
            except (ValueError, OSError) as exc:  # a broken sidecar or result: named
                show_error(f"ienfd: {exc}")
                self._say(f"cannot review: {exc}")
                return
            folder = info.get("queue_folder")
            if folder and (self.queue_folder is None or Path(folder) != self.queue_folder):
                self.load_queue(folder)

    def _on_removed(self, event: Any) -> None:
        self._refresh_images()
        if self.current is not None and event.value is self.current.fibres:
            self.flush()
            self.current.disconnect()
            self.current = None
            self.numbers.setText("no section")

    def attach(self, section: str) -> SectionLayers:
        """Review the section whose layers carry ``section`` (its result JSON path)."""
        layers = section_roles(self.viewer.layers, section)
        session = ReviewSession.open(layers["fibres"].metadata["ienfd"]["result_json"],
                                     user=self.user_edit.text() or None)  # fmt: skip
        if self.current is not None:
            self.flush()
            self.current.disconnect()
        self.current = SectionLayers(
            session, layers, on_change=self.show_measurement, schedule_save=self._schedule_save
        )
        self.basis_combo.blockSignals(True)
        self.basis_combo.setCurrentText(session.length_basis)
        self.basis_combo.blockSignals(False)
        self.viewer.layers.selection.active = self.current.fibres
        restored = " (saved correction restored)" if session.correction is not None else ""
        self._say(f"reviewing {session.result_json}{restored}")
        self.show_measurement(self.current.measure())
        if self.queue_folder is not None:
            self._select_in_queue(session.result_json)
        return self.current

    # -- analysis --------------------------------------------------------------------------

    def analyse(self) -> FunctionWorker[Path] | None:
        """Analyse the chosen image layer in a worker thread; returns the worker."""
        name = self.image_combo.currentText()
        if name not in self.viewer.layers:
            self._say("no image layer to analyse")
            return None
        layer = self.viewer.layers[name]
        try:
            section = section_from_layers(layer, self.viewer.layers)
        except ValueError as exc:
            show_error(str(exc))
            self._say(str(exc))
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
        self.worker.returned.connect(lambda path: self._analysis_done(path, layer))
        self.worker.errored.connect(self._analysis_failed)
        self.worker.finished.connect(self._analysis_finished)
        self.analyse_button.setEnabled(False)
        self._started = time.perf_counter()
        self._show_elapsed()
        self.progress.setVisible(True)
        self._tick.start()
        self._say(f"analysing {layer.name} ...")
        self.worker.start()
        return self.worker

    def _show_elapsed(self) -> None:
        seconds = time.perf_counter() - self._started
        self.progress.setText(f"analysing ... {seconds:.0f} s")

    def _analysis_done(self, result_json: Path, image_layer: Layer) -> None:
        session = ReviewSession.open(result_json, user=self.user_edit.text() or None)
        section = str(result_json)
        for layer in self.viewer.layers:
            if (
                _info(layer).get("section") == _info(image_layer).get("section", "\0")
                or layer is image_layer
            ):
                layer.metadata.setdefault("ienfd", {})["section"] = section
        self._remove_result_layers(section)
        fibres, sources = session.initial_fibres()
        name = result_json.name[: -len(".json")]
        for data, kwargs, kind in result_layers(
            session.record, section=section, result_json=section, fibres=fibres,
            sources=sources, dej=session.initial_dej(), surface=session.initial_surface(),
            name=name,
        ):  # fmt: skip
            self.viewer.add_layer(Layer.create(data, kwargs, kind))

    def _analysis_failed(self, exc: BaseException) -> None:
        show_error(f"ienfd: {exc}")
        self._say(f"analysis failed: {exc}")

    def _analysis_finished(self) -> None:
        self.analyse_button.setEnabled(True)
        self._tick.stop()
        self.progress.setVisible(False)

    def _remove_result_layers(self, section: str, *, images: bool = False) -> None:
        keep = () if images else ("image", "fibre", "membrane")
        for layer in list(self.viewer.layers):
            info = _info(layer)
            if info.get("section") == section and info.get("role") not in keep:
                self.viewer.layers.remove(layer)

    # -- edits from the keyboard -----------------------------------------------------------

    def _cursor_pixel(self) -> tuple[float, float] | None:
        if self.current is None:
            return None
        pos = self.current.fibres.world_to_data(self.viewer.cursor.position)
        return float(pos[-2]), float(pos[-1])

    def _key_add(self, viewer: Any = None) -> None:
        where = self._cursor_pixel()
        if where is not None:
            self.current.add_fibre(*where)  # type: ignore[union-attr]

    def _key_remove(self, viewer: Any = None) -> None:
        where = self._cursor_pixel()
        if where is not None and not self.current.remove_nearest(*where):  # type: ignore[union-attr]
            self._say("no counted fibre within 15 µm of the mouse")

    # -- review: status, saving, export ----------------------------------------------------

    def _user_changed(self, text: str) -> None:
        if self.current is not None:
            self.current.session.user = text or default_user()

    def _basis_changed(self, basis: str) -> None:
        if self.current is not None:
            self.current.session.length_basis = "surface" if basis == "surface" else "dej"
            self.current.save()
            self.show_measurement(self.current.measure())

    def save(self) -> Path | None:
        """Write the sidecar now."""
        if self.current is None:
            self._say("nothing to save: analyse a section or open a result first")
            return None
        self._save_timer.stop()
        path = self.current.save()
        self._say(f"saved {path}" if path else f"not saved: {self.current.last_error}")
        self.show_measurement(self.current.measure())
        self._update_queue_item()
        return path

    def accept(self) -> Path | None:
        """Accept the section (audited) and save."""
        return self._set_status("accepted")

    def flag(self) -> Path | None:
        """Flag the section for a second look (audited) and save."""
        return self._set_status("flagged")

    def _set_status(self, status: str) -> Path | None:
        if self.current is None:
            self._say("no section under review")
            return None
        self.current.session.set_status(status)  # type: ignore[arg-type]
        return self.save()

    def export(self, path: str | Path) -> Path | None:
        """Export fibres and junction to ``.csv`` or QuPath ``.geojson``."""
        if self.current is None:
            self._say("no section to export")
            return None
        target = self.current.export(path)
        self._say(f"exported {target}")
        return target

    def _export_dialog(self) -> None:
        if self.current is None:
            return
        start = str(self.current.session.result_json.with_suffix(".geojson"))
        path, _ = QFileDialog.getSaveFileName(
            self, "Export fibres and junction", start, "QuPath GeoJSON (*.geojson);;CSV (*.csv)"
        )
        if path:
            self.export(path)

    # -- review queue ----------------------------------------------------------------------

    def _folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of ienfd results")
        if folder:
            self.open_folder(folder)

    def load_queue(self, folder: str | Path) -> list[QueueEntry]:
        """List the results of `folder`, least certain first (does not open one)."""
        self.queue_folder = Path(folder)
        self.queue = build_queue(folder)
        self.queue_list.clear()
        for entry in self.queue:
            item = QListWidgetItem(entry.describe())
            item.setToolTip("; ".join(entry.reasons) or "nothing doubtful")
            if entry.needs_review:
                item.setForeground(QColor(REVIEW_COLOUR))
            self.queue_list.addItem(item)
        self._show_queue_title()
        self._say(f"{len(self.queue)} section(s) in {folder}")
        return self.queue

    def _show_queue_title(self) -> None:
        pending = sum(
            e.needs_review and e.status not in ("accepted", "flagged") for e in self.queue
        )
        self.queue_box.setTitle(
            f"Review queue: {len(self.queue)} section(s), {pending} needing review first"
        )

    def open_folder(self, folder: str | Path) -> None:
        """Load `folder` as the review queue and open its first section."""
        if self.load_queue(folder):
            self.open_entry(0)

    def open_entry(self, index: int) -> None:
        """Open the queue's section `index` (closing the current section's layers)."""
        if not 0 <= index < len(self.queue):
            return
        self.flush()
        self._update_queue_item()
        if self.current is not None:
            self._remove_result_layers(str(self.current.session.result_json), images=True)
        self.queue_index = index
        self.viewer.open(self.queue[index].result_json, plugin="ienfd")

    def next_section(self) -> None:
        """Open the next section of the queue."""
        self.open_entry(self.queue_index + 1)

    def previous_section(self) -> None:
        """Open the previous section of the queue."""
        self.open_entry(self.queue_index - 1)

    def _select_in_queue(self, result_json: Path) -> None:
        for i, entry in enumerate(self.queue):
            if entry.result_json.resolve() == Path(result_json).resolve():
                self.queue_index = i
                self.queue_list.setCurrentRow(i)

    def _update_queue_item(self) -> None:
        if self.current is None or not 0 <= self.queue_index < len(self.queue):
            return
        entry = self.queue[self.queue_index]
        correction = self.current.session.correction
        if correction is None or entry.result_json != self.current.session.result_json:
            return
        try:
            needs = result_quality(self.current.session.record).after_review(correction.status)
        except ValueError:
            needs = True
        updated = dataclasses.replace(
            entry, status=correction.status, final_count=correction.final_count, needs_review=needs
        )
        self.queue[self.queue_index] = updated
        item = self.queue_list.item(self.queue_index)
        if item is not None:
            item.setText(updated.describe())
            item.setForeground(QColor(REVIEW_COLOUR) if needs else self.queue_list.palette().text())
        self._show_queue_title()
