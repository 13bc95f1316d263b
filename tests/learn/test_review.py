"""A model's epidermis that cannot be trusted is said so, never passed as a plain ok."""

from __future__ import annotations

import numpy as np

from ienfd.learn import TrainingSection, model_epidermis, train_pixel_model


def _section(bands: list[tuple[int, int, int, int]], seed: int) -> np.ndarray:
    """Pale pink 'dermis' with dark purple textured 'epidermis' boxes (r0, r1, c0, c1)."""
    rng = np.random.default_rng(seed)
    rgb = np.empty((400, 800, 3))
    rgb[:] = (235, 200, 210)
    for r0, r1, c0, c1 in bands:
        rgb[r0:r1, c0:c1] = (120, 60, 140)
    rgb += rng.normal(0, 8, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_fragmented_epidermis_needs_review() -> None:
    train = _section([(100, 200, 0, 800)], seed=1)
    labels = np.zeros(train.shape[:2], np.uint8)
    labels[140:150, 100:700] = 2
    labels[300:310, 100:700] = 3
    model = train_pixel_model([TrainingSection(train, labels, 1.0)])

    one = model_epidermis(model, _section([(100, 200, 0, 800)], seed=2), spacing=1.0)
    assert one.reasons == [] and one.qc["model_epidermis_pieces"] == 1

    boxes = [(100, 200, c, c + 100) for c in range(20, 800, 160)]  # five separate pieces
    five = model_epidermis(model, _section(boxes, seed=3), spacing=1.0)
    assert five.qc["model_epidermis_pieces"] == 5
    assert any("in 5 pieces" in reason for reason in five.reasons)
    assert five.mask.shape == (400, 800) and five.mask[150, 70] and not five.mask[150, 150]
