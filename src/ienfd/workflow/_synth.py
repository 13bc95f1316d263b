"""Write synthetic sections and their truth files: the loop behind ``ienfd synth``.

:mod:`ienfd.synthetic` draws and renders sections without touching files;
this writes them, one image (OME-TIFF, plain TIFF or ImageJ TIFF) and one
``<stem>.truth.json`` per section, through the io writers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ienfd.io import write_json, write_section_tiff
from ienfd.synthetic import SectionSpec, generate_section, random_spec

__all__ = ["TiffKind", "WrittenSection", "write_synthetic_sections"]

#: The TIFF flavours a synthetic section can be written as.
TiffKind = Literal["ome", "tiff", "imagej"]
_KINDS = ("ome", "tiff", "imagej")


@dataclass(frozen=True)
class WrittenSection:
    """One synthetic section written: its files, how, and what it holds."""

    image_path: Path
    truth_path: Path
    kind: TiffKind
    spec: SectionSpec
    truth: dict[str, Any]


def write_synthetic_sections(
    out_dir: str | os.PathLike[str],
    n: int = 1,
    *,
    seed: int = 0,
    kinds: Sequence[TiffKind] = ("ome",),
    stem: str = "synth",
    pyramid_levels: int = 0,
    overrides: dict[str, Any] | None = None,
) -> Iterator[WrittenSection]:
    """Draw, render and write ``n`` synthetic sections; yield each as it is written.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder (created if missing, once the arguments are checked).
    n : int
        How many sections (>= 1).
    seed : int
        Seed of the random draws: the same arguments give the same files.
    kinds : sequence of {'ome', 'tiff', 'imagej'}
        TIFF flavours, used in turn (section ``i`` is ``kinds[i % len(kinds)]``).
    stem : str
        File-name prefix: ``<stem>_000``, ``<stem>_001``... (``<stem>`` alone
        when ``n`` is 1).
    pyramid_levels : int
        Sub-resolutions of an OME-TIFF.
    overrides : dict, optional
        :class:`~ienfd.synthetic.SectionSpec` fields fixed for every section
        (:func:`~ienfd.synthetic.random_spec` draws the rest).

    Returns
    -------
    iterator of WrittenSection
        The sections in order, each yielded once its image and truth are
        on disk.

    Raises
    ------
    ValueError, TypeError
        ``n`` below 1, an unknown kind, or an override ``random_spec``
        refuses; raised before anything is created.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     written = list(write_synthetic_sections(
    ...         out, 2, seed=1, kinds=["ome", "tiff"],
    ...         overrides={"length_um": 150, "modality": "fluorescence"}))
    ...     [w.image_path.name for w in written]
    ['synth_000.ome.tif', 'synth_001.tif']
    """
    if n < 1:
        raise ValueError(f"n = {n}; accepted: >= 1")
    unknown = [k for k in kinds if k not in _KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds {list(kinds)!r}; accepted: one or more of {list(_KINDS)}")
    fixed = dict(overrides or {})
    random_spec(seed, **fixed)  # refuse bad overrides before creating anything
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return _write(out, n, seed, list(kinds), stem, pyramid_levels, fixed)


def _write(
    out: Path,
    n: int,
    seed: int,
    kinds: list[TiffKind],
    stem: str,
    pyramid_levels: int,
    overrides: dict[str, Any],
) -> Iterator[WrittenSection]:
    rng = np.random.default_rng(seed)
    for i in range(n):
        spec = random_spec(rng, **overrides)
        kind = kinds[i % len(kinds)]
        name = f"{stem}_{i:03d}" if n > 1 else stem
        section = generate_section(spec)
        image_path = out / (f"{name}.ome.tif" if kind == "ome" else f"{name}.tif")
        write_section_tiff(
            image_path,
            section.image,
            pixel_size_um=spec.pixel_size_um,
            kind=kind,
            channel_names=section.channel_names if spec.modality == "fluorescence" else None,
            pyramid_levels=pyramid_levels if kind == "ome" else 0,
        )
        truth = {"image": image_path.name, "kind": kind, **section.truth}
        truth_path = out / f"{name}.truth.json"
        write_json(truth_path, truth)
        yield WrittenSection(image_path, truth_path, kind, spec, truth)
