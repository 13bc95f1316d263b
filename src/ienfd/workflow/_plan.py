"""Plan the work: input files to sections to jobs, each with its key and resume decision.

Bookkeeping that needs no cluster, tested in ``tests/workflow``:
:func:`plan_jobs` takes what was found out about each input of a batch
(:class:`InputPlan`: its hash, and for a whole-slide image the boxes of its
sections) and returns one :class:`PlannedSection` per section, with the job
that analyses it, the key that makes an earlier result reusable
(:func:`job_key`) and whether to run it, skip it (:func:`is_done`, which reads
the earlier result JSON) or report it failed. :func:`analysis_jobs` is the
plan of ``ienfd analyze``: one job per file. :mod:`ienfd.parallel` finds out
about a batch's inputs on the cluster and runs the jobs there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ienfd.core import AnalysisParameters
from ienfd.io import result_quality
from ienfd.workflow._inputs import InputRow
from ienfd.workflow._pipeline import Pipeline
from ienfd.workflow._run import SectionRun, failed_section
from ienfd.workflow._section import (
    LengthBasis,
    ReaderOptions,
    Region,
    SectionJob,
    output_folder,
    output_stems,
)
from ienfd.workflow._tables import SectionEntry

__all__ = [
    "BatchPlan",
    "InputPlan",
    "PlanAction",
    "PlannedSection",
    "analysis_jobs",
    "decided_runs",
    "is_done",
    "job_key",
    "mark_duplicates",
    "plan_jobs",
    "reader_for_row",
    "settle_entries",
]

#: What to do with a planned section: analyse it, keep its earlier result, or report its input's
#: error.
PlanAction = Literal["run", "skip", "error"]


@dataclass(frozen=True)
class InputPlan:
    """What was found out about one input file before its sections are analysed.

    Attributes
    ----------
    row : InputRow
    sha256 : str
        Hash of the file's bytes (part of every job key).
    size_bytes : int
    slide_shape : tuple of int or None
        (rows, cols) of level 0 when the input is a whole-slide image split
        into ``regions``; None for a file analysed whole.
    regions : tuple of Region
        The sections of a whole-slide image, numbered from 1.
    error : str
        Why the input cannot be analysed (names the file); empty if it can.
    scene : int or None
        The scene of a multi-scene file this plan is for (each scene is
        planned on its own when no scene was asked for); None otherwise.
    n_scenes : int
        How many scenes the file holds.
    duplicate_of : str
        The input (as given) whose bytes and scene this one repeats; empty if
        none. Set by :func:`plan_jobs`, which makes such an input an error.
    """

    row: InputRow
    sha256: str = ""
    size_bytes: int = 0
    slide_shape: tuple[int, int] | None = None
    regions: tuple[Region, ...] = ()
    error: str = ""
    scene: int | None = None
    n_scenes: int = 1
    duplicate_of: str = ""

    def record(self) -> dict[str, Any]:
        """The input as the run record lists it."""
        return {
            "image": self.row.image,
            "sha256": self.sha256 or None,
            "size_bytes": self.size_bytes or None,
            "sections": len(self.regions) if self.slide_shape else 1,
            "whole_slide": self.slide_shape is not None,
            "error": self.error or None,
            **({"scene": self.scene} if self.scene is not None else {}),
            **({"duplicate_of": self.duplicate_of} if self.duplicate_of else {}),
        }


@dataclass(frozen=True)
class PlannedSection:
    """One section of a batch: its table entry, its job, and what to do with it."""

    entry: SectionEntry
    job: SectionJob
    input_index: int
    action: PlanAction
    error: str = ""


@dataclass(frozen=True)
class BatchPlan:
    """Every section of a batch, in input order, and the inputs for the run record."""

    sections: tuple[PlannedSection, ...]
    inputs: tuple[dict[str, Any], ...]

    @property
    def jobs(self) -> list[SectionJob]:
        """Every section's job, in order (including those skipped or failed)."""
        return [s.job for s in self.sections]

    def count(self, action: PlanAction) -> int:
        """How many sections the plan does ``action`` with."""
        return sum(s.action == action for s in self.sections)


