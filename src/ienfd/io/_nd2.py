"""Nikon ND2 through nd2 (the reader bioio-nd2 itself uses).

Untested here: no package on the registries ships a sample ND2 file and no
library writes one, so this reader is exercised only by files users bring.

What is read: each XY position (``P``) is a scene; channels (``C``, named
from the channel metadata), Z planes and RGB samples; the pixel size from
``voxel_size()`` (µm, from the file's calibration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ienfd.io._source import FORMATS_EXTRA, ImageSource, choose_scene
from ienfd.io._tiffmeta import Layout, check_pixel_size
from ienfd.io._types import ImageReadError, PixelSize

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

MAGICS = (b"\xda\xce\xbe\x0a", b"\x00\x00\x00\x0c")  # ND2, legacy JPEG 2000 ND2


def _open(path: str) -> Any:
    try:
        import nd2
    except ImportError:
        raise ImageReadError(
            path, f"reading ND2 files needs the nd2 package: {FORMATS_EXTRA}"
        ) from None
    try:
        return nd2.ND2File(path)
    except Exception as exc:
        raise ImageReadError(
            path, f"corrupt or truncated ND2: nd2 cannot open it ({type(exc).__name__}: {exc})"
        ) from exc


class Nd2Source(ImageSource):
    """One XY position (scene) of an ND2 file."""

    format_name = "ND2"

    def __init__(self, path: str, scene: int | str | None) -> None:
        self.path = path
        self.notes = []
        self._file = _open(path)
        try:
            sizes = dict(self._file.sizes)
            n_p = int(sizes.get("P", 1))
            self.scenes = tuple(f"position {i}" for i in range(n_p))
            self.scene = choose_scene(path, self.scenes, scene)
            axes = "".join(sizes)
            for ax in axes:
                if ax not in "TPCZYXS":
                    raise ImageReadError(path, f"unsupported layout: an ND2 axis {ax!r} ({sizes})")
            self._full_axes = axes
            kept = [(a, int(n)) for a, n in sizes.items() if a != "P" and (n > 1 or a in "YX")]
            self._axes = "".join(a for a, _ in kept)
            self._shape = tuple(n for _, n in kept)
            self.level_shapes = (self._shape,)
            self._dtype = np.dtype(self._file.dtype)
            self._rgb = bool(self._file.is_rgb)
            self.channel_names = self._names(int(sizes.get("C", 1)))
            self.pixel_size = self.metadata_pixel_size(self._pixel_size)
        except ImageReadError:
            self._file.close()
            raise
        except Exception as exc:  # nd2 parses lazily: a damaged file fails here
            self._file.close()
            raise ImageReadError(
                path, f"corrupt or truncated ND2: {type(exc).__name__}: {exc}"
            ) from exc
        except BaseException:
            self._file.close()
            raise

    def _names(self, n: int) -> tuple[str, ...]:
        if self._rgb:
            return ("red", "green", "blue")
        try:
            names = [str(ch.channel.name).strip() for ch in self._file.metadata.channels or []]
        except Exception:
            return ()
        return tuple(names) if len(names) == n and all(names) else ()

    def _pixel_size(self) -> PixelSize | None:
        try:
            size = self._file.voxel_size()
            col_um, row_um = float(size.x), float(size.y)
        except Exception:
            return None
        if not (col_um > 0 and row_um > 0):
            return None
        where = f"ND2 voxel size {row_um:g} x {col_um:g} µm"
        check_pixel_size(self.path, row_um, col_um, "nd2", where)
        return PixelSize(row_um, col_um, "nd2")

    def layout(self, level: int) -> Layout:
        return self.level_layout(level, self._axes, self._dtype, rgb=self._rgb)

    def _index(self) -> tuple[Any, ...]:
        sizes = dict(self._file.sizes)
        return tuple(
            self.scene if a == "P" else (slice(None) if n > 1 or a in "YX" else 0)
            for a, n in sizes.items()
        )

    def lazy(self, level: int) -> dask.array.Array:
        self.layout(level)
        # wrapper=False: each chunk opens and closes the file itself, so the array may
        # outlive this source (nd2's documented behaviour)
        return self._file.to_dask(wrapper=False)[self._index()]

    def read(self, level: int) -> np.ndarray:
        try:
            return np.asarray(self.lazy(level).compute(scheduler="synchronous"))
        except ImageReadError:
            raise
        except Exception as exc:
            raise ImageReadError(
                self.path, f"corrupt or truncated ND2: {type(exc).__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        self._file.close()
