"""The review queue: the results in an output folder, those that need review first."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from ienfd.io import (
    CorrectionError,
    correction_path,
    correction_problem,
    read_correction,
    result_quality,
)
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
    broke a fibre: a fragment is a piece of the trace that looks like fibre
    (:func:`ienfd.core.count_crossings`), never closer to the DEJ than the
    rule's 4-µm tolerance, so one within 10 µm of it is a fibre that may have
    crossed. Warnings (a membrane too weak for the junction, an epidermis in
    several pieces) make the junction itself less sure. Dividing by
    ``count + 1`` ranks by the effect on the density: two doubtful calls
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
    ``accepted`` or ``flagged``; ``"stale"`` when the sidecar was made on
    another image or analysis (:func:`ienfd.io.correction_problem`: it needs
    review again, and its reason comes first in ``qc_reasons``);
    ``final_count`` is the sidecar's (None when new or stale).
    ``needs_review`` is the result's quality verdict
    (:func:`ienfd.io.result_quality`) as the reviewer left it: False once
    accepted, True once flagged. ``qc_reasons`` are the failed quality checks
    in the result's own words (its ``qc_reasons``, after the reason a sidecar
    is stale); ``doubts`` the terms of the uncertainty
    (:func:`section_uncertainty`); ``reasons`` the two, in that order.
    """

    result_json: Path
    image: str
    count: int
    uncertainty: float
    reasons: list[str] = field(default_factory=list)
    status: str = "new"
    final_count: int | None = None
    needs_review: bool = False
    qc_reasons: list[str] = field(default_factory=list)
    doubts: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        """The result's name without ``.json``."""
        return self.result_json.name[: -len(".json")]

    def describe(self) -> str:
        """One line for a list: name, status, counts, uncertainty and the first QC reason.

        Examples
        --------
        >>> QueueEntry(Path("out/leg_2.json"), "leg_2.tif", 0, 1.0, needs_review=True,
        ...            qc_reasons=["no fibre counted", "epidermis too thin"]).describe()
        'leg_2  [new]  count 0  u=1.00  REVIEW: no fibre counted (+1 more)'
        """
        final = "" if self.final_count is None else f" -> {self.final_count}"
        line = f"{self.stem}  [{self.status}]  count {self.count}{final}  u={self.uncertainty:.2f}"
        if self.needs_review and self.qc_reasons:
            more = len(self.qc_reasons) - 1
            line += f"  REVIEW: {self.qc_reasons[0]}" + (f" (+{more} more)" if more else "")
        elif self.needs_review:
            line += "  REVIEW"
        return line

    def explain(self) -> str:
        """Why the section is where it is in the queue, in a few lines (a tooltip).

        Examples
        --------
        >>> entry = QueueEntry(Path("out/leg_2.json"), "leg_2.tif", 0, 1.0, needs_review=True,
        ...                    qc_reasons=["no fibre counted"], doubts=["1 short fibre(s)"])
        >>> print(entry.explain())
        needs review: no fibre counted
        doubtful calls (u=1.00): 1 short fibre(s)
        """
        lines = []
        if self.needs_review:
            lines += [f"needs review: {reason}" for reason in self.qc_reasons] or ["needs review"]
        elif self.qc_reasons:  # accepted by a reviewer
            lines += [f"accepted; the checks had said: {reason}" for reason in self.qc_reasons]
        doubts = "; ".join(self.doubts) or "none"
        lines.append(f"doubtful calls (u={self.uncertainty:.2f}): {doubts}")
        return "\n".join(lines)


_DONE = ("accepted", "flagged")
#: Status of a section whose sidecar was made on another image or analysis.
STALE = "stale"


def build_queue(folder: str | os.PathLike[str]) -> list[QueueEntry]:
    """The results in `folder`, in review order.

    Sections not yet accepted or flagged come first: among them, those that
    need review (a quality check failed, or the result has no checks: see
    :func:`ienfd.io.result_quality`) before the others, then the least certain
    first (:func:`section_uncertainty`), ties by name. Accepted and flagged
    ones follow, in the same order. JSON files that are not ienfd results
    (batch summaries, sidecars) are skipped; a broken sidecar marks its section
    ``"sidecar error"``, and one made on another image or analysis ``"stale"``
    (needs review).

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
        status, final, stale = "new", None, None
        sidecar = correction_path(path)
        if sidecar.exists():
            try:
                correction = read_correction(sidecar)
                status, final = correction.status, correction.final_count
                stale = correction_problem(correction, record)
            except (CorrectionError, OSError) as exc:
                logger.warning("%s", exc)
                status = "sidecar error"
        if stale is not None:  # made on another image or analysis: to be reviewed again
            status, final = STALE, None
        try:
            quality = result_quality(record)
            needs, qc_reasons = quality.after_review(status), list(quality.reasons)
        except ValueError as exc:  # edited by hand: look at it
            needs, qc_reasons = True, [f"quality checks unreadable: {exc}"]
        if stale is not None:
            needs, qc_reasons = True, [stale, *qc_reasons]
        entries.append(
            QueueEntry(
                result_json=path,
                image=str(record["image"]),
                count=int(record["count"]),
                uncertainty=score,
                reasons=qc_reasons + reasons,
                doubts=reasons,
                status=status,
                final_count=final,
                needs_review=needs,
                qc_reasons=qc_reasons,
            )
        )
    return sorted(entries, key=_review_order)


def _review_order(entry: QueueEntry) -> tuple[bool, bool, float, str]:
    """Sort key of the queue: not done first, then needs review, then least certain, name."""
    return (entry.status in _DONE, not entry.needs_review, -entry.uncertainty, entry.stem)
