"""Read section images of every format ienfd reads into :class:`SectionImage`.

The format is told from the file's content by :func:`ienfd.io._formats.open_source`,
which returns an :class:`~ienfd.io._source.ImageSource` (TIFF family, CZI,
OME-Zarr, PNG/JPEG, LIF, ND2, MRXS); every decision made from it (modality,
channels, projection, pixel size) is made here, the same for every format.

Entry points, from cheapest to most expensive:

- :func:`probe_image` reads metadata only (shape per level, axes, channels,
  pixel size) so that the batch layer can plan work on whole-slide images;
- :func:`open_lazy` returns a dask array over one pyramid level, read tile by
  tile on demand;
- :func:`read_section` reads one level into memory and returns the planes the
  core analyses (RGB for bright-field, fibre and membrane for fluorescence),
  after every check that can be made from the metadata alone.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ienfd.io._formats import open_source
from ienfd.io._source import ImageSource
from ienfd.io._tiffmeta import Layout, guess_modality, scale_pixel_size
from ienfd.io._types import ImageReadError, Modality, PixelSize, SectionImage

if TYPE_CHECKING:
    import dask.array

__all__ = [
    "ImageInfo",
    "choose_channels",
    "describe_image",
    "open_lazy",
    "probe_image",
    "read_section",
]

ChannelSpec = int | str | None
SceneSpec = int | str | None

_MODALITIES = ("brightfield", "fluorescence")
_FIBRE_NAME = re.compile(r"pgp|uchl1")
_MEMBRANE_NAME = re.compile(r"col(?!o)")  # col, collagen, coliv, col4; not colour/color
_NO_PIXEL_SIZE_TIFF = (
    "no pixel size in the file (OME PhysicalSizeX, TIFF resolution tags or ImageJ metadata)"
)
_NO_PIXEL_SIZE_IN = {
    "CZI": "no pixel size in the file (no CZI Scaling Distance X/Y)",
    "OME-Zarr": "no pixel size in the file (no scale in a length unit on the y/x axes)",
    "PNG": "no pixel size: PNG files do not record the microscope's pixel size",
    "JPEG": "no pixel size: JPEG files do not record the microscope's pixel size",
    "LIF": "no pixel size in the file (no LIF dimension lengths)",
    "ND2": "no pixel size in the file (no ND2 calibration)",
}


@dataclass(frozen=True)
class ImageInfo:
    """What a file's metadata says about its first image, without reading pixels.

    Attributes
    ----------
    path : str
        The path as given.
    shapes : tuple of tuple of int
        Array shape of each pyramid level (``shapes[0]`` is full resolution),
        in the order of ``axes``.
    axes : str
        tifffile axis codes of the full-resolution level, length-1 axes
        removed: ``Y`` rows, ``X`` columns, ``S`` samples (RGB), ``C``
        channels, ``Z`` planes.
    dtype : numpy.dtype
        Pixel type.
    modality : {'brightfield', 'fluorescence'} or None
        The modality :func:`read_section` would pick from the metadata; None
        for a single greyscale channel (decided from the pixels) or a
        non-8/16-bit RGB image.
    channel_names : tuple of str
        Channel names from OME or ImageJ metadata; ``('red', 'green', 'blue')``
        for RGB; empty when the file has none.
    pixel_size : PixelSize or None
        Full-resolution pixel size from the metadata, None when absent.
    n_levels : int
        Number of pyramid levels.
    format_name : str
        The format as named in messages: ``'TIFF'``, ``'OME-TIFF'``,
        ``'Aperio SVS'``, ``'CZI'``, ``'OME-Zarr'``, ``'PNG'``...
    scenes : tuple of str
        Names of the file's scenes (positions of a CZI, images of a LIF or of
        a bioformats2raw OME-Zarr); one for single-image formats.
    scene : int
        The scene described.
    notes : tuple of str
        What the reader noticed in the metadata (assumptions, ignored fields).
    """

    path: str
    shapes: tuple[tuple[int, ...], ...]
    axes: str
    dtype: np.dtype
    modality: Modality | None
    channel_names: tuple[str, ...]
    pixel_size: PixelSize | None
    n_levels: int
    format_name: str = "TIFF"
    scenes: tuple[str, ...] = ("image",)
    scene: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the full-resolution level."""
        return self.shapes[0]

    @property
    def nbytes(self) -> int:
        """Bytes needed to hold the full-resolution level in memory."""
        return math.prod(self.shapes[0]) * self.dtype.itemsize

    def to_dict(self) -> dict[str, Any]:
        """The description as JSON-ready values (what ``ienfd info --json`` prints)."""
        size = self.pixel_size
        return {
            "path": self.path,
            "format": self.format_name,
            "scene": self.scene,
            "scene_name": self.scenes[self.scene],
            "n_scenes": len(self.scenes),
            "levels": [list(shape) for shape in self.shapes],
            "axes": self.axes,
            "dtype": str(self.dtype),
            "channel_names": list(self.channel_names),
            "pixel_size_um": None if size is None else [size.row_um, size.col_um],
            "pixel_size_source": None if size is None else size.source,
            "modality": self.modality,
            "notes": list(self.notes),
        }


