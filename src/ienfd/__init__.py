"""ienfd: intraepidermal nerve fibre density from PGP 9.5 skin-biopsy sections.

The package root exposes the pure image-analysis core. It never imports dask,
napari or Qt; those live in :mod:`ienfd.parallel` and :mod:`ienfd.napari`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
