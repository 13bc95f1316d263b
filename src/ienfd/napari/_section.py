"""The napari layers of one section under review, wired to its :class:`ReviewSession`.

Listens to the fibres layer and the DEJ/surface layers; after each finished
edit it audits the change, calls back (the widget updates its numbers) and
autosaves the sidecar (status ``in_review``), so that a crash loses at most
the edit being made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Layer, Points, Shapes

from ienfd.io import CorrectionError
from ienfd.review import (
    Measurement,
    ReviewSession,
    export_csv,
    export_geojson,
    polylines_length_px,
)

__all__ = ["SectionLayers", "section_roles"]

logger = logging.getLogger(__name__)

#: Actions of napari's layer ``data`` events that end an edit.
_DONE_ACTIONS = ("added", "removed", "changed")


def _role(layer: Layer) -> str | None:
    info = layer.metadata.get("ienfd") if isinstance(layer.metadata, dict) else None
    return info.get("role") if isinstance(info, dict) else None


def section_roles(layers: Any, section: str) -> dict[str, Layer]:
    """The layers of `section` in a layer list, by role."""
    found: dict[str, Layer] = {}
    for layer in layers:
        info = layer.metadata.get("ienfd") if isinstance(layer.metadata, dict) else None
        if isinstance(info, dict) and info.get("section") == section and "role" in info:
            found[info["role"]] = layer
    return found


def _paths(layer: Shapes) -> list[np.ndarray]:
    return [np.asarray(d, float)[:, -2:] for d in layer.data if len(d) >= 2]


class SectionLayers:
    """One section's result layers and its review session.

    Parameters
    ----------
    session : ReviewSession
    layers : dict
        Layers by role; needs ``fibres``, ``dej`` and ``surface``.
    on_change : callable, optional
        Called with the new :class:`Measurement` after every edit.
    autosave : bool
        Write the sidecar after every edit (default True).
    schedule_save : callable, optional
        Called with :meth:`save` instead of saving at once, so that a GUI can
        repaint the new numbers first and save on its next event-loop turn.
    """

    def __init__(
        self,
        session: ReviewSession,
        layers: dict[str, Layer],
        *,
        on_change: Callable[[Measurement], None] | None = None,
        autosave: bool = True,
        schedule_save: Callable[[Callable[[], Path | None]], None] | None = None,
    ) -> None:
        missing = {"fibres", "dej", "surface"} - set(layers)
        if missing:
            raise ValueError(f"section {session.result_json}: layers missing: {sorted(missing)}")
        self.session = session
        self.layers = layers
        self.fibres: Points = layers["fibres"]
        self.dej: Shapes = layers["dej"]
        self.surface: Shapes = layers["surface"]
        self.on_change = on_change
        self.autosave = autosave
        self.schedule_save = schedule_save
        self.last_error: str | None = None
        self._points = np.array(self.fibres.data, float).reshape(-1, 2)
        self._lines = {"dej": _paths(self.dej), "surface": _paths(self.surface)}
        self.fibres.events.data.connect(self._on_points)
        self.dej.events.data.connect(self._on_dej)
        self.surface.events.data.connect(self._on_surface)

    def disconnect(self) -> None:
        """Stop listening to the layers."""
        self.fibres.events.data.disconnect(self._on_points)
        self.dej.events.data.disconnect(self._on_dej)
        self.surface.events.data.disconnect(self._on_surface)

    # -- state -----------------------------------------------------------------------------

    def points(self) -> np.ndarray:
        """Counted fibres, (K, 2) (row, col) pixels."""
        return np.asarray(self.fibres.data, float).reshape(-1, 2)

    def sources(self) -> list[str]:
        """Each counted fibre's source, ``auto`` or ``manual``."""
        return [str(s) for s in self.fibres.features["source"]]

    def measure(self) -> Measurement:
        """Count, lengths and density now."""
        return self.session.measure(len(self.fibres.data), _paths(self.dej), _paths(self.surface))

    # -- edits -----------------------------------------------------------------------------

    def add_fibre(self, row: float, col: float) -> None:
        """Add a counted fibre at (row, col) pixels (source ``manual``)."""
        self._default_manual()
        self.fibres.add(np.array([[row, col]], float))

    def _default_manual(self) -> None:
        if str(self.fibres.feature_defaults["source"].iloc[0]) != "manual":
            self.fibres.feature_defaults = {"source": "manual"}

    def _mark_manual(self, n_new: int) -> None:
        # napari copies the selected point's features to new points; a point a
        # user adds is always manual.
        features = self.fibres.features
        rows = features.index[-n_new:]
        if (features.loc[rows, "source"] != "manual").any():
            features.loc[rows, "source"] = "manual"
            self.fibres.features = features
            self.fibres.refresh_colors()
        self._default_manual()

    def remove_nearest(self, row: float, col: float, *, within_um: float = 15.0) -> bool:
        """Remove the counted fibre nearest (row, col) if it lies within `within_um`."""
        pts = self.points()
        if not len(pts):
            return False
        dist = np.hypot(pts[:, 0] - row, pts[:, 1] - col) * self.session.pixel_size_um
        i = int(np.argmin(dist))
        if dist[i] > within_um:
            return False
        self.fibres.selected_data = {i}
        self.fibres.remove_selected()
        return True

    def _on_points(self, event: Any) -> None:
        if str(getattr(event, "action", "changed")) not in _DONE_ACTIONS:
            return
        now = self.points()
        if str(event.action) == "added" and len(now) > len(self._points):
            self._mark_manual(len(now) - len(self._points))
        if self.session.log_point_changes(self._points, now):
            self._points = now
            self._edited()

    def _on_dej(self, event: Any) -> None:
        self._on_lines(event, "dej", self.dej)

    def _on_surface(self, event: Any) -> None:
        self._on_lines(event, "surface", self.surface)

    def _on_lines(self, event: Any, role: str, layer: Shapes) -> None:
        if str(getattr(event, "action", "changed")) not in _DONE_ACTIONS:
            return
        before, now = self._lines[role], _paths(layer)
        if len(before) == len(now) and all(
            a.shape == b.shape and np.allclose(a, b) for a, b in zip(before, now, strict=True)
        ):
            return
        px = self.session.pixel_size_um
        a, b = polylines_length_px(before) * px, polylines_length_px(now) * px
        self.session.log(
            f"edit_{role}", detail=f"{len(now)} piece(s), length {a:.1f} -> {b:.1f} µm"
        )
        self._lines[role] = now
        self._edited()

    def _edited(self) -> None:
        measurement = self.measure()
        if self.on_change is not None:
            self.on_change(measurement)
        if self.autosave and self.schedule_save is not None:
            self.schedule_save(self.save)
        elif self.autosave:
            self.save()

    # -- saving ----------------------------------------------------------------------------

    def save(self, note: str = "") -> Path | None:
        """Write the sidecar; on a refused state keep the message in ``last_error``."""
        try:
            path = self.session.save(
                self.points(), self.sources(), _paths(self.dej), _paths(self.surface), note=note
            )
        except (CorrectionError, OSError) as exc:
            self.last_error = str(exc)
            logger.warning("not saved: %s", exc)
            return None
        self.last_error = None
        return path

    def export(self, path: str | Path) -> Path:
        """Export to CSV (``.csv``) or QuPath GeoJSON (``.geojson``/``.json``)."""
        target = Path(path)
        fragments = self.layers.get("fragments")
        frag = np.asarray(fragments.data, float) if fragments is not None else None
        args = (self.points(), self.sources(), _paths(self.dej), _paths(self.surface))
        px = self.session.pixel_size_um
        if target.suffix.lower() == ".csv":
            return export_csv(target, *args, pixel_size_um=px, fragments=frag)
        if target.suffix.lower() in (".geojson", ".json"):
            image = str(self.session.record["image"])
            return export_geojson(target, *args, pixel_size_um=px, fragments=frag, image=image)
        raise ValueError(f"{target}: export to .csv or .geojson")
