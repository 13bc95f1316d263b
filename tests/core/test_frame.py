"""The analysis frame: one array for the eight ways a section can lie, coordinates mapped back."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

from ienfd.core import GivenJunction, analyze_section, recount_section
from ienfd.core._frame import Frame, canonical_frame
from ienfd.synthetic import generate_section, random_spec

ORIENTATIONS = list(product(range(4), (False, True)))


def _orient(array: np.ndarray, k: int, flip: bool) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(np.fliplr(array) if flip else array, k))


def _orient_points(points: np.ndarray, shape: tuple[int, int], k: int, flip: bool) -> np.ndarray:
    """Where pixel (row, col) of an image of `shape` lands in ``_orient(image, k, flip)``."""
    rows, cols = shape
    out = np.array(points, dtype=float).reshape(-1, 2)
    if flip:
        out[:, 1] = cols - 1 - out[:, 1]
    for _ in range(k):  # np.rot90 once: (r, c) -> (cols - 1 - c, r)
        out = np.stack([cols - 1 - out[:, 1], out[:, 0]], axis=1)
        rows, cols = cols, rows
    return out


@pytest.mark.parametrize(("transpose", "flip_rows", "flip_cols"), list(product((0, 1), repeat=3)))
def test_points_follow_the_array(transpose: int, flip_rows: int, flip_cols: int) -> None:
    rng = np.random.default_rng(transpose + 2 * flip_rows + 4 * flip_cols)
    image = rng.integers(0, 1000, size=(7, 11, 3))
    frame = Frame((7, 11), bool(transpose), bool(flip_rows), bool(flip_cols))
    turned = frame.array(image)
    assert turned.shape[:2] == frame.turned_shape
    points = np.argwhere(np.ones((7, 11), bool)).astype(float)
    moved = frame.points(points).astype(int)
    np.testing.assert_array_equal(
        turned[moved[:, 0], moved[:, 1]], image[tuple(points.T.astype(int))]
    )
    np.testing.assert_array_equal(frame.points_back(frame.points(points)), points)


@pytest.mark.parametrize("modality", ["brightfield", "fluorescence"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("shape", [(60, 90), (70, 70)])
def test_every_orientation_lands_on_one_array(modality, dtype, shape) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    grey = rng.normal(100, 10, size=shape)
    grey[40:, 50:] += 80 if modality == "fluorescence" else -80  # tissue off-centre
    image = np.stack([grey] * 3, axis=-1) if modality == "brightfield" else grey
    image = np.clip(image, 0, 255).astype(dtype)
    arrays = []
    for k, flip in ORIENTATIONS:
        copy = _orient(image, k, flip)
        arrays.append(canonical_frame(copy, modality).array(copy))
    for array in arrays[1:]:
        np.testing.assert_array_equal(array, arrays[0])
    # Landscape, with the tissue below and right of the centre.
    assert arrays[0].shape[0] <= arrays[0].shape[1]
    tissue = arrays[0].reshape(*arrays[0].shape[:2], -1).mean(axis=-1).astype(float)
    tissue = tissue if modality == "fluorescence" else -tissue
    weights = tissue - tissue.min()
    rows, cols = np.indices(weights.shape)
    assert (weights * rows).sum() / weights.sum() > (weights.shape[0] - 1) / 2
    assert (weights * cols).sum() / weights.sum() > (weights.shape[1] - 1) / 2


def test_an_image_symmetric_about_its_centre_is_not_turned() -> None:
    image = np.zeros((30, 40), np.uint8)
    image[10:20, 10:30] = 200
    assert canonical_frame(image, "fluorescence").identity


@pytest.fixture(scope="module")
def brightfield_section():  # type: ignore[no-untyped-def]
    spec = random_spec(3, modality="brightfield", length_um=500, pixel_size_um=0.6)
    return generate_section(spec)


@pytest.mark.slow
def test_the_eight_orientations_give_one_result(brightfield_section) -> None:  # type: ignore[no-untyped-def]
    image = brightfield_section.image
    shape = image.shape[:2]
    base = analyze_section(image, spacing=0.6)
    assert base.count > 0
    for k, flip in ORIENTATIONS:
        copy = _orient(image, k, flip)
        result = analyze_section(copy, spacing=0.6)
        assert result.count == base.count
        assert result.dej_length_um == base.dej_length_um
        assert result.qc == base.qc and result.qc_reasons == base.qc_reasons
        for name in ("crossings", "fragments", "short_fibres"):
            np.testing.assert_allclose(
                getattr(result, name), _orient_points(getattr(base, name), shape, k, flip)
            )
        for mine, theirs in zip(result.dej, base.dej, strict=True):
            np.testing.assert_allclose(mine, _orient_points(theirs, shape, k, flip))
        # The trace keeps the analysis frame: a recount across the junction
        # found, given in this image's pixels, finds the same crossings.
        again = recount_section(
            result.trace, GivenJunction(dej=tuple(result.dej), surface=tuple(result.surface))
        )
        assert result.trace is not None and result.trace.image_shape == copy.shape[:2]
        np.testing.assert_allclose(again.crossings, result.crossings)


@pytest.mark.slow
def test_a_painted_epidermis_turns_with_the_image(brightfield_section) -> None:  # type: ignore[no-untyped-def]
    image = brightfield_section.image
    mask = brightfield_section.epidermis_mask
    base = analyze_section(image, spacing=0.6, junction=GivenJunction(epidermis=mask))
    turned = analyze_section(
        _orient(image, 1, True),
        spacing=0.6,
        junction=GivenJunction(epidermis=_orient(mask, 1, True)),
    )
    assert turned.count == base.count
    assert turned.dej_length_um == pytest.approx(base.dej_length_um)
    with pytest.raises(ValueError, match="shape"):
        analyze_section(image, spacing=0.6, junction=GivenJunction(epidermis=mask.T))
