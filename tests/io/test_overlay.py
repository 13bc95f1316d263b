"""save_overlay: a PNG of the right size, markers where the image says they are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ienfd.io import OverlayInfo, PixelSize, SectionImage, save_overlay
from ienfd.io._overlay import (
    CROSSING_COLOUR,
    FRAGMENT_COLOUR,
    REVIEW_COLOUR,
    _place_numbers,
    crossing_order,
)


def _result(crossings: Any = ((40.0, 60.0), (42.0, 100.0)), **changes: Any) -> SimpleNamespace:
    """A hand-made stand-in for ienfd.core.SectionResult."""
    values: dict[str, Any] = {
        "count": len(crossings),
        "crossings": np.array(crossings, dtype=float).reshape(-1, 2),
        "fragments": np.array([[20.0, 30.0]]),
        "short_fibres": np.array([[55.0, 80.0]]),
        "dej": [np.array([[40.0, 5.0], [42.0, 60.0], [40.0, 120.0]])],
        "surface": [np.array([[10.0, 5.0], [10.0, 120.0]])],
        "dej_length_um": 57.6,
        "surface_length_um": 57.5,
        "density_per_mm": len(crossings) / 0.0576,
        "length_basis": "dej",
    }
    values.update(changes)
    return SimpleNamespace(**values)


def _read_png(path: Path) -> np.ndarray:
    with Image.open(path) as png:
        assert png.format == "PNG"
        return np.asarray(png.convert("RGB")).astype(int)


def _is_yellow(rgb: np.ndarray) -> bool:
    return bool(rgb[0] > 200 and rgb[1] > 180 and rgb[2] < 90)


def _rgb_section() -> np.ndarray:
    img = np.full((96, 128, 3), 235, np.uint8)
    img[10:40] = (180, 140, 150)  # epidermis
    img[30:70, 60:62] = (40, 40, 70)  # a fibre
    return img


def test_brightfield_png(tmp_path: Path) -> None:
    path = tmp_path / "section.overlay.png"
    info = save_overlay(path, _rgb_section(), _result(), title="section.tif")
    assert isinstance(info, OverlayInfo)
    assert info.factor == 1 and info.image_shape == (96, 128)
    pixels = _read_png(path)
    assert pixels.shape[:2] == info.png_shape
    assert pixels.std() > 20
    # a small image is enlarged, and the markers sit where the result says
    assert info.scale > 1
    for point in info.to_png(_result().crossings):
        r, c = np.round(point).astype(int)
        assert _is_yellow(pixels[r, c]), pixels[r - 2 : r + 3, c - 2 : c + 3]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.mark.parametrize("membrane", [True, False])
def test_downsampled_fluorescence_keeps_places(tmp_path: Path, membrane: bool) -> None:
    """A 6-MP image shown at 1/4: the image and the markers stay in register."""
    fibre = np.zeros((2000, 3000), np.uint8)
    fibre[1000:1040, 1500:1540] = 255  # a green block
    channels: list[np.ndarray | None] = [fibre, None]
    if membrane:
        col = np.zeros_like(fibre)
        col[300:340, 2500:2540] = 255  # a magenta block
        channels[1] = col
    crossing = np.array([[500.0, 700.0]])
    result = _result(crossings=crossing, fragments=np.zeros((0, 2)), short_fibres=np.zeros((0, 2)))
    path = tmp_path / "big.png"
    info = save_overlay(path, tuple(channels), result, max_pixels=500_000)
    assert info.factor == 4
    assert info.scale == pytest.approx(0.25, rel=0.01)
    pixels = _read_png(path)
    assert pixels.shape[:2] == info.png_shape

    r, c = np.round(info.to_png([[1020.0, 1520.0]])[0]).astype(int)
    assert pixels[r, c, 1] > 200 and pixels[r, c, 0] < 80  # green
    r, c = np.round(info.to_png([[1100.0, 1600.0]])[0]).astype(int)
    assert pixels[r, c].max() < 60  # dark field just beside it
    if membrane:
        r, c = np.round(info.to_png([[320.0, 2520.0]])[0]).astype(int)
        assert pixels[r, c, 0] > 200 and pixels[r, c, 2] > 200 and pixels[r, c, 1] < 80
    r, c = np.round(info.to_png(crossing)[0]).astype(int)
    assert _is_yellow(pixels[r, c])


def test_section_image_and_float_rgb(tmp_path: Path) -> None:
    rgb = _rgb_section().astype(np.float32) / 255
    image = SectionImage(
        path="x.tif",
        modality="brightfield",
        pixel_size=PixelSize(0.5, 0.5, "user"),
        rgb=rgb,
    )
    info = save_overlay(tmp_path / "a.png", image, _result(crossings=np.zeros((0, 2))))
    assert _read_png(tmp_path / "a.png").shape[:2] == info.png_shape


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((4, 96, 128)), ValueError, "shape"),
        (np.zeros((0, 10)), ValueError, "non-empty"),
        ((np.zeros((96, 128)), np.zeros((96, 127))), ValueError, "membrane shape"),
        ([[1, 2], [3, 4]], TypeError, "numpy arrays"),
        ("image.tif", TypeError, "got str"),
        (np.zeros((96, 128), bool), ValueError, "dtype"),
    ],
)
def test_bad_image(tmp_path: Path, image: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        save_overlay(tmp_path / "x.png", image, _result())
    assert not list(tmp_path.iterdir())


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        save_overlay(tmp_path / "x.png", _rgb_section(), _result(), max_pixels=0)
    flat = _result()
    flat.crossings = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"crossings must be a \(K, 2\)"):
        save_overlay(tmp_path / "x.png", _rgb_section(), flat)
    with pytest.raises(FileNotFoundError):
        save_overlay(tmp_path / "missing" / "x.png", _rgb_section(), _result())
    assert not list(tmp_path.iterdir())


def test_no_pyplot(tmp_path: Path) -> None:
    """The object API only: pyplot (global figure state) is never imported."""
    code = (
        "import sys, numpy as np\n"
        "from types import SimpleNamespace\n"
        "from ienfd.io import save_overlay\n"
        "z = np.zeros((0, 2))\n"
        "r = SimpleNamespace(count=0, crossings=z, fragments=z, short_fibres=z, dej=[],\n"
        "    surface=[], dej_length_um=1.0, surface_length_um=1.0, density_per_mm=0.0,\n"
        "    length_basis='dej')\n"
        f"save_overlay({str(tmp_path / 'p.png')!r}, np.zeros((80, 90)), r)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert (tmp_path / "p.png").exists()


def test_crossing_order_follows_the_junction() -> None:
    """Pieces given back to front and run backwards: numbers still go along the section."""
    # a junction at 30 degrees in two pieces, the second listed first and reversed
    t = np.linspace(0.0, 1.0, 50)
    direction = np.array([np.sin(np.pi / 6), np.cos(np.pi / 6)])  # (row, col)
    first = np.outer(t * 400, direction) + [100.0, 50.0]
    second = np.outer(450 + t * 400, direction) + [100.0, 50.0]
    dej = [second[::-1], first]
    along = np.array([30.0, 200.0, 380.0, 500.0, 640.0, 820.0])
    crossings = np.outer(along, direction) + [100.0, 50.0] + [2.0, -1.0]
    shuffled = np.array([3, 0, 5, 1, 4, 2])
    order = crossing_order(crossings[shuffled], dej)
    assert crossings[shuffled][order].tolist() == crossings.tolist()
    # the same junction mirrored left-right: numbered from the (new) left end again
    mirror = np.array([1.0, -1.0])
    order_m = crossing_order(crossings * mirror, [line * mirror for line in dej])
    assert order_m.tolist() == list(range(len(along)))[::-1]


def test_crossing_order_without_junction_keeps_the_list() -> None:
    pts = np.array([[5.0, 9.0], [1.0, 2.0], [3.0, 4.0]])
    assert crossing_order(pts, []).tolist() == [0, 1, 2]
    assert crossing_order(np.zeros((0, 2)), [np.array([[0.0, 0.0], [0.0, 9.0]])]).size == 0


def test_overlay_numbers_along_the_junction(tmp_path: Path) -> None:
    crossings = np.array([[41.0, 100.0], [40.0, 20.0], [41.5, 60.0]])
    info = save_overlay(tmp_path / "o.png", _rgb_section(), _result(crossings=crossings))
    assert info.order == (1, 2, 0)  # left to right along the junction


def _count(pixels: np.ndarray, colour: str) -> int:
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int(np.all(pixels == rgb, axis=-1).sum())


@pytest.mark.parametrize("turn", [0, 1, 2, 3])
@pytest.mark.parametrize(("n", "spacing"), [(12, 6.0), (20, 12.0), (70, 0.0)])
def test_numbers_and_leaders_never_cross_where_crossings_crowd(
    turn: int, n: int, spacing: float
) -> None:
    import shapely

    # Crossings 6 or 12 px apart along a junction that bends a little, numbers 17-28 px
    # wide with their margins: far more crowded than the numbers are wide. Spacing 0: 70
    # crossings at random along 1500 px of a wavy junction, crowds and single numbers mixed.
    if spacing:
        t = np.arange(n) * spacing
        xy = np.column_stack([100 + t, 200 + 0.004 * (t - 30) ** 2])
    else:
        t = np.sort(np.random.default_rng(3).uniform(0, 1500, n))
        xy = np.column_stack([t, 300 + 30 * np.sin(t / 60)])
    normals = np.tile([1.0, 0.0], (n, 1))  # (row, col): the dermis below
    angle = turn * np.pi / 2  # the same, turned about the first crossing
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    xy = (xy - xy[0]) @ rot.T + xy[0]
    normals = normals[:, ::-1] @ rot.T  # as (x, y), turned
    normals = normals[:, ::-1]  # back to (row, col)
    sizes = [(11.0 if k < 9 else 22.0, 14.0) for k in range(n)]
    placed = _place_numbers(xy, normals, sizes, 16)
    boxes = [shapely.box(*box) for box, _ in placed]
    leaders = [shapely.LineString([tuple(p), end]) for p, (_, end) in zip(xy, placed, strict=True)]
    for i in range(n):
        # each number on the dermis side of its crossing
        assert (np.asarray(placed[i][1]) - xy[i]) @ normals[i][::-1] > 0
        for j in range(i):
            assert not boxes[i].intersects(boxes[j]), (i, j)
            assert not leaders[i].intersects(leaders[j]), (i, j)
            assert not leaders[i].intersects(boxes[j]) and not leaders[j].intersects(boxes[i])


def test_review_banner_with_reasons(tmp_path: Path) -> None:
    plain = save_overlay(tmp_path / "plain.png", _rgb_section(), _result(needs_review=False))
    assert _count(_read_png(tmp_path / "plain.png"), REVIEW_COLOUR) == 0
    reasons = ["the epidermis was found in 3 pieces", "count above 40 per mm of junction"]
    review = save_overlay(
        tmp_path / "review.png",
        _rgb_section(),
        _result(needs_review=True, qc_reasons=reasons),
    )
    pixels = _read_png(tmp_path / "review.png")
    banner = pixels[: int(review.origin[0])]  # everything above the section
    assert _count(banner, REVIEW_COLOUR) > 200
    assert _count(pixels[int(review.origin[0]) :], REVIEW_COLOUR) == 0
    # the banner takes room above the image; the image keeps its size
    assert review.origin[0] > plain.origin[0]
    assert review.png_shape[1] == plain.png_shape[1]
    long_reasons = reasons + ["a long reason " * 20]
    longer = save_overlay(
        tmp_path / "longer.png",
        _rgb_section(),
        _result(needs_review=True, qc_reasons=long_reasons),
    )
    assert longer.origin[0] > review.origin[0]  # wrapped, never cut off


@pytest.mark.parametrize("surface_row", [10.0, 80.0])
def test_numbers_sit_on_the_dermis_side(tmp_path: Path, surface_row: float) -> None:
    """Numbers are placed across the junction from the surface, off the epidermis."""
    result = _result(
        crossings=[[40.0, 60.0]],
        dej=[np.array([[40.0, 5.0], [40.0, 120.0]])],
        surface=[np.array([[surface_row, 5.0], [surface_row, 120.0]])],
        fragments=np.zeros((0, 2)),
        short_fibres=np.zeros((0, 2)),
    )
    info = save_overlay(tmp_path / "o.png", np.full((96, 128, 3), 235, np.uint8), result)
    pixels = _read_png(tmp_path / "o.png")
    dej_row = int(info.to_png([[40.0, 0.0]])[0, 0])
    top, bottom = int(info.origin[0]), int(info.to_png([[95.0, 0.0]])[0, 0])
    yellow_above = _count(pixels[top : dej_row - 12], CROSSING_COLOUR)
    yellow_below = _count(pixels[dej_row + 12 : bottom], CROSSING_COLOUR)
    if surface_row < 40:  # epidermis above: numbers below
        assert yellow_below > 50 and yellow_above == 0
    else:
        assert yellow_above > 50 and yellow_below == 0


def test_fragments_leave_the_tissue_visible(tmp_path: Path) -> None:
    """A fragment is a thin ring: the pixel it marks is still the image's own."""
    grey = np.full((96, 128, 3), 120, np.uint8)
    result = _result(
        crossings=np.zeros((0, 2)),
        fragments=np.array([[50.0, 64.0]]),
        short_fibres=np.zeros((0, 2)),
        dej=[],
        surface=[],
    )
    info = save_overlay(tmp_path / "o.png", grey, result)
    pixels = _read_png(tmp_path / "o.png")
    r, c = np.round(info.to_png([[50.0, 64.0]])[0]).astype(int)
    assert np.abs(pixels[r, c] - 120).max() <= 3
    around = pixels[r - 12 : r + 13, c - 12 : c + 13]
    assert _count(around, FRAGMENT_COLOUR) > 10


