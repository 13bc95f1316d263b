"""PNG and JPEG, as microscope cameras export them, through imagecodecs.

These files carry no pixel size: the density fields they may hold (PNG
``pHYs``, JPEG JFIF density) are the screen's 72 or 96 dpi that graphics
programs write, not the microscope's, so they are not read, and the pixel size
must be given. imagecodecs (already needed for compressed TIFFs) decodes both
at their full bit depth (16-bit PNG included), and refuses truncated data.
"""

from __future__ import annotations

import functools
import struct
from typing import TYPE_CHECKING

import numpy as np

from ienfd.io._blocks import block_array
from ienfd.io._source import ImageSource, choose_scene, make_layout
from ienfd.io._tiffmeta import Layout
from ienfd.io._types import ImageReadError

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

# PNG colour type: (samples, RGB?)
_PNG_COLOUR = {0: (1, False), 2: (3, True), 3: (3, True), 4: (2, False), 6: (4, True)}
# JPEG start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _png_header(path: str, head: bytes) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Shape, dtype and RGB flag from the PNG signature and IHDR chunk."""
    if len(head) < 33 or head[:8] != PNG_MAGIC or head[12:16] != b"IHDR":
        raise ImageReadError(path, "corrupt or truncated PNG: no PNG signature and IHDR header")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    if colour not in _PNG_COLOUR or depth not in (1, 2, 4, 8, 16):
        raise ImageReadError(path, f"corrupt PNG: colour type {colour}, bit depth {depth}")
    samples, rgb = _PNG_COLOUR[colour]
    if colour == 3:  # palette: decoded to 8-bit RGB
        depth = 8
    if depth < 8:
        raise ImageReadError(path, f"a {depth}-bit PNG is not a microscope image ienfd can analyse")
    dtype = np.dtype(np.uint16 if depth == 16 else np.uint8)
    shape = (height, width) if samples == 1 else (height, width, samples)
    return shape, dtype, rgb


def _jpeg_header(path: str, data: bytes) -> tuple[tuple[int, ...], np.dtype, bool]:
    """Shape, dtype and RGB flag from the JPEG start-of-frame segment."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _SOF and pos + 10 <= len(data):
            precision, height, width, components = struct.unpack(">BHHB", data[pos + 4 : pos + 10])
            if components not in (1, 3):
                raise ImageReadError(
                    path,
                    f"a JPEG with {components} colour components (CMYK?) is not supported; "
                    "save it as RGB or greyscale",
                )
            dtype = np.dtype(np.uint16 if precision > 8 else np.uint8)
            shape = (height, width) if components == 1 else (height, width, 3)
            return shape, dtype, components == 3
        pos += 2 + length
    raise ImageReadError(path, "corrupt or truncated JPEG: no frame header (SOF) found")


class CameraSource(ImageSource):
    """A PNG or JPEG image (one scene, one level, no pixel size)."""

    def __init__(self, path: str, kind: str, scene: int | str | None) -> None:
        self.path = path
        self.format_name = kind
        self.notes = []
        self.scenes = ("image",)
        self.scene = choose_scene(path, self.scenes, scene)
        self.pixel_size = None
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        if kind == "PNG":
            shape, self._dtype, self._rgb = _png_header(path, head)
        else:
            shape, self._dtype, self._rgb = _jpeg_header(path, head)
        if len(shape) == 3 and shape[2] == 2:  # grey + alpha: the grey plane
            shape = shape[:2]
            self.notes.append("PNG grey with alpha: the alpha channel is ignored")
        self._shape = shape
        self._axes = "YX" if len(shape) == 2 else "YXS"
        self.level_shapes = (shape,)
        self.channel_names = ("red", "green", "blue") if self._rgb else ()

    def layout(self, level: int) -> Layout:
        self.check_level(level)
        return make_layout(
            self.path,
            self._axes,
            self._shape,
            self._dtype,
            rgb=self._rgb,
            format_name=self.format_name,
        )

    def read(self, level: int) -> np.ndarray:
        self.layout(level)
        return _decode(self.path, self.format_name, self._shape, self._dtype.str)

    def lazy(self, level: int) -> dask.array.Array:
        self.layout(level)
        whole = max(self._shape[:2])
        read = functools.partial(
            _decode_box, self.path, self.format_name, self._shape, self._dtype.str
        )
        return block_array(self._shape, self._dtype, self._axes, read, chunk=whole)


def _decode(path: str, kind: str, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    import imagecodecs

    with open(path, "rb") as fh:
        raw = fh.read()
    if kind == "JPEG" and not raw.rstrip(b"\x00").endswith(b"\xff\xd9"):
        # libjpeg only warns on a premature end and fills the rest: refuse it here
        raise ImageReadError(
            path, "corrupt or truncated JPEG: the file does not end with the end-of-image marker"
        )
    try:
        if kind == "PNG":
            data = imagecodecs.png_decode(raw)
        else:
            data = imagecodecs.jpeg8_decode(raw)
    except Exception as exc:  # imagecodecs' PngError, Jpeg8Error, ...
        raise ImageReadError(
            path, f"corrupt or truncated {kind}: {type(exc).__name__}: {exc}"
        ) from exc
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[2] == 2:
        data = data[..., 0]
    if data.shape != shape:
        raise ImageReadError(
            path,
            f"corrupt {kind}: the header says shape {shape} but the data decodes to {data.shape}",
        )
    return data.astype(np.dtype(dtype), copy=False)


def _decode_box(
    path: str, kind: str, shape: tuple[int, ...], dtype: str, box: tuple[tuple[int, int], ...]
) -> np.ndarray:
    data = _decode(path, kind, shape, dtype)
    return data[tuple(slice(a, b) for a, b in box)]
