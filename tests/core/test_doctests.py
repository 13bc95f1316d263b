"""The docstring examples of the core modules run (every one of them, none skipped)."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from ienfd.core import _analyze, _bodies, _consistency, _polyline, _qc


@pytest.mark.parametrize(
    "module",
    [_analyze, _bodies, _polyline, _qc, pytest.param(_consistency, marks=pytest.mark.slow)],
    ids=lambda m: m.__name__,
)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