def test_scale_bar_when_the_pixel_size_is_known(tmp_path: Path) -> None:
    info = save_overlay(tmp_path / "a.png", _rgb_section(), _result())
    with_bar = save_overlay(tmp_path / "b.png", _rgb_section(), _result(pixel_size_um=0.5))
    legend = slice(int(info.to_png([[96.0, 0.0]])[0, 0]) + 5, None)
    a = _read_png(tmp_path / "a.png")[legend]
    b = _read_png(tmp_path / "b.png")[legend]
    assert with_bar.png_shape == info.png_shape
    right = slice(info.png_shape[1] // 2, None)
    assert _count(b[:, right], "#000000") > _count(a[:, right], "#000000") + 100


@pytest.mark.parametrize("shape", [(12, 17), (16, 16), (13, 16), (16, 13), (9, 10, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_block_mean_matches_a_plain_loop(shape: tuple[int, ...], dtype: type) -> None:
    """Whole and partial blocks at the far edges: each output pixel is its block's mean."""
    from ienfd.io._overlay import _block_mean

    rng = np.random.default_rng(1)
    plane = (rng.random(shape) * 1000).astype(dtype)
    factor = 4
    got = _block_mean(plane, factor)
    rows, cols = -(-shape[0] // factor), -(-shape[1] // factor)
    assert got.shape == (rows, cols, *shape[2:]) and got.dtype == np.float32
    for r in range(rows):
        for c in range(cols):
            block = plane[r * factor : (r + 1) * factor, c * factor : (c + 1) * factor]
            np.testing.assert_allclose(got[r, c], block.mean(axis=(0, 1)), rtol=1e-5)
