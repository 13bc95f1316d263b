"""Correction sidecars: a technician's reviewed count for one section, with its audit trail.

A sidecar is written beside a section's result JSON as ``<stem>.correction.json``
(the napari plugin writes it; the batch tables and the clinical module read it).
It records the automatic count, the final count after review, the final
junction and surface, every edit with its time and user, and the review status.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ienfd.io._types import FileError, parse_format_json
from ienfd.io._write import write_json

__all__ = [
    "CORRECTION_FORMAT",
    "CORRECTION_SUFFIX",
    "Correction",
    "CorrectionError",
    "CorrectionEvent",
    "correction_path",
    "read_correction",
    "write_correction",
]

#: Value of the ``format`` key; bumped when a key changes meaning.
CORRECTION_FORMAT = "ienfd-correction/1"
#: File-name suffix: ``<stem>.json`` (result) has ``<stem>.correction.json`` beside it.
CORRECTION_SUFFIX = ".correction.json"

ReviewStatus = Literal["in_review", "accepted", "flagged"]
REVIEW_STATUSES = ("in_review", "accepted", "flagged")
#: Audit actions: fibres added or removed, junction or surface redrawn, section accepted
#: or flagged, and ``reset`` (back to the automatic result).
ACTIONS = (
    "add_fibre",
    "remove_fibre",
    "edit_dej",
    "edit_surface",
    "accept",
    "flag",
    "reset",
)


class CorrectionError(FileError):
    """A correction sidecar that cannot be read, with the file and the reason."""


@dataclass(frozen=True)
class CorrectionEvent:
    """One audited edit.

    ``time`` is ISO 8601 with its UTC offset; ``row``/``col`` (pixels of the
    input image) locate an added or removed fibre; ``detail`` says more in words
    (for a junction edit: the length before and after).
    """

    time: str
    user: str
    action: str
    row: float | None = None
    col: float | None = None
    detail: str = ""


@dataclass
class Correction:
    """The reviewed result of one section.

    Coordinates are (row, col) pixels of the input image; lengths in µm.
    ``crossings`` holds the final counted fibres, each ``{"row", "col",
    "source"}`` with source ``"auto"`` or ``"manual"``; ``dej`` and ``surface``
    are the final polylines as ``[[row, col], ...]``. A junction traced in
    several pieces keeps every piece in ``dej_pieces`` / ``surface_pieces``
    (lists of polylines; the lengths are summed over them) and its first piece
    in ``dej`` / ``surface``; files without the ``*_pieces`` keys read as one
    piece each.
    """

    image: str
    auto_count: int
    final_count: int
    pixel_size_um: float
    length_basis: Literal["dej", "surface"]
    dej_length_um: float
    surface_length_um: float
    user: str
    saved_at: str
    status: ReviewStatus = "in_review"
    note: str = ""
    crossings: list[dict[str, Any]] = field(default_factory=list)
    dej: list[list[float]] = field(default_factory=list)
    surface: list[list[float]] = field(default_factory=list)
    events: list[CorrectionEvent] = field(default_factory=list)
    dej_pieces: list[list[list[float]]] = field(default_factory=list)
    surface_pieces: list[list[list[float]]] = field(default_factory=list)

    @property
    def density_per_mm(self) -> float:
        """Final count per mm of the chosen basis length."""
        length = self.dej_length_um if self.length_basis == "dej" else self.surface_length_um
        return self.final_count / (length / 1000.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with ``format`` and the derived ``density_per_mm``."""
        out: dict[str, Any] = {"format": CORRECTION_FORMAT}
        out.update(asdict(self))
        out["density_per_mm"] = self.density_per_mm
        return out


def correction_path(result_json: str | os.PathLike[str]) -> Path:
    """The sidecar path of a result JSON: ``DIR/<stem>.json`` -> ``DIR/<stem>.correction.json``.

    Examples
    --------
    >>> correction_path("out/leg_1.json").as_posix()
    'out/leg_1.correction.json'
    """
    p = Path(result_json)
    if p.name.endswith(CORRECTION_SUFFIX):
        raise ValueError(f"{p} is already a correction sidecar")
    stem = p.name[: -len(".json")] if p.name.endswith(".json") else p.stem
    return p.with_name(stem + CORRECTION_SUFFIX)


def _check(correction: Correction, where: str | os.PathLike[str]) -> None:
    def fail(reason: str) -> None:
        raise CorrectionError(where, reason)

    if correction.status not in REVIEW_STATUSES:
        fail(f"status {correction.status!r} is not one of {', '.join(REVIEW_STATUSES)}")
    if correction.length_basis not in ("dej", "surface"):
        fail(f"length_basis {correction.length_basis!r} is not 'dej' or 'surface'")
    for name in ("auto_count", "final_count"):
        value = getattr(correction, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail(f"{name} must be a whole number >= 0, got {value!r}")
    for name in ("pixel_size_um", "dej_length_um", "surface_length_um"):
        value = getattr(correction, name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(f"{name} must be a number, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            fail(f"{name} must be finite and > 0, got {value!r}")
    if len(correction.crossings) != correction.final_count:
        fail(
            f"final_count is {correction.final_count} but {len(correction.crossings)} "
            "crossings are listed"
        )
    for i, c in enumerate(correction.crossings):
        if not isinstance(c, dict) or not {"row", "col", "source"} <= set(c):
            fail(f"crossings[{i}] needs keys row, col and source, got {c!r}")
        if c["source"] not in ("auto", "manual"):
            fail(f"crossings[{i}] source {c['source']!r} is not 'auto' or 'manual'")
    for e in correction.events:
        if e.action not in ACTIONS:
            fail(f"event action {e.action!r} is not one of {', '.join(ACTIONS)}")


def write_correction(path: str | os.PathLike[str], correction: Correction) -> Path:
    """Check `correction` and write it atomically to `path`.

    Raises
    ------
    CorrectionError
        If the correction is inconsistent (a count that does not match its
        crossings, an unknown status or action, a length that is not > 0);
        nothing is written.
    OSError
        If the folder does not exist or is not writable.
    """
    target = Path(path)
    _check(correction, target)
    write_json(target, correction.to_dict())
    return target


def read_correction(path: str | os.PathLike[str]) -> Correction:
    """Read and check a sidecar written by :func:`write_correction`.

    Raises
    ------
    CorrectionError
        If the file is not JSON, has another ``format``, lacks a key, or is
        inconsistent; the message names the file and the key.
    OSError
        If the file cannot be opened.
    """
    p = Path(path)
    data = parse_format_json(p, p.read_bytes(), CorrectionError, expected_format=CORRECTION_FORMAT)
    data.pop("format")
    data.pop("density_per_mm", None)  # derived; recomputed from count and length
    try:
        events = [CorrectionEvent(**e) for e in data.pop("events", [])]
        correction = Correction(**data, events=events)
    except TypeError as exc:  # a missing or unknown key
        raise CorrectionError(p, f"wrong keys: {exc}") from None
    _check(correction, p)
    return correction
