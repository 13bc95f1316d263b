"""Metadata of TIFF, OME-TIFF and ImageJ TIFF files, read without touching pixels.

Everything here works on an open :class:`tifffile.TiffFile` and looks only at
tags, the OME-XML and the ImageJ description: the image layout (which axis is
the channel, the z-stack, the RGB samples), channel names, the physical pixel
size and its source, and the guard rails that must pass before any pixel is
allocated (size limit, truncation, dtype).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import tifffile

from ienfd.io._types import ImageReadError, Modality, PixelSize, PixelSizeSource

__all__: list[str] = []  # private module

LayoutKind = Literal["rgb", "channels", "grey"]

MIN_SIDE = 64
"""Smallest accepted image side, in pixels."""

PLAUSIBLE_UM = (0.01, 100.0)
"""Range of plausible pixel sizes, in µm (inclusive)."""

MAX_ANISOTROPY = 0.05
"""Largest accepted relative difference between row and column pixel sizes."""

# Length units to micrometres. OME UnitsLength symbols, ImageJ unit strings and
# their common spellings (micro sign U+00B5 and Greek mu U+03BC both occur).
_UNIT_UM: dict[str, float] = {
    "m": 1e6,
    "meter": 1e6,
    "dm": 1e5,
    "cm": 1e4,
    "mm": 1e3,
    "µm": 1.0,
    "μm": 1.0,
    "um": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "micrometre": 1.0,
    "nm": 1e-3,
    "pm": 1e-6,
    "Å": 1e-4,
    "å": 1e-4,
    "angstrom": 1e-4,
    "in": 25400.0,
    "inch": 25400.0,
    "inches": 25400.0,
    "thou": 25.4,
}
_NON_PHYSICAL_UNITS = frozenset({"", "pixel", "pixels", "px", "reference frame"})

# tifffile only logs these problems while parsing, then falls back to a smaller or
# different series (fewer pages, zero-filled frames, a generic layout): in ienfd they
# mean a truncated or corrupt file, never a readable one.
_CORRUPTION = re.compile(
    r"invalid page offset|offset to first page|corrupt|missing|expected \d+ (frames|segments)"
    r"|failed to read|incorrect \w+ count|does not match|incompletely written"
    r"|invalid subifds|is empty|returning subset|failed to reshape|invalid value offset",
    re.IGNORECASE,
)
# A tag whose value lies beyond the end of the file (tifffile's words): the file was cut short.
# tifffile writes an OME-TIFF's OME-XML last, so a cut file loses it first.
_TAG_OFFSET = re.compile(r"TiffTag (\d+) @\d+> invalid value offset (\d+)")
# tifffile could not parse the OME-XML and fell back to reading bare pages.
_OME_FAILED = re.compile(r"OME series raised (.*)", re.DOTALL)

_APERIO_MPP = re.compile(r"\|\s*MPP\s*=\s*([^|\r\n]*)")

# TIFF ResolutionUnit codes to micrometres (1 = NONE is not a physical unit).
_RESUNIT_UM: dict[int, float] = {2: 25400.0, 3: 1e4, 4: 1e3, 5: 1.0}
_RESUNIT_NAME: dict[int, str] = {2: "inch", 3: "cm", 4: "mm", 5: "µm"}


@dataclass(frozen=True)
class Layout:
    """Interpretation of one pyramid level of the first image series."""

    axes: str
    """tifffile axes of the level (length-1 axes squeezed)."""
    shape: tuple[int, ...]
    dtype: np.dtype
    kind: LayoutKind
    """``'rgb'`` (RGB or RGBA samples), ``'channels'`` (non-RGB channel axis) or ``'grey'``."""
    channel_axis: str | None
    """Axis holding channels or RGB samples (``'C'`` or ``'S'``), or None."""
    n_channels: int
    """Channels without alpha (3 for RGB/RGBA, 1 for grey)."""
    n_z: int
    """Number of z-planes (1 without a Z axis)."""
    rows: int
    cols: int

    @property
    def nbytes(self) -> int:
        """Bytes of the whole level as tifffile would allocate it."""
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass
class FileMeta:
    """What the metadata of a file says, for one requested pyramid level."""

    path: str
    series: tifffile.TiffPageSeries
    """The requested pyramid level of the first image series."""
    layout: Layout
    level: int
    level_shapes: tuple[tuple[int, ...], ...]
    channel_names: tuple[str, ...]
    pixel_size: PixelSize | None
    """Pixel size of the requested level, or None when the file has none."""
    base_pixel_size: PixelSize | None
    """Pixel size of the full-resolution level, or None."""
    scale: tuple[float, float]
    """Downsampling factor (rows, cols) of the requested level."""
    notes: list[str] = field(default_factory=list)
    pixel_size_error: ImageReadError | None = None
    """Why the metadata's pixel size is unusable (unknown unit, implausible...), or None."""
    series_index: int = 0
    """Position of the image's series in ``tif.series``."""


