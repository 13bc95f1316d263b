"""The low-resolution preprocessing: fibres removed from the tissue signal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core._preprocess import suppress_fibres

SPACING = 1.5


def _textured(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(od, tissue): cell-like blobs and a few thin fibres over a smooth tissue signal."""
    rng = np.random.default_rng(7)
    od = 0.2 + ndi.gaussian_filter(rng.normal(0, 0.05, shape), 2.0)
    blobs = ndi.gaussian_filter((rng.random(shape) > 0.995).astype(float), 2.0)
    od += 3.0 * blobs
    od[60, 20:200] += 0.5  # a fibre along the rows
    od[10:150, 90] += 0.5  # and one along the columns
    tissue = np.zeros(shape, dtype=bool)
    tissue[5:-5, 5:-5] = True
    return np.stack([od, 0.8 * od, 0.6 * od], axis=-1).astype(np.float32), tissue


@pytest.mark.parametrize(("k", "flip"), [(k, f) for k in range(4) for f in (False, True)])
def test_fibre_suppression_turns_with_the_image(k: int, flip: bool) -> None:
    # Rows then columns and columns then rows give different medians at
    # blobs: the floor is their mean, so a section turned or mirrored is
    # cleaned the same (up to rounding). The shape is a multiple of the
    # wide fallback's block (2 px here), whose grid then turns with it.
    od, tissue = _textured((180, 240))

    def turn(a: np.ndarray) -> np.ndarray:
        a = np.rot90(a, k)
        return np.ascontiguousarray(a[:, ::-1] if flip else a)

    def back(a: np.ndarray) -> np.ndarray:
        a = a[:, ::-1] if flip else a
        return np.rot90(a, -k)

    expected = suppress_fibres(od, tissue, spacing=SPACING)
    turned = suppress_fibres(turn(od), turn(tissue), spacing=SPACING)
    np.testing.assert_allclose(back(turned), expected, atol=1e-5)
    # And the fibres are gone: the cleaned signal on them is the tissue's.
    assert abs(float(expected[60, 100:180, 0].mean()) - 0.2) < 0.1