def read_section(
    path: str | os.PathLike[str],
    *,
    modality: Modality | None = None,
    pixel_size_um: float | None = None,
    fibre_channel: int | str | None = None,
    membrane_channel: int | str | None = None,
    level: int = 0,
    max_bytes: int = 2**31,
    scene: SceneSpec = None,
) -> SectionImage:
    """Read one section image for analysis.

    Parameters
    ----------
    path : str or os.PathLike
        An image file (or an OME-Zarr directory) of a format ienfd reads:
        the TIFF family (TIFF, OME-TIFF, ImageJ TIFF, Aperio SVS, Hamamatsu
        NDPI, Leica SCN, Philips TIFF, Ventana BIF, Akoya QPTIFF; the first
        image series), CZI, OME-Zarr, PNG, JPEG, LIF, ND2 (see
        ``docs/reading-images.md``). The format is told from the content.
    modality : {'brightfield', 'fluorescence'}, optional
        Imaging mode. By default it is detected: RGB (3 or 4 samples, 8 or 16
        bit) is bright-field, several non-RGB channels are fluorescence, and a
        single greyscale channel is fluorescence when its border is dark
        (bright-field needs RGB). ``'fluorescence'`` on an RGB file treats the
        red, green and blue samples as channels.
    pixel_size_um : float, optional
        Size of a full-resolution pixel in µm, overriding the file's metadata
        (source ``'user'``), also metadata that is unusable (an implausible
        size, an unknown unit); scaled like the metadata for ``level > 0``.
    fibre_channel, membrane_channel : int or str, optional
        Fluorescence channels, by index (an int or a string of digits) or by
        the channel name in the file's metadata (OME, ImageJ, CZI, OME-Zarr,
        ND2; case-insensitive). By default the names are
        matched (fibre: ``pgp``, ``uchl1``; membrane: ``col``, ``collagen``,
        ``coliv``, ``col4``), else channels 0 and 1 are assumed (with a note in
        ``warnings``); a single channel gives ``membrane=None``. Ignored, with
        a note, for bright-field images.
    level : int, optional
        Pyramid level (0 = full resolution). Only that level is read.
    max_bytes : int, optional
        Refuse images whose level, as stored, needs more bytes than this
        (checked from the header before reading).
    scene : int or str, optional
        For files holding several scenes (CZI scenes, LIF images, ND2
        positions, bioformats2raw OME-Zarr images): the scene, by index or
        name; the first by default.

    Returns
    -------
    SectionImage
        ``rgb`` as ``(M, N, 3)`` for bright-field, or ``fibre`` ``(M, N)`` and
        ``membrane`` ``(M, N)`` or None for fluorescence, in the file's dtype.
        A Z axis is reduced by maximum-intensity projection (noted in
        ``warnings``).

    Raises
    ------
    TypeError
        An argument of the wrong kind (e.g. ``level=1.5``, ``fibre_channel=[0]``,
        ``scene=1.0``).
    ValueError
        ``modality`` not one of the two names; ``pixel_size_um`` not finite or
        outside (0, 100); ``level`` or ``scene`` negative; ``max_bytes`` not
        positive.
    ImageReadError
        Naming the file and the reason (a subclass of ValueError; where an
        argument would fix it, ``remedy`` names it), when:
        the file is missing, not a regular file or OME-Zarr folder, or of a
        format ienfd does not read; the optional package its reader needs is
        not installed (the message names ``pip install 'ienfd[formats]'``);
        its bytes are not those of the format its name says; it is truncated
        or corrupt (the message names the format: pages, strips, tiles,
        subblocks or chunks missing or beyond the end of the file, decoder
        errors, short reads, tifffile warnings while reading pixels, metadata
        that cannot be parsed); ``scene`` is not in the file; ``level`` is
        not in the file; the
        layout is unsupported (a time axis > 1, an unlabelled page stack,
        palette/CMYK/inverted greyscale colour, RGB with extra channels, an
        RGB z-stack as bright-field); the dtype is bool, complex or not
        numeric, or a float image holds NaN or inf; the image is smaller than
        64 pixels on a side; the level needs more than ``max_bytes``;
        ``'brightfield'`` was requested for a greyscale or non-RGB
        multichannel image, or auto-detection finds a greyscale image with a
        bright border (a bright-field slide without colour); a non-8/16-bit
        RGB image is read as bright-field; a channel name is unknown or
        ambiguous, an index out of range, or both channels are the same; the
        pixel size is missing (and ``pixel_size_um`` not given), in an unknown
        unit, outside 0.01-100 µm, or anisotropic by more than 5 %.

    Examples
    --------
    >>> import numpy as np, tifffile, tempfile, os
    >>> from ienfd.io import read_section
    >>> d = tempfile.mkdtemp()
    >>> f = os.path.join(d, "section.ome.tif")
    >>> tifffile.imwrite(f, np.zeros((2, 128, 256), np.uint16), metadata={
    ...     "axes": "CYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5,
    ...     "Channel": {"Name": ["PGP9.5", "Col IV"]}})
    >>> img = read_section(f)
    >>> img.modality, img.fibre.shape, img.membrane_channel, img.pixel_size_um
    ('fluorescence', (128, 256), 1, 0.5)
    """
    path = os.fspath(path)
    _check_arguments(modality, pixel_size_um, fibre_channel, membrane_channel, level, max_bytes)
    _check_scene(scene)

    with open_source(path, scene) as source:
        source.check_level(level)
        layout = source.layout(level)
        # A cut-short file says so before any metadata question (pixel size, modality).
        source.check_data(level)
        chosen = _modality_from_layout(path, layout, modality)
        size = _pixel_size(source, level, layout, pixel_size_um)

        notes = list(source.notes)
        if pixel_size_um is not None and source.pixel_size_error is None:
            # Both at full resolution (``pixel_size_um`` is; ``size`` is of the level).
            given = PixelSize(float(pixel_size_um), float(pixel_size_um), "user")
            override = given.replaces(source.pixel_size)
            if override is not None:
                notes.append(override)
        if chosen == "brightfield" and (fibre_channel is not None or membrane_channel is not None):
            notes.append("fibre/membrane channel options ignored for a bright-field RGB image")
        names = source.channel_names if chosen != "brightfield" else ()
        fibre_idx: int | None = None
        membrane_idx: int | None = None
        if chosen != "brightfield":  # fluorescence, or a greyscale image still to decide
            fibre_idx, membrane_idx = choose_channels(
                path, names, layout.n_channels, fibre_channel, membrane_channel, notes
            )

        if layout.nbytes > max_bytes:
            raise ImageReadError(
                path,
                f"image too large: the header claims shape {layout.shape} "
                f"(axes {layout.axes!r}) of {layout.dtype}, {layout.nbytes:,} bytes, "
                f"above the limit of {max_bytes:,} bytes; read whole-slide images region by "
                "region (open_lazy), or read a lower pyramid level",
                remedy="level",
            )
        before = len(source.notes)
        data = source.read(level)
        notes.extend(source.notes[before:])
        format_name, scene_name = source.format_name, source.scenes[source.scene]

    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise ImageReadError(path, f"the {data.dtype} image holds NaN or infinite values")
    planes = _canonical(data, layout, notes)  # (M, N) or (M, N, C)

    if chosen is None:  # single greyscale channel, auto: look at the background
        if _looks_brightfield(planes):
            raise ImageReadError(
                path,
                "greyscale image: bright-field analysis needs an RGB image, and this "
                "image has a bright background like a bright-field slide; pass "
                "modality='fluorescence' if this is a fluorescence image",
                remedy="modality",
            )
        chosen = "fluorescence"

    if chosen == "brightfield":
        return SectionImage(
            path=path,
            modality="brightfield",
            pixel_size=size,
            rgb=np.ascontiguousarray(planes[..., :3]),
            level=level,
            warnings=notes,
            format_name=format_name,
            scene=scene_name,
        )
    assert fibre_idx is not None
    if planes.ndim == 2:
        planes = planes[..., np.newaxis]
    if layout.kind == "rgb":
        notes.append("RGB image analysed as fluorescence: channels are its red, green, blue")
    return SectionImage(
        path=path,
        modality="fluorescence",
        pixel_size=size,
        fibre=np.ascontiguousarray(planes[..., fibre_idx]),
        membrane=None if membrane_idx is None else np.ascontiguousarray(planes[..., membrane_idx]),
        channel_names=names,
        fibre_channel=fibre_idx,
        membrane_channel=membrane_idx,
        level=level,
        warnings=notes,
        format_name=format_name,
        scene=scene_name,
    )


