"""Writers: section images as TIFF (OME, plain, ImageJ) and results as JSON.

Every writer is atomic (:func:`atomic_path`, the one atomic writer of ienfd):
it writes a temporary file in the target folder, syncs it to disk and moves it
into place with :func:`os.replace`, so a crash never leaves a half-written
target; the file's permissions follow the user's umask.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

__all__ = [
    "atomic_path",
    "current_umask",
    "write_bytes",
    "write_json",
    "write_section_tiff",
    "write_text",
]

TIFF_KINDS = ("ome", "tiff", "imagej")


def current_umask() -> int:
    """The process's file-mode creation mask, read without changing it when possible.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting
    and restoring it (:func:`os.umask` has no read-only form).
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems do not sync folders
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only on success.

    The one atomic writer of ienfd: every output file goes through it. Whatever
    the caller writes to the temporary path is flushed to disk (``fsync``)
    before it replaces `path` with :func:`os.replace`, and the rename itself is
    synced, so a crash leaves the old file or the new one, never part of one.
    The file gets the permissions any program's new file gets (``0666`` less
    the user's umask), not the ``0600`` of a private temporary file. On an
    error the temporary file is removed and `path` is left as it was.

    Raises
    ------
    OSError
        If the folder does not exist or is not writable.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, 0o666 & ~current_umask())  # mkstemp makes 0600
        yield tmp_path
        with open(tmp_path, "rb") as fh:  # the writer may have closed its own handle
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


_atomic_path = atomic_path  # the name the overlay writer imports


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically (:func:`atomic_path`); return the path.

    Raises
    ------
    TypeError
        If `data` is not bytes; nothing is written.
    OSError
        If the folder does not exist or is not writable.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return target


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write `text` as UTF-8 to `path` atomically (:func:`atomic_path`); return the path.

    Line endings are written as given (no translation).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    return write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as indented JSON, atomically.

    NumPy scalars and arrays are converted to Python numbers and lists, and
    paths to strings.  Non-finite floats are written as ``NaN``/``Infinity``
    (Python's JSON dialect).

    Parameters
    ----------
    path : str or os.PathLike
        Target file; its folder must exist.
    obj : object
        JSON-serialisable value (dicts, lists, numbers, strings, numpy values).

    Raises
    ------
    TypeError
        If `obj` holds a value JSON cannot represent; no file is written.
    OSError
        If the folder does not exist or is not writable.
    """
    text = json.dumps(obj, indent=2, default=_json_default) + "\n"
    write_text(path, text)


def _validate_image(image: np.ndarray) -> str:
    """Return 'rgb' for (M, N, 3|4) uint8, 'channels' for (C, M, N), 'plane' for (M, N)."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy ndarray, got {type(image).__name__}")
    if image.ndim == 2:
        return "plane"
    if image.ndim == 3 and image.shape[2] in (3, 4) and image.dtype == np.uint8:
        return "rgb"
    if image.ndim == 3:
        return "channels"
    raise ValueError(
        f"image has shape {image.shape}; accepted: (M, N), (M, N, 3) uint8 RGB or (C, M, N)"
    )


def _downsample2(image: np.ndarray, layout: str) -> np.ndarray:
    """2x2 block mean (keeps dtype); axes per `layout`."""
    if layout == "rgb":
        m, n = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
        a = image[:m, :n].astype(np.float32)
        out = 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])
    elif layout == "channels":
        m, n = (image.shape[1] // 2) * 2, (image.shape[2] // 2) * 2
        a = image[:, :m, :n].astype(np.float32)
        out = 0.25 * (a[:, 0::2, 0::2] + a[:, 1::2, 0::2] + a[:, 0::2, 1::2] + a[:, 1::2, 1::2])
    else:
        m, n = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
        a = image[:m, :n].astype(np.float32)
        out = 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])
    if np.issubdtype(image.dtype, np.integer):
        out = np.rint(out)
    return out.astype(image.dtype)


