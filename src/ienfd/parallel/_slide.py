"""Whole-slide images: find the sections on a low-resolution level, read one at full resolution.

Nothing here loads a slide: :func:`find_sections` reads the pyramid level
closest to (but not coarser than) ``target_um`` per pixel, tile by tile
through :func:`ienfd.io.open_lazy`, and block-averages it further if needed;
:func:`read_region` reads only the tiles of one section's box at level 0. The
memory either needs is bounded by the low-resolution image (a few MB) and by
one section's box, whatever the slide's size.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ienfd.core import segment_tissue
from ienfd.io import ImageInfo, ImageReadError, PixelSize, SectionImage, open_lazy, probe_image
from ienfd.workflow import ReaderOptions, Region

__all__ = ["SlideRegion", "SlideSections", "find_sections", "read_region"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlideRegion:
    """One section of a slide: its level-0 box and its own tissue mask at low resolution.

    ``mask`` covers the box at ``1 / scale`` of level 0 (each mask pixel is
    ``scale`` x ``scale`` level-0 pixels); pixels of the box outside it (other
    sections' tissue that falls inside the box) are replaced by ``fill``, the
    slide's background, before the analysis.
    """

    region: Region
    mask: np.ndarray
    scale: int
    fill: tuple[float, ...]


@dataclass(frozen=True)
class SlideSections:
    """The sections found on a slide, and how they were found."""

    path: str
    shape: tuple[int, int]
    pixel_size_um: float
    level: int
    lowres_um: float
    regions: list[SlideRegion]


def _yx_last(data: Any, axes: str) -> tuple[Any, str]:
    """Reorder a dask array to (Y, X, rest...), projecting Z by its maximum."""
    if "Z" in axes:
        data = data.max(axis=axes.index("Z"))
        axes = axes.replace("Z", "")
    order = [axes.index("Y"), axes.index("X")] + [i for i, a in enumerate(axes) if a not in "YX"]
    data = data.transpose(order)
    if data.ndim == 2:
        data = data[..., None]
    return data, "".join(axes[i] for i in order)


def _pixel_size(info: ImageInfo, reader: ReaderOptions) -> PixelSize:
    if reader.pixel_size_um is not None:
        return PixelSize(reader.pixel_size_um, reader.pixel_size_um, "user")
    if info.pixel_size is None:
        raise ImageReadError(
            info.path,
            "no pixel size in the file (OME PhysicalSizeX, TIFF resolution tags or ImageJ "
            "metadata); give pixel_size_um in the manifest or --pixel-size UM",
        )
    return info.pixel_size


def _modality(info: ImageInfo, reader: ReaderOptions) -> str:
    refused = reader.refuses(info)
    if refused is not None:
        raise ImageReadError(info.path, refused)
    modality = reader.modality or info.modality
    if modality is None:
        raise ImageReadError(
            info.path,
            "a greyscale whole-slide image: say its modality (a fluorescence pipeline or "
            "--modality fluorescence)",
        )
    return modality


def find_sections(
    path: str | os.PathLike[str],
    *,
    reader: ReaderOptions | None = None,
    target_um: float = 8.0,
    margin_um: float = 60.0,
    min_area_um2: float = 50_000.0,
    info: ImageInfo | None = None,
) -> SlideSections:
    """Find the tissue sections of a whole-slide image at low resolution.

    Parameters
    ----------
    path : str or os.PathLike
        The slide (TIFF/OME-TIFF, ideally tiled with a pyramid).
    reader : ReaderOptions, optional
        Pixel size and modality when the metadata does not say, and the scene.
    target_um : float
        Pixel size of the image the sections are found on. The coarsest
        pyramid level at most this coarse is read; without a pyramid, level 0
        is block-averaged chunk by chunk.
    margin_um : float
        Glass kept around each section's tissue.
    min_area_um2 : float
        Smaller tissue pieces (dust, fragments) are not sections.
    info : ImageInfo, optional
        :func:`ienfd.io.probe_image` of the file, when already known (probed
        again when ``reader.scene`` is set, for that scene).

    Returns
    -------
    SlideSections
        Regions in reading order (rows of sections top to bottom, each left to
        right), numbered from 1.

    Raises
    ------
    ImageReadError
        The file cannot be read, has no pixel size, is greyscale without a
        modality, or holds no tissue.
    """
    import dask.array as da

    path = os.fspath(path)
    reader = reader or ReaderOptions()
    if info is None or reader.scene is not None:  # a given info may describe another scene
        info = probe_image(path, scene=reader.scene)
    size = _pixel_size(info, reader)
    modality = _modality(info, reader)
    y0 = info.axes.index("Y")
    x0 = info.axes.index("X")
    full = (int(info.shapes[0][y0]), int(info.shapes[0][x0]))
    level = 0
    for k, shape in enumerate(info.shapes):
        if size.isotropic_um * full[0] / shape[y0] <= target_um:
            level = k
    data, axes = open_lazy(path, level=level, scene=reader.scene)
    data, axes = _yx_last(data, axes)
    level_scale = full[0] / data.shape[0]
    extra = max(1, int(target_um / (size.isotropic_um * level_scale)))
    if extra > 1:
        data = da.coarsen(np.mean, data.astype(np.float32), {0: extra, 1: extra}, trim_excess=True)
    try:
        low = np.asarray(data.compute(scheduler="synchronous"), dtype=np.float32)
    except ImageReadError:  # a reader's own error already names the file and the format
        raise
    except (ValueError, OSError, RuntimeError) as exc:  # tifffile/codec errors on corrupt tiles
        raise ImageReadError(
            path, f"corrupt or truncated TIFF: {type(exc).__name__}: {exc}"
        ) from exc
    scale = full[0] / low.shape[0]
    low_um = size.isotropic_um * scale
    if modality == "brightfield":
        rgb = low[..., :3]
        white = np.percentile(rgb.reshape(-1, 3), 99.5, axis=0)
        signal = -np.log10(np.clip(rgb, 1.0, None) / np.maximum(white, 1.0)).sum(axis=-1)
    else:
        lo = np.percentile(low.reshape(-1, low.shape[-1]), 1.0, axis=0)
        hi = np.percentile(low.reshape(-1, low.shape[-1]), 99.5, axis=0)
        signal = ((low - lo) / np.maximum(hi - lo, 1e-6)).max(axis=-1)
    mask = segment_tissue(signal, spacing=low_um, min_area_um2=min_area_um2)
    glass = low[~mask] if (~mask).any() else low.reshape(-1, low.shape[-1])
    fill = tuple(float(v) for v in np.median(glass.reshape(-1, low.shape[-1]), axis=0))
    labels, n = ndi.label(mask)
    if n == 0:
        raise ImageReadError(path, "no tissue found on the slide")
    margin = max(1, math.ceil(margin_um / low_um))
    regions = []
    boxes = ndi.find_objects(labels)
    for label, box in enumerate(boxes, start=1):
        if box is None:
            continue
        r0 = max(0, box[0].start - margin)
        r1 = min(low.shape[0], box[0].stop + margin)
        c0 = max(0, box[1].start - margin)
        c1 = min(low.shape[1], box[1].stop + margin)
        own = ndi.binary_dilation(labels[r0:r1, c0:c1] == label, iterations=margin)
        regions.append(
            (
                r0,
                c0,
                Region(
                    index=0,
                    row0=int(r0 * scale),
                    col0=int(c0 * scale),
                    row1=min(full[0], math.ceil(r1 * scale)),
                    col1=min(full[1], math.ceil(c1 * scale)),
                ),
                own,
            )
        )
    # reading order: rows of sections (centres within half a median box height), left to right
    band = max(1.0, 0.5 * float(np.median([r.row1 - r.row0 for _, _, r, _ in regions])))
    regions.sort(key=lambda t: (round((t[2].row0 + t[2].row1) / 2 / band), t[2].col0))
    out = []
    for k, (_, _, reg, own) in enumerate(regions, start=1):
        reg = Region(index=k, row0=reg.row0, col0=reg.col0, row1=reg.row1, col1=reg.col1)
        out.append(SlideRegion(region=reg, mask=own, scale=max(1, round(scale)), fill=fill))
    logger.info("%s: %d section(s) found at level %d (%.1f µm/px)", path, len(out), level, low_um)
    return SlideSections(
        path=path,
        shape=full,
        pixel_size_um=size.isotropic_um,
        level=level,
        lowres_um=low_um,
        regions=out,
    )


def read_region(
    path: str | os.PathLike[str],
    section: SlideRegion,
    *,
    image: str | None = None,
    reader: ReaderOptions | None = None,
    max_bytes: int = 512 * 2**20,
) -> SectionImage:
    """Read one section of a slide at full resolution, as the core needs it.

    Only the tiles that hold the section's box are read. Pixels of the box
    outside the section's own (dilated) tissue mask are set to the slide's
    background, so that a neighbouring section reaching into the box is not
    analysed twice.

    Parameters
    ----------
    path : str or os.PathLike
        The slide.
    section : SlideRegion
        From :func:`find_sections`.
    image : str, optional
        The name to report (the path as the user gave it).
    reader : ReaderOptions, optional
        Pixel size, modality and channels when the metadata does not say.
    max_bytes : int
        Refuse a box needing more bytes than this.

    Returns
    -------
    SectionImage
        The box, with ``rgb`` or ``fibre``/``membrane`` set; coordinates are
        relative to the box's corner (``section.region.row0, col0``).

    Raises
    ------
    ImageReadError
        Unreadable tiles, a box above ``max_bytes``, a bad channel choice.
    """
    from ienfd.io import choose_channels  # the reader's own channel rules

    path = os.fspath(path)
    name = image or path
    reader = reader or ReaderOptions()
    info = probe_image(path, scene=reader.scene)
    size = _pixel_size(info, reader)
    modality = _modality(info, reader)
    reg = section.region
    n_planes = math.prod(info.shape) // (
        info.shape[info.axes.index("Y")] * info.shape[info.axes.index("X")]
    )
    nbytes = reg.shape[0] * reg.shape[1] * n_planes * info.dtype.itemsize
    if nbytes > max_bytes:
        raise ImageReadError(
            name,
            f"section {reg.index} box {reg.shape} needs {nbytes:,} bytes, above the limit of "
            f"{max_bytes:,}; is it one section?",
        )
    data, axes = open_lazy(path, level=0, scene=reader.scene)
    data, axes = _yx_last(data, axes)
    try:
        block = np.asarray(
            data[reg.row0 : reg.row1, reg.col0 : reg.col1].compute(scheduler="synchronous")
        )
    except ImageReadError:  # a reader's own error already names the file and the format
        raise
    except (ValueError, OSError, RuntimeError) as exc:
        raise ImageReadError(
            name, f"corrupt or truncated TIFF: {type(exc).__name__}: {exc}"
        ) from exc
    own = np.repeat(np.repeat(section.mask, section.scale, axis=0), section.scale, axis=1)
    own = np.pad(
        own,
        ((0, max(0, reg.shape[0] - own.shape[0])), (0, max(0, reg.shape[1] - own.shape[1]))),
        mode="edge",
    )
    outside = ~own[: reg.shape[0], : reg.shape[1]]
    notes: list[str] = []
    override = size.replaces(info.pixel_size) if reader.pixel_size_um is not None else None
    if override is not None:
        notes.append(override)
    if modality == "brightfield":
        rgb = np.ascontiguousarray(block[..., :3])
        rgb[outside] = np.asarray(section.fill[:3], dtype=np.float64).round().astype(rgb.dtype)
        return SectionImage(
            path=name, modality="brightfield", pixel_size=size, rgb=rgb, warnings=notes
        )
    names = info.channel_names if info.modality != "brightfield" else ()
    fibre, membrane = choose_channels(
        name, names, block.shape[-1], reader.fibre_channel, reader.membrane_channel, notes
    )
    block[outside] = np.asarray(section.fill, dtype=np.float64).astype(block.dtype)
    return SectionImage(
        path=name,
        modality="fluorescence",
        pixel_size=size,
        fibre=np.ascontiguousarray(block[..., fibre]),
        membrane=None if membrane is None else np.ascontiguousarray(block[..., membrane]),
        channel_names=names,
        fibre_channel=fibre,
        membrane_channel=membrane,
        warnings=notes,
    )