def probe_image(path: str | os.PathLike[str], *, scene: SceneSpec = None) -> ImageInfo:
    """Describe one image of a file from its metadata, never reading pixels.

    Parameters
    ----------
    path : str or os.PathLike
        An image file or OME-Zarr directory of a format :func:`read_section`
        reads.
    scene : int or str, optional
        The scene to describe (index or name); the first by default.

    Returns
    -------
    ImageInfo
        Format, scenes, shapes per level, axes, dtype, modality guess, channel
        names, pixel size (None when the file has none) and number of levels.

    Raises
    ------
    ImageReadError
        The file is missing, not a regular file (nor an OME-Zarr directory),
        not of a format ienfd reads, or corrupt in its header or metadata; the
        scene is not in the file; its layout or dtype is one
        :func:`read_section` refuses (time axis, unlabelled page stack,
        palette/CMYK colour, bool/complex dtype, fewer than 64 pixels on a
        side); its pixel size metadata is unusable (unknown unit, outside
        0.01-100 µm, anisotropic by more than 5 %); or the optional package
        its reader needs is not installed. A missing pixel size is not an
        error here (``pixel_size`` is None).

    Examples
    --------
    >>> import numpy as np, tifffile, tempfile, os
    >>> from ienfd.io import probe_image
    >>> f = os.path.join(tempfile.mkdtemp(), "rgb.tif")
    >>> tifffile.imwrite(f, np.zeros((128, 96, 3), np.uint8), photometric="rgb",
    ...                  resolution=(4000, 4000), resolutionunit="CENTIMETER")
    >>> info = probe_image(f)
    >>> info.format_name, info.axes, info.modality, info.pixel_size.col_um
    ('TIFF', 'YXS', 'brightfield', 2.5)
    """
    path = os.fspath(path)
    _check_scene(scene)
    with open_source(path, scene) as source:
        layout = source.layout(0)
        if source.pixel_size_error is not None:
            raise source.pixel_size_error
        return ImageInfo(
            path=path,
            shapes=source.level_shapes,
            axes=layout.axes,
            dtype=layout.dtype,
            modality=guess_modality(layout),
            channel_names=source.channel_names,
            pixel_size=source.pixel_size,
            n_levels=len(source.level_shapes),
            format_name=source.format_name,
            scenes=source.scenes,
            scene=source.scene,
            notes=tuple(source.notes),
        )