# Images a slide scanner stores beside the slide (tifffile's series names): not sections.
_SCANNER_EXTRAS = frozenset({"thumbnail", "label", "macro", "overview"})

_SCANNER_FORMATS = (
    ("svs", "Aperio SVS"),
    ("ndpi", "Hamamatsu NDPI"),
    ("scn", "Leica SCN"),
    ("philips", "Philips TIFF"),
    ("bif", "Ventana BIF"),
    ("qpi", "Akoya QPTIFF"),
    ("ome", "OME-TIFF"),
    ("imagej", "ImageJ TIFF"),
)


def tiff_format(tif: tifffile.TiffFile) -> str:
    """The TIFF flavour of an open file, as named in messages (``'Aperio SVS'``, ``'TIFF'``)."""
    for flag, name in _SCANNER_FORMATS:
        try:
            if getattr(tif, f"is_{flag}", False) or getattr(tif.pages.first, f"is_{flag}", False):
                return name
        except Exception:  # a damaged first page: the plain name will do
            return "TIFF"
    return "TIFF"


def open_tiff(path: str, notes: list[str]) -> tifffile.TiffFile:
    """Open a TIFF file, turning every failure into :class:`ImageReadError`.

    Warnings tifffile logs while parsing the header (odd but readable
    metadata) are appended to ``notes``.

    Raises
    ------
    ImageReadError
        The path does not exist, is not a regular file, cannot be opened, or is
        not a TIFF file tifffile can parse.
    """
    if not os.path.exists(path):
        raise ImageReadError(path, "no such file")
    if not os.path.isfile(path):
        raise ImageReadError(path, "not a regular file (a directory?)")
    try:
        with tifffile_log(notes):
            return tifffile.TiffFile(path)
    except OSError as exc:
        raise ImageReadError(path, f"cannot open the file: {exc}") from exc
    except Exception as exc:  # tifffile raises many kinds on garbage bytes
        raise ImageReadError(
            path,
            f"not a TIFF file, or a corrupt one: tifffile cannot parse it "
            f"({type(exc).__name__}: {exc})",
        ) from exc


