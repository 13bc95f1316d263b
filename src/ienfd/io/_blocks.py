"""A lazy dask array over a reader that reads any box of an array (CZI, LIF, ND2, PNG)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

Box = tuple[tuple[int, int], ...]


def block_array(
    shape: tuple[int, ...],
    dtype: np.dtype,
    axes: str,
    read_box: Callable[[Box], np.ndarray],
    *,
    chunk: int,
) -> dask.array.Array:
    """A dask array of ``shape`` whose chunks are read by ``read_box`` when computed.

    Chunks are ``chunk`` x ``chunk`` in Y and X and whole along the other
    axes; ``read_box`` receives one ``(start, stop)`` per axis and must be
    picklable (a module-level function or a :func:`functools.partial` of one),
    so that the array can be computed on other processes.
    """
    import dask.array as da

    chunks = tuple(min(chunk, n) if ax in "YX" else n for ax, n in zip(axes, shape, strict=True))
    template = da.empty(shape, dtype=dtype, chunks=chunks)
    return template.map_blocks(
        _read_block, read_box, dtype=dtype, meta=np.empty((0,) * len(shape), dtype)
    )


def _read_block(
    template: np.ndarray, read_box: Callable[[Box], np.ndarray], block_info: Any = None
) -> np.ndarray:
    location = block_info[0]["array-location"]
    return read_box(tuple((int(a), int(b)) for a, b in location))
