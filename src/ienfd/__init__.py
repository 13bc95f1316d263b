"""ienfd: intraepidermal nerve fibre density from PGP 9.5 skin-biopsy sections.

The package root gives what a user needs to count one section::

    import ienfd

    image = ienfd.read_section("leg.ome.tif")          # SectionImage, pixel size from metadata
    result = ienfd.analyze_section(image.rgb, spacing=image.pixel_size_um)
    result.count, result.density_per_mm, result.needs_review

:func:`read_section` and :func:`probe_image` read files (:mod:`ienfd.io`,
which also writes results); :func:`analyze_section`,
:class:`AnalysisParameters` and :class:`SectionResult` are the pure
analysis (:mod:`ienfd.core`); :class:`PixelSize` is a pixel size and where
it came from. They are loaded on first use, so ``import ienfd`` stays quick.
The package root never imports dask, napari or Qt: those live in
:mod:`ienfd.parallel` and :mod:`ienfd.napari`. Batches, pipelines and the
command line's work are in :mod:`ienfd.workflow`, clinical aggregation in
:mod:`ienfd.clinical`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the subpackage that defines it.
_LAZY = {
    "AnalysisParameters": "ienfd.core",
    "SectionResult": "ienfd.core",
    "analyze_section": "ienfd.core",
    "PixelSize": "ienfd.io",
    "probe_image": "ienfd.io",
    "read_section": "ienfd.io",
}

__all__ = [
    "AnalysisParameters",
    "PixelSize",
    "SectionResult",
    "__version__",
    "analyze_section",
    "probe_image",
    "read_section",
]

if TYPE_CHECKING:
    from ienfd.core import AnalysisParameters, SectionResult, analyze_section
    from ienfd.io import PixelSize, probe_image, read_section


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ienfd' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
