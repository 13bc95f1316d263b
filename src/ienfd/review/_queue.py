"""The review queue: the results in an output folder, the least certain first."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from ienfd.io import CorrectionError, correction_path, read_correction
from ienfd.review._session import is_result_file, read_result

__all__ = ["QueueEntry", "build_queue", "section_uncertainty"]

logger = logging.getLogger(__name__)

#: A fragment closer than this to the DEJ may be a crossing the tracing broke.
NEAR_DEJ_UM = 10.0
#: Weight of one analysis warning (weak membrane, several pieces), in doubtful calls.
WARNING_WEIGHT = 2.0


def _near_dej(points: list[dict[str, float]], dej: list[Any], limit_px: float) -> int:
    lines = [np.asarray(line, float)[:, ::-1] for line in dej if len(line) >= 2]
    if not points or not lines:
        return 0
    junction = shapely.MultiLineString(lines)
    xy = np.array([[p["col"], p["row"]] for p in points], dtype=float)
    dist = shapely.distance(shapely.points(xy), junction)
    return int((dist <= limit_px).sum())


def section_uncertainty(record: dict[str, Any]) -> tuple[float, list[str]]:
    """How unsure the automatic count of one section is, and why.

    The score counts the doubtful calls a reviewer should look at, per counted
    fibre::

        (short fibres + fragments within 10 µm of the DEJ + 2 x warnings) / (count + 1)

    Short fibres (dermal fibres stopping just below the DEJ) and fragments near
    the DEJ are where a crossing may have been missed or a gap in the stain
    broke a fibre; warnings (a membrane too weak for the junction, an
    epidermis in several pieces) make the junction itself less sure. Dividing
    by ``count + 1`` ranks by the effect on the density: two doubtful calls
    matter more in a section of 3 fibres than in one of 30.

    Parameters
    ----------
    record : dict
        A result JSON (docs/output.md).

    Returns
    -------
    score : float
        0 when nothing is doubtful; larger is less sure.
    reasons : list of str
        The terms that are not zero, in words.

    Examples
    --------
    >>> section_uncertainty({"count": 4, "short_fibres": [{"row": 0, "col": 0}],
    ...                      "fragments": [], "dej": [], "warnings": []})
    (0.2, ['1 short fibre(s)'])
    """
    px = float(record.get("pixel_size_um") or 1.0)
    short = len(record.get("short_fibres") or [])
    near = _near_dej(record.get("fragments") or [], record.get("dej") or [], NEAR_DEJ_UM / px)
    warnings = list(record.get("warnings") or [])
    count = int(record.get("count") or 0)
    score = (short + near + WARNING_WEIGHT * len(warnings)) / (count + 1)
    reasons = []
    if short:
        reasons.append(f"{short} short fibre(s)")
    if near:
        reasons.append(f"{near} fragment(s) near the DEJ")
    reasons += [f"warning: {w}" for w in warnings]
    return round(score, 4), reasons


@dataclass(frozen=True)
class QueueEntry:
    """One section of a review queue.

    ``status`` is ``"new"`` (no sidecar), or the sidecar's ``in_review``,
    ``accepted`` or ``flagged``; ``final_count`` is the sidecar's (None when new).
    """

    result_json: Path
    image: str
    count: int
    uncertainty: float
    reasons: list[str] = field(default_factory=list)
    status: str = "new"
    final_count: int | None = None

    @property
    def stem(self) -> str:
        """The result's name without ``.json``."""
        return self.result_json.name[: -len(".json")]

    def describe(self) -> str:
        """One line for a list: name, status, counts and the uncertainty."""
        final = "" if self.final_count is None else f" -> {self.final_count}"
        return f"{self.stem}  [{self.status}]  count {self.count}{final}  u={self.uncertainty:.2f}"


_DONE = ("accepted", "flagged")


def build_queue(folder: str | os.PathLike[str]) -> list[QueueEntry]:
    """The results in `folder`, in review order.

    Sections not yet accepted or flagged come first, the least certain first
    (:func:`section_uncertainty`, ties by name); accepted and flagged ones
    follow, in the same order. JSON files that are not ienfd results (batch
    summaries, sidecars) are skipped; a broken sidecar marks its section
    ``"sidecar error"``.

    Raises
    ------
    NotADirectoryError
        `folder` is not a folder (named in the message).
    """
    root = Path(folder)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a folder of ienfd results")
    entries = []
    for path in sorted(root.glob("*.json")):
        if not is_result_file(path):
            continue
        record = read_result(path)
        score, reasons = section_uncertainty(record)
        status, final = "new", None
        sidecar = correction_path(path)
        if sidecar.exists():
            try:
                correction = read_correction(sidecar)
                status, final = correction.status, correction.final_count
            except (CorrectionError, OSError) as exc:
                logger.warning("%s", exc)
                status = "sidecar error"
        entries.append(
            QueueEntry(
                result_json=path,
                image=str(record["image"]),
                count=int(record["count"]),
                uncertainty=score,
                reasons=reasons,
                status=status,
                final_count=final,
            )
        )
    return sorted(entries, key=lambda e: (e.status in _DONE, -e.uncertainty, e.stem))
