"""The core's faster equivalents of numpy, scipy and scikit-image calls give the same values.

Each replaces a library call on the analysis' hot path; the analysis' results
must not move, so each is compared value for value with the call it replaces,
on random masks and images of many shapes (edges included).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import morphology

from ienfd.core._fibres import _binary_closing
from ienfd.core._preprocess import channel_max, channel_mean, median_filter_line
from ienfd.core._tissue import fill_holes


def _masks(seed: int, n: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(n):
        shape = tuple(int(v) for v in rng.integers(1, 48, 2))
        smooth = ndi.gaussian_filter(rng.random(shape), rng.uniform(0.3, 3.0))
        masks.append(smooth > rng.uniform(0.3, 0.7))
    return masks


@pytest.mark.parametrize("radius", [1, 2, 3, 4])
def test_binary_closing_is_scipys(radius: int) -> None:
    footprint = morphology.disk(radius)
    for mask in _masks(radius):
        expected = ndi.binary_closing(mask, structure=footprint)
        assert np.array_equal(_binary_closing(mask, footprint), expected)


def test_binary_closing_refuses_a_footprint_it_would_mirror() -> None:
    with pytest.raises(ValueError, match="point-symmetric"):
        _binary_closing(np.ones((5, 5), dtype=bool), np.array([[1, 1, 0]] * 3, dtype=bool))


def test_fill_holes_is_scipys() -> None:
    for mask in _masks(7, 200):
        assert np.array_equal(fill_holes(mask), ndi.binary_fill_holes(mask))
    ring = np.zeros((9, 9), dtype=bool)
    ring[2:7, 2:7] = True
    ring[4, 4] = False
    assert fill_holes(ring)[4, 4]


@pytest.mark.parametrize("size", [3, 5, 7])
@pytest.mark.parametrize("axis", [0, 1])
def test_median_filter_line_is_scipys(size: int, axis: int) -> None:
    rng = np.random.default_rng(size + 10 * axis)
    for shape in [(1, 9), (9, 1), (4, 4), (5, 5), (37, 61), (200, 3)]:
        image = rng.normal(size=shape).astype(np.float32)
        image[rng.random(shape) < 0.2] = 0.5  # ties
        window = [1, 1]
        window[axis] = size
        expected = ndi.median_filter(image, size=tuple(window))
        assert np.array_equal(median_filter_line(image, size, axis=axis), expected)


@pytest.mark.parametrize("channels", [1, 3])
def test_channel_mean_and_max_are_numpys(channels: int) -> None:
    rng = np.random.default_rng(channels)
    image = (rng.lognormal(size=(123, 77, channels)) - 1.0).astype(np.float32)
    assert np.array_equal(channel_mean(image), image.mean(axis=-1))
    assert channel_mean(image).dtype == np.float32
    assert np.array_equal(channel_max(image), image.max(axis=-1))
    wide = image.astype(np.float64)
    assert np.array_equal(channel_mean(wide), wide.mean(axis=-1))
