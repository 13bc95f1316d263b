"""3DHistech MRXS through OpenSlide (openslide-python with the openslide-bin library).

MRXS is a slide-scanner format tifffile does not read: an ``.mrxs`` index file
beside a folder of data files. OpenSlide composes its tiles per pyramid level
and gives the pixel size as the ``openslide.mpp-x``/``-y`` properties (µm).

Untested on MRXS here: no library writes one and no package ships a sample.
The reader class itself is tested on an Aperio SVS, which OpenSlide also reads.

Pixels come from ``read_region`` as premultiplied RGBA: where the scanner
stored nothing, alpha is 0; such pixels are composed over white (the glass).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from ienfd.io._blocks import block_array
from ienfd.io._source import FORMATS_EXTRA, ImageSource, choose_scene
from ienfd.io._tiffmeta import Layout, check_pixel_size
from ienfd.io._types import ImageReadError, PixelSize

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

_CHUNK = 2048


def _open(path: str, format_name: str) -> Any:
    try:
        import openslide
    except ImportError:
        raise ImageReadError(
            path,
            f"reading {format_name} files needs openslide-python and openslide-bin: "
            f"{FORMATS_EXTRA}",
        ) from None
    try:
        return openslide.OpenSlide(path)
    except Exception as exc:  # OpenSlideUnsupportedFormatError, OpenSlideError
        raise ImageReadError(
            path,
            f"corrupt or truncated {format_name}: OpenSlide cannot open it "
            f"({type(exc).__name__}: {exc})",
        ) from exc


class OpenSlideSource(ImageSource):
    """A slide read through OpenSlide: RGB, one scene, OpenSlide's pyramid levels."""

    def __init__(self, path: str, format_name: str, scene: int | str | None) -> None:
        self.path = path
        self.format_name = format_name
        self.notes = []
        self.scenes = ("slide",)
        self.scene = choose_scene(path, self.scenes, scene)
        slide = _open(path, format_name)
        try:
            self.level_shapes = tuple((int(h), int(w), 3) for w, h in slide.level_dimensions)
            self._downsamples = tuple(float(d) for d in slide.level_downsamples)
            properties = dict(slide.properties)
        except Exception as exc:
            raise ImageReadError(
                path, f"corrupt {format_name}: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            slide.close()
        self.channel_names = ("red", "green", "blue")
        self.pixel_size = self.metadata_pixel_size(lambda: self._pixel_size(properties))

    def _pixel_size(self, properties: dict[str, Any]) -> PixelSize | None:
        raw_x, raw_y = properties.get("openslide.mpp-x"), properties.get("openslide.mpp-y")
        if raw_x is None and raw_y is None:
            return None
        try:
            col_um = float(raw_x if raw_x is not None else raw_y)  # type: ignore[arg-type]
            row_um = float(raw_y if raw_y is not None else raw_x)  # type: ignore[arg-type]
        except ValueError:
            raise ImageReadError(
                self.path, f"OpenSlide mpp {raw_x!r} x {raw_y!r} is not a number"
            ) from None
        where = f"{self.format_name} via OpenSlide mpp-y = {row_um:g}, mpp-x = {col_um:g} µm"
        check_pixel_size(self.path, row_um, col_um, "openslide-mpp", where)
        return PixelSize(row_um, col_um, "openslide-mpp")

    def layout(self, level: int) -> Layout:
        return self.level_layout(level, "YXS", np.dtype(np.uint8), rgb=True)

    def read(self, level: int) -> np.ndarray:
        self.layout(level)
        rows, cols, _ = self.level_shapes[level]
        return _read_box(
            self.path,
            self.format_name,
            level,
            self._downsamples[level],
            ((0, rows), (0, cols), (0, 3)),
        )

    def lazy(self, level: int) -> dask.array.Array:
        self.layout(level)
        read = functools.partial(
            _read_box, self.path, self.format_name, level, self._downsamples[level]
        )
        return block_array(self.level_shapes[level], np.dtype(np.uint8), "YXS", read, chunk=_CHUNK)


def _read_box(
    path: str,
    format_name: str,
    level: int,
    downsample: float,
    box: tuple[tuple[int, int], ...],
) -> np.ndarray:
    """RGB pixels of ``box`` (rows, cols, samples) of ``level``, composed over white."""
    (r0, r1), (c0, c1), (s0, s1) = box
    slide = _open(path, format_name)
    try:
        region = slide.read_region(
            (round(c0 * downsample), round(r0 * downsample)), level, (c1 - c0, r1 - r0)
        )
        rgba = np.asarray(region, dtype=np.uint8)
    except Exception as exc:
        raise ImageReadError(
            path, f"corrupt or truncated {format_name}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        slide.close()
    alpha = rgba[..., 3:4].astype(np.uint16)
    rgb = np.minimum(rgba[..., :3].astype(np.uint16) + (255 - alpha), 255).astype(np.uint8)
    return np.ascontiguousarray(rgb[..., s0:s1])
