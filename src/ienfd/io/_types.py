"""Small typed values shared by the readers, the writers and their callers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Modality = Literal["brightfield", "fluorescence"]
PixelSizeSource = Literal[
    "ome",
    "tiff-resolution",
    "imagej",
    "aperio-mpp",
    "philips",
    "czi-scaling",
    "ome-zarr",
    "lif",
    "nd2",
    "openslide-mpp",
    "user",
]
"""Where a pixel size came from: the metadata field read, or the user."""


class FileError(ValueError):
    """A file that cannot be used: ``path`` and ``reason``, both in the message."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def parse_format_json(
    path: str | os.PathLike[str], raw: bytes, error: type[FileError], *, expected_format: str
) -> dict[str, Any]:
    """The JSON object in ``raw`` (the bytes of ``path``), checked for its ``format`` key.

    Raises
    ------
    FileError
        Of type ``error``, naming ``path``: not UTF-8 JSON, not an object, or
        another ``format`` than ``expected_format``.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(path, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise error(path, "expected a JSON object")
    if data.get("format") != expected_format:
        raise error(path, f"format is {data.get('format')!r}; this ienfd reads {expected_format!r}")
    return data


class ImageReadError(FileError):
    """A file that cannot be read or analysed, with the file named in the message.

    ``remedy`` names the :func:`ienfd.io.read_section` argument that would let
    the file be read (``'pixel_size_um'``, ``'modality'``, ``'level'``...), or
    is None. The message is in the library's words; a front end (the command
    line) uses ``remedy`` to add its own hint (its option's name).
    """

    def __init__(
        self, path: str | os.PathLike[str], reason: str, *, remedy: str | None = None
    ) -> None:
        super().__init__(path, reason)
        self.remedy = remedy

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from (path, reason) and the attributes, e.g. across dask workers
        return (type(self), (self.path, self.reason), dict(self.__dict__))


@dataclass(frozen=True)
class PixelSize:
    """Physical size of one pixel, in micrometres, and where it came from."""

    row_um: float
    col_um: float
    source: PixelSizeSource

    @property
    def isotropic_um(self) -> float:
        """Mean of the row and column sizes (the core assumes square pixels)."""
        return 0.5 * (self.row_um + self.col_um)

    def replaces(self, recorded: PixelSize | None) -> str | None:
        """A note when this size, given by the user, differs from the one the file records.

        None when the file records none, or one within 1 % of this. A user's
        pixel size wins over the file's (the metadata may be wrong), but a
        density then rests on the user's word, so the result says so.

        >>> note = PixelSize(0.6, 0.6, "user").replaces(PixelSize(0.5, 0.5, "ome"))
        >>> note.split(" (")[0]
        'pixel size 0.6 µm given by the user replaces the 0.5 µm the file records'
        >>> PixelSize(0.5, 0.5, "user").replaces(PixelSize(0.502, 0.502, "ome")) is None
        True
        """
        if recorded is None:
            return None
        given, found = self.isotropic_um, recorded.isotropic_um
        if abs(given - found) <= 0.01 * found:
            return None
        return (
            f"pixel size {given:.4g} µm given by the user replaces the {found:.4g} µm the file "
            "records (densities scale with it: check which is right)"
        )


@dataclass
class SectionImage:
    """One section image as the core needs it, whatever the file layout was.

    Exactly one of ``rgb`` (bright-field) or ``fibre`` (fluorescence) is set.
    Arrays keep the file's dtype; axes are (row, col[, sample]).
    """

    path: str
    modality: Modality
    pixel_size: PixelSize
    rgb: np.ndarray | None = None
    fibre: np.ndarray | None = None
    membrane: np.ndarray | None = None
    channel_names: tuple[str, ...] = ()
    fibre_channel: int | None = None
    membrane_channel: int | None = None
    level: int = 0
    warnings: list[str] = field(default_factory=list)
    format_name: str = ""
    """The file's format as named in messages (``'TIFF'``, ``'CZI'``...); empty if unknown."""
    scene: str = ""
    """The scene read, for files that hold several; empty if unknown."""

    @property
    def planes(self) -> tuple[np.ndarray, np.ndarray | None]:
        """What the analysis reads: the RGB image, or the fibre and the membrane channel.

        The membrane is None in bright-field and in fluorescence without one.
        """
        if self.rgb is not None:
            return self.rgb, None
        assert self.fibre is not None  # read_section sets rgb or fibre
        return self.fibre, self.membrane

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the image plane."""
        plane = self.planes[0]
        return (int(plane.shape[0]), int(plane.shape[1]))

    @property
    def pixel_size_um(self) -> float:
        """Isotropic pixel size in µm."""
        return self.pixel_size.isotropic_um
