"""Leica LIF through readlif (the reader bioio-lif itself uses).

Untested here: no package on the registries ships a sample LIF file and no
library writes one, so this reader is exercised only by files users bring.

What is read: each image of the project is a scene (by its name), with its
channels and Z planes; the pixel size from readlif's ``scale`` (pixels per
µm, from the LIF XML's dimension lengths). LIF stores no stain names (its
channel descriptions hold lookup-table colours), so channels are chosen by
index. Mosaics (tile scans) and time series are refused.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ienfd.io._blocks import block_array
from ienfd.io._source import FORMATS_EXTRA, ImageSource, choose_scene
from ienfd.io._tiffmeta import Layout, check_pixel_size
from ienfd.io._types import ImageReadError, PixelSize

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

MAGIC = b"\x70\x00\x00\x00"


@contextlib.contextmanager
def _open(path: str) -> Iterator[Any]:
    """A readlif ``LifFile`` over a handle closed on leaving (readlif leaves its own open)."""
    try:
        from readlif.reader import LifFile
    except ImportError:
        raise ImageReadError(
            path, f"reading LIF files needs the readlif package: {FORMATS_EXTRA}"
        ) from None
    with open(path, "rb") as fh:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                lif = LifFile(fh)
        except Exception as exc:  # readlif raises ValueError and struct errors on damage
            raise ImageReadError(
                path,
                f"corrupt or truncated LIF: readlif cannot open it ({type(exc).__name__}: {exc})",
            ) from exc
        # readlif only warns on a truncated file, and then reads its missing images as blank
        damage = [str(w.message) for w in caught if "truncat" in str(w.message).lower()]
        if damage:
            raise ImageReadError(path, "corrupt or truncated LIF: readlif reported: " + damage[0])
        yield lif


class LifSource(ImageSource):
    """One image (scene) of a LIF project."""

    format_name = "LIF"

    def __init__(self, path: str, scene: int | str | None) -> None:
        self.path = path
        self.notes = []
        with _open(path) as lif:
            self._describe(lif, scene)

    def _describe(self, lif: Any, scene: int | str | None) -> None:
        path = self.path
        infos = list(lif.image_list)
        if not infos:
            raise ImageReadError(path, "the LIF file holds no image")
        self.scenes = tuple(str(info.get("name") or f"image {i}") for i, info in enumerate(infos))
        self.scene = choose_scene(path, self.scenes, scene)
        image = lif.get_image(self.scene)
        dims = image.dims
        if int(dims.m) > 1:
            raise ImageReadError(
                path,
                f"LIF image {self.scenes[self.scene]!r} is a mosaic of {dims.m} tiles; "
                "export the merged image (LAS X: Mosaic Merge) and read that",
            )
        depth = max(image.bit_depth) if image.bit_depth else 8
        self._dtype = np.dtype(np.uint8 if depth <= 8 else np.uint16)
        n_c, n_z, n_t = int(image.channels), int(dims.z), int(dims.t)
        shape = (n_t, n_c, n_z, int(dims.y), int(dims.x))
        keep = [
            i for i, (a, n) in enumerate(zip("TCZYX", shape, strict=True)) if n > 1 or a in "YX"
        ]
        self._axes = "".join("TCZYX"[i] for i in keep)
        self._shape = tuple(shape[i] for i in keep)
        self.level_shapes = (self._shape,)
        self.channel_names = ()
        self.pixel_size = self.metadata_pixel_size(lambda: self._pixel_size(image.scale))

    def _pixel_size(self, scale: Any) -> PixelSize | None:
        try:
            per_um_x, per_um_y = float(scale[0]), float(scale[1])
        except (TypeError, ValueError, IndexError):
            return None
        if not (per_um_x > 0 and per_um_y > 0):
            return None
        row_um, col_um = 1.0 / per_um_y, 1.0 / per_um_x
        where = f"LIF scale {per_um_y:g} x {per_um_x:g} pixels per µm"
        check_pixel_size(self.path, row_um, col_um, "lif", where)
        return PixelSize(row_um, col_um, "lif")

    def layout(self, level: int) -> Layout:
        return self.level_layout(level, self._axes, self._dtype, rgb=False)

    def read(self, level: int) -> np.ndarray:
        self.layout(level)
        return _read_box(
            self.path,
            self.scene,
            self._axes,
            self._shape,
            self._dtype.str,
            tuple((0, n) for n in self._shape),
        )

    def lazy(self, level: int) -> dask.array.Array:
        self.layout(level)
        read = functools.partial(
            _read_box, self.path, self.scene, self._axes, self._shape, self._dtype.str
        )
        return block_array(self._shape, self._dtype, self._axes, read, chunk=max(self._shape))


def _read_box(
    path: str,
    scene: int,
    axes: str,
    shape: tuple[int, ...],
    dtype: str,
    box: tuple[tuple[int, int], ...],
) -> np.ndarray:
    sizes = dict(zip(axes, shape, strict=True))
    planes = []
    with _open(path) as lif:
        try:
            image = lif.get_image(scene)
            for t in range(sizes.get("T", 1)):
                for c in range(sizes.get("C", 1)):
                    for z in range(sizes.get("Z", 1)):
                        planes.append(np.asarray(image.get_frame(z=z, t=t, c=c)))
        except Exception as exc:
            raise ImageReadError(
                path, f"corrupt or truncated LIF: {type(exc).__name__}: {exc}"
            ) from exc
    full = np.stack(planes).reshape(shape).astype(np.dtype(dtype), copy=False)
    return full[tuple(slice(a, b) for a, b in box)]
