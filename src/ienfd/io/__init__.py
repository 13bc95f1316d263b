"""File input and output: the only part of ienfd that touches files."""

from ienfd.io._read import ImageInfo, open_lazy, probe_image, read_section
from ienfd.io._types import ImageReadError, Modality, PixelSize, SectionImage

__all__ = [
    "ImageInfo",
    "ImageReadError",
    "Modality",
    "PixelSize",
    "SectionImage",
    "open_lazy",
    "probe_image",
    "read_section",
]
