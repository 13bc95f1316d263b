"""Which reader opens a file: from its first bytes, then (for a directory) its zarr metadata.

The first bytes decide, not the name, so a renamed file is still read with
the right library, and a damaged one is named by the format its extension
promises ("corrupt or truncated CZI: ..."). Formats:

========================  ===========================  ==================
format                    detected by                  reader (package)
========================  ===========================  ==================
TIFF family               ``II*\\0``, ``MM\\0*``, BigTIFF  tifffile
CZI                       ``ZISRAWFILE``               pylibCZIrw
OME-Zarr                  a directory with zarr.json,  zarr
                          .zattrs or .zgroup
PNG, JPEG                 their signatures             imagecodecs
LIF                       ``0x70 00 00 00``            readlif
ND2                       ``0xDACEBE0A``               nd2
3DHistech MRXS            the ``.mrxs`` name           openslide-python
========================  ===========================  ==================
"""

from __future__ import annotations

import os

from ienfd.io._camera import JPEG_MAGIC, PNG_MAGIC, CameraSource
from ienfd.io._czi import CziSource, is_czi
from ienfd.io._lif import MAGIC as LIF_MAGIC
from ienfd.io._lif import LifSource
from ienfd.io._nd2 import MAGICS as ND2_MAGICS
from ienfd.io._nd2 import Nd2Source
from ienfd.io._omezarr import OmeZarrSource, is_zarr
from ienfd.io._openslide import OpenSlideSource
from ienfd.io._source import ImageSource
from ienfd.io._tiff import TiffSource, is_tiff
from ienfd.io._types import ImageReadError

__all__ = ["READ_SUFFIXES", "is_image_folder", "open_source"]

#: File name endings and the format each promises, for errors on unrecognised bytes.
EXTENSIONS: dict[str, str] = {
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".btf": "TIFF",
    ".svs": "Aperio SVS",
    ".ndpi": "Hamamatsu NDPI",
    ".scn": "Leica SCN",
    ".bif": "Ventana BIF",
    ".qptiff": "Akoya QPTIFF",
    ".czi": "CZI",
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".lif": "LIF",
    ".nd2": "ND2",
    ".zarr": "OME-Zarr",
    ".mrxs": "3DHistech MRXS",
}
READ_SUFFIXES: tuple[str, ...] = tuple(EXTENSIONS)
"""File name endings of the formats ienfd reads (``.zarr`` also ends ``.ome.zarr`` folders);
for finding inputs in a folder. The reader itself goes by the content, not the name."""

_NOT_READ = {
    ".vsi": "Olympus/Evident VSI",
    ".oir": "Olympus/Evident OIR",
    ".oib": "Olympus OIB",
    ".ims": "Imaris",
}
_TIFF_FAMILY = frozenset(
    {"TIFF", "Aperio SVS", "Hamamatsu NDPI", "Leica SCN", "Ventana BIF", "Akoya QPTIFF"}
)
READ_FORMATS = (
    "TIFF, OME-TIFF, ImageJ TIFF, Aperio SVS, Hamamatsu NDPI, Leica SCN, Philips TIFF, "
    "Ventana BIF, Akoya QPTIFF, CZI, OME-Zarr, PNG, JPEG, LIF, ND2, 3DHistech MRXS"
)


def is_image_folder(path: str | os.PathLike[str]) -> bool:
    """True for a folder that is one image (an OME-Zarr), not a folder of images.

    For finding inputs: such a folder is read as one file, not searched.

    >>> import tempfile
    >>> is_image_folder(tempfile.mkdtemp())
    False
    """
    return is_zarr(os.fspath(path))


def _suffix(path: str) -> str:
    name = os.path.basename(path.rstrip("/\\")).lower()
    if name.endswith(".ome.zarr"):
        return ".zarr"
    return os.path.splitext(name)[1]


def open_source(path: str, scene: int | str | None = None) -> ImageSource:
    """Open ``path`` with the reader its content calls for, on ``scene``.

    Raises
    ------
    ImageReadError
        No such file; a format ienfd does not read (the message lists those it
        reads); a file whose bytes do not match the format its name promises
        (named: "corrupt or truncated CZI"); a reader's optional package missing
        (the message names the ``pip install``); or any error of the reader.
    """
    if not os.path.exists(path):
        raise ImageReadError(path, "no such file")
    suffix = _suffix(path)
    if os.path.isdir(path):
        if is_zarr(path):
            return OmeZarrSource(path, scene)
        raise ImageReadError(
            path,
            "not a regular file: a directory that is not an OME-Zarr image (no zarr.json, "
            ".zattrs or .zgroup in it)",
        )
    if not os.path.isfile(path):
        raise ImageReadError(path, "not a regular file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ImageReadError(path, f"cannot open the file: {exc}") from exc

    if suffix == ".mrxs":  # an INI-style index beside its data folder: OpenSlide reads it
        return OpenSlideSource(path, "3DHistech MRXS", scene)
    if is_tiff(head):
        return TiffSource(path, scene)
    if is_czi(head):
        return CziSource(path, scene)
    if head.startswith(PNG_MAGIC):
        return CameraSource(path, "PNG", scene)
    if head.startswith(JPEG_MAGIC):
        return CameraSource(path, "JPEG", scene)
    if head[:4] == LIF_MAGIC and suffix == ".lif":
        return LifSource(path, scene)
    if head[:4] in ND2_MAGICS and suffix == ".nd2":
        return Nd2Source(path, scene)

    if suffix in _NOT_READ:
        raise ImageReadError(
            path,
            f"{_NOT_READ[suffix]} files are not read by ienfd; convert the image to OME-TIFF "
            "(e.g. with Bio-Formats' bfconvert or QuPath) and read that",
        )
    if suffix not in EXTENSIONS:
        raise ImageReadError(
            path,
            f"not an image format ienfd reads (its first bytes are {head[:8]!r}); it reads "
            f"{READ_FORMATS}",
        )
    name = EXTENSIONS[suffix]
    if name in _TIFF_FAMILY:
        return TiffSource(path)  # tifffile says what is wrong ("not a TIFF file, or a corrupt one")
    what = "the file is empty" if not head else f"its first bytes are not a {name} header"
    raise ImageReadError(path, f"not a {name} file, or a corrupt or truncated one: {what}")
