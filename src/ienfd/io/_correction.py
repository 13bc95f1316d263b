"""Correction sidecars: a technician's reviewed count for one section, with its audit trail.

A sidecar is written beside a section's result JSON as ``<stem>.correction.json``
(the napari plugin writes it; the batch tables and the clinical module read it).
It records the automatic count, the final count after review, the final
junction and surface, every edit with its time and user, and the review status.

A correction is bound to the result it corrects: it records the input image's
SHA-256, a key of that result (:func:`result_key`: parameters, reader options,
region, pixel size, channels and the automatic result itself), the ienfd
version that made the result and its automatic count. :func:`correction_problem`
says why a correction no longer belongs to a result (the image was replaced,
the analysis changed), and :func:`check_plausible` refuses corrected values
that cannot be right; the batch tables, the clinical module and the review
queue apply a correction only when neither objects.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ienfd.io._types import FileError, parse_format_json
from ienfd.io._write import write_json

__all__ = [
    "CORRECTION_FORMAT",
    "CORRECTION_SUFFIX",
    "MAX_LENGTH_FACTOR",
    "MIN_LENGTH_UM",
    "Correction",
    "CorrectionError",
    "CorrectionEvent",
    "bind_correction",
    "check_plausible",
    "correction_path",
    "correction_problem",
    "read_correction",
    "result_key",
    "write_correction",
]

#: Value of the ``format`` key; bumped when a key changes meaning. Version 2 added the
#: link to the result (``input_sha256``, ``result_key``, ``ienfd_version``).
CORRECTION_FORMAT = "ienfd-correction/2"
#: Formats read: version 1 files read as corrections bound to nothing (never applied).
READ_FORMATS = ("ienfd-correction/1", CORRECTION_FORMAT)
#: A corrected length below this (µm) is refused: a counted section is at least this long
#: (a 3-mm punch gives sections of 0.5-3 mm); anything shorter is a slip of the hand.
MIN_LENGTH_UM = 100.0
#: A corrected length more than this factor above or below the automatic one is refused:
#: a junction redrawn to three times (or a third of) the length found is another section,
#: not a correction of this one; draw the junction and analyse again (``--junction``).
MAX_LENGTH_FACTOR = 3.0
#: What a reviewer is told when a correction no longer belongs to its result.
REVIEW_AGAIN = "review again"
#: File-name suffix: ``<stem>.json`` (result) has ``<stem>.correction.json`` beside it.
CORRECTION_SUFFIX = ".correction.json"

ReviewStatus = Literal["in_review", "accepted", "flagged"]
REVIEW_STATUSES = ("in_review", "accepted", "flagged")
#: Audit actions: fibres added or removed, junction or surface redrawn, the automatic
#: fibres recounted across the edited junction (``recount``, or ``paint_epidermis`` when
#: the junction came from a painted epidermis), section accepted or flagged, and
#: ``reset`` (back to the automatic result).
ACTIONS = (
    "add_fibre",
    "remove_fibre",
    "edit_dej",
    "edit_surface",
    "paint_epidermis",
    "recount",
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

    ``input_sha256``, ``result_key`` and ``ienfd_version`` bind the
    correction to the result it was made on (:func:`bind_correction`); a
    correction without them (format 1, or never bound) applies to no result.
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
    input_sha256: str | None = None
    result_key: str | None = None
    ienfd_version: str | None = None

    @property
    def bound(self) -> bool:
        """True when the correction records the result it corrects (:func:`bind_correction`)."""
        return self.result_key is not None

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
    for name in ("dej_length_um", "surface_length_um"):
        value = getattr(correction, name)
        if value < MIN_LENGTH_UM:
            fail(
                f"{name} is {value!r} µm; a corrected length must be at least "
                f"{MIN_LENGTH_UM:g} µm (is the junction drawn?)"
            )
    for name in ("input_sha256", "result_key", "ienfd_version"):
        value = getattr(correction, name)
        if value is not None and not (isinstance(value, str) and value):
            fail(f"{name} must be a non-empty string or null, got {value!r}")
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


#: The keys of a result JSON that say what was analysed and how, and what was found.
_KEYED = (
    "image",
    "input_sha256",
    "batch_key",
    "parameters",
    "reader_options",
    "length_basis",
    "pixel_size_um",
    "modality",
    "channels",
    "region",
    "scene",
    "junction_method",
    "junction_file",
    "count",
    "crossings",
    "dej_length_um",
    "surface_length_um",
)


def result_key(record: dict[str, Any]) -> str:
    """SHA-256 of what a result JSON says was analysed, how, and what was found.

    Covers the input's hash and name, the analysis parameters, the reader
    options, the length basis, pixel size, modality, channels, the region of a
    whole-slide image, the scene of a multi-scene file, the junction used, and
    the automatic count, crossings and lengths. Not covered: the run time, the
    overlay, the quality checks' wording. A re-analysis of the same bytes with
    the same settings gives the same key; anything else changes it.

    Examples
    --------
    >>> a = {"image": "a.tif", "input_sha256": "0" * 64, "count": 3}
    >>> result_key(a) == result_key({**a, "elapsed_s": 9.1})
    True
    >>> result_key(a) == result_key({**a, "input_sha256": "1" * 64})
    False
    """
    keyed = {k: record.get(k) for k in _KEYED}
    text = json.dumps(keyed, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bind_correction(correction: Correction, record: dict[str, Any]) -> Correction:
    """The correction bound to the result `record` it corrects.

    Sets ``input_sha256``, ``result_key`` and ``ienfd_version`` from the
    result, and ``auto_count`` and ``image`` to the result's.
    """
    return replace(
        correction,
        image=str(record.get("image", correction.image)),
        auto_count=int(record["count"]),
        input_sha256=record.get("input_sha256") or None,
        result_key=result_key(record),
        ienfd_version=str(record.get("ienfd_version") or "") or None,
    )


def _short(sha: object) -> str:
    return f"{str(sha)[:12]}..." if sha else "none"


def correction_problem(correction: Correction, record: dict[str, Any]) -> str | None:
    """Why `correction` does not apply to the result `record`, or None when it does.

    A correction applies only to the result it was made on: the same image
    (name and SHA-256), the same analysis (:func:`result_key`), the same ienfd
    version and automatic count. A correction that records no result (format
    1, written by an older ienfd) applies to none. The reason ends with
    ``"review again"``.

    Examples
    --------
    >>> c = Correction("a.tif", 3, 3, 0.5, "dej", 500.0, 480.0, "u", "t",
    ...                crossings=[{"row": 1, "col": i, "source": "auto"} for i in range(3)])
    >>> correction_problem(c, {"image": "a.tif", "count": 3})
    'correction not linked to the result it corrects (made by an older ienfd); review again'
    >>> record = {"image": "a.tif", "count": 3, "input_sha256": "ab" * 32}
    >>> correction_problem(bind_correction(c, record), record) is None
    True
    >>> print(correction_problem(bind_correction(c, record), {**record, "input_sha256": "cd" * 32}))
    correction made on a different image (sha256 abababababab... then, cdcdcdcdcdcd... now); ...
    """
    if not correction.bound:
        return (
            "correction not linked to the result it corrects (made by an older ienfd); "
            + REVIEW_AGAIN
        )
    image = str(record.get("image", ""))
    if correction.image != image:
        return (
            f"correction made on a different image ({correction.image!r}, the result is of "
            f"{image!r}); {REVIEW_AGAIN}"
        )
    sha = record.get("input_sha256") or None
    if correction.input_sha256 != sha:
        return (
            f"correction made on a different image (sha256 {_short(correction.input_sha256)} "
            f"then, {_short(sha)} now); {REVIEW_AGAIN}"
        )
    auto = record.get("count")
    if correction.auto_count != auto:
        return (
            f"correction made on a different analysis (automatic count {correction.auto_count} "
            f"then, {auto} now); {REVIEW_AGAIN}"
        )
    version = str(record.get("ienfd_version") or "") or None
    if correction.ienfd_version != version:
        return (
            f"correction made on a different analysis (ienfd {correction.ienfd_version} then, "
            f"{version} now); {REVIEW_AGAIN}"
        )
    if correction.result_key != result_key(record):
        return (
            "correction made on a different analysis (parameters, reader options, region, "
            f"pixel size or automatic result changed); {REVIEW_AGAIN}"
        )
    return None


def check_plausible(
    correction: Correction,
    record: dict[str, Any],
    where: str | os.PathLike[str],
    *,
    same_basis: bool = True,
) -> None:
    """Refuse corrected values that cannot be right for the result `record`.

    On top of the checks every sidecar passes (counts equal to the fibres
    listed, lengths at least :data:`MIN_LENGTH_UM`): the result's pixel size,
    each length within :data:`MAX_LENGTH_FACTOR` of the automatic one and, with `same_basis`,
    the same length basis as the result (a table of one run holds densities
    on one basis).

    Raises
    ------
    CorrectionError
        Naming `where` (the sidecar) and the field.
    """
    _check(correction, where)
    pixel = record.get("pixel_size_um")
    if isinstance(pixel, int | float) and not math.isclose(
        correction.pixel_size_um, pixel, rel_tol=1e-6
    ):
        raise CorrectionError(
            where,
            f"pixel_size_um is {correction.pixel_size_um:g} but the result's is {pixel:g}; "
            "the corrected lengths were measured at another scale",
        )
    basis = record.get("length_basis")
    if same_basis and correction.length_basis != basis:
        raise CorrectionError(
            where,
            f"length_basis is {correction.length_basis!r} but the result's is {basis!r}; "
            "a corrected density must be on the basis of the run (review it on the "
            f"{basis!r} basis and save again)",
        )
    for name in ("dej_length_um", "surface_length_um"):
        value, auto = getattr(correction, name), record.get(name)
        if not isinstance(auto, int | float) or isinstance(auto, bool) or not auto > 0:
            continue
        if not auto / MAX_LENGTH_FACTOR <= value <= auto * MAX_LENGTH_FACTOR:
            raise CorrectionError(
                where,
                f"{name} is {value:g} µm against {auto:g} µm found automatically, more than "
                f"{MAX_LENGTH_FACTOR:g} times off; redraw the junction or analyse again with it",
            )


def write_correction(
    path: str | os.PathLike[str],
    correction: Correction,
    *,
    result: dict[str, Any] | None = None,
) -> Path:
    """Check `correction` and write it atomically to `path`.

    Parameters
    ----------
    path : str or os.PathLike
        The sidecar (:func:`correction_path` of the result).
    correction : Correction
        What to write.
    result : dict, optional
        The result JSON it corrects: the correction must be bound to it
        (:func:`bind_correction`, :func:`correction_problem`) and plausible
        for it (:func:`check_plausible`). Its length basis may differ here (a
        reviewer may look at the other basis); the batch tables and the
        clinical module refuse it against the run.

    Raises
    ------
    CorrectionError
        If the correction is inconsistent (a count that does not match its
        crossings, an unknown status or action, a length under
        :data:`MIN_LENGTH_UM`), or, with `result`, not bound to it or not
        plausible for it; nothing is written.
    OSError
        If the folder does not exist or is not writable.
    """
    target = Path(path)
    _check(correction, target)
    if result is not None:
        problem = correction_problem(correction, result)
        if problem is not None:
            raise CorrectionError(target, problem)
        check_plausible(correction, result, target, same_basis=False)
    write_json(target, correction.to_dict())
    return target


def read_correction(path: str | os.PathLike[str]) -> Correction:
    """Read and check a sidecar written by :func:`write_correction`.

    Raises
    ------
    CorrectionError
        If the file is not JSON, has another ``format``, lacks a key, or is
        inconsistent; the message names the file and the key. A format 1
        file (no link to its result) reads as an unbound correction.
    OSError
        If the file cannot be opened.
    """
    p = Path(path)
    raw = p.read_bytes()
    try:
        peek = json.loads(raw.decode("utf-8"))
        fmt = peek.get("format") if isinstance(peek, dict) else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        fmt = None
    expected = fmt if fmt in READ_FORMATS else CORRECTION_FORMAT
    data = parse_format_json(p, raw, CorrectionError, expected_format=expected)
    data.pop("format")
    if expected != CORRECTION_FORMAT:  # an older format: keys of the link are not allowed
        for key in ("input_sha256", "result_key", "ienfd_version"):
            data.pop(key, None)
    data.pop("density_per_mm", None)  # derived; recomputed from count and length
    try:
        events = [CorrectionEvent(**e) for e in data.pop("events", [])]
        correction = Correction(**data, events=events)
    except TypeError as exc:  # a missing or unknown key
        raise CorrectionError(p, f"wrong keys: {exc}") from None
    _check(correction, p)
    return correction
