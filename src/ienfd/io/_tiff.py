"""The TIFF family through tifffile: TIFF, OME-TIFF, ImageJ TIFF and the slide scanners' TIFFs.

tifffile parses the scanners' layouts itself (Aperio SVS, Hamamatsu NDPI,
Leica SCN, Philips TIFF, Ventana BIF, Akoya QPTIFF): their first series is
the slide's image with its pyramid levels; label and macro images are other
series and are not read. The metadata rules are in :mod:`ienfd.io._tiffmeta`.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ienfd.io._source import ImageSource, choose_scene
from ienfd.io._tiffmeta import (
    FileMeta,
    Layout,
    check_segments,
    describe,
    image_series,
    open_tiff,
    scene_series,
    tiff_format,
    tifffile_log,
)
from ienfd.io._types import ImageReadError

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

_PLAIN = ("TIFF", "OME-TIFF", "ImageJ TIFF")


class TiffSource(ImageSource):
    """One image series of a TIFF-family file (a scanner's thumbnail, label, macro excepted)."""

    def __init__(self, path: str, scene: int | str | None = None) -> None:
        opened: list[str] = []
        self.path = path
        self._tif = open_tiff(path, opened)
        try:
            self.format_name = tiff_format(self._tif)
            with self._named():
                all_series = image_series(self._tif, path, list(opened))
                kept = scene_series(all_series) if all_series else [0]
                self.scenes = tuple(
                    str(all_series[k].name or f"image {k}") if all_series else "image" for k in kept
                )
                self.scene = choose_scene(path, self.scenes, scene)
                self._base = describe(self._tif, path, 0, opened, scene=self.scene)
        except BaseException:
            self._tif.close()
            raise
        self._metas: dict[int, FileMeta] = {0: self._base}
        self.level_shapes = self._base.level_shapes
        self.channel_names = self._base.channel_names
        self.pixel_size = self._base.base_pixel_size
        self.pixel_size_error = self._base.pixel_size_error
        self.notes = list(self._base.notes)

    @contextlib.contextmanager
    def _named(self) -> Iterator[None]:
        """Name the scanner format in errors about a slide scanner's TIFF."""
        try:
            yield
        except ImageReadError as exc:
            if self.format_name in _PLAIN or self.format_name in exc.reason:
                raise
            raise ImageReadError(
                self.path, f"{self.format_name} file: {exc.reason}", remedy=exc.remedy
            ) from exc

    def _meta(self, level: int) -> FileMeta:
        if level not in self._metas:
            self.check_level(level)
            with self._named():
                self._metas[level] = describe(self._tif, self.path, level, [], scene=self.scene)
        return self._metas[level]

    def layout(self, level: int) -> Layout:
        return self._meta(level).layout

    def check_data(self, level: int) -> None:
        with self._named():
            check_segments(self._tif, self._meta(level).series, self.path)

    def read(self, level: int) -> np.ndarray:
        meta = self._meta(level)
        messages: list[str] = []
        with self._named():
            try:
                with tifffile_log(messages):
                    data: np.ndarray = meta.series.asarray()
            except MemoryError as exc:
                raise ImageReadError(
                    self.path,
                    f"not enough memory to read shape {meta.layout.shape} of "
                    f"{meta.layout.dtype}; read it region by region (open_lazy) or read a "
                    "lower pyramid level",
                    remedy="level",
                ) from exc
            except Exception as exc:  # decoders raise many types (imagecodecs, zlib, ValueError)
                raise ImageReadError(
                    self.path, f"corrupt or truncated TIFF: {type(exc).__name__}: {exc}"
                ) from exc
            if messages:
                raise ImageReadError(
                    self.path,
                    "corrupt or truncated TIFF: tifffile reported: " + "; ".join(messages[:3]),
                )
        return data

    def lazy(self, level: int) -> dask.array.Array:
        import dask.array as da

        index = self._meta(level).series_index
        notes: list[str] = []
        # A file handle of its own: the array may outlive this source.
        tif = open_tiff(self.path, notes)
        try:
            with tifffile_log(notes):
                # the store tifffile.imread(path, aszarr=True, level=level) builds
                store = tif.series[index].aszarr(level=level)
            data = da.from_zarr(store)
        except BaseException:
            tif.close()
            raise
        # The store reads through ``tif``; close the file once no array uses the store.
        weakref.finalize(store, tif.close)
        return data

    def close(self) -> None:
        self._tif.close()


def is_tiff(head: bytes) -> bool:
    """True for the first bytes of a classic or BigTIFF file, either byte order."""
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
