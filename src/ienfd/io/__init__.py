"""File input and output: the only part of ienfd that touches files."""

from ienfd.io._correction import (
    CORRECTION_FORMAT,
    CORRECTION_SUFFIX,
    MAX_LENGTH_FACTOR,
    MIN_LENGTH_UM,
    Correction,
    CorrectionError,
    CorrectionEvent,
    bind_correction,
    check_plausible,
    correction_path,
    correction_problem,
    read_correction,
    result_key,
    write_correction,
)
from ienfd.io._formats import READ_SUFFIXES, is_image_folder
from ienfd.io._hash import file_sha256
from ienfd.io._junction import JunctionFileError, read_junction
from ienfd.io._overlay import OverlayInfo, save_overlay
from ienfd.io._quality import UNCHECKED_REASON, ResultQuality, result_quality
from ienfd.io._read import (
    ImageInfo,
    choose_channels,
    describe_image,
    open_lazy,
    probe_image,
    read_section,
)
from ienfd.io._types import (
    FileError,
    ImageReadError,
    Modality,
    PixelSize,
    SectionImage,
    parse_format_json,
)
from ienfd.io._write import atomic_path, write_bytes, write_json, write_section_tiff, write_text

__all__ = [
    "CORRECTION_FORMAT",
    "CORRECTION_SUFFIX",
    "MAX_LENGTH_FACTOR",
    "MIN_LENGTH_UM",
    "READ_SUFFIXES",
    "UNCHECKED_REASON",
    "Correction",
    "CorrectionError",
    "CorrectionEvent",
    "FileError",
    "ImageInfo",
    "ImageReadError",
    "JunctionFileError",
    "Modality",
    "OverlayInfo",
    "PixelSize",
    "ResultQuality",
    "SectionImage",
    "atomic_path",
    "bind_correction",
    "check_plausible",
    "choose_channels",
    "correction_path",
    "correction_problem",
    "describe_image",
    "file_sha256",
    "is_image_folder",
    "open_lazy",
    "parse_format_json",
    "probe_image",
    "read_correction",
    "read_junction",
    "read_section",
    "result_key",
    "result_quality",
    "save_overlay",
    "write_bytes",
    "write_correction",
    "write_json",
    "write_section_tiff",
    "write_text",
]