def describe_image(path: str | os.PathLike[str]) -> list[ImageInfo]:
    """What ienfd sees in a file, scene by scene, from the metadata alone.

    The library side of ``ienfd info``: :func:`probe_image` of every scene.

    Raises
    ------
    ImageReadError
        As :func:`probe_image`, for the file or for any of its scenes.

    Examples
    --------
    >>> import numpy as np, tifffile, tempfile, os
    >>> from ienfd.io import describe_image
    >>> f = os.path.join(tempfile.mkdtemp(), "if.ome.tif")
    >>> tifffile.imwrite(f, np.zeros((2, 128, 128), np.uint16), metadata={
    ...     "axes": "CYX", "PhysicalSizeX": 0.4, "PhysicalSizeY": 0.4,
    ...     "Channel": {"Name": ["PGP9.5", "ColIV"]}})
    >>> [(i.format_name, i.channel_names, i.pixel_size.source) for i in describe_image(f)]
    [('OME-TIFF', ('PGP9.5', 'ColIV'), 'ome')]
    """
    first = probe_image(path)
    return [first] + [probe_image(path, scene=k) for k in range(1, len(first.scenes))]


def open_lazy(
    path: str | os.PathLike[str], *, level: int = 0, scene: SceneSpec = None
) -> tuple[dask.array.Array, str]:
    """Open one pyramid level of a file as a dask array, read chunk by chunk.

    The lazy twin of reading a level: nothing is read until a chunk is
    computed. Chunks follow the file's tiles or strips (TIFF), its zarr
    chunks (OME-Zarr), or regions of 4096 x 4096 pixels (CZI).

    Parameters
    ----------
    path : str or os.PathLike
        An image file or OME-Zarr directory of a format :func:`read_section`
        reads.
    level : int, optional
        Pyramid level (0 = full resolution).
    scene : int or str, optional
        The scene (index or name); the first by default.

    Returns
    -------
    data : dask.array.Array
        The level, in the order of ``axes``.
    axes : str
        Axis codes of ``data`` (``Y``, ``X``, ``S``, ``C``, ``Z``), length-1
        axes removed.

    Raises
    ------
    ModuleNotFoundError
        dask (or zarr) is missing: both come with ``pip install ienfd``; reinstall it.
    TypeError
        ``level`` is not an int.
    ValueError
        ``level`` is negative.
    ImageReadError
        The file is missing, not of a format ienfd reads, has no level
        ``level`` or no such scene, or has a layout or dtype
        :func:`read_section` refuses. Corrupt tiles or chunks are found only
        when the chunks holding them are computed, where the reader's own
        exception is raised.
    """
    path = os.fspath(path)
    _check_level(level)
    _check_scene(scene)
    with open_source(path, scene) as source:
        source.check_level(level)
        layout = source.layout(level)
        data = source.lazy(level)
    return data, layout.axes


