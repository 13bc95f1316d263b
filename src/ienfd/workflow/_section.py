"""Analyse one section and write its record: shared by ``ienfd analyze`` and ``ienfd batch``.

No dask here: the batch layer (:mod:`ienfd.parallel`) calls :func:`run_section`
inside its tasks, the ``analyze`` command calls it in a loop. A section is a
whole image file, or a rectangular region of a whole-slide image already read
by the caller (then every coordinate written is shifted into the slide's
full-resolution frame). On request (``SectionJob.consistency``) the section is
also analysed turned, flipped and at a coarser pixel size
(:func:`ienfd.core.assess_consistency`), and the result says how stable it was.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ienfd import __version__
from ienfd.core import (
    AnalysisError,
    AnalysisParameters,
    ConsistencyReport,
    SectionResult,
    analyze_section,
    assess_consistency,
    with_consistency,
)
from ienfd.io import (
    READ_SUFFIXES,
    ImageInfo,
    Modality,
    ResultQuality,
    SectionImage,
    file_sha256,
    read_junction,
    read_section,
    result_quality,
    save_overlay,
    write_json,
)

__all__ = [
    "ReaderOptions",
    "Region",
    "SectionJob",
    "SectionOutcome",
    "image_stem",
    "output_folder",
    "output_stems",
    "remove_outputs",
    "run_section",
]

logger = logging.getLogger(__name__)

LengthBasis = Literal["dej", "surface"]

#: Endings of the inputs found in a folder, removed from an input's name to give the output
#: stem (longest first): every format :func:`ienfd.io.read_section` reads
#: (:data:`ienfd.io.READ_SUFFIXES`), with the compound OME endings and the BigTIFF variants.
IMAGE_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        {*READ_SUFFIXES, ".ome.tiff", ".ome.tif", ".ome.zarr", ".tf8", ".tf2"},
        key=lambda s: (-len(s), s),
    )
)


@dataclass(frozen=True)
class ReaderOptions:
    """What the reader needs beyond the file's metadata (None: from the metadata)."""

    modality: Modality | None = None
    pixel_size_um: float | None = None
    fibre_channel: int | str | None = None
    membrane_channel: int | str | None = None
    scene: int | str | None = None
    """For a file of several scenes (CZI, LIF, ND2, OME-Zarr, multi-image OME-TIFF): which,
    by index or name (None: the first)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (every field)."""
        return asdict(self)

    def refuses(self, info: ImageInfo) -> str | None:
        """Why a file of ``info`` is not one for a pipeline of ``modality``; None when it is.

        A pipeline names the modality its parameters were chosen for; a file
        whose metadata say the other one is refused (a greyscale file, whose
        metadata leave it open, is not).

        >>> rgb = ImageInfo(path="a.tif", shapes=((64, 64, 3),), axes="YXS",
        ...     dtype=np.dtype("uint8"), modality="brightfield", channel_names=(),
        ...     pixel_size=None, n_levels=1)
        >>> why = ReaderOptions(modality="fluorescence").refuses(rgb)
        >>> print(why.replace("; ", ";\\n"))
        the pipeline is for fluorescence images but this is a brightfield image (axes 'YXS');
        choose the brightfield pipeline
        >>> ReaderOptions(modality="brightfield").refuses(rgb) is None
        True
        """
        found = info.modality
        if self.modality is None or found is None or found == self.modality:
            return None
        return (
            f"the pipeline is for {self.modality} images but this is a {found} image "
            f"(axes {info.axes!r}); choose the {found} pipeline"
        )