class _Recorder(logging.Handler):
    """Collect tifffile log records of level WARNING and above."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def tifffile_log(messages: list[str]) -> Iterator[None]:
    """Append tifffile warnings logged inside the block to ``messages``."""
    logger = logging.getLogger("tifffile")
    recorder = _Recorder()
    logger.addHandler(recorder)
    try:
        yield
    finally:
        logger.removeHandler(recorder)
        messages.extend(recorder.messages)


def image_series(
    tif: tifffile.TiffFile, path: str, notes: list[str] | None = None
) -> list[tifffile.TiffPageSeries]:
    """The file's series, corruption reported by tifffile turned into an error.

    tifffile's warnings while parsing are appended to ``notes`` when it is
    given; a corruption warning among all of ``notes`` is an error.

    Raises
    ------
    ImageReadError
        tifffile cannot parse the series or reported corruption while doing so.
    """
    notes = [] if notes is None else notes
    with tifffile_log(notes):
        try:
            all_series = list(tif.series)
        except Exception as exc:
            raise ImageReadError(
                path, f"corrupt TIFF: cannot parse the image series ({exc})"
            ) from exc
    _check_truncated_tags(path, notes)
    _check_ome_xml(tif, path, notes)
    fatal = [note for note in notes if _CORRUPTION.search(note)]
    if fatal:
        raise ImageReadError(
            path, "corrupt or truncated TIFF: tifffile reported: " + "; ".join(fatal[:3])
        )
    return all_series


def _check_truncated_tags(path: str, notes: list[str]) -> None:
    """Raise when tifffile found a tag whose value runs past the end of the file.

    tifffile reports "invalid value offset" for a value that starts before
    byte 8 or does not end within the file; the second is a file cut short.

    Raises
    ------
    ImageReadError
        ``truncated TIFF: ...``, naming the tag (the OME-XML for tag 270) and
        where the file ends.
    """
    size = os.path.getsize(path)
    for note in notes:
        match = _TAG_OFFSET.search(note)
        if match is None or int(match.group(2)) < 8:
            continue
        code = int(match.group(1))
        name = tifffile.TIFF.TAGS.get(code, str(code))
        what = f"tag {code} ({name}" + (
            ", which holds an OME-TIFF's OME-XML)" if code == 270 else ")"
        )
        raise ImageReadError(
            path,
            f"truncated TIFF: the file is cut short: it ends at byte {size} but its {what} "
            f"runs from byte {match.group(2)} past that end (an incomplete download or copy); "
            "copy the file again",
        )


def _looks_like_ome(description: str) -> bool:
    """An ImageDescription meant as OME-XML (whether or not it parses)."""
    head = description.lstrip()[:2000]
    return (head.startswith("<?xml") or head.startswith("<OME")) and (
        "<OME" in head or "openmicroscopy.org/Schemas/OME" in head
    )


def _check_ome_xml(tif: tifffile.TiffFile, path: str, notes: list[str]) -> None:
    """Raise when the OME-XML is there but cannot be parsed.

    tifffile then reads the file as bare pages: no pixel size, no channel
    names, no axes; reading on would take z-planes or scenes for channels.

    Raises
    ------
    ImageReadError
        ``OME-XML is malformed: ...`` with the parser's words.
    """
    for note in notes:
        match = _OME_FAILED.search(note)
        if match is not None:
            raise ImageReadError(
                path,
                f"OME-XML is malformed: tifffile cannot parse it ({match.group(1).strip()}); "
                "without it the pixel size, channels and axes are unknown: export the "
                "OME-TIFF again",
            )
    try:
        description = tif.pages.first.description
    except Exception:  # a damaged first page is reported where its pixels are read
        return
    if not _looks_like_ome(description):
        return
    try:
        ET.fromstring(description)
    except ET.ParseError as exc:
        raise ImageReadError(
            path,
            f"OME-XML is malformed: {exc}; without it the pixel size, channels and axes are "
            "unknown: export the OME-TIFF again",
        ) from None


def scene_series(all_series: list[tifffile.TiffPageSeries]) -> list[int]:
    """Indices of the series that are images to analyse: not a scanner's thumbnail,
    label or macro image (all of them if nothing else is left)."""
    kept = [
        k
        for k, series in enumerate(all_series)
        if str(series.name).casefold() not in _SCANNER_EXTRAS
    ]
    return kept or list(range(len(all_series)))


def describe(
    tif: tifffile.TiffFile, path: str, level: int, notes: list[str], scene: int = 0
) -> FileMeta:
    """Read the layout, channel names and pixel size of ``level`` from metadata.

    ``scene`` counts the series :func:`scene_series` keeps (the first by default).

    Raises
    ------
    ImageReadError
        tifffile reported corruption while parsing (invalid page offsets,
        missing frames or segments, metadata not matching the pages), no
        image in the file, ``level`` not in the file, an unsupported layout
        (time series, unlabelled page stacks, palette or CMYK colour, RGB with
        extra channels or planes), an unsupported dtype (bool, complex), an
        image smaller than 64 pixels on a side, or a pixel size that is
        present but unusable (unknown unit, implausible value, anisotropic).
    """
    notes = list(notes)
    all_series = image_series(tif, path, notes)
    if not all_series:
        raise ImageReadError(path, "the TIFF file holds no image")
    scenes = scene_series(all_series)
    index = scenes[scene]
    series = all_series[index]
    if len(scenes) > 1 and scene == 0:
        listed = ", ".join(repr(str(all_series[k].name or k)) for k in scenes)
        notes.append(f"the file holds {len(scenes)} image series ({listed}); read the first one")
    levels = series.levels
    if level >= len(levels):
        raise ImageReadError(
            path,
            f"level {level} requested but the file has {len(levels)} "
            f"resolution level(s) (0-{len(levels) - 1})",
        )
    level_series = levels[level]
    layout = _layout(level_series, path)
    level_shapes = tuple(tuple(int(n) for n in lv.shape) for lv in levels)
    base = _layout(levels[0], path) if level else layout
    scale = (base.rows / layout.rows, base.cols / layout.cols)

    names = _channel_names(tif, layout, index)
    size_error: ImageReadError | None = None
    try:
        base_size = _metadata_pixel_size(tif, series, path, notes)
    except ImageReadError as exc:  # unusable metadata: an error unless the user gives the size
        base_size, size_error = None, exc
    size = _scaled(base_size, scale) if base_size is not None else None
    return FileMeta(
        path=path,
        series=level_series,
        layout=layout,
        level=level,
        level_shapes=level_shapes,
        channel_names=names,
        pixel_size=size,
        base_pixel_size=base_size,
        scale=scale,
        notes=notes,
        pixel_size_error=size_error,
        series_index=index,
    )


def _scaled(size: PixelSize, scale: tuple[float, float]) -> PixelSize:
    if scale == (1.0, 1.0):
        return size
    return PixelSize(size.row_um * scale[0], size.col_um * scale[1], size.source)


def scale_pixel_size(size: PixelSize, scale: tuple[float, float]) -> PixelSize:
    """Pixel size of a level downsampled by ``scale`` (rows, cols)."""
    return _scaled(size, scale)


def check_array(path: str, axes: str, dtype: np.dtype, found: str) -> None:
    """Raise for a pixel type the analysis cannot use or axes without a single Y and X.

    ``found`` describes the array in the message.
    """
    if dtype.kind == "b":
        raise ImageReadError(path, f"boolean images are not supported ({found})")
    if dtype.kind == "c":
        raise ImageReadError(path, f"complex-valued images are not supported ({found})")
    if dtype.kind not in "uif":
        raise ImageReadError(path, f"unsupported pixel type ({found})")
    if "Y" not in axes or "X" not in axes or len(set(axes)) != len(axes):
        raise ImageReadError(path, f"unsupported layout: no single Y and X axis ({found})")


def time_series_error(path: str, n: int, found: str) -> ImageReadError:
    """The error for a time axis of ``n`` points."""
    return ImageReadError(
        path,
        f"a time series with {n} time points ({found}); ienfd analyses a "
        "single time point: save one time point as its own file",
    )


def check_min_side(path: str, rows: int, cols: int) -> None:
    """Raise for an image with fewer than :data:`MIN_SIDE` pixels on a side."""
    if rows < MIN_SIDE or cols < MIN_SIDE:
        raise ImageReadError(
            path,
            f"image too small: {rows}x{cols} image (rows x cols); at least "
            f"{MIN_SIDE} pixels on a side are needed",
        )


def check_rgb_samples(path: str, n: int, found: str) -> None:
    """Raise unless an RGB image has 3 or 4 samples per pixel."""
    if n not in (3, 4):
        raise ImageReadError(
            path, f"an RGB image with {n} samples per pixel ({found}); expected 3 or 4"
        )


def channel_axis_of(path: str, sizes: dict[str, int], found: str) -> str | None:
    """The axis holding channels (``'C'``, else ``'S'``, else None); raise if both are there."""
    if "C" in sizes and "S" in sizes:
        raise ImageReadError(
            path, f"unsupported layout: both a channel and a samples axis ({found})"
        )
    return "C" if "C" in sizes else "S" if "S" in sizes else None


def plain_layout(
    axes: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    sizes: dict[str, int],
    channel_axis: str | None,
) -> Layout:
    """The layout of a non-RGB array: grey without a channel axis, else channels."""
    rows, cols, n_z = sizes["Y"], sizes["X"], sizes.get("Z", 1)
    if channel_axis is None:
        return Layout(axes, shape, dtype, "grey", None, 1, n_z, rows, cols)
    return Layout(
        axes, shape, dtype, "channels", channel_axis, sizes[channel_axis], n_z, rows, cols
    )


def _layout(series: tifffile.TiffPageSeries, path: str) -> Layout:
    """Classify the axes of a series level; raise for what the core cannot use."""
    axes = str(series.axes)
    shape = tuple(int(n) for n in series.shape)
    dtype = np.dtype(series.dtype)
    found = f"axes {axes!r}, shape {shape}, dtype {dtype}"
    check_array(path, axes, dtype, found)

    sizes = dict(zip(axes, shape, strict=True))
    # A stack of pages with no metadata saying what they are (tifffile's axes I
    # or Q) is refused below, however short: its pages may be channels,
    # z-planes or sections, and a wrong guess gives a wrong count.
    for ax, n in sizes.items():
        if ax in "YXSCZ":
            continue
        if ax == "T":
            raise time_series_error(path, n, found)
        if ax in "IQ":
            raise ImageReadError(
                path,
                f"unsupported layout: a stack of {n} pages with no metadata saying "
                f"whether they are channels or z-planes ({found}); save the image as "
                "OME-TIFF or an ImageJ hyperstack with its channel (C) and Z axes",
            )
        name = tifffile.TIFF.AXES_NAMES.get(ax, ax)
        raise ImageReadError(
            path,
            f"unsupported layout: a {name!r} axis of length {n} ({found}); "
            "ienfd reads Y, X, channel (C or samples S) and Z axes",
        )

    rows, cols = sizes["Y"], sizes["X"]
    check_min_side(path, rows, cols)

    photometric = int(series.keyframe.photometric)
    n_z = sizes.get("Z", 1)
    if photometric in (int(tifffile.PHOTOMETRIC.RGB), int(tifffile.PHOTOMETRIC.YCBCR)):
        check_rgb_samples(path, sizes.get("S", 1), found)
        if sizes.get("C", 1) > 1:
            raise ImageReadError(
                path, f"unsupported layout: RGB samples with an extra channel axis ({found})"
            )
        return Layout(axes, shape, dtype, "rgb", "S", 3, n_z, rows, cols)
    if photometric != int(tifffile.PHOTOMETRIC.MINISBLACK):
        name = tifffile.PHOTOMETRIC(photometric).name
        raise ImageReadError(
            path,
            f"photometric interpretation {name} is not supported ({found}); "
            "save the image as RGB (bright-field) or greyscale channels (fluorescence)",
        )
    return plain_layout(axes, shape, dtype, sizes, channel_axis_of(path, sizes, found))


def local_tag(tag: str) -> str:
    """XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _ome_pixels(tif: tifffile.TiffFile, index: int = 0) -> ET.Element | None:
    """The ``Pixels`` element of the ``index``-th OME ``Image``, or None."""
    xml = tif.ome_metadata
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    images = [image for image in root if local_tag(image.tag) == "Image"]
    if index >= len(images):
        return None
    for child in images[index]:
        if local_tag(child.tag) == "Pixels":
            return child
    return None


