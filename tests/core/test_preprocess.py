"""The low-resolution preprocessing: fibres removed from the tissue signal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core._fibres import tubeness
from ienfd.core._preprocess import (
    HAEMATOXYLIN_FREE,
    block_mean,
    block_window,
    optical_density,
    suppress_fibres,
)

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


# Optical density vectors (R, G, B) of Ruifrok & Johnston (2001).
HAEMATOXYLIN = np.array([0.65, 0.70, 0.29])
DAB = np.array([0.268, 0.570, 0.776])


def _rgb(od: np.ndarray, white: float, dtype: type) -> np.ndarray:
    """An RGB image of these optical densities under a white level ``white``."""
    return np.clip(np.round(white * np.exp(-od)), 1, None).astype(dtype)


@pytest.mark.parametrize(
    ("dtype", "white"),
    [(np.uint8, 240.0), (np.uint16, 60000.0), (np.float32, 0.95), (np.float64, 240.0)],
)
def test_weighted_optical_density_is_the_channels_weighted(dtype: type, white: float) -> None:
    rng = np.random.default_rng(3)
    # Densities up to 7: the darkest pixels fall under the floor and are clipped.
    od = rng.uniform(0, 7, (30, 40, 3))
    rgb = (
        (white * np.exp(-od)).astype(dtype)
        if dtype in (np.float32, np.float64)
        else _rgb(od, white, dtype)
    )
    coef = np.zeros((6, 3))
    coef[0] = np.log(white) + rng.normal(0, 0.02, 3)  # a slightly tinted illumination
    coef[1:] = rng.normal(0, 0.05, (5, 3))  # that varies over the frame
    floor = white / 64
    assert (rgb < floor).mean() > 0.1
    args = {"offset": (5, 7), "full_shape": (90, 120), "floor": floor}
    channels = optical_density(rgb, coef, per_channel=True, **args)
    for weights in [HAEMATOXYLIN_FREE, (1 / 3, 1 / 3, 1 / 3), (0.0, 0.0, 1.0)]:
        weighted = optical_density(rgb, coef, weights=weights, **args)
        assert weighted.dtype == np.float32
        np.testing.assert_allclose(weighted, channels @ np.array(weights), atol=2e-5)
    with pytest.raises(ValueError, match="exclude"):
        optical_density(rgb, coef, per_channel=True, weights=HAEMATOXYLIN_FREE, **args)


def test_haematoxylin_free_signal_drops_nuclei_and_keeps_dab() -> None:
    w = np.array(HAEMATOXYLIN_FREE)
    assert abs(HAEMATOXYLIN @ w) < 1e-9
    assert DAB @ w > DAB.mean()  # brown fibres stand out more than in the mean
    assert np.ones(3) @ w == pytest.approx(1.0)  # a neutral grey keeps its density


def test_haematoxylin_free_ridges_are_fibres_not_nuclear_rims() -> None:
    # A DAB fibre among dense haematoxylin nuclei: in the mean optical density
    # the nuclei's rims answer the ridge filter as strongly as the fibre; in
    # the haematoxylin-free signal only the fibre does.
    shape = (120, 160)
    rng = np.random.default_rng(5)
    amount_h = np.zeros(shape)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    for r, c in rng.uniform((10, 10), (110, 150), (40, 2)):
        amount_h[(rr - r) ** 2 + (cc - c) ** 2 <= 16] = 1.2  # nuclei 8 px across
    amount_dab = np.zeros(shape)
    amount_dab[:, 79:81] = 0.35  # a faint fibre 2 px wide
    od = 0.15 + amount_h[..., None] * HAEMATOXYLIN + amount_dab[..., None] * DAB
    rgb = _rgb(od, 240.0, np.uint8)
    coef = np.zeros((6, 3))
    coef[0] = np.log(240.0)
    args = {"offset": (0, 0), "full_shape": shape, "floor": 240 / 256}
    fibre = np.zeros(shape, dtype=bool)
    fibre[:, 78:82] = True
    ratios = []
    for weights in [None, HAEMATOXYLIN_FREE]:
        signal = optical_density(rgb, coef, weights=weights, **args)
        ridge = tubeness(signal, [0.8])
        ratios.append(
            np.median(ridge[fibre].reshape(shape[0], -1).max(axis=1))
            / np.percentile(ridge[~ndi.binary_dilation(fibre, iterations=3)], 99)
        )
    assert ratios[0] < 1.0 < ratios[1]


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("n", [10, 11, 12, 13, 31, 32])
def test_block_window_holds_whole_blocks_centred_on_the_image(factor: int, n: int) -> None:
    rows, cols = block_window((n, 40), factor)
    extent = rows.stop - rows.start
    assert extent % factor == 0 and extent > 0 and n - extent < 2 * factor
    before, after = rows.start, n - rows.stop
    if factor % 2 or (n - extent) % 2 == 0:
        assert before == after
    else:  # an even block on an odd extent: one pixel cannot be halved
        assert after == before + 1
    assert cols == block_window((40, n), factor)[0]


@pytest.mark.parametrize("factor", [3, 5])
@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [False, True])
def test_blocks_on_the_window_turn_and_mirror_with_the_image(
    factor: int, k: int, flip: bool
) -> None:
    # A low-resolution copy on blocks anchored at the image's first pixel
    # does not: the pixels over fall on the other side once the image turns.
    image = np.random.default_rng(3).random((47, 62))

    def reduced(a: np.ndarray) -> np.ndarray:
        rows, cols = block_window(a.shape, factor)
        return block_mean(a[rows, cols], factor)

    def turn(a: np.ndarray) -> np.ndarray:
        return np.rot90(a[:, ::-1] if flip else a, k)

    np.testing.assert_allclose(reduced(turn(image)), turn(reduced(image)), rtol=1e-6)
    if (k, flip) == (2, False):  # blocks anchored at the first pixel differ once turned
        assert not np.allclose(block_mean(turn(image), factor), turn(block_mean(image, factor)))
