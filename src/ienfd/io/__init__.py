"""File input and output: the only part of ienfd that touches files."""

from ienfd.io._types import ImageReadError, Modality, PixelSize, SectionImage

__all__ = ["ImageReadError", "Modality", "PixelSize", "SectionImage"]
