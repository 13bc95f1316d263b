"""One section under review: the automatic result, the audited edits, the sidecar."""

from __future__ import annotations

import getpass
import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ienfd.io import (
    Correction,
    CorrectionEvent,
    bind_correction,
    correction_path,
    correction_problem,
    read_correction,
    write_correction,
)
from ienfd.review._measure import Measurement, measure_section

__all__ = ["ReviewSession", "default_user", "find_image", "read_result"]

logger = logging.getLogger(__name__)

Status = Literal["in_review", "accepted", "flagged"]

#: Audit actions that change the count or the junction: they reopen an accepted review.
_EDITS = (
    "add_fibre",
    "remove_fibre",
    "edit_dej",
    "edit_surface",
    "paint_epidermis",
    "recount",
    "reset",
)

#: Keys a JSON file needs to be taken for an ienfd result (docs/output.md).
RESULT_KEYS = ("image", "pixel_size_um", "count", "crossings", "dej", "surface")


def default_user() -> str:
    """The operating-system user name, or ``"unknown"`` when there is none."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        return "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def read_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a result JSON written by ``ienfd analyze`` (or the batch).

    Raises
    ------
    ValueError
        The file is not JSON or not an ienfd result (the message names the
        file and the missing keys).
    OSError
        The file cannot be opened.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: not a JSON file ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: not an ienfd result (expected a JSON object)")
    missing = [k for k in RESULT_KEYS if k not in data]
    if missing:
        raise ValueError(f"{p}: not an ienfd result (missing keys {', '.join(missing)})")
    return data


def is_result_file(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a result JSON (not a sidecar) that :func:`read_result` accepts."""
    p = Path(path)
    if not p.is_file() or not p.name.endswith(".json") or p.name.endswith(".correction.json"):
        return False
    try:
        read_result(p)
    except (ValueError, OSError):
        return False
    return True


def find_image(record: dict[str, Any], result_json: str | os.PathLike[str]) -> Path:
    """Locate a result's image: ``image`` as written, else beside or above the JSON.

    The ``image`` key holds the path as given to ``ienfd analyze`` (relative
    paths are relative to where the command ran). Tried in turn: the path
    itself (relative to the current folder), relative to the result's folder
    and to its parent, then the file name in the result's folder.

    Raises
    ------
    FileNotFoundError
        None of these exists; the message names the result and every path tried.
    """
    result_dir = Path(result_json).resolve().parent
    given = Path(str(record["image"]))
    tries = [given]
    if not given.is_absolute():
        tries += [result_dir / given, result_dir.parent / given]
    tries.append(result_dir / given.name)
    for candidate in tries:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{result_json}: image {record['image']!r} not found (tried "
        + ", ".join(str(t) for t in tries)
        + ")"
    )


def _polylines(lines: Sequence[Any]) -> list[np.ndarray]:
    out = []
    for line in lines:
        arr = np.asarray(line, dtype=float).reshape(-1, 2)
        if len(arr) >= 2:
            out.append(arr)
    return out


def _point_keys(points: np.ndarray) -> Counter[tuple[float, float]]:
    return Counter((round(float(r), 2), round(float(c), 2)) for r, c in points)