def analysis_jobs(
    images: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    reader: ReaderOptions | None = None,
    parameters: AnalysisParameters | None = None,
    length_basis: LengthBasis = "dej",
    overlay: bool = True,
    consistency: bool = False,
    junction: str | None = None,
    pixel_model: str | None = None,
) -> list[SectionJob]:
    """One job per image file, each with its own output stem (``ienfd analyze``).

    Inputs that share a stem get distinct ones (:func:`~ienfd.workflow.output_stems`).
    A drawn ``junction`` file belongs to one image: with it, ``images`` must be one.
    Creates ``out_dir`` if it is missing (raises ``OSError`` if it cannot).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as out:
    ...     jobs = analysis_jobs(["a/x.tif", "b/x.tif"], out)
    >>> [job.stem for job in jobs]
    ['x__a', 'x__b']
    """
    output_folder(out_dir)
    parameters = AnalysisParameters() if parameters is None else parameters
    if not isinstance(parameters, AnalysisParameters):
        raise TypeError(f"parameters must be AnalysisParameters, got {type(parameters).__name__}")
    if junction is not None and len(images) != 1:
        raise ValueError(
            f"a drawn junction ({junction}) belongs to one image; {len(images)} were given"
        )
    return [
        SectionJob(
            image=image,
            path=image,
            out_dir=str(out_dir),
            stem=stem,
            reader=reader or ReaderOptions(),
            parameters=parameters,
            length_basis=length_basis,
            overlay=overlay,
            consistency=consistency,
            junction=junction,
            pixel_model=pixel_model,
        )
        for image, stem in zip(images, output_stems(list(images)), strict=True)
    ]


def reader_for_row(row: InputRow, pipeline: Pipeline, defaults: ReaderOptions) -> ReaderOptions:
    """Reader options for one input: its manifest columns, else ``defaults``; the pipeline's
    modality.

    Examples
    --------
    >>> from ienfd.workflow import default_pipeline
    >>> row = InputRow(image="a.tif", path="a.tif", pixel_size_um=0.5)
    >>> reader_for_row(row, default_pipeline(), ReaderOptions(pixel_size_um=0.4)).pixel_size_um
    0.5
    """
    return ReaderOptions(
        modality=pipeline.modality,
        pixel_size_um=row.pixel_size_um
        if row.pixel_size_um is not None
        else defaults.pixel_size_um,
        fibre_channel=row.fibre_channel or defaults.fibre_channel,
        membrane_channel=row.membrane_channel or defaults.membrane_channel,
        scene=defaults.scene,
    )


def _reader_key(reader: ReaderOptions) -> dict[str, Any]:
    """The reader options in a job key; without a scene as before scenes were chosen, so that
    results written then are still reused."""
    options = reader.to_dict()
    if options["scene"] is None:
        del options["scene"]
    return options


