"""Fixtures shared by the core tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.core._phantom import brightfield_phantom


@pytest.fixture(scope="session")
def phantom() -> tuple[np.ndarray, np.ndarray]:
    """The clean bright-field phantom at 0.5 µm per pixel and its true crossings."""
    return brightfield_phantom()