class ReviewSession:
    """One section under review.

    Holds the automatic result (``record``, the result JSON as written by
    ``ienfd analyze``), the audit trail (``events``) and the review status, and
    writes the correction sidecar ``<stem>.correction.json`` beside the result.
    The current state of the fibres and the junction lives with the caller (in
    the plugin, in napari layers) and is passed to :meth:`save`.

    Parameters
    ----------
    record : dict
        The automatic result.
    result_json : path
        Where that result is (the sidecar goes beside it).
    user : str, optional
        Who reviews; default the operating-system user.
    correction : Correction, optional
        A sidecar read back: its state, events and status are restored.
    """

    def __init__(
        self,
        record: dict[str, Any],
        result_json: str | os.PathLike[str],
        *,
        user: str | None = None,
        correction: Correction | None = None,
    ) -> None:
        self.record = record
        self.result_json = Path(result_json)
        self.user = user or default_user()
        self.correction = correction
        self.events: list[CorrectionEvent] = list(correction.events) if correction else []
        self.status: Status = correction.status if correction else "in_review"
        #: Why the restored correction does not belong to this result (made on another
        #: image or analysis), or None. Its edits are shown, and the review is open again.
        self.stale_reason: str | None = (
            None if correction is None else correction_problem(correction, record)
        )
        if self.stale_reason is not None:
            self.status = "in_review"
        basis = record.get("length_basis", "dej")
        self.length_basis: Literal["dej", "surface"] = "surface" if basis == "surface" else "dej"

    @classmethod
    def open(cls, result_json: str | os.PathLike[str], *, user: str | None = None) -> ReviewSession:
        """Open a result JSON, restoring its correction sidecar when there is one.

        A sidecar made on another image or analysis is restored too (its
        edits shown, to be checked against the new result), with the review
        reopened and :attr:`stale_reason` saying why.

        Raises
        ------
        ValueError
            The result is not an ienfd result, or its sidecar is broken
            (:class:`ienfd.io.CorrectionError`, naming the file).
        OSError
            A file cannot be opened.
        """
        record = read_result(result_json)
        sidecar = correction_path(result_json)
        correction = read_correction(sidecar) if sidecar.exists() else None
        if correction is not None:
            logger.info("restored the correction %s", sidecar)
        session = cls(record, result_json, user=user, correction=correction)
        if session.stale_reason is not None:
            logger.warning("%s: %s", sidecar, session.stale_reason)
        return session

    # -- the automatic result, or the restored correction --------------------------------

    @property
    def sidecar_path(self) -> Path:
        """``<stem>.correction.json`` beside the result."""
        return correction_path(self.result_json)

    @property
    def pixel_size_um(self) -> float:
        """Pixel size of the result, µm."""
        return float(self.record["pixel_size_um"])

    @property
    def auto_count(self) -> int:
        """The count of the automatic analysis."""
        return int(self.record["count"])

    def initial_fibres(self) -> tuple[np.ndarray, list[str]]:
        """Counted fibres to show: (K, 2) (row, col) pixels and each one's source."""
        if self.correction is not None:
            rows = self.correction.crossings
            sources = [str(c["source"]) for c in rows]
        else:
            rows = self.record["crossings"]
            sources = ["auto"] * len(rows)
        points = np.array([[c["row"], c["col"]] for c in rows], dtype=float).reshape(-1, 2)
        return points, sources

    def initial_dej(self) -> list[np.ndarray]:
        """Junction polylines to show (pixels), one per piece."""
        if self.correction is not None:
            return _polylines(self.correction.dej_pieces or [self.correction.dej])
        return _polylines(self.record["dej"])

    def initial_surface(self) -> list[np.ndarray]:
        """Epidermal-surface polylines to show (pixels), one per piece."""
        if self.correction is not None:
            return _polylines(self.correction.surface_pieces or [self.correction.surface])
        return _polylines(self.record["surface"])

    # -- audit -----------------------------------------------------------------------------

    def log(
        self,
        action: str,
        *,
        row: float | None = None,
        col: float | None = None,
        detail: str = "",
    ) -> CorrectionEvent:
        """Append one audited event (time now, the current user) and return it."""
        event = CorrectionEvent(
            time=_now(),
            user=self.user,
            action=action,
            row=None if row is None else round(float(row), 2),
            col=None if col is None else round(float(col), 2),
            detail=detail,
        )
        self.events.append(event)
        if action in _EDITS:
            self.status = "in_review"  # an edit after accept/flag reopens the review
        return event

    def log_point_changes(self, before: np.ndarray, after: np.ndarray) -> list[CorrectionEvent]:
        """Audit the difference between two sets of fibre points (pixels).

        Points are compared to 0.01 pixel; a moved point is a removal plus an
        addition (detail ``"moved"``).
        """
        old, new = _point_keys(np.reshape(before, (-1, 2))), _point_keys(np.reshape(after, (-1, 2)))
        removed, added = old - new, new - old
        moved = sum(removed.values()) > 0 and sum(added.values()) > 0
        detail = "moved" if moved else ""
        events = [
            self.log("remove_fibre", row=r, col=c, detail=detail)
            for (r, c), n in sorted(removed.items())
            for _ in range(n)
        ]
        events += [
            self.log("add_fibre", row=r, col=c, detail=detail)
            for (r, c), n in sorted(added.items())
            for _ in range(n)
        ]
        return events

    def set_status(self, status: Status, note: str = "") -> None:
        """Accept or flag the section (audited)."""
        if status not in ("accepted", "flagged", "in_review"):
            raise ValueError(f"status must be 'accepted', 'flagged' or 'in_review', got {status!r}")
        if status != "in_review":
            self.log("accept" if status == "accepted" else "flag", detail=note)
        self.status = status

    # -- measurement and saving ------------------------------------------------------------

    def measure(
        self, count: int, dej: Sequence[np.ndarray], surface: Sequence[np.ndarray]
    ) -> Measurement:
        """Count, lengths and density of the current state (see :func:`measure_section`)."""
        return measure_section(
            count, dej, surface, pixel_size_um=self.pixel_size_um, length_basis=self.length_basis
        )

    def build_correction(
        self,
        points: np.ndarray,
        sources: Sequence[str],
        dej: Sequence[np.ndarray],
        surface: Sequence[np.ndarray],
        *,
        note: str = "",
    ) -> Correction:
        """The correction for the current state, bound to this result (not written)."""
        pts = np.reshape(np.asarray(points, dtype=float), (-1, 2))
        if len(sources) != len(pts):
            raise ValueError(f"{len(pts)} points but {len(sources)} sources")
        m = self.measure(len(pts), dej, surface)
        dej_pieces = [np.round(np.asarray(d, float), 2).tolist() for d in _polylines(dej)]
        surf_pieces = [np.round(np.asarray(s, float), 2).tolist() for s in _polylines(surface)]
        correction = Correction(
            image=str(self.record["image"]),
            auto_count=self.auto_count,
            final_count=len(pts),
            pixel_size_um=self.pixel_size_um,
            length_basis=self.length_basis,
            dej_length_um=round(m.dej_length_um, 3),
            surface_length_um=round(m.surface_length_um, 3),
            user=self.user,
            saved_at=_now(),
            status=self.status,
            note=note,
            crossings=[
                {"row": round(float(r), 2), "col": round(float(c), 2), "source": str(s)}
                for (r, c), s in zip(pts, sources, strict=True)
            ],
            dej=dej_pieces[0] if dej_pieces else [],
            surface=surf_pieces[0] if surf_pieces else [],
            events=list(self.events),
            # every piece only when there are several (one piece is `dej` itself)
            dej_pieces=dej_pieces if len(dej_pieces) > 1 else [],
            surface_pieces=surf_pieces if len(surf_pieces) > 1 else [],
        )
        return bind_correction(correction, self.record)

    def save(
        self,
        points: np.ndarray,
        sources: Sequence[str],
        dej: Sequence[np.ndarray],
        surface: Sequence[np.ndarray],
        *,
        note: str = "",
    ) -> Path:
        """Write the sidecar atomically (checked by :func:`ienfd.io.write_correction`).

        The sidecar is bound to this result and checked against it
        (:func:`ienfd.io.check_plausible`); saving a restored stale
        correction binds it to the result now under review.

        Raises
        ------
        ienfd.io.CorrectionError
            The state cannot be saved (e.g. no junction left, so no length, a
            length under 100 µm or far from the automatic one); nothing is
            written.
        OSError
            The folder is not writable.
        """
        correction = self.build_correction(points, sources, dej, surface, note=note)
        path = write_correction(self.sidecar_path, correction, result=self.record)
        self.correction = correction
        self.stale_reason = None
        return path