@dataclass(frozen=True)
class Region:
    """One section of a whole-slide image: a box in full-resolution pixels.

    Rows ``row0 <= r < row1`` and columns ``col0 <= c < col1`` of level 0;
    ``index`` numbers the sections of the slide from 1.
    """

    index: int
    row0: int
    col0: int
    row1: int
    col1: int

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the box."""
        return (self.row1 - self.row0, self.col1 - self.col0)

    def to_dict(self) -> dict[str, int]:
        """JSON-ready copy (every field)."""
        return asdict(self)


@dataclass(frozen=True)
class SectionJob:
    """Everything needed to analyse one section and write its outputs.

    Attributes
    ----------
    image : str
        The input as the user gave it (written as ``image`` in the JSON).
    path : str
        Where to open it (``image``, or resolved against a manifest's folder).
    out_dir : str
        Output folder (must exist).
    stem : str
        Output names: ``<stem>.json`` and ``<stem>.overlay.png``.
    reader : ReaderOptions
    parameters : AnalysisParameters
    length_basis : {'dej', 'surface'}
    overlay : bool
        Draw the QC overlay.
    region : Region or None
        For a section of a whole-slide image: its box in level-0 pixels.
    slide_shape : tuple of int or None
        (rows, cols) of the slide's level 0 when ``region`` is set.
    junction : str or None
        A junction drawn elsewhere (QuPath GeoJSON or label TIFF,
        :func:`ienfd.io.read_junction`), counted across instead of searching
        for one; for whole images only (not with ``region``), and not with
        ``consistency`` (which checks the search).
    consistency : bool
        Also analyse the section at 1.25 and 1.5 times its pixel size
        (:func:`ienfd.core.assess_consistency`, with the result at its own
        size as the first run: 2 more analyses, of reduced copies, about 4
        times as long in all; benchmarks/bench_consistency.py), add the
        spread to ``qc`` and any instability to ``qc_reasons``, and write
        every run under ``consistency`` in the JSON.
    extra : dict
        Further keys written into the JSON after the result (batch provenance).
    """

    image: str
    path: str
    out_dir: str
    stem: str
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    parameters: AnalysisParameters = field(default_factory=AnalysisParameters)
    length_basis: LengthBasis = "dej"
    overlay: bool = True
    region: Region | None = None
    slide_shape: tuple[int, int] | None = None
    consistency: bool = False
    junction: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: A lab's pixel model file (``ienfd train``): the junction of its epidermis
    #: replaces the junction search (a drawn ``junction`` still wins).
    pixel_model: str | None = None

    @property
    def json_path(self) -> Path:
        """The result JSON this job writes."""
        return Path(self.out_dir) / f"{self.stem}.json"

    @property
    def overlay_path(self) -> Path:
        """The overlay PNG this job writes (when ``overlay``)."""
        return Path(self.out_dir) / f"{self.stem}.overlay.png"


@dataclass(frozen=True)
class SectionOutcome:
    """The record written for one section, and the notes to show the user.

    ``result`` is the analysis itself, with its fibre trace (the napari plugin
    keeps it to recount after a junction edit).
    """

    record: dict[str, Any]
    notes: list[str]
    result: SectionResult | None = field(default=None, repr=False, compare=False)

    @property
    def quality(self) -> ResultQuality:
        """Whether the count needs review by eye, and why (:func:`ienfd.io.result_quality`)."""
        return result_quality(self.record)


def image_stem(path: str) -> str:
    """File (or OME-Zarr folder) name without its format's ending: ``a/b/x.ome.tif`` -> ``x``.

    Examples
    --------
    >>> image_stem("a/b/leg_1.ome.tif")
    'leg_1'
    >>> image_stem("b.ome.zarr/"), image_stem("a.czi")
    ('b', 'a')
    """
    name = Path(path).name
    lower = name.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def output_stems(paths: list[str]) -> list[str]:
    """One distinct output stem per input, deterministic, unique even case-insensitively.

    Inputs that share a stem get their parent folder's name appended
    (``x__patientA``); names still equal after that get ``__2``, ``__3``... in
    input order.

    Examples
    --------
    >>> output_stems(["a/x.tif", "b/x.tif", "y.tif"])
    ['x__a', 'x__b', 'y']
    """
    from collections import Counter

    stems = [image_stem(p) for p in paths]
    shared = Counter(s.casefold() for s in stems)
    named = []
    for path, stem in zip(paths, stems, strict=True):
        if shared[stem.casefold()] > 1:
            parent = Path(path).absolute().parent.name or "root"
            stem = f"{stem}__{parent}"
        named.append(stem)
    result: list[str] = []
    used: set[str] = set()
    for stem in named:
        candidate, k = stem, 1
        while candidate.casefold() in used:
            k += 1
            candidate = f"{stem}__{k}"
        used.add(candidate.casefold())
        result.append(candidate)
    return result


def output_folder(path: str | os.PathLike[str]) -> Path:
    """The output folder ``path``, created with its parents if missing.

    Raises
    ------
    OSError
        It cannot be created (a file of that name, no permission...).
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_outputs(job: SectionJob) -> list[Path]:
    """Remove a JSON and overlay left by an earlier run under the job's stem.

    Called when the section fails, so that a stale result cannot pass for a
    new one. Returns the files removed.
    """
    removed = []
    for stale in (job.json_path, job.overlay_path):
        if stale.exists():
            stale.unlink()
            removed.append(stale)
    return removed


def _read(job: SectionJob) -> SectionImage:
    return read_section(
        job.path,
        modality=job.reader.modality,
        pixel_size_um=job.reader.pixel_size_um,
        fibre_channel=job.reader.fibre_channel,
        membrane_channel=job.reader.membrane_channel,
        scene=job.reader.scene,
    )


def _pixels(image: SectionImage) -> tuple[np.ndarray, np.ndarray | None, Modality]:
    """What the core analyses: the RGB or fibre plane, the membrane plane, the modality."""
    pixels, membrane = image.planes
    return pixels, membrane, "brightfield" if image.rgb is not None else "fluorescence"


def _analysis_arguments(image: SectionImage, job: SectionJob) -> tuple[Any, dict[str, Any]]:
    """The pixels and keyword arguments of one section's analysis, whichever is run."""
    pixels, membrane, modality = _pixels(image)
    arguments: dict[str, Any] = {
        "spacing": image.pixel_size_um,
        "modality": modality,
        "membrane": membrane,
        "length_basis": job.length_basis,
        "parameters": job.parameters,
    }
    if job.junction is not None:
        if job.region is not None:
            raise ValueError(
                f"{job.junction}: a drawn junction is read for a whole image, not for a "
                f"section of the whole-slide image {job.image}"
            )
        arguments["junction"] = read_junction(
            job.junction, shape=pixels.shape[:2], pixel_size_um=image.pixel_size_um
        )
    return pixels, arguments


def _analyse(image: SectionImage, job: SectionJob) -> SectionResult:
    pixels, arguments = _analysis_arguments(image, job)
    if job.pixel_model is not None and job.junction is None:
        from ienfd.learn import analyze_with_model, read_pixel_model

        model = read_pixel_model(job.pixel_model)
        source = f"pixel model {file_sha256(job.pixel_model)[0]}"
        return analyze_with_model(pixels, model, source=source, **arguments)
    return analyze_section(pixels, **arguments)


def _assess_consistency(
    image: SectionImage, job: SectionJob, result: SectionResult
) -> ConsistencyReport:
    """The section at three pixel sizes: ``result`` at its own, 2 more analyses."""
    pixels, arguments = _analysis_arguments(image, job)
    return assess_consistency(pixels, own=result, **arguments)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float, also inside dicts and lists, as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _shift_points(points: list[dict[str, float]], dr: int, dc: int) -> list[dict[str, float]]:
    return [{"row": p["row"] + dr, "col": p["col"] + dc} for p in points]


def _shift_lines(lines: list[list[list[float]]], dr: int, dc: int) -> list[list[list[float]]]:
    return [[[round(r + dr, 1), round(c + dc, 1)] for r, c in line] for line in lines]


def run_section(job: SectionJob, image: SectionImage | None = None) -> SectionOutcome:
    """Read (unless given), analyse, draw and write one section.

    The overlay is drawn first and the JSON written last, both atomically, so
    that a JSON exists only for a section whose analysis completed.

    Parameters
    ----------
    job : SectionJob
        What to analyse and where to write.
    image : SectionImage, optional
        The section already in memory (a region of a whole-slide image, read
        by :mod:`ienfd.parallel`); by default ``job.path`` is read with
        :func:`ienfd.io.read_section`.

    Returns
    -------
    SectionOutcome
        The JSON record as written and the notes (reader and analysis warnings).
        With ``job.consistency`` the record's ``qc`` holds the ``consistency_*``
        values, its ``qc_reasons`` any instability, and ``consistency`` one
        entry per rescaled analysis (``rotation``, ``flip``,
        ``pixel_size_um``, ``count``, ``dej_length_um``, ``error``).

    Raises
    ------
    ImageReadError
        The file cannot be read (names the file and the reason).
    AnalysisError
        No section could be analysed (no tissue, no epidermis, zero length on
        the chosen basis).
    ValueError
        A bad argument for the reader or the core.
    OSError
        The outputs cannot be written.
    """
    start = time.perf_counter()
    if job.pixel_model is not None and job.junction is None and job.consistency:
        raise ValueError(
            f"{job.image}: the consistency check tests the junction search, and with a "
            f"pixel model ({job.pixel_model}) there is none; ask for one or the other"
        )
    if job.junction is not None and job.consistency:
        raise ValueError(
            f"{job.image}: the consistency check tests the junction search, and with a drawn "
            f"junction ({job.junction}) there is none; ask for one or the other"
        )
    if image is None:
        image = _read(job)
    result = _analyse(image, job)
    # Lengths rounded to 1 nm; the density is computed from the length as written,
    # so that density_per_mm == count / (length / 1000) holds on the JSON values.
    dej_um = round(float(result.dej_length_um), 3)
    surface_um = round(float(result.surface_length_um), 3)
    basis_um = dej_um if result.length_basis == "dej" else surface_um
    if not (math.isfinite(basis_um) and basis_um > 0):
        raise AnalysisError(
            f"the {result.length_basis} length is {basis_um} µm, so no density can be "
            "given; try the other length basis"
        )
    consistency = None
    if job.consistency:  # after the checks above: 2 analyses are not spent on a failure
        consistency = _assess_consistency(image, job, result)
        result = with_consistency(result, consistency)
    overlay_name = None
    if job.overlay:
        overlay_name = job.overlay_path.name
        title = job.image
        if job.region is not None:
            r = job.region
            title = (
                f"{job.image} section {r.index} (rows {r.row0}-{r.row1}, cols {r.col0}-{r.col1}; "
                "overlay in section coordinates)"
            )
        save_overlay(job.overlay_path, image, result, title=title)
    summary = result.to_dict()
    dr, dc = (job.region.row0, job.region.col0) if job.region is not None else (0, 0)
    record: dict[str, Any] = {
        "image": job.image,
        "modality": image.modality,
        "pixel_size_um": float(image.pixel_size_um),
        "count": int(result.count),
        "crossings": _shift_points(summary.pop("crossings"), dr, dc),
        "dej_length_um": dej_um,
        "surface_length_um": surface_um,
        "density_per_mm": result.count / (basis_um / 1000.0),
        "length_basis": result.length_basis,
    }
    for key in ("fragments", "short_fibres"):
        summary[key] = _shift_points(summary[key], dr, dc)
    for key in ("dej", "surface"):
        summary[key] = _shift_lines(summary[key], dr, dc)
    for key, value in summary.items():  # the rest of the result; strict JSON: no NaN
        if key not in record:
            record[key] = _finite(value)
    if job.junction is not None:
        record["junction_file"] = job.junction
    if job.reader.scene is not None:  # the scene asked for, by the name the file gives it
        record["scene"] = image.scene or str(job.reader.scene)
    if consistency is not None:  # every rescaled analysis of the section
        record["consistency"] = [_finite(dict(run)) for run in consistency.runs]
    shape = list(job.slide_shape) if job.region is not None and job.slide_shape else image.shape
    record.update(
        {
            "image_shape": list(shape),
            "pixel_size_source": image.pixel_size.source,
            "channels": {
                "fibre": image.fibre_channel,
                "membrane": image.membrane_channel,
                "names": list(image.channel_names),
            },
            "reader_warnings": list(image.warnings),
            "overlay": overlay_name,
            "ienfd_version": __version__,
        }
    )
    if job.region is not None:
        record["section_index"] = job.region.index
        record["region"] = job.region.to_dict()
    record.update(job.extra)
    record["elapsed_s"] = round(time.perf_counter() - start, 3)
    write_json(job.json_path, record)
    notes = list(image.warnings) + list(result.warnings)
    return SectionOutcome(record=record, notes=notes, result=result)