def _series_index(tif: tifffile.TiffFile, series: tifffile.TiffPageSeries) -> int:
    """Position of ``series`` among the file's series (its OME ``Image``), 0 if not found."""
    for k, candidate in enumerate(tif.series):
        if candidate is series:
            return k
    return 0


def _channel_names(tif: tifffile.TiffFile, layout: Layout, index: int = 0) -> tuple[str, ...]:
    """Channel names from OME ``Channel/@Name`` or ImageJ ``Labels``, if complete."""
    n = 1 if layout.kind == "grey" else layout.n_channels
    if layout.kind == "rgb":
        return ("red", "green", "blue")
    pixels = _ome_pixels(tif, index)
    if pixels is not None:
        names = [ch.get("Name", "").strip() for ch in pixels if local_tag(ch.tag) == "Channel"]
        if len(names) == n and all(names):
            return tuple(names)
        return ()
    ij = tif.imagej_metadata
    if ij:
        labels = ij.get("Labels")
        if isinstance(labels, (list, tuple)) and labels:
            labels = [str(x).strip() for x in labels]
            first = labels[:n]
            planes = len(labels) // n if len(labels) % n == 0 else 0
            same = planes > 0 and all(labels[i * n : (i + 1) * n] == first for i in range(planes))
            if len(first) == n and all(first) and same:
                return tuple(first)
    return ()


