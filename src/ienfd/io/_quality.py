"""What a result file says about its own trustworthiness: ``needs_review`` and its reasons.

A result JSON written since the quality checks exist carries ``needs_review``,
``qc_reasons`` (the failed checks in words) and ``qc`` (every check's value);
see ``docs/output.md``. A result written by an older ienfd has none of them:
its quality is unknown, and it is read as needing review, with a reason that
says so, never as plain ``ok``. A reviewer's verdict in the correction sidecar
(:mod:`ienfd.io._correction`) then decides whether the section still needs a
look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["UNCHECKED_REASON", "ResultQuality", "result_quality"]

#: The reason given for a result written before the quality checks existed.
UNCHECKED_REASON = (
    "no quality checks in this result (written by an older ienfd); analyse the section again"
)
#: The reason given for a result that says it needs review without saying why.
UNEXPLAINED_REASON = "needs_review is true but the result gives no reason"


@dataclass(frozen=True)
class ResultQuality:
    """The automatic quality verdict of one result.

    Attributes
    ----------
    needs_review : bool
        A quality check failed, or the result has no checks at all.
    reasons : tuple of str
        The failed checks in words (the result's ``qc_reasons``), or
        :data:`UNCHECKED_REASON` for a result without checks.
    checked : bool
        False for a result written before the quality checks existed.
    """

    needs_review: bool
    reasons: tuple[str, ...]
    checked: bool

    def after_review(self, review_status: str | None) -> bool:
        """Whether the section still needs review once a reviewer's verdict is known.

        Parameters
        ----------
        review_status : {'accepted', 'flagged', 'in_review'} or None
            The correction sidecar's ``status``; None when there is no sidecar.

        Returns
        -------
        bool
            False once a reviewer accepted the section (its count, corrected or
            not, has been confirmed by eye); True when a reviewer flagged it
            for a second look; otherwise (no sidecar, or a review still in
            progress) the automatic verdict.

        Examples
        --------
        >>> q = ResultQuality(needs_review=True, reasons=("no fibre counted",), checked=True)
        >>> q.after_review(None), q.after_review("in_review"), q.after_review("accepted")
        (True, True, False)
        >>> ResultQuality(False, (), True).after_review("flagged")
        True
        """
        if review_status == "accepted":
            return False
        if review_status == "flagged":
            return True
        return self.needs_review


def result_quality(record: Mapping[str, Any]) -> ResultQuality:
    """Read the quality verdict of a result JSON (as a dict), whichever ienfd wrote it.

    Parameters
    ----------
    record : mapping
        A result as written by ``ienfd analyze`` or ``ienfd batch``.

    Returns
    -------
    ResultQuality
        ``needs_review`` is True when the result says so or lists a failed
        check (a listed failure is never hidden by a ``false`` flag); a result
        without ``needs_review`` and ``qc_reasons`` (an older ienfd) needs
        review with :data:`UNCHECKED_REASON`.

    Raises
    ------
    ValueError
        ``needs_review`` is not true/false, or ``qc_reasons`` is not a list of
        strings (a result edited by hand); the message names the key.

    Examples
    --------
    >>> result_quality({"needs_review": True, "qc_reasons": ["no fibre counted"]})
    ResultQuality(needs_review=True, reasons=('no fibre counted',), checked=True)
    >>> result_quality({"count": 3}).needs_review
    True
    """
    if "needs_review" not in record and "qc_reasons" not in record:
        return ResultQuality(needs_review=True, reasons=(UNCHECKED_REASON,), checked=False)
    flag = record.get("needs_review", False)
    if not isinstance(flag, bool):
        raise ValueError(f"needs_review must be true or false, got {flag!r}")
    reasons = record.get("qc_reasons", [])
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError(f"qc_reasons must be a list of strings, got {reasons!r}")
    if flag and not reasons:
        reasons = [UNEXPLAINED_REASON]
    return ResultQuality(needs_review=flag or bool(reasons), reasons=tuple(reasons), checked=True)