# -- arguments -----------------------------------------------------------------------


def _check_level(level: object) -> None:
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise TypeError(f"level must be an int, got {type(level).__name__} {level!r}")
    if level < 0:
        raise ValueError(f"level must be >= 0 (0 = full resolution), got {level}")


def _check_arguments(
    modality: object,
    pixel_size_um: object,
    fibre_channel: object,
    membrane_channel: object,
    level: object,
    max_bytes: object,
) -> None:
    """Validate the keyword arguments of :func:`read_section` before any file access."""
    if modality is not None and modality not in _MODALITIES:
        raise ValueError(
            f"modality must be 'brightfield', 'fluorescence' or None (auto), got {modality!r}"
        )
    if pixel_size_um is not None:
        if isinstance(pixel_size_um, bool) or not isinstance(pixel_size_um, numbers.Real):
            raise TypeError(
                f"pixel_size_um must be a number of micrometres, got "
                f"{type(pixel_size_um).__name__} {pixel_size_um!r}"
            )
        value = float(pixel_size_um)
        if not (math.isfinite(value) and 0 < value < 100):
            raise ValueError(
                f"pixel_size_um must be a finite size in µm between 0 and 100 "
                f"(exclusive), got {pixel_size_um!r}"
            )
    for name, spec in (("fibre_channel", fibre_channel), ("membrane_channel", membrane_channel)):
        if spec is None or isinstance(spec, str):
            continue
        if isinstance(spec, bool) or not isinstance(spec, numbers.Integral):
            raise TypeError(
                f"{name} must be a channel index (int) or name (str), got "
                f"{type(spec).__name__} {spec!r}"
            )
    _check_level(level)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral):
        raise TypeError(f"max_bytes must be an int, got {type(max_bytes).__name__}")
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be > 0, got {max_bytes}")


