"""The export panel: the section's fibres and junction as CSV or QuPath GeoJSON."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QWidget

if TYPE_CHECKING:
    from ienfd.napari._widget import ReviewWidget

__all__ = ["ExportPanel"]


class ExportPanel(QWidget):
    """One button: export the section under review (:meth:`ienfd.review.ReviewSession.export`)."""

    def __init__(self, host: ReviewWidget) -> None:
        super().__init__()
        self.host = host
        self.export_button = QPushButton("Export...")
        self.export_button.clicked.connect(self._dialog)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.export_button)

    def export(self, path: str | Path) -> Path | None:
        """Export fibres and junction to ``.csv`` or QuPath ``.geojson``."""
        current = self.host.current
        if current is None:
            self.host.say("no section to export")
            return None
        target = current.export(path)
        self.host.say(f"exported {target}")
        return target

    def _dialog(self) -> None:
        current = self.host.current
        if current is None:
            return
        start = str(current.session.result_json.with_suffix(".geojson"))
        path, _ = QFileDialog.getSaveFileName(
            self, "Export fibres and junction", start, "QuPath GeoJSON (*.geojson);;CSV (*.csv)"
        )
        if path:
            self.export(path)
