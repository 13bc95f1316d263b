"""The napari layers of one section under review, wired to its :class:`ReviewSession`.

Listens to the fibres layer and the DEJ/surface layers; after each finished
edit it audits the change, calls back (the widget updates its numbers) and
autosaves the sidecar (status ``in_review``), so that a crash loses at most
the edit being made.

With the fibre trace of the analysis (:class:`ienfd.core.FibreTrace`, kept
when the section was analysed in this session), an edit of the DEJ or the
surface, or an epidermis painted in a Labels layer, recounts the automatic
fibres across the junction now drawn (:func:`ienfd.core.recount_section`):
the automatic points are replaced by the recount's, the technician's own
points stay, and an automatic fibre they removed stays removed while the
recount still finds it. A result read from disk has no trace: its first
junction edit asks for one (``needs_trace``, the widget rebuilds it from the
image), or says that the count cannot be updated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Layer, Points, Shapes

from ienfd.core import FibreTrace, GivenJunction, JunctionBasis, Recount, recount_section
from ienfd.io import CorrectionError
from ienfd.napari._layers import fibre_features
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
#: A recounted automatic fibre is the one the technician removed when it lies on the
#: same piece of the fibre trace within this distance (µm; a crossing slides along its
#: fibre as the DEJ moves), or within the counting rule's merge distance on any piece.
_SAME_FIBRE_UM = 40.0


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
    trace : FibreTrace, optional
        The fibres the analysis traced: with it, junction edits recount the
        automatic fibres (:meth:`recount`).
    needs_trace : callable, optional
        Called with the edit (in words) and the DEJ length before it (µm, or
        None for a surface edit) when a junction edit finds no trace: a
        result read from disk. It is to get one (:meth:`set_trace`) and then
        :meth:`recount_edit`. Without it such an edit says that the count
        cannot be updated (:attr:`recount_note`).
    """

    def __init__(
        self,
        session: ReviewSession,
        layers: dict[str, Layer],
        *,
        on_change: Callable[[Measurement], None] | None = None,
        autosave: bool = True,
        schedule_save: Callable[[Callable[[], Path | None]], None] | None = None,
        trace: FibreTrace | None = None,
        needs_trace: Callable[[str, float | None], None] | None = None,
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
        self._sources = self.sources()
        self._lines = {"dej": _paths(self.dej), "surface": _paths(self.surface)}
        self.trace = trace
        self.needs_trace = needs_trace
        #: What junction edits are measured against (the analysis', then the last recount's).
        self.basis: JunctionBasis | None = trace.basis if trace is not None else None
        #: The last recount (None before the first) and what it said in words.
        self.last_recount: Recount | None = None
        self.recount_note = ""
        #: The automatic count across the junction now drawn (the analysis' until a recount).
        self.auto_now = session.auto_count
        #: Automatic fibres the technician removed, (row, col) pixels: kept out of recounts.
        self.removed_auto: list[np.ndarray] = []
        self._quiet = False  # the plugin itself is changing the layers: no audit
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

    def lines(self, role: str) -> list[np.ndarray]:
        """The DEJ (`role` ``"dej"``) or surface polylines drawn now, (K, 2) pixels each."""
        return _paths(self.dej if role == "dej" else self.surface)

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
        if self._quiet or str(getattr(event, "action", "changed")) not in _DONE_ACTIONS:
            return
        now = self.points()
        if str(event.action) == "added" and len(now) > len(self._points):
            self._mark_manual(len(now) - len(self._points))
        if self.session.log_point_changes(self._points, now):
            self._remember_removed(now)
            self._points = now
            self._sources = self.sources()
            self._edited()

    def _remember_removed(self, now: np.ndarray) -> None:
        """Keep the automatic fibres just removed (a recount must not bring them back)."""
        left = {(round(float(r), 2), round(float(c), 2)) for r, c in now}
        for point, source in zip(self._points, self._sources, strict=False):
            if (
                source == "auto"
                and (round(float(point[0]), 2), round(float(point[1]), 2)) not in left
            ):
                self.removed_auto.append(np.asarray(point, float))

    def _on_dej(self, event: Any) -> None:
        self._on_lines(event, "dej", self.dej)

    def _on_surface(self, event: Any) -> None:
        self._on_lines(event, "surface", self.surface)

    def _on_lines(self, event: Any, role: str, layer: Shapes) -> None:
        if self._quiet or str(getattr(event, "action", "changed")) not in _DONE_ACTIONS:
            return
        before, now = self._lines[role], _paths(layer)
        if len(before) == len(now) and all(
            a.shape == b.shape and np.allclose(a, b) for a, b in zip(before, now, strict=True)
        ):
            return
        px = self.session.pixel_size_um
        a, b = polylines_length_px(before) * px, polylines_length_px(now) * px
        detail = f"{len(now)} piece(s), length {a:.1f} -> {b:.1f} µm"
        self.session.log(f"edit_{role}", detail=detail)
        self._lines[role] = now
        edit, dej_before = f"edit_{role} ({detail})", a if role == "dej" else None
        if self.trace is not None:
            self.recount(edit, dej_before_um=dej_before)
        elif self.needs_trace is not None:
            self.needs_trace(edit, dej_before)
        else:
            self.recount_note = (
                "the count cannot be updated: no fibre trace for this result (analyse the "
                "image in the viewer)"
            )
        self._edited()

    # -- recount ---------------------------------------------------------------------------

    def set_trace(self, trace: FibreTrace) -> None:
        """Take `trace` (rebuilt for a result read from disk) for the recounts to come.

        Edits are measured against its junction: the analysis' again.
        """
        self.trace = trace
        self.basis = trace.basis

    def recount_edit(self, edit: str, *, dej_before_um: float | None = None) -> Recount | None:
        """:meth:`recount` after `edit`, then show and autosave the numbers as an edit does."""
        found = self.recount(edit, dej_before_um=dej_before_um)
        self._edited()
        return found

    def cannot_recount(self, reason: str) -> None:
        """Say that the count cannot be updated, and why (the numbers are shown again)."""
        self.recount_note = f"the count cannot be updated: {reason}"
        if self.on_change is not None:
            self.on_change(self.measure())

    def recount(
        self,
        edit: str,
        *,
        dej_before_um: float | None = None,
        junction: GivenJunction | None = None,
    ) -> Recount | None:
        """Recount the automatic fibres across the junction drawn now (or `junction`).

        The automatic points are replaced by the recount's, less those the
        technician removed (the same fibre, :data:`_SAME_FIBRE_UM`) and those
        a point of their own already counts (within the rule's merge
        distance); their own points stay. Audited as ``recount`` with `edit`,
        the DEJ length and the automatic count before and after. Returns the
        recount, or None (no trace, no DEJ, or a junction that does not fit:
        :attr:`recount_note` says why).
        """
        found = self._recount_across(junction)
        if found is None:
            return None
        self._show_recount(found, edit, dej_before_um=dej_before_um)
        return found

    def _recount_across(self, junction: GivenJunction | None) -> Recount | None:
        if self.trace is None:
            self.recount_note = "the count cannot be updated: no fibre trace for this result"
            return None
        dej, surface = _paths(self.dej), _paths(self.surface)
        if junction is None:
            if not dej:
                self.recount_note = "no DEJ drawn: the automatic fibres were not recounted"
                return None
            junction = GivenJunction(dej=tuple(dej), surface=tuple(surface), source="napari")
        try:
            return recount_section(self.trace, junction, basis=self.basis)
        except ValueError as exc:
            self.recount_note = f"not recounted: {exc}"
            return None

    def _show_recount(
        self, found: Recount, edit: str, *, dej_before_um: float | None = None
    ) -> None:
        """Replace the automatic points by the recount's and audit it."""
        assert self.trace is not None
        px = self.session.pixel_size_um
        before_um = (
            dej_before_um
            if dej_before_um is not None
            else (
                self.last_recount.dej_length_um
                if self.last_recount
                else float(self.session.record["dej_length_um"])
            )
        )
        auto_before = self.auto_now
        points, sources = self.points(), self.sources()
        manual = points[[s == "manual" for s in sources]]
        shown_before = sum(s == "auto" for s in sources)
        new = found.crossings
        keep = np.ones(len(new), dtype=bool)
        kept_removed = 0
        for removed in self.removed_auto:
            k = self._same_fibre(new, keep, removed)
            if k is not None:
                keep[k], kept_removed = False, kept_removed + 1
        merge_px = self.trace.parameters.merge_um / px
        covered = 0
        for j in np.flatnonzero(keep):
            if len(manual) and np.hypot(*(manual - new[j]).T).min() <= merge_px:
                keep[j], covered = False, covered + 1
        shown = new[keep]
        points_now = np.concatenate([manual, shown])
        sources_now = ["manual"] * len(manual) + ["auto"] * len(shown)
        if sources_now != sources or not np.allclose(points_now, points, rtol=0, atol=1e-6):
            self._set_points(points_now, sources_now)  # napari's redraw only when it changed
        self._set_marks("fragments", found.fragments)
        self._set_marks("short_fibres", found.short_fibres)
        self.last_recount, self.auto_now = found, found.count
        # The next edit is measured against this junction: its strip is that edit's only.
        self.basis = found.basis
        parts = [
            f"after {edit}",
            f"DEJ {before_um:.1f} -> {found.dej_length_um:.1f} µm",
            f"automatic count {auto_before} -> {found.count}",
            f"automatic fibres shown {shown_before} -> {len(shown)}",
        ]
        if kept_removed:
            parts.append(f"{kept_removed} removed by hand kept removed")
        if covered:
            parts.append(f"{covered} already counted by hand")
        parts.extend(found.warnings)
        self.session.log("recount", detail="; ".join(parts))
        self.recount_note = "; ".join(parts[1:])

    def _same_fibre(self, crossings: np.ndarray, free: np.ndarray, point: np.ndarray) -> int | None:
        """The free crossing that is the fibre of a removed `point`, or None."""
        if not free.any():
            return None
        px = self.session.pixel_size_um
        assert self.trace is not None
        dist = np.where(free, np.hypot(*(crossings - point).T) * px, np.inf)
        k = int(np.argmin(dist))
        if dist[k] <= self.trace.parameters.merge_um:
            return k
        piece = self._piece(point)
        if piece and dist[k] <= _SAME_FIBRE_UM:
            candidates = np.flatnonzero((dist <= _SAME_FIBRE_UM) & np.isfinite(dist))
            for j in candidates[np.argsort(dist[candidates])]:
                if self._piece(crossings[j]) == piece:
                    return int(j)
        return None

    def _piece(self, point: np.ndarray) -> int:
        """Label of the fibre-trace piece within 3 pixels of `point` (0: none)."""
        assert self.trace is not None
        labels = self.trace.components[0]
        at = self.trace.in_trace_frame(np.asarray(point, float))[0]
        r, c = np.round(at - np.asarray(self.trace.origin)).astype(int)
        window = labels[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4]
        found = window[window > 0]
        return int(np.bincount(found).argmax()) if found.size else 0

    def _set_points(self, points: np.ndarray, sources: list[str]) -> None:
        """Show `points` (with their sources) in the fibres layer, unaudited."""
        self._quiet = True
        try:
            self.fibres.selected_data = set()
            self.fibres.data = np.asarray(points, float).reshape(-1, 2)
            self.fibres.features = fibre_features(sources)
            self.fibres.refresh_colors()
        finally:
            self._quiet = False
        self._points, self._sources = self.points(), self.sources()

    def _set_marks(self, role: str, points: np.ndarray) -> None:
        """Show the recount's fragments or short fibres (their layer, if open)."""
        layer = self.layers.get(role)
        if layer is None:
            return
        now = np.asarray(points, float).reshape(-1, 2)
        shown = np.asarray(layer.data, float).reshape(-1, 2)[:, -2:]
        if shown.shape != now.shape or not np.allclose(shown, now, rtol=0, atol=1e-6):
            layer.data = now

    def _set_lines(self, role: str, lines: list[np.ndarray]) -> None:
        """Show `lines` in the DEJ or surface layer, unaudited."""
        layer = self.dej if role == "dej" else self.surface
        self._quiet = True
        try:
            layer.selected_data = set()
            layer.data = []
            if lines:
                layer.add_paths([np.asarray(line, float) for line in lines])
        finally:
            self._quiet = False
        self._lines[role] = _paths(layer)

    def apply_painting(self, mask: np.ndarray) -> Recount | None:
        """Take the DEJ and surface from a painted epidermis (`mask` > 0) and recount.

        Audited as ``paint_epidermis`` (painted area, DEJ length before and
        after), then ``recount``. Later DEJ edits are measured against the
        painted epidermis. Returns the recount, or None (see :attr:`recount_note`).
        """
        painted = np.asarray(mask) > 0
        if not painted.any():
            self.recount_note = "nothing painted: paint the epidermis first"
            return None
        px = self.session.pixel_size_um
        before = polylines_length_px(_paths(self.dej)) * px
        found = self._recount_across(GivenJunction(epidermis=painted, source="napari painting"))
        if found is None:
            return None
        self.session.log(
            "paint_epidermis",
            detail=f"{float(painted.sum()) * px**2 / 1e6:.4f} mm² painted; DEJ {before:.1f} -> "
            f"{found.dej_length_um:.1f} µm, surface {found.surface_length_um:.1f} µm",
        )
        self.basis = found.basis
        self._set_lines("dej", found.dej)
        self._set_lines("surface", found.surface)
        self._show_recount(found, "paint_epidermis", dej_before_um=before)
        self._edited()
        return found

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