def job_key(sha256: str, job: SectionJob) -> str:
    """What makes a result reusable: same input bytes, parameters, basis, reader and region.

    The key is written into the result as ``batch_key``; :func:`is_done`
    compares it. The overlay and the consistency check are not part of it.

    Examples
    --------
    >>> job = SectionJob(image="a.tif", path="a.tif", out_dir="out", stem="a")
    >>> job_key("0" * 64, job) == job_key("0" * 64, replace(job, overlay=False))
    True
    >>> job_key("0" * 64, job) == job_key("1" * 64, job)
    False
    """
    key = {
        "input_sha256": sha256,
        "parameters": job.parameters.to_dict(),
        "length_basis": job.length_basis,
        "reader": _reader_key(job.reader),
        "region": None if job.region is None else job.region.to_dict(),
    }
    if job.junction is not None:  # a redrawn junction is a new analysis
        key["junction_sha256"] = hashlib.sha256(Path(job.junction).read_bytes()).hexdigest()
    if job.pixel_model is not None:  # another model finds another junction
        key["pixel_model_sha256"] = hashlib.sha256(Path(job.pixel_model).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def is_done(job: SectionJob) -> bool:
    """True when the job's JSON exists for the same key (and its overlay, if wanted).

    A JSON without quality checks (written by an older ienfd) is not done: it
    cannot say whether its count needs review. Nor is one without the
    consistency runs when the job asks for them; one with them serves a job
    that does not (the same analysis, checked more). The key is
    ``job.extra['batch_key']``.
    """
    try:
        rec = json.loads(job.json_path.read_text(encoding="utf-8"))
        checked = isinstance(rec, dict) and result_quality(rec).checked
    except (OSError, ValueError):
        return False
    if not checked or rec.get("batch_key") != job.extra.get("batch_key"):
        return False
    if job.consistency and not isinstance(rec.get("consistency"), list):
        return False
    return not job.overlay or (
        rec.get("overlay") is not None and (job.json_path.parent / rec["overlay"]).exists()
    )


def _section_label(row: InputRow, index: int | None, n: int, scene: int | None = None) -> str:
    label = row.section
    if scene is not None:  # scenes numbered from 1, as sections of a slide are
        label = f"{label}.scene{scene + 1}" if label else f"scene{scene + 1}"
    if index is None or n == 1:
        return label
    return f"{label}.{index}" if label else str(index)


def _plan_stems(plans: Sequence[InputPlan]) -> list[str]:
    """Output stems: one per input, and ``<stem>_scene01``... for the scenes of one input.

    The plans of one multi-scene input follow each other, its scene 0 first.
    """
    firsts = [i for i, plan in enumerate(plans) if not plan.scene]  # None or scene 0
    base = dict(zip(firsts, output_stems([plans[i].row.image for i in firsts]), strict=True))
    stems = []
    stem = ""
    for i, plan in enumerate(plans):
        stem = base.get(i, stem)
        stems.append(stem if plan.scene is None else f"{stem}_scene{plan.scene + 1:02d}")
    return stems


def _named(plan: InputPlan) -> str:
    """An input as a message names it: path, scene and manifest row."""
    text = plan.row.image
    if plan.scene is not None:
        text += f" scene {plan.scene + 1}"
    if plan.row.row is not None:
        text += f" (manifest data row {plan.row.row})"
    return text


def mark_duplicates(plans: Sequence[InputPlan]) -> list[InputPlan]:
    """The plans with every repeat of an earlier input's image made an error.

    Two inputs are the same image when their bytes have the same SHA-256 and
    they are the same scene (the scenes of one multi-scene file are distinct
    sections): a copy under another name, or a manifest listing a file twice.
    The first, in input order, is kept; each later one gets ``duplicate_of``
    and an ``error`` naming both, so it gives an error row and is never
    counted twice in a biopsy. Inputs that could not be hashed are left alone.

    Examples
    --------
    >>> a = InputPlan(InputRow(image="a.tif", path="a.tif"), "1" * 64, 10)
    >>> b = InputPlan(InputRow(image="copy/a.tif", path="copy/a.tif"), "1" * 64, 10)
    >>> marked = mark_duplicates([a, b])
    >>> marked[1].duplicate_of, marked[1].error.startswith("copy/a.tif: duplicate of a.tif")
    ('a.tif', True)
    """
    first: dict[tuple[str, int | None], InputPlan] = {}
    marked = []
    for plan in plans:
        if plan.sha256 and not plan.error:
            key = (plan.sha256, plan.scene)
            if key in first:
                original = first[key]
                plan = replace(
                    plan,
                    duplicate_of=original.row.image,
                    error=(
                        f"{_named(plan)}: duplicate of {_named(original)} (same sha256 "
                        f"{plan.sha256[:12]}...): an image is analysed and counted once per "
                        "run; this one is not"
                    ),
                )
            else:
                first[key] = plan
        marked.append(plan)
    return marked


def plan_jobs(
    plans: Sequence[InputPlan],
    out_dir: str | os.PathLike[str],
    *,
    pipeline: Pipeline,
    reader: ReaderOptions | None = None,
    overlay: bool | None = None,
    consistency: bool = False,
    force: bool = False,
) -> BatchPlan:
    """Expand inputs into sections and their jobs, and decide which to run.

    Parameters
    ----------
    plans : sequence of InputPlan
        One per input, in input order.
    out_dir : str or os.PathLike
        The batch's output folder.
    pipeline : Pipeline
        Parameters, length basis, modality and overlay default of every analysis.
    reader : ReaderOptions, optional
        Defaults for pixel size and channels (manifest columns win; the
        modality always comes from the pipeline).
    overlay : bool, optional
        Draw QC overlays (default: the pipeline's ``overlay``).
    consistency : bool
        Ask every job for the consistency check.
    force : bool
        Run every section, even one whose result is already there.

    Returns
    -------
    BatchPlan
        One section per input, or one per region of a whole-slide image
        (stems ``<stem>_s01``...). An input with an ``error``, and a repeat
        of an earlier input's image (:func:`mark_duplicates`), gives one
        section with action ``'error'``; a section whose result is there for
        the same key (:func:`is_done`) gets ``'skip'`` unless ``force``; the
        rest ``'run'``. Each job carries the provenance written into its JSON
        (``extra``: patient, site, section, input hash, ``batch_key``,
        pipeline and reader).
    """
    out = str(out_dir)
    defaults = reader or ReaderOptions()
    draw = pipeline.overlay if overlay is None else overlay
    plans = mark_duplicates(plans)
    stems = _plan_stems(plans)
    sections: list[PlannedSection] = []
    for input_index, (plan, stem) in enumerate(zip(plans, stems, strict=True)):
        row = plan.row
        rd = reader_for_row(row, pipeline, defaults)
        if plan.scene is not None:
            rd = replace(rd, scene=plan.scene)
        base = SectionEntry(
            image=row.image,
            stem=stem,
            patient_id=row.patient_id,
            site=row.site,
            section=row.section,
            age=row.age,
            sex=row.sex,
        )
        if plan.error:  # one error row, labelled with its scene like the section it stands for
            entry = replace(base, section=_section_label(row, None, 1, plan.scene))
            job = SectionJob(image=row.image, path=row.path, out_dir=out, stem=stem)
            sections.append(PlannedSection(entry, job, input_index, "error", plan.error))
            continue
        regions: list[Region | None] = list(plan.regions) if plan.slide_shape else [None]
        for region in regions:
            index = None if region is None else region.index
            entry = replace(
                base,
                stem=stem if index is None else f"{stem}_s{index:02d}",
                section=_section_label(row, index, len(regions), plan.scene),
                section_index=index,
            )
            job = SectionJob(
                image=row.image,
                path=row.path,
                out_dir=out,
                stem=entry.stem,
                reader=rd,
                parameters=pipeline.parameters,
                length_basis=pipeline.length_basis,
                overlay=draw,
                region=region,
                slide_shape=plan.slide_shape,
                consistency=consistency,
                junction=row.junction,
                pixel_model=pipeline.pixel_model.path if pipeline.pixel_model else None,
            )
            extra = {
                "patient_id": row.patient_id or None,
                "site": row.site or None,
                "section": entry.section or None,
                "input_sha256": plan.sha256,
                "batch_key": job_key(plan.sha256, job),
                "pipeline": pipeline.record(),
                "reader_options": rd.to_dict(),
            }
            job = replace(job, extra=extra)
            action: PlanAction = "skip" if not force and is_done(job) else "run"
            sections.append(PlannedSection(entry, job, input_index, action))
    return BatchPlan(sections=tuple(sections), inputs=tuple(p.record() for p in plans))


def settle_entries(plan: BatchPlan, runs: Sequence[SectionRun]) -> list[SectionEntry]:
    """The table entries once the runs are in: each failure's error, each skip marked.

    Examples
    --------
    >>> row = InputRow(image="a.tif", path="a.tif")
    >>> from ienfd.workflow import default_pipeline
    >>> plan = plan_jobs([InputPlan(row, error="a.tif: not a TIFF")], "out",
    ...                  pipeline=default_pipeline())
    >>> [s.action for s in plan.sections]
    ['error']
    >>> failed = SectionRun(plan.jobs[0], "error", error="a.tif: not a TIFF")
    >>> settle_entries(plan, [failed])[0].error
    'a.tif: not a TIFF'
    """
    if len(runs) != len(plan.sections):
        raise ValueError(f"{len(runs)} runs for {len(plan.sections)} planned sections")
    entries = []
    for section, run in zip(plan.sections, runs, strict=True):
        entry = section.entry
        if run.status == "error":
            entry = replace(entry, error=run.error)
        elif run.status == "skipped":
            entry = replace(entry, skipped=True)
        entries.append(entry)
    return entries


def decided_runs(plan: BatchPlan) -> list[SectionRun | None]:
    """Per section, the run decided by the plan (skipped, or failed input), None to run it.

    A failed input's earlier results are removed (:func:`~ienfd.workflow.failed_section`).
    """
    decided: list[SectionRun | None] = []
    for section in plan.sections:
        if section.action == "error":
            decided.append(failed_section(section.job, section.error))
        elif section.action == "skip":
            decided.append(SectionRun(job=section.job, status="skipped"))
        else:
            decided.append(None)
    return decided
