"""result_quality: the review flag of a result JSON, from this ienfd or an older one."""

from __future__ import annotations

import doctest

import pytest

import ienfd.io._quality
from ienfd.io import UNCHECKED_REASON, result_quality


def test_checked_result_is_read_as_written() -> None:
    ok = result_quality({"needs_review": False, "qc_reasons": [], "qc": {"count": 7}})
    assert (ok.needs_review, ok.reasons, ok.checked) == (False, (), True)
    bad = result_quality({"needs_review": True, "qc_reasons": ["no fibre counted", "x"]})
    assert (bad.needs_review, bad.reasons, bad.checked) == (True, ("no fibre counted", "x"), True)


def test_result_without_checks_needs_review_and_says_why() -> None:
    old = result_quality({"image": "a.tif", "count": 12, "ienfd_version": "0.1.0"})
    assert old.needs_review and not old.checked
    assert old.reasons == (UNCHECKED_REASON,)
    assert "older ienfd" in UNCHECKED_REASON and "again" in UNCHECKED_REASON


def test_a_listed_failure_is_never_hidden() -> None:
    assert result_quality({"needs_review": False, "qc_reasons": ["no fibre counted"]}).needs_review
    unexplained = result_quality({"needs_review": True, "qc_reasons": []})
    assert unexplained.needs_review and "no reason" in unexplained.reasons[0]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"needs_review": "yes", "qc_reasons": []}, "needs_review must be true or false"),
        ({"needs_review": True, "qc_reasons": "no fibre"}, "qc_reasons must be a list"),
        ({"needs_review": True, "qc_reasons": [1]}, "qc_reasons must be a list of strings"),
    ],
)
def test_hand_edited_keys_are_refused(record: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        result_quality(record)


@pytest.mark.parametrize(
    ("automatic", "status", "expected"),
    [
        (True, None, True),
        (True, "in_review", True),  # a correction in progress is not a verdict
        (True, "accepted", False),
        (False, "flagged", True),
        (False, "accepted", False),
        (False, None, False),
    ],
)
def test_a_reviewer_verdict_decides(automatic: bool, status: str | None, expected: bool) -> None:
    quality = result_quality({"needs_review": automatic, "qc_reasons": ["r"] if automatic else []})
    assert quality.after_review(status) is expected


def test_docstring_examples_run() -> None:
    result = doctest.testmod(ienfd.io._quality)
    assert result.attempted > 0 and result.failed == 0
