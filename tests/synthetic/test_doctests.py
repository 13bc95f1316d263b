"""The docstring examples of ienfd.synthetic run."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from ienfd.synthetic import _appearance, _generate, _spec


@pytest.mark.parametrize("module", [_spec, _appearance, _generate], ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