def _unit_um(unit: str) -> float | None:
    """Micrometres per ``unit``; None for a non-physical unit; KeyError if unknown."""
    key = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ")
    if key.lower() in _NON_PHYSICAL_UNITS:
        return None
    if key in _UNIT_UM:
        return _UNIT_UM[key]
    return _UNIT_UM[key.lower()]


def _metadata_pixel_size(
    tif: tifffile.TiffFile, series: tifffile.TiffPageSeries, path: str, notes: list[str]
) -> PixelSize | None:
    """Full-resolution pixel size: OME, ImageJ, Aperio MPP, Philips spacing, resolution tags."""
    readers = (
        _ome_pixel_size,
        _imagej_pixel_size,
        _aperio_pixel_size,
        _philips_pixel_size,
        _tiff_pixel_size,
    )
    for reader in readers:
        found = reader(tif, series, path, notes)
        if found is not None:
            row_um, col_um, source, where = found
            check_pixel_size(path, row_um, col_um, source, where)
            return PixelSize(row_um, col_um, source)
    return None


_Found = tuple[float, float, PixelSizeSource, str]


def _ome_pixel_size(
    tif: tifffile.TiffFile, series: tifffile.TiffPageSeries, path: str, notes: list[str]
) -> _Found | None:
    pixels = _ome_pixels(tif, _series_index(tif, series))
    if pixels is None:
        return None
    values: dict[str, float] = {}
    for ax in ("X", "Y"):
        raw = pixels.get(f"PhysicalSize{ax}")
        if raw is None:
            continue
        unit = pixels.get(f"PhysicalSize{ax}Unit", "µm")
        try:
            value = float(raw)
        except ValueError:
            raise ImageReadError(path, f"OME PhysicalSize{ax}={raw!r} is not a number") from None
        try:
            factor = _unit_um(unit)
        except KeyError:
            raise ImageReadError(
                path,
                f"OME PhysicalSize{ax}Unit={unit!r} is not a length unit ienfd knows; "
                "pass pixel_size_um",
                remedy="pixel_size_um",
            ) from None
        if factor is None:
            notes.append(f"OME PhysicalSize{ax} is in {unit!r}, not a physical unit; ignored")
            continue
        values[ax] = value * factor
    if not values:
        return None
    if len(values) == 1:
        (ax, value), other = next(iter(values.items())), "Y" if "X" in values else "X"
        notes.append(f"OME PhysicalSize{other} missing; assumed equal to PhysicalSize{ax}")
        values[other] = value
    where = f"OME PhysicalSizeY={values['Y']:g} µm, PhysicalSizeX={values['X']:g} µm"
    return values["Y"], values["X"], "ome", where


