"""The queue panel: a results folder's sections, those needing review first, then the
least certain (:func:`ienfd.review.build_queue`); Previous / Next open them in turn.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from ienfd.io import result_quality
from ienfd.napari._review_panel import REVIEW_COLOUR
from ienfd.review import QueueEntry, build_queue

if TYPE_CHECKING:
    from ienfd.napari._widget import ReviewWidget

__all__ = ["QueuePanel"]


class QueuePanel(QGroupBox):
    """The review queue of a results folder, with its navigation."""

    def __init__(self, host: ReviewWidget) -> None:
        super().__init__("Review queue (needs review first, then least certain)")
        self.host = host
        self.queue: list[QueueEntry] = []
        self.folder: Path | None = None
        self.index = -1
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
        layout = QVBoxLayout(self)
        layout.addWidget(self.folder_button)
        layout.addWidget(self.queue_list)
        layout.addLayout(nav)

    def _folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of ienfd results")
        if folder:
            self.open_folder(folder)

    def load(self, folder: str | Path) -> list[QueueEntry]:
        """List the results of `folder`, least certain first (does not open one)."""
        self.folder = Path(folder)
        self.queue = build_queue(folder)
        self.queue_list.clear()
        for entry in self.queue:
            item = QListWidgetItem(entry.describe())
            item.setToolTip(entry.explain())
            if entry.needs_review:
                item.setForeground(QColor(REVIEW_COLOUR))
            self.queue_list.addItem(item)
        self._show_title()
        self.host.say(f"{len(self.queue)} section(s) in {folder}")
        return self.queue

    def _show_title(self) -> None:
        pending = sum(
            e.needs_review and e.status not in ("accepted", "flagged") for e in self.queue
        )
        self.setTitle(f"Review queue: {len(self.queue)} section(s), {pending} needing review first")

    def open_folder(self, folder: str | Path) -> None:
        """Load `folder` as the review queue and open its first section."""
        if self.load(folder):
            self.open_entry(0)

    def open_entry(self, index: int) -> None:
        """Open the queue's section `index` (closing the current section's layers)."""
        if not 0 <= index < len(self.queue):
            return
        self.host.flush()
        self.update_current()
        self.host.close_current()
        self.index = index
        self.host.viewer.open(self.queue[index].result_json, plugin="ienfd")

    def next_section(self) -> None:
        """Open the next section of the queue."""
        self.open_entry(self.index + 1)

    def previous_section(self) -> None:
        """Open the previous section of the queue."""
        self.open_entry(self.index - 1)

    def select(self, result_json: Path) -> None:
        """Mark the row of the section just opened."""
        for i, entry in enumerate(self.queue):
            if entry.result_json.resolve() == Path(result_json).resolve():
                self.index = i
                self.queue_list.setCurrentRow(i)

    def update_current(self) -> None:
        """Bring the current section's row up to date with its saved review."""
        current = self.host.current
        if current is None or not 0 <= self.index < len(self.queue):
            return
        entry = self.queue[self.index]
        correction = current.session.correction
        if correction is None or entry.result_json != current.session.result_json:
            return
        try:
            needs = result_quality(current.session.record).after_review(correction.status)
        except ValueError:
            needs = True
        updated = dataclasses.replace(
            entry, status=correction.status, final_count=correction.final_count, needs_review=needs
        )
        self.queue[self.index] = updated
        item = self.queue_list.item(self.index)
        if item is not None:
            item.setText(updated.describe())
            item.setToolTip(updated.explain())
            item.setForeground(QColor(REVIEW_COLOUR) if needs else self.queue_list.palette().text())
        self._show_title()
