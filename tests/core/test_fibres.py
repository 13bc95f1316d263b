"""The fibre enhancement answers lines, not the edges of dense objects."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core._fibres import enhance_fibres, segment_fibres, tubeness

SPACING = 0.5  # µm per pixel
SIZE = 160


def _response(image: np.ndarray) -> np.ndarray:
    """enhance_fibres over the whole image in 64-pixel blocks (as the analysis calls it)."""
    shape = image.shape
    blocks = [
        (slice(r, min(r + 64, shape[0])), slice(c, min(c + 64, shape[1])))
        for r in range(0, shape[0], 64)
        for c in range(0, shape[1], 64)
    ]

    def get_tile(rows: slice, cols: slice) -> np.ndarray:
        return image[rows, cols]

    full = (slice(0, shape[0]), slice(0, shape[1]))
    return enhance_fibres(get_tile, blocks, shape, region=full, spacing=SPACING)


def _line(image: np.ndarray, column: int, contrast: float, rows: slice = slice(None)) -> None:
    """Add a 1-µm-wide vertical line (2 pixels, blurred as a microscope would)."""
    line = np.zeros_like(image)
    line[rows, column : column + 2] = contrast
    image += ndi.gaussian_filter(line, 0.7)


def _textured(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.2 + 0.01 * rng.standard_normal((SIZE, SIZE))).astype(np.float32)


def _stats(response: np.ndarray) -> tuple[float, float]:
    med = float(np.median(response))
    return med, 1.4826 * float(np.median(np.abs(response - med)))


def test_a_line_keeps_its_response() -> None:
    image = _textured(0)
    _line(image, 80, 0.3)
    plain = tubeness(image, [max(0.6, w / (2 * np.sqrt(3)) / SPACING) for w in (0.8, 1.6)])
    response = _response(image)
    on_line = response[20:-20, 79:83].max(axis=1)
    # Symmetric profile: the edge check leaves the line as tubeness found it.
    np.testing.assert_allclose(on_line, plain[20:-20, 79:83].max(axis=1), rtol=1e-4)


def test_the_edge_of_a_dense_region_is_damped() -> None:
    """A step of the same contrast as the line, e.g. the darker basal layer's border."""
    image = _textured(1)
    image[:, 80:] += 0.3
    image = ndi.gaussian_filter(image, 0.7)
    response = _response(image)
    plain = tubeness(image, [max(0.6, w / (2 * np.sqrt(3)) / SPACING) for w in (0.8, 1.6)])
    med, mad = _stats(response)
    edge = response[20:-20, 74:86]
    assert plain[20:-20, 74:86].max() > med + 8 * mad  # tubeness alone traces the edge
    # Nothing left to start a fibre (segment_fibres' strong threshold is 8 robust
    # SDs), and hardly a pixel above its weak threshold (5).
    assert edge.max() < med + 8 * mad
    assert (edge > med + 5 * mad).mean() < 0.01


def _pieces_near(skeleton: np.ndarray, where: np.ndarray) -> list[int]:
    labels, n = ndi.label(skeleton, np.ones((3, 3)))
    return [int((labels == i).sum()) for i in range(1, n + 1) if (where & (labels == i)).any()]


def test_the_rim_of_a_nucleus_breaks_up_and_a_fibre_beside_it_does_not() -> None:
    """Tubeness traces a nucleus' rim as a closed ring; the edge check leaves its tips only.

    The rim's long sides are edges (dense on one side); the two tips of the
    ellipse are narrow enough to look like short lines from the side, and stay.
    """
    image = _textured(2)
    rr, cc = np.mgrid[:SIZE, :SIZE]
    nucleus = ((rr - 80) / 10.0) ** 2 + ((cc - 50) / 7.0) ** 2 <= 1  # 10 x 7 µm
    image[nucleus] += 0.3
    image = ndi.gaussian_filter(image, 0.7)
    _line(image, 110, 0.3)
    near = ndi.binary_dilation(nucleus, iterations=4)
    everywhere = np.ones(image.shape, dtype=bool)
    plain = tubeness(image, [max(0.6, w / (2 * np.sqrt(3)) / SPACING) for w in (0.8, 1.6)])
    ring = _pieces_near(segment_fibres(plain, everywhere, spacing=SPACING), near)
    checked = segment_fibres(_response(image), everywhere, spacing=SPACING)
    left = _pieces_near(checked, near)
    assert len(ring) == 1  # the closed ring
    assert len(left) != 1 and all(piece < ring[0] / 2 for piece in left)
    # The fibre is traced from end to end.
    assert checked[10:-10, 108:114].any(axis=1).all()


def test_a_fibre_crossing_into_denser_tissue_keeps_its_response() -> None:
    """The crossing of a junction: the background changes along the fibre, not across it."""
    image = _textured(3)
    image[:80] += 0.15  # the epidermis above, denser than the dermis below
    image = ndi.gaussian_filter(image, 0.7)
    _line(image, 60, 0.3)
    response = _response(image)
    med, mad = _stats(response)
    along = response[10:-10, 59:63].max(axis=1)
    assert along.min() > med + 8 * mad


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
def test_the_response_turns_with_the_image(k: int, flip: bool) -> None:
    image = _textured(4)
    rr, cc = np.mgrid[:SIZE, :SIZE]
    image[((rr - 60) / 9.0) ** 2 + ((cc - 40) / 6.0) ** 2 <= 1] += 0.3
    image[:, 120:] += 0.2
    image = ndi.gaussian_filter(image, 0.7)
    _line(image, 90, 0.25)

    def turn(a: np.ndarray) -> np.ndarray:
        a = np.rot90(a, k)
        return np.fliplr(a) if flip else a

    turned = _response(np.ascontiguousarray(turn(image)))
    np.testing.assert_allclose(turned, turn(_response(image)), atol=1e-5)