def _resolution(page: tifffile.TiffPage, code: int) -> float | None:
    """Pixels per unit from an X/YResolution tag, or None if absent or zero."""
    tag = page.tags.get(code)
    if tag is None:
        return None
    try:
        num, den = tag.value
        value = float(num) / float(den)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def _imagej_pixel_size(
    tif: tifffile.TiffFile, series: tifffile.TiffPageSeries, path: str, notes: list[str]
) -> _Found | None:
    ij = tif.imagej_metadata
    if not ij or "unit" not in ij:
        return None
    unit = str(ij["unit"])
    try:
        factor = _unit_um(unit)
    except KeyError:
        raise ImageReadError(
            path,
            f"ImageJ unit {unit!r} is not a length unit ienfd knows; pass pixel_size_um",
            remedy="pixel_size_um",
        ) from None
    if factor is None:
        return None
    page = series.keyframe
    xres, yres = _resolution(page, 282), _resolution(page, 283)
    if xres is None:
        return None
    yres = xres if yres is None else yres
    row_um, col_um = factor / yres, factor / xres
    where = f"ImageJ unit {unit!r} with {yres:g} x {xres:g} pixels per {unit}"
    return row_um, col_um, "imagej", where


def _aperio_pixel_size(
    tif: tifffile.TiffFile, series: tifffile.TiffPageSeries, path: str, notes: list[str]
) -> _Found | None:
    """Aperio SVS: ``MPP = 0.2520`` (µm per pixel) in the ImageDescription."""
    if not tif.pages.first.is_svs:
        return None
    # key = value fields separated by "|" after a header line (the Aperio convention)
    match = _APERIO_MPP.search(tif.pages.first.description)
    if match is None:
        notes.append("Aperio SVS description without an MPP field")
        return None
    raw = match.group(1).strip()
    try:
        value = float(raw)
    except ValueError:
        raise ImageReadError(path, f"Aperio SVS MPP = {raw!r} is not a number") from None
    return value, value, "aperio-mpp", f"Aperio SVS MPP = {value:g}"


