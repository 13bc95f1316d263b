"""The review panel: the numbers of the section under review, why it needs review,
the recount after a junction edit, painting the epidermis, and Accept / Flag / Save
(each audited in the sidecar by :class:`ienfd.review.ReviewSession`).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.layers import Labels, Layer
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ienfd.io import result_quality
from ienfd.napari._layers import epidermis_mask, layer_info, paint_layer
from ienfd.review import Measurement

if TYPE_CHECKING:
    from ienfd.napari._widget import ReviewWidget

__all__ = ["ADD_KEY", "HELP", "REMOVE_KEY", "REVIEW_COLOUR", "ReviewPanel"]

#: Colour of a queue row whose section needs review (readable on napari's dark and light themes).
REVIEW_COLOUR = "#e08a00"

#: Keyboard shortcuts (bound on the viewer; act at the mouse position).
ADD_KEY = "Shift-F"
REMOVE_KEY = "Shift-D"

HELP = (
    f"<b>{ADD_KEY}</b>: add a fibre at the mouse; <b>{REMOVE_KEY}</b>: remove the fibre "
    "nearest the mouse. Or select the fibres layer: add mode (2) adds with one click, "
    "select (3) + Delete removes. Select the DEJ layer, direct-select (4), drag its vertices: "
    "the automatic fibres are recounted across the new junction. Or paint the epidermis "
    "and take the junction from the painting."
)
#: Brush of the epidermis painting, µm across.
BRUSH_UM = 20.0


class ReviewPanel(QWidget):
    """Count, lengths and density of the current section; its review reasons; its status."""

    def __init__(self, host: ReviewWidget) -> None:
        super().__init__()
        self.host = host
        self.numbers = QLabel("no section")
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        # why the current section needs review (its failed quality checks); hidden when none
        self.review_label = QLabel("")
        self.review_label.setTextFormat(Qt.TextFormat.RichText)
        self.review_label.setWordWrap(True)
        self.review_label.setVisible(False)
        # what the last recount after a junction edit found (hidden before one)
        self.recount_label = QLabel("")
        self.recount_label.setTextFormat(Qt.TextFormat.PlainText)
        self.recount_label.setWordWrap(True)
        self.recount_label.setVisible(False)
        help_label = QLabel(HELP)
        help_label.setWordWrap(True)
        self.paint_button = QPushButton("Paint epidermis")
        self.paint_button.setToolTip(
            "A layer to paint the epidermis in (it starts as the epidermis between DEJ and "
            "surface); then 'Junction from painting'"
        )
        self.from_paint_button = QPushButton("Junction from painting")
        self.from_paint_button.setToolTip(
            "DEJ and surface from the painted epidermis; the automatic fibres are recounted"
        )
        self.paint_button.clicked.connect(self.start_painting)
        self.from_paint_button.clicked.connect(self.junction_from_painting)
        paint_row = QHBoxLayout()
        paint_row.addWidget(self.paint_button)
        paint_row.addWidget(self.from_paint_button)
        self.accept_button = QPushButton("Accept")
        self.flag_button = QPushButton("Flag")
        self.save_button = QPushButton("Save")
        self.accept_button.clicked.connect(self.accept)
        self.flag_button.clicked.connect(self.flag)
        self.save_button.clicked.connect(self.save)
        self.buttons = QHBoxLayout()
        for b in (self.accept_button, self.flag_button, self.save_button):
            self.buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.numbers)
        layout.addWidget(self.review_label)
        layout.addWidget(self.recount_label)
        layout.addLayout(self.buttons)
        layout.addLayout(paint_row)
        layout.addWidget(help_label)

    def show_measurement(self, m: Measurement) -> None:
        """Show count, lengths and density (called after every edit)."""
        current = self.host.current
        session = current.session if current else None
        auto = f" (automatic {session.auto_count})" if session else ""
        if current is not None and session is not None and current.last_recount is not None:
            auto = (
                f" (automatic {current.auto_now} across this junction, "
                f"{session.auto_count} across the analysis')"
            )
        note = current.recount_note if current is not None else ""
        self.recount_label.setText(f"Recount: {note}" if note else "")
        self.recount_label.setVisible(bool(note))
        density = "-" if math.isnan(m.density_per_mm) else f"{m.density_per_mm:.2f}"
        status = session.status if session else ""
        self.numbers.setText(
            f"<b>{m.count}</b> fibres{auto} &nbsp; <b>{density}</b> /mm of "
            f"{'DEJ' if m.length_basis == 'dej' else 'surface'}<br>"
            f"DEJ {m.dej_length_um / 1000:.3f} mm, surface {m.surface_length_um / 1000:.3f} mm"
            f" &nbsp; [{status}]"
        )
        self._show_review(
            session.record if session else None,
            status,
            stale=session.stale_reason if session else None,
        )
        if current and current.last_error:
            self.host.say(f"not saved: {current.last_error}")

    def clear(self) -> None:
        """No section under review."""
        self.numbers.setText("no section")
        self.recount_label.setVisible(False)

    # -- painting the epidermis ------------------------------------------------------------

    def paint_layer(self) -> Labels | None:
        """The current section's epidermis painting layer, if there is one."""
        current = self.host.current
        if current is None:
            return None
        section = str(current.session.result_json)
        for layer in self.host.viewer.layers:
            info = layer_info(layer)
            if info.get("role") == "epidermis_paint" and info.get("section") == section:
                return layer if isinstance(layer, Labels) else None
        return None

    def start_painting(self) -> Labels | None:
        """Add (or select) a Labels layer to paint the epidermis in, in paint mode."""
        current = self.host.current
        if current is None:
            self.host.say("no section under review")
            return None
        layer = self.paint_layer()
        if layer is None:
            if current.trace is None:
                self.host.say("painting needs the fibre trace: analyse the image in this session")
                return None
            info = layer_info(current.fibres)
            px = current.session.pixel_size_um
            mask = epidermis_mask(
                current.lines("dej"), current.lines("surface"), current.trace.image_shape
            )
            data, kwargs, kind = paint_layer(
                mask,
                pixel_size_um=px,
                section=str(info.get("section", current.session.result_json)),
                result_json=str(current.session.result_json),
            )
            added = self.host.viewer.add_layer(Layer.create(data, kwargs, kind))
            assert isinstance(added, Labels)
            layer = added
            layer.brush_size = max(1, round(BRUSH_UM / px))
        layer.selected_label = 1
        self.host.viewer.layers.selection.active = layer
        layer.mode = "paint"
        self.host.say(
            "paint the epidermis (label 1; erase with label 0), then 'Junction from painting'"
        )
        return layer

    def junction_from_painting(self) -> None:
        """DEJ and surface from the painted epidermis, and the recount across them."""
        current = self.host.current
        layer = self.paint_layer()
        if current is None or layer is None:
            self.host.say("paint the epidermis first ('Paint epidermis')")
            return
        found = current.apply_painting(layer.data)
        self.host.say(
            f"junction from the painting: {current.recount_note}"
            if found is not None
            else current.recount_note
        )
        self.show_measurement(current.measure())

    def _show_review(
        self, record: dict[str, Any] | None, status: str, *, stale: str | None = None
    ) -> None:
        """Say why the section needs review (its failed quality checks), or hide the line.

        ``stale``: why the restored correction does not belong to this result;
        it needs review again, whatever the checks say.
        """
        if stale is not None:
            head = f"<b style='color:{REVIEW_COLOUR}'>Needs review:</b>"
            self.review_label.setText(f"{head} {html.escape(stale)}")
            self.review_label.setVisible(True)
            return
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

    def save(self) -> Path | None:
        """Write the sidecar now."""
        current = self.host.current
        if current is None:
            self.host.say("nothing to save: analyse a section or open a result first")
            return None
        self.host.cancel_autosave()
        path = current.save()
        self.host.say(f"saved {path}" if path else f"not saved: {current.last_error}")
        self.show_measurement(current.measure())
        self.host.queue_panel.update_current()
        return path

    def accept(self) -> Path | None:
        """Accept the section (audited) and save."""
        return self._set_status("accepted")

    def flag(self) -> Path | None:
        """Flag the section for a second look (audited) and save."""
        return self._set_status("flagged")

    def _set_status(self, status: str) -> Path | None:
        if self.host.current is None:
            self.host.say("no section under review")
            return None
        self.host.current.session.set_status(status)  # type: ignore[arg-type]
        return self.save()