# -- metadata decisions --------------------------------------------------------------


def _modality_from_layout(path: str, layout: Layout, requested: Modality | None) -> Modality | None:
    """Modality decided from the layout; None when the pixels must decide (grey, auto)."""
    rgb_ok = layout.dtype in (np.dtype(np.uint8), np.dtype(np.uint16))
    if requested == "fluorescence":
        return "fluorescence"
    if layout.kind == "rgb":
        if not rgb_ok:
            raise ImageReadError(
                path,
                f"a {layout.dtype} RGB image: bright-field analysis needs 8- or 16-bit "
                "RGB; pass modality='fluorescence' to analyse its samples as channels",
                remedy="modality",
            )
        if layout.n_z > 1:
            raise ImageReadError(
                path,
                f"an RGB z-stack ({layout.n_z} planes, axes {layout.axes!r}) is not "
                "supported for bright-field; save a single focal plane",
            )
        return "brightfield"
    if requested == "brightfield":
        if layout.kind == "grey":
            raise ImageReadError(
                path,
                "a greyscale image passed as bright-field: bright-field analysis needs "
                "an RGB image; pass modality='fluorescence' if this is a fluorescence image",
                remedy="modality",
            )
        raise ImageReadError(
            path,
            f"a {layout.n_channels}-channel non-RGB image (axes {layout.axes!r}) passed as "
            "bright-field: bright-field analysis needs an RGB image; pass "
            "modality='fluorescence' if this is a fluorescence image",
            remedy="modality",
        )
    if layout.kind == "channels":
        return "fluorescence"
    return None


def _level_scale(source: ImageSource, layout: Layout) -> tuple[float, float]:
    """Downsampling (rows, cols) of a level relative to level 0, from the shapes."""
    base = source.layout(0) if layout.shape != source.level_shapes[0] else layout
    return (base.rows / layout.rows, base.cols / layout.cols)


def _pixel_size(
    source: ImageSource, level: int, layout: Layout, pixel_size_um: float | None
) -> PixelSize:
    """Pixel size of the requested level: user value first, then the metadata."""
    scale = _level_scale(source, layout)
    if pixel_size_um is not None:
        value = float(pixel_size_um)
        return scale_pixel_size(PixelSize(value, value, "user"), scale)
    if source.pixel_size_error is not None:
        raise source.pixel_size_error
    if source.pixel_size is None:
        reason = _NO_PIXEL_SIZE_IN.get(source.format_name, _NO_PIXEL_SIZE_TIFF)
        raise ImageReadError(source.path, f"{reason}; pass pixel_size_um", remedy="pixel_size_um")
    return scale_pixel_size(source.pixel_size, scale)


def _check_scene(scene: object) -> None:
    if scene is None or isinstance(scene, str):
        return
    if isinstance(scene, bool) or not isinstance(scene, numbers.Integral):
        raise TypeError(
            f"scene must be a scene index (int) or name (str), got {type(scene).__name__} {scene!r}"
        )
    if scene < 0:
        raise ValueError(f"scene must be >= 0, got {scene}")


def _describe_channels(names: tuple[str, ...], n: int) -> str:
    if names:
        listed = ", ".join(f"{i} {name!r}" for i, name in enumerate(names))
        return f"available channels: {listed}"
    return f"available channels: indices 0-{n - 1} (the file names none)"


def _normalise(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.casefold())


