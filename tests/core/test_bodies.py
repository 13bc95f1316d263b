"""Dense bodies joined to the epidermis beneath its junction: cut off and left out."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from ienfd.core import analyze_section
from ienfd.core._bodies import without_attached_bodies
from ienfd.core._junction import pieces_at_surface, trace_junction
from tests.core._phantom import brightfield_phantom, phantom_layers

SPACING = 1.5


def _band() -> tuple[np.ndarray, np.ndarray]:
    """(epidermis, tissue): a band 60 µm thick under glass, over 300 µm of dermis."""
    tissue = np.zeros((260, 400), dtype=bool)
    tissue[30:] = True
    epidermis = np.zeros_like(tissue)
    epidermis[30:70] = True
    return epidermis, tissue


def _orient(a: np.ndarray, k: int, flip: bool) -> np.ndarray:
    a = np.rot90(a, k)
    return np.ascontiguousarray(a[:, ::-1] if flip else a)


def _left_out(epidermis: np.ndarray, tissue: np.ndarray) -> tuple[np.ndarray, list[float]]:
    pieces = pieces_at_surface(
        trace_junction(epidermis, tissue, spacing=SPACING), tissue, spacing=SPACING
    )
    return without_attached_bodies(epidermis, tissue, pieces, spacing=SPACING)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("k", range(4))
def test_a_trunk_joined_beneath_the_junction_is_left_out(k: int, flip: bool) -> None:
    # A trunk 30 µm thick, 270 µm long, along the junction 15 µm beneath it,
    # joined by a neck 9 µm wide: in every orientation it is cut off whole,
    # and the epidermis keeps every pixel of its band.
    epidermis, tissue = _band()
    trunk = np.zeros_like(epidermis)
    trunk[80:100, 110:290] = True
    epidermis[70:80, 197:203] = True
    epidermis |= trunk
    kept, areas = _left_out(_orient(epidermis, k, flip), _orient(tissue, k, flip))
    assert len(areas) == 1
    left_out = _orient(epidermis, k, flip) & ~kept
    assert np.array_equal(left_out & _orient(trunk, k, flip), _orient(trunk, k, flip))
    assert not (left_out & _orient(_band()[0], k, flip)).any()


@pytest.mark.parametrize("k", range(4))
def test_a_club_shaped_rete_ridge_is_kept(k: int) -> None:
    # A deep ridge with a neck 9 µm wide and a tip 36 µm wide: a part of its
    # own after the opening, but it points away from the surface.
    epidermis, tissue = _band()
    epidermis[70:120, 197:203] = True
    epidermis[120:150, 188:212] = True
    kept, areas = _left_out(_orient(epidermis, k, False), _orient(tissue, k, False))
    assert areas == []
    assert np.array_equal(kept, _orient(epidermis, k, False))


def test_the_next_stretch_of_epidermis_past_a_narrowing_is_kept() -> None:
    # The band narrows to 9 µm (a tear half through it) and goes on along the
    # glass: the stretch past the narrowing lies beside the epidermis, not
    # beneath it, and along the surface.
    epidermis, tissue = _band()
    epidermis[30:64, 200:206] = False
    kept, areas = _left_out(epidermis, tissue)
    assert areas == []
    assert np.array_equal(kept, epidermis)


def _pieces(epidermis: np.ndarray, tissue: np.ndarray) -> list:  # type: ignore[type-arg]
    return pieces_at_surface(
        trace_junction(epidermis, tissue, spacing=SPACING), tissue, spacing=SPACING
    )


def test_a_body_not_elongated_enough_is_kept() -> None:
    # Beneath the junction and wider than tall, but only 1.5 times: a
    # vessel's cross-section, a gland. The elongation rule alone keeps it (the
    # junction is then traced round it: a limit, the checks speak for it).
    epidermis, tissue = _band()
    epidermis[80:110, 175:225] = True
    epidermis[70:80, 197:203] = True
    pieces = _pieces(epidermis, tissue)
    _, areas = without_attached_bodies(epidermis, tissue, pieces, spacing=SPACING)
    assert areas == []
    _, areas = without_attached_bodies(
        epidermis, tissue, pieces, spacing=SPACING, min_elongation=1.0
    )
    assert len(areas) == 1


def test_a_body_past_the_end_of_the_epidermis_is_kept() -> None:
    # The epidermis ends at column 250; an elongated dense part goes on past
    # its end, just below the basal layer's depth, joined by a neck: it lies
    # beside the epidermis (no epidermis between it and the glass, its
    # nearest surface at the surface's end), not beneath. The beneath rule
    # alone keeps it.
    epidermis, tissue = _band()
    epidermis[:, 250:] = False
    epidermis[72:92, 262:380] = True
    epidermis[64:74, 245:265] = True
    pieces = _pieces(epidermis, tissue)
    _, areas = without_attached_bodies(epidermis, tissue, pieces, spacing=SPACING)
    assert areas == []
    _, areas = without_attached_bodies(epidermis, tissue, pieces, spacing=SPACING, min_beneath=-1)
    assert len(areas) == 1


def test_with_no_glass_in_view_a_body_beneath_the_middle_of_the_surface_is_cut_off() -> None:
    # The tissue fills the frame (the surface along its border): there is no
    # glass to look towards, and the body beneath the middle of the surface
    # is judged by where its nearest surface points lie.
    epidermis, tissue = _band()
    epidermis, tissue = epidermis[30:], tissue[30:]
    trunk = np.zeros_like(epidermis)
    trunk[50:70, 80:320] = True
    epidermis[40:50, 197:203] = True
    epidermis |= trunk
    kept, areas = without_attached_bodies(
        epidermis, tissue, _pieces(epidermis, tissue), spacing=SPACING
    )
    assert tissue.all() and len(areas) == 1
    assert not (kept & trunk).any()


def _phantom_with_trunk(rotate: int) -> tuple[np.ndarray, int]:
    """The core phantom with a dark trunk joined beneath its junction; (image, true count)."""
    rgb, truth = brightfield_phantom(seed=3)
    rows, cols = rgb.shape[:2]
    dej, *_ = phantom_layers(rows, cols)
    rr, cc = np.mgrid[0:rows, 0:cols]
    # 40 µm thick, 25 µm beneath the junction, 300 µm along it, textured;
    # a neck 18 µm wide joins it to the epidermis.
    depth = rr - dej
    trunk = (depth > 50) & (depth < 130) & (cc > 600) & (cc < 1200)
    neck = (depth > -5) & (depth <= 50) & (np.abs(cc - 900) < 18)
    # As dense as the epidermis, in the epidermis's colour, and textured.
    rng = np.random.default_rng(1)
    texture = ndi.gaussian_filter(rng.normal(0, 0.3, trunk.shape), 6.0) / 3
    od = np.where(trunk | neck, 0.45 + texture, 0.0)
    absorb = np.stack([np.exp(-od * k) for k in (1.0, 0.9, 0.7)], axis=-1)
    image = np.clip(rgb * absorb, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.rot90(image, rotate)), len(truth)


@pytest.mark.slow
@pytest.mark.parametrize("rotate", [0, 1])
def test_a_section_with_a_trunk_joined_beneath_is_counted_as_without_it(rotate: int) -> None:
    plain, truth = brightfield_phantom(seed=3)
    expected = analyze_section(np.ascontiguousarray(np.rot90(plain, rotate)), spacing=0.5)
    image, _ = _phantom_with_trunk(rotate)
    result = analyze_section(image, spacing=0.5)
    # Cut out, and said so in a note (not a reason for review: see
    # ienfd.core._analyze._bodies_left_out).
    assert any("dense body" in w and "cut out of the epidermis" in w for w in result.warnings)
    # The junction is the phantom's, not traced round the trunk (without the
    # rule: 1526 µm for 833).
    assert result.dej_length_um == pytest.approx(expected.dej_length_um, rel=0.05)
    assert abs(result.count - len(truth)) <= 1
