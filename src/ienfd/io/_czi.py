"""Zeiss CZI through pylibCZIrw (Zeiss's own libCZI, which reads and writes CZI).

Why pylibCZIrw rather than bioio-czi or aicspylibczi: it is Zeiss's library,
it reads every CZI ZEN writes (mosaics, scenes, JPEG-XR and zstd tiles) tile
by tile in a region, and it also writes CZI, so the tests write real files
with their channel names and scaling through the same library.

What is read: the scene's bounding rectangle at full resolution (libCZI
composes mosaic tiles), channels (``C``), Z planes (``Z``), channel names
(``Information/Image/Dimensions/Channels/Channel/@Name``), scene names, and
the pixel size from ``Scaling/Items/Distance[@Id='X'|'Y']/Value``, which the
CZI format keeps in metres.
"""

from __future__ import annotations

import functools
import math
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import numpy as np

from ienfd.io._blocks import block_array
from ienfd.io._source import FORMATS_EXTRA, ImageSource, choose_scene
from ienfd.io._tiffmeta import Layout, check_pixel_size, local_tag
from ienfd.io._types import ImageReadError, PixelSize

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

MAGIC = b"ZISRAWFILE"

_DTYPES = {
    "Gray8": (np.uint8, False),
    "Gray16": (np.uint16, False),
    "Gray32Float": (np.float32, False),
    "Bgr24": (np.uint8, True),
    "Bgr48": (np.uint16, True),
}
_CHUNK = 4096
LEVEL_STEP = 4
"""Downsampling between the levels ienfd offers for a CZI (read by libCZI at a zoom)."""
MIN_LEVEL_SIDE = 512
"""Levels stop before the shorter side falls below this many pixels."""


def _czi_module(path: str) -> Any:
    try:
        from pylibCZIrw import czi
    except ImportError:
        raise ImageReadError(
            path, f"reading CZI files needs the pylibCZIrw package: {FORMATS_EXTRA}"
        ) from None
    return czi


def _open(path: str) -> Any:
    czi = _czi_module(path)
    try:
        return czi.CziReader(path)
    except Exception as exc:  # libCZI raises RuntimeError and others on damaged files
        raise ImageReadError(
            path, f"corrupt or truncated CZI: libCZI cannot open it ({type(exc).__name__}: {exc})"
        ) from exc


def _find(root: ET.Element, *names: str) -> list[ET.Element]:
    """Elements reached by the local tag names ``names`` from ``root`` (any depth first)."""
    found = [e for e in root.iter() if local_tag(e.tag) == names[0]]
    for name in names[1:]:
        found = [c for e in found for c in e if local_tag(c.tag) == name]
    return found


