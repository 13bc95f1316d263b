"""The review panel: the numbers of the section under review, why it needs review,
and Accept / Flag / Save (each audited in the sidecar by :class:`ienfd.review.ReviewSession`).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ienfd.io import result_quality
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
    "select (3) + Delete removes. Select the DEJ layer, direct-select (4), drag its vertices."
)


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
        help_label = QLabel(HELP)
        help_label.setWordWrap(True)
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
        layout.addLayout(self.buttons)
        layout.addWidget(help_label)

    def show_measurement(self, m: Measurement) -> None:
        """Show count, lengths and density (called after every edit)."""
        current = self.host.current
        session = current.session if current else None
        auto = f" (automatic {session.auto_count})" if session else ""
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