def _lookup_channel(path: str, option: str, spec: int | str, names: tuple[str, ...], n: int) -> int:
    """Index of the channel selected by ``spec`` (index, digits or name)."""
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec.strip())
    if isinstance(spec, int):
        if 0 <= spec < n:
            return spec
        raise ImageReadError(
            path,
            f"{option} {spec} is out of range: the image has {n} channel(s); "
            + _describe_channels(names, n),
        )
    for key in (str.casefold, _normalise):
        hits = [i for i, name in enumerate(names) if key(name) == key(spec)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ImageReadError(
                path,
                f"{option} {spec!r} matches channels {hits}; pass an index; "
                + _describe_channels(names, n),
            )
    raise ImageReadError(path, f"unknown {option} {spec!r}; " + _describe_channels(names, n))


def choose_channels(
    path: str,
    names: tuple[str, ...],
    n: int,
    fibre_spec: ChannelSpec,
    membrane_spec: ChannelSpec,
    notes: list[str],
) -> tuple[int, int | None]:
    """Fibre and membrane channel indices, by option, by name, or assumed.

    The rules :func:`read_section` applies, for callers that read pixels
    themselves (whole-slide regions). Options are resolved first; a default
    never picks the channel the other option chose.

    Parameters
    ----------
    path : str
        Named in errors.
    names : tuple of str
        Channel names from the metadata (may be empty).
    n : int
        Number of channels.
    fibre_spec, membrane_spec : int, str or None
        The user's choice, as an index or a name; None for the default.
    notes : list of str
        Appended with a note when a channel is assumed rather than named.

    Raises
    ------
    ImageReadError
        An unknown channel name or index, or both options naming one channel.
    """
    fibre = (
        None if fibre_spec is None else _lookup_channel(path, "fibre channel", fibre_spec, names, n)
    )
    membrane = (
        None
        if membrane_spec is None
        else _lookup_channel(path, "membrane channel", membrane_spec, names, n)
    )
    if fibre is not None and fibre == membrane:
        raise ImageReadError(
            path,
            f"fibre and membrane channel are both channel {fibre}; " + _describe_channels(names, n),
        )
    if fibre is None:
        free = [i for i in range(n) if i != membrane]
        matches = [i for i in free if _FIBRE_NAME.search(_normalise(names[i]))] if names else []
        fibre = matches[0] if matches else free[0]
        if not matches and n > 1:
            notes.append(
                f"fibre channel assumed to be channel {fibre}"
                + (f" ({names[fibre]!r})" if names else "")
                + ": no channel name says PGP 9.5; pass fibre_channel to choose"
            )
    if membrane is None and membrane_spec is None:
        free = [i for i in range(n) if i != fibre]
        matches = [i for i in free if _MEMBRANE_NAME.search(_normalise(names[i]))] if names else []
        if matches:
            membrane = matches[0]
        elif free:
            membrane = free[0]
            notes.append(
                f"membrane (collagen IV) channel assumed to be channel {membrane}"
                + (f" ({names[membrane]!r})" if names else "")
                + ": no channel name says collagen; pass membrane_channel to choose"
            )
    return fibre, membrane


# -- pixels --------------------------------------------------------------------------


def _canonical(data: np.ndarray, layout: Layout, notes: list[str]) -> np.ndarray:
    """``(M, N)`` or ``(M, N, C)`` planes: Z projected, axes reordered, alpha kept."""
    axes = layout.axes
    if "Z" in axes:
        z = axes.index("Z")
        notes.append(f"z-stack of {data.shape[z]} planes reduced by maximum-intensity projection")
        data = data.max(axis=z)
        axes = axes.replace("Z", "")
    order = [axes.index("Y"), axes.index("X")]
    if layout.channel_axis is not None:
        order.append(axes.index(layout.channel_axis))
    return data.transpose(order)


def _looks_brightfield(planes: np.ndarray) -> bool:
    """True when a greyscale plane has a bright border around a darker centre."""
    plane = planes if planes.ndim == 2 else planes[..., 0]
    rows, cols = plane.shape
    step = max(1, int(math.sqrt(rows * cols / 1_000_000)))  # subsample large planes
    sample: Any = plane[::step, ::step].astype(np.float64)
    lo, hi = np.percentile(sample, [1, 99])
    if not hi > lo:
        return False  # constant image: nothing says bright-field
    m, n = sample.shape
    b = max(1, min(m, n) // 20)
    border = np.concatenate(
        [sample[:b].ravel(), sample[-b:].ravel(), sample[:, :b].ravel(), sample[:, -b:].ravel()]
    )
    centre = sample[m // 4 : m - m // 4, n // 4 : n - n // 4]
    border_level = (np.median(border) - lo) / (hi - lo)
    centre_level = (np.median(centre) - lo) / (hi - lo)
    return bool(border_level > 0.5 and border_level > centre_level)