def _philips_pixel_size(
    tif: tifffile.TiffFile, series: tifffile.TiffPageSeries, path: str, notes: list[str]
) -> _Found | None:
    """Philips TIFF: the first ``DICOM_PIXEL_SPACING`` (row, column, in mm) of the XML."""
    xml = tif.philips_metadata
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ImageReadError(path, f"Philips TIFF: unreadable XML description ({exc})") from None
    for elem in root.iter("Attribute"):
        if elem.get("Name") == "DICOM_PIXEL_SPACING" and elem.text:
            try:
                row_mm, col_mm = (float(v) for v in elem.text.replace('"', "").split()[:2])
            except ValueError:
                raise ImageReadError(
                    path, f"Philips TIFF DICOM_PIXEL_SPACING {elem.text!r} is not two numbers"
                ) from None
            where = f"Philips DICOM_PIXEL_SPACING {row_mm:g} x {col_mm:g} mm"
            return row_mm * 1e3, col_mm * 1e3, "philips", where
    return None


def _tiff_pixel_size(
    tif: tifffile.TiffFile, series: tifffile.TiffPageSeries, path: str, notes: list[str]
) -> _Found | None:
    page = series.keyframe
    xres, yres = _resolution(page, 282), _resolution(page, 283)
    if xres is None:
        return None
    unit = int(page.tags.valueof(296, default=2))  # TIFF 6.0 default: inch
    if unit not in _RESUNIT_UM:
        return None  # RESUNIT.NONE: an aspect ratio, not a physical size
    yres = xres if yres is None else yres
    factor = _RESUNIT_UM[unit]
    name = _RESUNIT_NAME[unit]
    where = f"TIFF resolution tags: {yres:g} x {xres:g} pixels per {name}"
    return factor / yres, factor / xres, "tiff-resolution", where


def check_pixel_size(
    path: str, row_um: float, col_um: float, source: PixelSizeSource, where: str
) -> None:
    """Refuse implausible or strongly anisotropic pixel sizes.

    Raises
    ------
    ImageReadError
        A size outside 0.01-100 µm or row and column sizes differing by > 5 %.
    """
    lo, hi = PLAUSIBLE_UM
    for value in (row_um, col_um):
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ImageReadError(
                path,
                f"implausible pixel size {row_um:.6g} x {col_um:.6g} µm (rows x cols) "
                f"from {where}; expected {lo}-{hi} µm; pass pixel_size_um",
                remedy="pixel_size_um",
            )
    if abs(row_um - col_um) > MAX_ANISOTROPY * min(row_um, col_um):
        raise ImageReadError(
            path,
            f"anisotropic pixels {row_um:.6g} x {col_um:.6g} µm (rows x cols) from {where}; "
            "the analysis assumes square pixels: resample the image to square pixels",
        )


def guess_modality(layout: Layout) -> Modality | None:
    """Modality from the layout alone; None for a single greyscale channel."""
    if layout.kind == "rgb":
        if layout.dtype in (np.dtype(np.uint8), np.dtype(np.uint16)):
            return "brightfield"
        return None
    if layout.kind == "channels":
        return "fluorescence"
    return None


def check_segments(
    tif: tifffile.TiffFile, level_series: tifffile.TiffPageSeries, path: str
) -> None:
    """Refuse a level whose pages or strips/tiles are missing or beyond the end of file.

    Raises
    ------
    ImageReadError
        A page of the series is missing, or a strip or tile lies beyond the end
        of the file (a truncated download or copy).
    """
    size = os.path.getsize(path)
    for index, page in enumerate(level_series):
        if page is None:
            raise ImageReadError(
                path, f"corrupt or truncated TIFF: page {index} of the image is missing"
            )
        if not isinstance(page, (tifffile.TiffPage, tifffile.TiffFrame)):
            continue
        offsets, counts = page.dataoffsets, page.databytecounts
        for offset, count in zip(offsets, counts, strict=False):
            if count and offset + count > size:
                raise ImageReadError(
                    path,
                    f"truncated TIFF: image data at byte {offset}-{offset + count} lies "
                    f"beyond the end of the file ({size} bytes)",
                )
