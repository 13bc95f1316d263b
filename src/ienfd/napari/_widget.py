"""The dock widget: the section under review, and the panels that act on it.

Glue only. :class:`ReviewWidget` holds the one section under review (its
:class:`ienfd.napari._section.SectionLayers` over an
:class:`ienfd.review.ReviewSession`), follows layers coming and going, binds
the keyboard, and autosaves; its panels each do one job on that section:

- :class:`~ienfd.napari._analysis_panel.AnalysisPanel`: analyse an image layer;
- :class:`~ienfd.napari._review_panel.ReviewPanel`: numbers, review reasons,
  Accept / Flag / Save;
- :class:`~ienfd.napari._export_panel.ExportPanel`: CSV or QuPath GeoJSON;
- :class:`~ienfd.napari._queue_panel.QueuePanel`: a results folder, least
  certain first;
- :class:`~ienfd.napari._train_panel.TeachPanel`: paint strokes, train a lab's
  pixel model, save it as a pipeline.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Layer
from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from ienfd.napari._analysis_panel import AnalysisPanel
from ienfd.napari._export_panel import ExportPanel
from ienfd.napari._layers import layer_info, result_layers
from ienfd.napari._queue_panel import QueuePanel
from ienfd.napari._review_panel import ADD_KEY, HELP, REMOVE_KEY, REVIEW_COLOUR, ReviewPanel
from ienfd.napari._section import SectionLayers, section_roles
from ienfd.napari._train_panel import TeachPanel
from ienfd.review import QueueEntry, ReviewSession

if TYPE_CHECKING:
    import napari

__all__ = ["ADD_KEY", "HELP", "REMOVE_KEY", "REVIEW_COLOUR", "ReviewWidget"]

logger = logging.getLogger(__name__)


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
        # Autosave on the event loop's next turn: the new numbers are painted first.
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(0)
        self._save_timer.timeout.connect(self._autosave)

        self.analysis_panel = AnalysisPanel(self)
        self.review_panel = ReviewPanel(self)
        self.export_panel = ExportPanel(self)
        self.queue_panel = QueuePanel(self)
        self.teach_panel = TeachPanel(self)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        for panel in (self.analysis_panel, self.review_panel, self.export_panel, self.queue_panel):
            layout.addWidget(panel)
        layout.addWidget(self.teach_panel)
        layout.addWidget(self.status)
        layout.addStretch()
        # The controls by their old names (scripts and tests drive them).
        a, r, q = self.analysis_panel, self.review_panel, self.queue_panel
        self.image_combo, self.out_edit, self.user_edit = a.image_combo, a.out_edit, a.user_edit
        self.basis_combo, self.analyse_button, self.progress = (
            a.basis_combo,
            a.analyse_button,
            a.progress,
        )
        self.numbers, self.review_label = r.numbers, r.review_label
        self.queue_list, self.queue_box = q.queue_list, q

        self.viewer.layers.events.inserted.connect(self._on_inserted)
        self.viewer.layers.events.removed.connect(self._on_removed)
        self.viewer.bind_key(ADD_KEY, self._key_add, overwrite=True)
        self.viewer.bind_key(REMOVE_KEY, self._key_remove, overwrite=True)
        self.analysis_panel.refresh_images()
        for layer in list(self.viewer.layers):  # a section opened before the widget
            if layer_info(layer).get("role") == "fibres":
                self.attach(layer_info(layer)["section"])

    # -- what the panels share ---------------------------------------------------------------

    def say(self, text: str) -> None:
        """Show ``text`` on the status line (and log it)."""
        self.status.setText(text)
        logger.info("%s", text)

    def _autosave(self) -> None:
        if self.current is not None:
            self.current.save()
            if self.current.last_error:
                self.say(f"not saved: {self.current.last_error}")

    def _schedule_save(self, _save: Any) -> None:
        self._save_timer.start()

    def cancel_autosave(self) -> None:
        """Drop a pending autosave (an explicit save follows)."""
        self._save_timer.stop()

    def flush(self) -> None:
        """Write a pending autosave now (before switching section or closing)."""
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._autosave()

    def attach(self, section: str) -> SectionLayers:
        """Review the section whose layers carry ``section`` (its result JSON path)."""
        layers = section_roles(self.viewer.layers, section)
        session = ReviewSession.open(
            layers["fibres"].metadata["ienfd"]["result_json"], user=self.analysis_panel.user
        )
        if self.current is not None:
            self.flush()
            self.current.disconnect()
        self.current = SectionLayers(
            session,
            layers,
            on_change=self.review_panel.show_measurement,
            schedule_save=self._schedule_save,
            trace=self.analysis_panel.trace_for(session.result_json),
            needs_trace=lambda edit, dej_before: self.analysis_panel.rebuild_trace(
                current, edit, dej_before
            ),
        )
        current = self.current
        self.analysis_panel.show_basis(session.length_basis)
        # Every layer is in µm (its scale is the pixel size): a scale bar in µm
        # gives the section's physical size at a glance.
        show_scale_bar(self.viewer)
        self.viewer.layers.selection.active = self.current.fibres
        restored = " (saved correction restored)" if session.correction is not None else ""
        self.say(f"reviewing {session.result_json}{restored}")
        self.review_panel.show_measurement(self.current.measure())
        if self.queue_panel.folder is not None:
            self.queue_panel.select(session.result_json)
        return self.current

    def show_result(self, result_json: Path, image_layer: Layer) -> None:
        """Add the layers of a result just analysed from ``image_layer`` (then reviewed)."""
        session = ReviewSession.open(result_json, user=self.analysis_panel.user)
        section = str(result_json)
        for layer in self.viewer.layers:
            if (
                layer_info(layer).get("section") == layer_info(image_layer).get("section", "\0")
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

    def close_current(self) -> None:
        """Remove every layer of the section under review, its images too."""
        if self.current is not None:
            self._remove_result_layers(str(self.current.session.result_json), images=True)

    def _remove_result_layers(self, section: str, *, images: bool = False) -> None:
        keep = () if images else ("image", "fibre", "membrane")
        for layer in list(self.viewer.layers):
            info = layer_info(layer)
            if info.get("section") == section and info.get("role") not in keep:
                self.viewer.layers.remove(layer)

    # -- layers coming and going -------------------------------------------------------------

    def _on_inserted(self, event: Any) -> None:
        self.analysis_panel.refresh_images()
        info = layer_info(event.value)
        if info.get("role") == "fibres":
            try:
                self.attach(info["section"])
            except (ValueError, OSError) as exc:  # a broken sidecar or result: named
                show_error(f"ienfd: {exc}")
                self.say(f"cannot review: {exc}")
                return
            folder = info.get("queue_folder")
            if folder and (self.queue_panel.folder is None or Path(folder) != self.queue_folder):
                self.queue_panel.load(folder)

    def _on_removed(self, event: Any) -> None:
        self.analysis_panel.refresh_images()
        if self.current is not None and event.value is self.current.fibres:
            self.flush()
            self.current.disconnect()
            self.current = None
            self.review_panel.clear()

    # -- edits from the keyboard -------------------------------------------------------------

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
            self.say("no counted fibre within 15 µm of the mouse")

    # -- the panels' actions, by their old names ---------------------------------------------

    @property
    def worker(self) -> Any:
        """The last analysis worker (:meth:`analyse`)."""
        return self.analysis_panel.worker

    @property
    def queue(self) -> list[QueueEntry]:
        """The review queue (:meth:`load_queue`)."""
        return self.queue_panel.queue

    @property
    def queue_folder(self) -> Path | None:
        """The folder the queue lists (None before one is opened)."""
        return self.queue_panel.folder

    @property
    def queue_index(self) -> int:
        """Row of the queue's section under review (-1: none)."""
        return self.queue_panel.index

    def analyse(self) -> Any:
        """Analyse the chosen image layer in a worker thread; returns the worker."""
        return self.analysis_panel.analyse()

    def save(self) -> Path | None:
        """Write the sidecar now."""
        return self.review_panel.save()

    def accept(self) -> Path | None:
        """Accept the section (audited) and save."""
        return self.review_panel.accept()

    def flag(self) -> Path | None:
        """Flag the section for a second look (audited) and save."""
        return self.review_panel.flag()

    def export(self, path: str | Path) -> Path | None:
        """Export fibres and junction to ``.csv`` or QuPath ``.geojson``."""
        return self.export_panel.export(path)

    def load_queue(self, folder: str | Path) -> list[QueueEntry]:
        """List the results of `folder`, least certain first (does not open one)."""
        return self.queue_panel.load(folder)

    def open_folder(self, folder: str | Path) -> None:
        """Load `folder` as the review queue and open its first section."""
        self.queue_panel.open_folder(folder)

    def open_entry(self, index: int) -> None:
        """Open the queue's section `index` (closing the current section's layers)."""
        self.queue_panel.open_entry(index)

    def next_section(self) -> None:
        """Open the next section of the queue."""
        self.queue_panel.next_section()

    def previous_section(self) -> None:
        """Open the previous section of the queue."""
        self.queue_panel.previous_section()


def scale_bar(viewer: Any) -> Any:
    """The viewer's scale bar overlay (``viewer.canvas.overlays`` in newer napari)."""
    overlays = getattr(getattr(viewer, "canvas", None), "overlays", None)
    return overlays.scale_bar if overlays is not None else viewer.scale_bar


def show_scale_bar(viewer: Any) -> None:
    """Show the scale bar in µm: newer napari takes the unit from the layers' ``units``
    (every ienfd layer has µm), older napari from the bar itself."""
    bar = scale_bar(viewer)
    bar.visible = True
    if getattr(getattr(viewer, "canvas", None), "overlays", None) is None:
        bar.unit = "um"
