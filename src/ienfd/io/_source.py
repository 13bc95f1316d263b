"""One opened image, whatever its format: what every reader gives :mod:`ienfd.io._read`.

A reader module (TIFF, CZI, OME-Zarr, PNG/JPEG, LIF, ND2) opens a file on one
scene and returns an :class:`ImageSource`: the scene's levels and layout, its
channel names and pixel size from the format's own metadata, and three ways to
get pixels (a level into memory, a level as a lazy dask array). The decisions
made from these (modality, channels, projection, pixel-size checks) are the
same for every format and live in :mod:`ienfd.io._read`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from ienfd.io._tiffmeta import (
    Layout,
    channel_axis_of,
    check_array,
    check_min_side,
    check_rgb_samples,
    plain_layout,
    time_series_error,
)
from ienfd.io._types import ImageReadError, PixelSize

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

FORMATS_EXTRA = "pip install 'ienfd[formats]'"
"""How to install the optional readers (named in the error when one is missing)."""


class ImageSource(abc.ABC):
    """One scene of an opened image file.

    Attributes
    ----------
    path : str
        The path as given.
    format_name : str
        Human name of the format, used in messages (``'Aperio SVS'``, ``'CZI'``).
    scenes : tuple of str
        Names of the file's scenes (positions, series); at least one.
    scene : int
        The scene this source reads.
    level_shapes : tuple of tuple of int
        Shape of each pyramid level, in the order of the level's axes.
    channel_names : tuple of str
        Names from the metadata (empty when the file names none).
    pixel_size : PixelSize or None
        Size of a full-resolution pixel from the metadata.
    pixel_size_error : ImageReadError or None
        Why the metadata's pixel size cannot be used (implausible, unknown
        unit), raised when the pixel size is needed and not given; None if
        it can be used or is absent.
    notes : list of str
        What the reader noticed and the user should know.
    """

    path: str
    format_name: str
    scenes: tuple[str, ...]
    scene: int
    level_shapes: tuple[tuple[int, ...], ...]
    channel_names: tuple[str, ...]
    pixel_size: PixelSize | None
    pixel_size_error: ImageReadError | None = None
    notes: list[str]

    @abc.abstractmethod
    def layout(self, level: int) -> Layout:
        """The layout of ``level`` (already checked: raises for what cannot be analysed)."""

    @abc.abstractmethod
    def read(self, level: int) -> np.ndarray:
        """``level`` in memory, in the order of ``layout(level).axes``.

        Raises :class:`ImageReadError` naming the file and the format for data
        that cannot be decoded.
        """

    @abc.abstractmethod
    def lazy(self, level: int) -> dask.array.Array:
        """``level`` as a dask array read chunk by chunk, axes as ``layout(level).axes``."""

    def check_data(self, level: int) -> None:  # noqa: B027 (optional hook)
        """Refuse a level whose data is visibly missing before reading it (default: no check)."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release the file (default: nothing to release)."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def check_level(self, level: int) -> None:
        """Raise :class:`ImageReadError` when ``level`` is not in the file."""
        n = len(self.level_shapes)
        if level >= n:
            raise ImageReadError(
                self.path,
                f"level {level} requested but the file has {n} resolution level(s) (0-{n - 1})",
            )

    def level_layout(self, level: int, axes: str, dtype: np.dtype, *, rgb: bool) -> Layout:
        """:func:`make_layout` of ``level`` (shape from ``level_shapes``) once it is in the file."""
        self.check_level(level)
        return make_layout(
            self.path,
            axes,
            self.level_shapes[level],
            dtype,
            rgb=rgb,
            format_name=self.format_name,
        )

    def metadata_pixel_size(self, read: Callable[[], PixelSize | None]) -> PixelSize | None:
        """``read()``, or None with ``pixel_size_error`` set when it raises ImageReadError."""
        try:
            return read()
        except ImageReadError as exc:
            self.pixel_size_error = exc
            return None


def make_layout(
    path: str,
    axes: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    *,
    rgb: bool,
    format_name: str,
) -> Layout:
    """Classify an array of tifffile-style ``axes`` (Y, X, C, S, Z, T) for the analysis.

    Length-1 axes must already be removed except Y and X. ``rgb`` says the
    ``S`` or ``C`` axis holds red, green and blue.

    Raises
    ------
    ImageReadError
        bool/complex/non-numeric dtype, no single Y and X axis, a time axis,
        another axis, fewer than 64 pixels on a side, RGB with other than 3 or
        4 samples.
    """
    found = f"{format_name} axes {axes!r}, shape {shape}, dtype {dtype}"
    check_array(path, axes, dtype, found)
    sizes = dict(zip(axes, shape, strict=True))
    for ax, n in sizes.items():
        if ax in "YXSCZ":
            continue
        if ax == "T":
            raise time_series_error(path, n, found)
        raise ImageReadError(
            path,
            f"unsupported layout: an axis {ax!r} of length {n} ({found}); "
            "ienfd reads Y, X, channel and Z axes",
        )
    rows, cols = sizes["Y"], sizes["X"]
    check_min_side(path, rows, cols)
    channel_axis = channel_axis_of(path, sizes, found)
    if rgb:
        assert channel_axis is not None
        check_rgb_samples(path, sizes[channel_axis], found)
        return Layout(axes, shape, dtype, "rgb", channel_axis, 3, sizes.get("Z", 1), rows, cols)
    return plain_layout(axes, shape, dtype, sizes, channel_axis)


def choose_scene(path: str, scenes: tuple[str, ...], scene: int | str | None) -> int:
    """Index of ``scene`` (an index, a string of digits or a name) among ``scenes``.

    Raises
    ------
    ImageReadError
        No such scene; the message lists them.
    """
    listed = ", ".join(f"{i} {name!r}" for i, name in enumerate(scenes))
    if scene is None:
        return 0
    if isinstance(scene, str) and scene.strip().isdigit():
        scene = int(scene.strip())
    if isinstance(scene, int):
        if 0 <= scene < len(scenes):
            return scene
        raise ImageReadError(
            path, f"scene {scene} is out of range: the file has {len(scenes)} scene(s): {listed}"
        )
    hits = [i for i, name in enumerate(scenes) if name.casefold() == scene.casefold()]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise ImageReadError(path, f"scene name {scene!r} matches scenes {hits}; give its index")
    raise ImageReadError(path, f"unknown scene {scene!r}; the file's scenes: {listed}")