def write_section_tiff(
    path: str | os.PathLike[str],
    image: np.ndarray,
    *,
    pixel_size_um: float | None,
    kind: str,
    channel_names: Sequence[str] | None = None,
    compression: str | None = "zlib",
    pyramid_levels: int = 0,
) -> None:
    """Write a section image as OME-TIFF, plain TIFF or ImageJ TIFF, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Target file (``.tif``/``.ome.tif``); its folder must exist.
    image : ndarray
        ``(M, N, 3)`` uint8 RGB (bright-field, written YXS), ``(C, M, N)``
        channel-first (fluorescence, written CYX) or ``(M, N)``.
    pixel_size_um : float or None
        Physical pixel size (square pixels).  ``None`` writes no pixel size at
        all (for testing the readers' error path).
    kind : {'ome', 'tiff', 'imagej'}
        ``'ome'``: OME-TIFF with ``PhysicalSizeX/Y`` in µm and channel names,
        optional sub-resolution levels.  ``'tiff'``: plain TIFF with
        ``XResolution``/``YResolution`` in pixels per centimetre
        (``ResolutionUnit`` = CENTIMETER) and no other metadata, except for
        channels tifffile's one-line description naming the axes ``CYX``
        (pages that say nothing are an unlabelled stack, which ienfd refuses).
        ``'imagej'``: ImageJ hyperstack with ``unit: micron`` and resolution.
    channel_names : sequence of str, optional
        Names of the ``C`` channels (OME only; ImageJ stores them as labels).
    compression : str or None, optional
        TIFF compression (``'zlib'``, ``'lzw'``, ``None``...).  Lossless only.
    pyramid_levels : int, optional
        OME only: number of sub-resolution levels, each downsampled 2x, stored
        as SubIFDs.

    Raises
    ------
    TypeError
        If `image` is not an ndarray.
    ValueError
        If `kind`, `pixel_size_um`, `channel_names`, `pyramid_levels` or the
        image shape is not accepted; nothing is written.
    OSError
        If the folder does not exist or is not writable.
    """
    if kind not in TIFF_KINDS:
        raise ValueError(f"kind={kind!r} is not one of {TIFF_KINDS}")
    layout = _validate_image(image)
    if pixel_size_um is not None and not (
        isinstance(pixel_size_um, (int, float, np.floating))
        and math.isfinite(pixel_size_um)
        and pixel_size_um > 0
    ):
        raise ValueError(f"pixel_size_um={pixel_size_um!r}; accepted: a finite number > 0 or None")
    if not isinstance(pyramid_levels, (int, np.integer)) or pyramid_levels < 0:
        raise ValueError(f"pyramid_levels={pyramid_levels!r}; accepted: an int >= 0")
    if pyramid_levels and kind != "ome":
        raise ValueError(f"pyramid_levels={pyramid_levels} needs kind='ome', got kind={kind!r}")
    n_channels = image.shape[0] if layout == "channels" else 1
    if channel_names is not None:
        channel_names = [str(c) for c in channel_names]
        expected = 3 if layout == "rgb" else n_channels
        if layout != "rgb" and len(channel_names) != expected:
            raise ValueError(
                f"channel_names has {len(channel_names)} names for {expected} channels "
                f"(image shape {image.shape})"
            )
    photometric = "rgb" if layout == "rgb" else "minisblack"
    # horizontal differencing makes zlib/LZW much smaller on images; still lossless
    predictor = compression in ("zlib", "deflate", "lzw", "zstd") and image.dtype.kind in "ui"

    with atomic_path(path) as tmp:
        if kind == "ome":
            _write_ome(
                tmp,
                image,
                layout,
                pixel_size_um,
                channel_names,
                compression,
                predictor,
                pyramid_levels,
            )
        elif kind == "tiff":
            kwargs: dict[str, Any] = {}
            if pixel_size_um is not None:
                ppcm = 1e4 / pixel_size_um
                kwargs.update(resolution=(ppcm, ppcm), resolutionunit="CENTIMETER")
            tifffile.imwrite(
                tmp,
                image,
                photometric=photometric,
                planarconfig="contig" if layout == "rgb" else None,
                compression=compression,
                predictor=predictor,
                metadata={"axes": "CYX"} if layout == "channels" else None,
                **kwargs,
            )
        else:
            meta: dict[str, Any] = {}
            kwargs = {}
            if layout == "channels":
                meta["axes"] = "CYX"
                if channel_names is not None:
                    meta["Labels"] = list(channel_names)
            elif layout == "rgb":
                meta["axes"] = "YXS"
            else:
                meta["axes"] = "YX"
            if pixel_size_um is not None:
                meta["unit"] = "micron"
                ppum = 1.0 / pixel_size_um
                kwargs["resolution"] = (ppum, ppum)
            tifffile.imwrite(
                tmp,
                image,
                imagej=True,
                photometric=photometric,
                compression=compression,
                predictor=predictor,
                metadata=meta,
                **kwargs,
            )


def _write_ome(
    tmp: Path,
    image: np.ndarray,
    layout: str,
    pixel_size_um: float | None,
    channel_names: Sequence[str] | None,
    compression: str | None,
    predictor: bool,
    pyramid_levels: int,
) -> None:
    meta: dict[str, Any] = {"axes": {"rgb": "YXS", "channels": "CYX", "plane": "YX"}[layout]}
    if pixel_size_um is not None:
        meta.update(
            PhysicalSizeX=float(pixel_size_um),
            PhysicalSizeXUnit="µm",
            PhysicalSizeY=float(pixel_size_um),
            PhysicalSizeYUnit="µm",
        )
    if channel_names is not None:
        if layout != "rgb":
            meta["Channel"] = {"Name": list(channel_names)}
        elif len(channel_names) == 1:  # an RGB image is one OME channel of 3 samples
            meta["Channel"] = {"Name": list(channel_names)}
    photometric = "rgb" if layout == "rgb" else "minisblack"
    tile = (
        (256, 256) if min(image.shape[-2:] if layout != "rgb" else image.shape[:2]) >= 256 else None
    )
    options: dict[str, Any] = {
        "photometric": photometric,
        "compression": compression,
        "predictor": predictor,
    }
    if tile is not None:
        options["tile"] = tile
    with tifffile.TiffWriter(tmp, bigtiff=image.nbytes > 2**31, ome=True) as tif:
        tif.write(image, subifds=pyramid_levels or None, metadata=meta, **options)
        level = image
        for _ in range(pyramid_levels):
            level = _downsample2(level, layout)
            tif.write(level, subfiletype=1, metadata=None, **options)