class CziSource(ImageSource):
    """One scene of a CZI file."""

    format_name = "CZI"

    def __init__(self, path: str, scene: int | str | None) -> None:
        self.path = path
        self.notes = []
        reader = _open(path)
        try:
            self._describe(reader, scene)
        finally:
            reader.close()

    def _describe(self, reader: Any, scene: int | str | None) -> None:
        path = self.path
        try:
            xml = reader.raw_metadata
            box = reader.total_bounding_box
            rects = reader.scenes_bounding_rectangle
            types = reader.pixel_types
        except Exception as exc:
            raise ImageReadError(
                path, f"corrupt CZI: its directory or metadata cannot be read ({exc})"
            ) from exc
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as exc:
            raise ImageReadError(path, f"corrupt CZI: its metadata XML is invalid ({exc})") from exc

        scene_names = [
            (e.get("Name") or e.get("Id") or "").strip() for e in _find(root, "Scenes", "Scene")
        ]
        indices = sorted(rects) if rects else []
        if indices:
            names = [
                scene_names[i] if i < len(scene_names) and scene_names[i] else f"scene {i}"
                for i in indices
            ]
        else:
            names = ["image"]
        self.scenes = tuple(names)
        self.scene = choose_scene(path, self.scenes, scene)
        self._scene_index: int | None = indices[self.scene] if indices else None
        rect = rects[indices[self.scene]] if indices else reader.total_bounding_rectangle
        self._rect = (int(rect.x), int(rect.y), int(rect.w), int(rect.h))

        kinds = {types[c] for c in types}
        if len(kinds) != 1:
            raise ImageReadError(
                path, f"CZI channels of different pixel types {sorted(kinds)} are not supported"
            )
        kind = kinds.pop()
        if kind not in _DTYPES:
            raise ImageReadError(path, f"CZI pixel type {kind} is not supported")
        dtype, rgb = _DTYPES[kind]
        self._rgb = rgb
        self._dtype = np.dtype(dtype)
        (c0, c1), (z0, z1) = box.get("C", (0, 1)), box.get("Z", (0, 1))
        self._n_c, self._n_z = max(1, c1 - c0), max(1, z1 - z0)
        self._first = {"C": c0, "Z": z0}  # plane indices may start elsewhere than 0
        self._planes = {dim: rng for dim, rng in box.items() if dim not in "XYCZ"}
        for dim, (lo, hi) in self._planes.items():
            if hi - lo <= 1:
                continue
            if dim == "T":
                raise ImageReadError(
                    path,
                    f"a CZI time series with {hi - lo} time points; ienfd analyses a single "
                    "time point: save one time point as its own file",
                )
            raise ImageReadError(
                path,
                f"unsupported layout: a CZI dimension {dim!r} of length {hi - lo}; ienfd reads "
                "channels (C), Z planes and scenes",
            )
        rows, cols = self._rect[3], self._rect[2]
        if rgb:
            axes, shape = "ZYXS", (self._n_z, rows, cols, 3)
        else:
            axes, shape = "CZYX", (self._n_c, self._n_z, rows, cols)
        keep = [i for i, (a, n) in enumerate(zip(axes, shape, strict=True)) if n > 1 or a in "YX"]
        self._axes = "".join(axes[i] for i in keep)
        self._full_axes = axes
        self._shape = tuple(shape[i] for i in keep)
        # Levels 4x apart, read by libCZI at a zoom (from the file's pyramid tiles where it
        # has them, else by downscaling full-resolution tiles), down to ~512 pixels a side.
        self._factors = [1]
        while min(rows, cols) // (self._factors[-1] * LEVEL_STEP) >= MIN_LEVEL_SIDE:
            self._factors.append(self._factors[-1] * LEVEL_STEP)
        self.level_shapes = tuple(
            tuple(
                math.ceil(n / f) if a in "YX" else n
                for a, n in zip(self._axes, self._shape, strict=True)
            )
            for f in self._factors
        )

        names_c = [
            (e.get("Name") or "").strip()
            for e in _find(root, "Information", "Image", "Dimensions", "Channels", "Channel")
        ]
        self.channel_names = (
            tuple(names_c) if not rgb and len(names_c) == self._n_c and all(names_c) else ()
        )
        if rgb:
            self.channel_names = ("red", "green", "blue")
        self.pixel_size = self.metadata_pixel_size(lambda: self._pixel_size(root))

    def _pixel_size(self, root: ET.Element) -> PixelSize | None:
        values: dict[str, float] = {}
        for item in _find(root, "Scaling", "Items", "Distance"):
            axis = item.get("Id")
            text = next((c.text for c in item if local_tag(c.tag) == "Value"), None)
            if axis in ("X", "Y") and text:
                try:
                    values[axis] = float(text)
                except ValueError:
                    raise ImageReadError(
                        self.path, f"CZI Scaling Distance {axis} = {text!r} is not a number"
                    ) from None
        values = {k: v for k, v in values.items() if v > 0}
        if not values:
            return None
        if len(values) == 1:
            (axis, value), other = next(iter(values.items())), "Y" if "X" in values else "X"
            self.notes.append(f"CZI Scaling Distance {other} missing; assumed equal to {axis}")
            values[other] = value
        row_um, col_um = values["Y"] * 1e6, values["X"] * 1e6
        where = (
            f"CZI Scaling Distance Y = {values['Y']:g}, X = {values['X']:g} "
            "(metres per pixel, as the CZI format stores them)"
        )
        if max(values.values()) > 1e-4:
            raise ImageReadError(
                self.path,
                f"implausible pixel size from {where}: {row_um:g} x {col_um:g} µm; the file "
                "may give µm where CZI expects metres (a writer's error); pass pixel_size_um",
                remedy="pixel_size_um",
            )
        check_pixel_size(self.path, row_um, col_um, "czi-scaling", where)
        return PixelSize(row_um, col_um, "czi-scaling")

    def layout(self, level: int) -> Layout:
        return self.level_layout(level, self._axes, self._dtype, rgb=self._rgb)

    def _reader_args(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "scene": self._scene_index,
            "rect": self._rect,
            "planes": {d: lo for d, (lo, _) in self._planes.items()},
            "first": self._first,
            "rgb": self._rgb,
            "full_axes": self._full_axes,
            "axes": self._axes,
            "n_c": self._n_c,
            "n_z": self._n_z,
            "dtype": self._dtype.str,
        }

    def read(self, level: int) -> np.ndarray:
        self.layout(level)
        box = tuple((0, n) for n in self.level_shapes[level])
        return _read_box(box, factor=self._factors[level], **self._reader_args())

    def lazy(self, level: int) -> dask.array.Array:
        self.layout(level)
        read = functools.partial(_read_box, factor=self._factors[level], **self._reader_args())
        shape = self.level_shapes[level]
        return block_array(shape, self._dtype, self._axes, read, chunk=_CHUNK)


