"""Writers of the formats labs have, each with the format's own writer library, for the tests.

- Aperio SVS: tifffile, tiled JPEG levels with the Aperio description (``MPP =``), no
  resolution tags, a thumbnail page after the baseline as Aperio writes it;
- Hamamatsu-like NDPI pixel size: resolution tags in centimetres (tifffile);
- CZI: pylibCZIrw (Zeiss's libCZI), channel names and scaling in metres, scenes;
- OME-Zarr: ome-zarr-py, scale with micrometre units and omero channel labels;
- PNG, JPEG: Pillow.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

SVS_TILE = 256


def svs_description(shape: tuple[int, ...], mpp: float | None, *, level: int = 0) -> str:
    """An Aperio ImageDescription like the scanners write (fields separated by ``|``)."""
    rows, cols = shape[:2]
    tile = f"({SVS_TILE}x{SVS_TILE})"
    head = (
        f"Aperio Image Library v12.0.15 \r\n{cols}x{rows} [0,0 {cols}x{rows}] {tile} JPEG/RGB Q=90"
    )
    fields = ["AppMag = 20", "StripeWidth = 2040", "ScanScope ID = SS1234", "Filename = test"]
    if mpp is not None:
        fields.append(f"MPP = {mpp:.4f}")
    if level:
        head += f" -> {cols}x{rows} - "
    return head + "|" + "|".join(fields)


def write_svs(
    path: Path,
    rgb: np.ndarray,
    mpp: float | None,
    *,
    levels: int = 3,
    compression: str = "jpeg",
    quality: int = 95,
) -> Path:
    """An Aperio-style SVS: tiled baseline, thumbnail, tiled lower levels (no resolution tags)."""
    kwargs = {
        "photometric": "rgb",
        "compression": compression,
        "metadata": None,
        "subsampling": (1, 1),
    }
    if compression == "jpeg":
        kwargs["compressionargs"] = {"level": quality}
    else:
        kwargs.pop("subsampling")
    with tifffile.TiffWriter(path, bigtiff=False) as tif:
        tif.write(
            rgb, tile=(SVS_TILE, SVS_TILE), description=svs_description(rgb.shape, mpp), **kwargs
        )
        thumb = rgb[::8, ::8]
        tif.write(thumb, description=svs_description(thumb.shape, None, level=1), **kwargs)
        level = rgb
        for _ in range(1, levels):
            level = level[::2, ::2]
            if min(level.shape[:2]) < 64:
                break
            tif.write(
                level,
                tile=(SVS_TILE, SVS_TILE),
                description=svs_description(level.shape, None, level=1),
                **kwargs,
            )
    return path


def write_czi(
    path: Path,
    data: np.ndarray,
    *,
    pixel_um: float | None,
    channel_names: list[str] | None = None,
    rgb: bool = False,
    scenes: int = 1,
) -> Path:
    """A CZI written by pylibCZIrw; ``data`` is ``(C, [Z,] Y, X)``, or ``(Y, X, 3)`` RGB.

    Scaling is stored in metres, as the CZI format defines it. RGB is written
    as Bgr24, whose memory order is blue, green, red. With ``scenes`` > 1
    the same image is written as that many scenes side by side.
    """
    from pylibCZIrw import czi

    with czi.create_czi(str(path), exist_ok=True) as writer:
        for s in range(scenes):
            location = (s * ((data.shape[1] if rgb else data.shape[-1]) + 500), 0)
            if rgb:
                writer.write(np.ascontiguousarray(data[..., ::-1]), location=location, scene=s)
                continue
            planes = data if data.ndim == 4 else data[:, None]
            for c in range(planes.shape[0]):
                for z in range(planes.shape[1]):
                    writer.write(planes[c, z], plane={"C": c, "Z": z}, location=location, scene=s)
        names = dict(enumerate(channel_names)) if channel_names else None
        scale = 0.0 if pixel_um is None else pixel_um * 1e-6
        writer.write_metadata(
            document_name="ienfd test", channel_names=names, scale_x=scale, scale_y=scale
        )
    return path


def write_ome_zarr(
    path: Path,
    data: np.ndarray,
    *,
    pixel_um: float,
    labels: list[str] | None = None,
    rgb: bool = False,
    unit: str | None = "micrometer",
    levels: int = 3,
) -> Path:
    """An OME-Zarr written by ome-zarr-py: ``data`` ``(C, Y, X)``; scale in ``unit`` per pixel.

    ``rgb`` writes a ``(Y, X, 3)`` image as three channels coloured red, green
    and blue in ``omero``, as bioformats2raw does for RGB slides.
    """
    import zarr

    with warnings.catch_warnings():  # ome-zarr's module deprecates its own Scaler on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from ome_zarr.writer import write_image

    if rgb:
        data = np.moveaxis(data, -1, 0)
        labels = ["red", "green", "blue"]
    colours = ["FF0000", "00FF00", "0000FF"] if rgb else ["00FF00", "FF00FF", "FFFFFF"]
    top = float(np.iinfo(data.dtype).max) if data.dtype.kind in "ui" else 1.0
    omero = {
        "channels": [
            {
                "label": label,
                "color": colours[i % 3],
                "window": {"start": 0.0, "end": top, "min": 0.0, "max": top},
            }
            for i, label in enumerate(labels or [])
        ]
    }
    group = zarr.open_group(str(path), mode="w")
    units = None if unit is None else {"y": unit, "x": unit}
    metadata = {"omero": omero} if labels else {}
    write_image(
        data,
        group,
        axes="cyx",
        scale={"c": 1.0, "y": pixel_um, "x": pixel_um},
        axes_units=units,
        scale_factors=tuple(2**k for k in range(1, levels)),
        **metadata,
    )
    return path


def write_png(path: Path, data: np.ndarray) -> Path:
    """A PNG written by Pillow (8-bit RGB or grey)."""
    Image.fromarray(data).save(path, format="PNG")
    return path


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 95) -> Path:
    """A JPEG written by Pillow, as a microscope camera exports it."""
    Image.fromarray(rgb).save(path, format="JPEG", quality=quality, subsampling=0)
    return path
