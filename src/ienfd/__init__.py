"""ienfd: intraepidermal nerve fibre density from PGP 9.5 skin-biopsy sections.

The package root gives what a user needs to count one section: read it
(the pixel size comes from the file's metadata), analyse it, read the result.

Examples
--------
A small generated bright-field section, written as a TIFF and counted:

>>> import tempfile, pathlib
>>> import ienfd
>>> from ienfd.io import write_section_tiff
>>> from ienfd.synthetic import SectionSpec, generate_section
>>> section = generate_section(SectionSpec(seed=2, length_um=300, pixel_size_um=0.6))
>>> with tempfile.TemporaryDirectory() as folder:
...     path = pathlib.Path(folder) / "leg.tif"
...     _ = write_section_tiff(path, section.image, pixel_size_um=0.6, kind="tiff")
...     image = ienfd.read_section(path)
>>> image.pixel_size_um, image.modality
(0.6, 'brightfield')
>>> result = ienfd.analyze_section(image.rgb, spacing=image.pixel_size_um)
>>> abs(result.count - section.truth["count"]) <= 1, result.length_basis
(True, 'dej')

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
