"""Start-up of the commands that analyse images: the allocator and scipy's first import.

A command that analyses one section spends a third of its time outside the
analysis (``benchmarks/bench_e2e.py``). Two parts of it are the process's,
not the analysis': what importing scipy loads, and what a fresh process pays
to get memory from the kernel. :func:`prepare_analysis` trims both; it is
called once, by :func:`ienfd.cli.main`, before a command that analyses
images runs. Neither changes a result.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import sys
import types

__all__ = ["defer_numpy_submodules", "prepare_analysis", "tune_allocator"]

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
#: glibc's largest threshold for serving an allocation from the heap (64-bit).
_MMAP_THRESHOLD = 32 * 2**20


def tune_allocator() -> bool:
    """Keep freed memory in the process for the next array (glibc only); True if set.

    By default glibc gives every block above a threshold its own fresh mapping
    and returns it to the kernel when freed; it raises the threshold only as
    blocks are freed, so a fresh process maps, faults in and zeroes anew most
    of the analysis' temporary arrays (tens of MB each), hundreds of ms of
    kernel time on a 10-megapixel section that a second analysis in the same
    process does not pay. Here the threshold starts at glibc's largest
    (32 MB), and freed memory stays in the heap for reuse. Peak memory is
    unchanged; the memory held after the peak is not returned until exit.
    Nothing is changed when the user sets glibc's own ``MALLOC_*`` variables
    or when the C library is not glibc.
    """
    if not sys.platform.startswith("linux") or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl's mallopt does nothing)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    done &= mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD)
    done &= mallopt(_M_TOP_PAD, 2 * _MMAP_THRESHOLD)
    return bool(done)


class _Deferred(types.ModuleType):
    """Stands for a numpy submodule not imported yet; imports it on first attribute use."""

    def __getattr__(self, name: str) -> object:
        return getattr(importlib.import_module(self.__name__), name)


#: numpy's lazily loaded submodules that nothing on the analysis' path uses:
#: f2py (Fortran wrappers; it loads charset_normalizer) and testing (it loads
#: unittest, email and importlib.metadata), about a tenth of a second together.
_UNUSED_SUBMODULES = ("f2py", "testing", "polynomial", "ctypeslib", "char", "rec", "strings")


def defer_numpy_submodules(*modules: str) -> None:
    """Import ``modules`` (e.g. ``"scipy.ndimage"``) without loading numpy's unused submodules.

    scipy's array-API layer copies every public name of numpy when it is first
    imported, and asking numpy for the name of a submodule it loads lazily
    imports that submodule. While ``modules`` are imported, those names stand
    for placeholders that import the real submodule on first use (a copy held
    by scipy stays usable); afterwards numpy loads them lazily again as usual.
    """
    import numpy

    placed = []
    for name in _UNUSED_SUBMODULES:
        if name not in vars(numpy) and f"numpy.{name}" not in sys.modules:
            setattr(numpy, name, _Deferred(f"numpy.{name}"))
            placed.append(name)
    try:
        for module in modules:
            importlib.import_module(module)
    finally:
        for name in placed:
            if isinstance(vars(numpy).get(name), _Deferred):
                delattr(numpy, name)


def prepare_analysis() -> None:
    """Set up a process that will analyse images (:func:`tune_allocator`, then scipy)."""
    tune_allocator()
    defer_numpy_submodules("scipy.ndimage")
