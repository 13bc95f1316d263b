"""The SHA-256 of an input, which ties every result (and every correction) to its bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["file_sha256"]

_CHUNK = 8 * 2**20


def file_sha256(path: str | os.PathLike[str]) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of a file, read in 8 MiB chunks.

    A folder image (OME-Zarr) is hashed over its files in sorted order, each
    preceded by its path relative to the folder, so that a renamed or changed
    chunk changes the hash.

    Raises
    ------
    OSError
        If the file (or a file of the folder) cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "a.bin"
    ...     _ = p.write_bytes(b"abc")
    ...     file_sha256(p)[0][:12], file_sha256(p)[1]
    ('ba7816bf8f01', 3)
    """
    p = Path(path)
    h = hashlib.sha256()
    size = 0
    files = [p] if not p.is_dir() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files:
        if f is not p:
            h.update(f.relative_to(p).as_posix().encode("utf-8") + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
                size += len(chunk)
    return h.hexdigest(), size