def _read_box(
    box: tuple[tuple[int, int], ...],
    *,
    path: str,
    scene: int | None,
    rect: tuple[int, int, int, int],
    planes: dict[str, int],
    first: dict[str, int],
    rgb: bool,
    full_axes: str,
    axes: str,
    n_c: int,
    n_z: int,
    dtype: str,
    factor: int = 1,
) -> np.ndarray:
    """The pixels of ``box`` (one (start, stop) per axis of ``axes``) of a scene's level.

    The level is ``factor`` times smaller than level 0; its box is read as the level-0
    region it covers (cut at the scene's edge) at zoom ``1 / factor``.
    """
    ranges = dict(zip(axes, box, strict=True))
    y0, y1 = ranges["Y"]
    x0, x1 = ranges["X"]
    cs = range(*ranges.get("C", (0, n_c)))
    zs = range(*ranges.get("Z", (0, n_z)))
    width = min(x1 * factor, rect[2]) - x0 * factor
    height = min(y1 * factor, rect[3]) - y0 * factor
    roi = (rect[0] + x0 * factor, rect[1] + y0 * factor, width, height)
    zoom = None if factor == 1 else 1.0 / factor
    reader = _open(path)
    try:
        planes_out = []
        for c in cs if not rgb else [0]:
            for z in zs:
                plane = {**planes, "C": first["C"] + c, "Z": first["Z"] + z}
                try:
                    tile = reader.read(roi=roi, plane=plane, scene=scene, zoom=zoom)
                except Exception as exc:
                    raise ImageReadError(
                        path,
                        f"corrupt or truncated CZI: cannot decode the tiles of plane {plane} "
                        f"({type(exc).__name__}: {exc})",
                    ) from exc
                planes_out.append(_fit(tile, y1 - y0, x1 - x0))
    finally:
        reader.close()
    out = np.stack(planes_out).astype(np.dtype(dtype), copy=False)  # (C*Z, Y, X, 1|3)
    if rgb:
        data = out[..., ::-1]  # libCZI gives BGR
        shape = (len(zs), y1 - y0, x1 - x0, 3)
    else:
        data = out[..., 0]
        shape = (len(cs), len(zs), y1 - y0, x1 - x0)
    data = data.reshape(shape)
    # drop the axes the squeezed layout does not have
    drop = tuple(i for i, a in enumerate(full_axes) if a not in axes)
    return np.ascontiguousarray(data.squeeze(axis=drop) if drop else data)


def _fit(tile: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``tile`` cut or edge-padded to ``rows`` x ``cols`` (a zoomed read may differ by one)."""
    tile = tile[:rows, :cols]
    pad = ((0, rows - tile.shape[0]), (0, cols - tile.shape[1]), (0, 0))
    return np.pad(tile, pad, mode="edge") if any(p[1] for p in pad) else tile


def is_czi(head: bytes) -> bool:
    """True for the first bytes of a CZI file (its first segment is ZISRAWFILE)."""
    return head[:10] == MAGIC
