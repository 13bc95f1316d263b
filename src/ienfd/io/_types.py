"""Small typed values shared by the readers, the writers and their callers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Modality = Literal["brightfield", "fluorescence"]
PixelSizeSource = Literal["ome", "tiff-resolution", "imagej", "user"]


class FileError(ValueError):
    """A file that cannot be used: ``path`` and ``reason``, both in the message."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ImageReadError(FileError):
    """A file that cannot be read or analysed, with the file named in the message."""


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

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the image plane."""
        plane = self.rgb if self.rgb is not None else self.fibre
        assert plane is not None
        return (int(plane.shape[0]), int(plane.shape[1]))

    @property
    def pixel_size_um(self) -> float:
        """Isotropic pixel size in µm."""
        return self.pixel_size.isotropic_um
