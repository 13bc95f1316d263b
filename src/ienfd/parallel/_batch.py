"""The batch graph: plan every input, analyse every section, one dask task per section.

Two kinds of task run on the workers: :func:`plan_input` (hash the file, read
its metadata and, for a whole-slide image, find its sections at low
resolution) and :func:`analyse_section` (read one section, analyse it, write
its overlay and JSON with :func:`ienfd.workflow.run_section`). The client
only schedules, skips sections already done, and writes the tables and the
run record. Workers must see the input and output paths.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import platform
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ienfd import __version__
from ienfd.clinical import ClinicalInputError
from ienfd.io import ImageReadError, probe_image, result_quality, write_json
from ienfd.parallel._slide import SlideRegion, find_sections, read_region
from ienfd.workflow import (
    InputRow,
    Pipeline,
    ReaderOptions,
    SectionEntry,
    SectionJob,
    biopsy_table,
    output_stems,
    remove_outputs,
    run_section,
    section_table,
    write_table,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DEFAULT_SLIDE_BYTES",
    "BatchEvent",
    "BatchReport",
    "InputPlan",
    "analyse_section",
    "plan_input",
    "run_batch",
]

logger = logging.getLogger(__name__)

#: Files whose full-resolution level needs more bytes than this are whole-slide
#: images: their sections are found at low resolution and analysed one by one.
DEFAULT_SLIDE_BYTES = 64 * 2**20
_HASH_CHUNK = 8 * 2**20


@dataclass(frozen=True)
class InputPlan:
    """What :func:`plan_input` found out about one input file."""

    row: InputRow
    sha256: str = ""
    size_bytes: int = 0
    slide_shape: tuple[int, int] | None = None
    regions: list[SlideRegion] = field(default_factory=list)
    error: str = ""


@dataclass(frozen=True)
class BatchEvent:
    """A section finished (``status`` ``ok``/``skipped``/``error``), for progress display."""

    done: int
    total: int
    entry: SectionEntry
    status: str
    record: dict[str, Any] | None
    notes: list[str]


@dataclass
class BatchReport:
    """What a batch did, and where it wrote it."""

    out_dir: Path
    entries: list[SectionEntry]
    n_analysed: int
    n_skipped: int
    n_failed: int
    n_corrected: int
    n_need_review: int
    sections_csv: Path
    sections_parquet: Path
    biopsies_csv: Path | None
    biopsy_note: str
    run_json: Path
    failures: list[dict[str, str]]


def _sha256(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _reader(row: InputRow, defaults: ReaderOptions) -> ReaderOptions:
    return ReaderOptions(
        modality=defaults.modality,
        pixel_size_um=row.pixel_size_um
        if row.pixel_size_um is not None
        else defaults.pixel_size_um,
        fibre_channel=row.fibre_channel or defaults.fibre_channel,
        membrane_channel=row.membrane_channel or defaults.membrane_channel,
    )


def plan_input(row: InputRow, reader: ReaderOptions, slide_bytes: int) -> InputPlan:
    """Hash one input and, if it is a whole-slide image, find its sections (a dask task).

    Never raises for a bad file: the reason goes into ``error``.
    """
    try:
        sha, size = _sha256(row.path)
        info = probe_image(row.path)
        if info.modality is not None and reader.modality not in (None, info.modality):
            raise ImageReadError(
                row.image,
                f"the pipeline is for {reader.modality} images but this is a {info.modality} "
                f"image (axes {info.axes!r}); choose the {info.modality} pipeline",
            )
        if info.nbytes <= slide_bytes:
            return InputPlan(row=row, sha256=sha, size_bytes=size)
        slide = find_sections(row.path, reader=reader, info=info)
        return InputPlan(
            row=row, sha256=sha, size_bytes=size, slide_shape=slide.shape, regions=slide.regions
        )
    except (ValueError, OSError, MemoryError) as exc:  # ImageReadError is a ValueError
        reason = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
        return InputPlan(row=row, error=_named(row.image, reason, exc))


def _named(image: str, reason: str, exc: BaseException) -> str:
    text = reason if reason.startswith(image) else f"{image}: {reason}"
    if isinstance(exc, OSError) and not isinstance(exc, ImageReadError):
        text += f" ({type(exc).__name__})"
    return text


def analyse_section(job: SectionJob, region: SlideRegion | None) -> dict[str, Any]:
    """Analyse one section and write its outputs (a dask task).

    Returns ``{"status": "ok", "record": ..., "notes": [...]}`` or
    ``{"status": "error", "error": message}``; on error any JSON or overlay
    an earlier run left under the same name is removed. Never raises.
    """
    try:
        image = None
        if region is not None:
            image = read_region(job.path, region, image=job.image, reader=job.reader)
        outcome = run_section(job, image)
        return {"status": "ok", "record": outcome.record, "notes": outcome.notes}
    except (ValueError, OSError, MemoryError) as exc:  # ImageReadError, AnalysisError too
        reason = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
        message = _named(job.image, reason, exc)
    except Exception as exc:  # a bug: keep the traceback in the row, carry on
        message = (
            f"{job.image}: unexpected {type(exc).__name__}: {exc} (please report this)\n"
            + traceback.format_exc()
        )
    if job.region is not None:
        message = message.replace(job.image, f"{job.image} section {job.region.index}", 1)
    try:
        remove_outputs(job)
    except OSError as exc:
        message += f"; could not remove the stale result: {exc}"
    return {"status": "error", "error": message}


def _job_key(sha256: str, job: SectionJob) -> str:
    """What makes a result reusable: same input bytes, parameters, basis, reader, region."""
    key = {
        "input_sha256": sha256,
        "parameters": job.parameters.to_dict(),
        "length_basis": job.length_basis,
        "reader": job.reader.to_dict(),
        "region": None if job.region is None else job.region.to_dict(),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _done_already(job: SectionJob) -> bool:
    """True when the job's JSON exists for the same key (and its overlay, if wanted).

    A JSON without quality checks (written by an older ienfd) is not done: it
    cannot say whether its count needs review. Nor is one without the
    consistency runs when the job asks for them; one with them serves a job
    that does not (the same analysis, checked more).
    """
    try:
        rec = json.loads(job.json_path.read_text(encoding="utf-8"))
        checked = isinstance(rec, dict) and result_quality(rec).checked
    except (OSError, ValueError):
        return False
    if not checked or rec.get("batch_key") != job.extra["batch_key"]:
        return False
    if job.consistency and not isinstance(rec.get("consistency"), list):
        return False
    return not job.overlay or (
        rec.get("overlay") is not None and (job.json_path.parent / rec["overlay"]).exists()
    )


def _remove_temporaries(out: Path) -> None:
    """Remove temporaries a killed run left (``.<name>.<random>.tmp``; never trusted).

    Sidecar temporaries (``*.correction.json``) belong to the review plugin and are left.
    """
    for tmp in out.glob(".*.tmp"):
        if ".correction.json." not in tmp.name and tmp.is_file():
            tmp.unlink(missing_ok=True)
            logger.info("removed %s, left by an interrupted run", tmp)


def _section_label(row: InputRow, index: int | None, n: int) -> str:
    if index is None or n == 1:
        return row.section
    return f"{row.section}.{index}" if row.section else str(index)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run_batch(
    rows: list[InputRow],
    out_dir: str | os.PathLike[str],
    *,
    client: Client,
    pipeline: Pipeline,
    reader: ReaderOptions | None = None,
    force: bool = False,
    overlay: bool | None = None,
    consistency: bool = False,
    slide_bytes: int = DEFAULT_SLIDE_BYTES,
    extra_sites: tuple[str, ...] = (),
    on_event: Callable[[BatchEvent], None] | None = None,
    command: list[str] | None = None,
) -> BatchReport:
    """Analyse every section of every input on a dask cluster; write tables and run record.

    Parameters
    ----------
    rows : list of InputRow
        From :func:`ienfd.workflow.collect_inputs`.
    out_dir : str or os.PathLike
        Output folder (created if missing).
    client : distributed.Client
        The cluster to run on (:func:`ienfd.parallel.batch_client`).
    pipeline : Pipeline
        Parameters, length basis and modality of every analysis.
    reader : ReaderOptions, optional
        Defaults for pixel size and channels (manifest columns win); the
        modality always comes from the pipeline.
    force : bool
        Analyse again sections whose result exists for the same input bytes
        and parameters (by default they are skipped).
    overlay : bool, optional
        Draw QC overlays (default: the pipeline's ``overlay``).
    consistency : bool
        Also analyse every section in its eight orientations at two pixel
        sizes and flag it for review when the count or junction length
        changes (``SectionJob.consistency``; about 16 times the work).
    slide_bytes : int
        Inputs whose full-resolution level needs more bytes are whole-slide
        images, split into sections.
    extra_sites : tuple of str
        Site names accepted besides the clinical module's.
    on_event : callable, optional
        Called with a :class:`BatchEvent` as each section finishes.
    command : list of str, optional
        The command line, recorded in the run record.

    Returns
    -------
    BatchReport
    """
    from distributed import as_completed

    started = _now()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(out)
    defaults = replace(reader or ReaderOptions(), modality=pipeline.modality)
    draw = pipeline.overlay if overlay is None else overlay

    readers = [_reader(row, defaults) for row in rows]
    plan_futures = [
        client.submit(plan_input, row, rd, slide_bytes, pure=False, key=f"plan-{i}-{row.image}")
        for i, (row, rd) in enumerate(zip(rows, readers, strict=True))
    ]
    plans: list[InputPlan] = []
    for row, plan_future in zip(rows, plan_futures, strict=True):
        try:
            plans.append(plan_future.result())
        except Exception as exc:  # the worker died (KilledWorker) or the cluster went away
            plans.append(InputPlan(row=row, error=f"{row.image}: planning failed: {exc!r}"))
    stems = output_stems([row.image for row in rows])

    entries: list[SectionEntry] = []
    jobs: list[tuple[int, SectionJob, SlideRegion | None]] = []
    inputs_record = []
    for plan, stem, rd in zip(plans, stems, readers, strict=True):
        row = plan.row
        inputs_record.append(
            {
                "image": row.image,
                "sha256": plan.sha256 or None,
                "size_bytes": plan.size_bytes or None,
                "sections": len(plan.regions) if plan.slide_shape else 1,
                "whole_slide": plan.slide_shape is not None,
                "error": plan.error or None,
            }
        )
        base = SectionEntry(
            image=row.image,
            stem=stem,
            patient_id=row.patient_id,
            site=row.site,
            section=row.section,
            age=row.age,
            sex=row.sex,
        )
        if plan.error:
            entries.append(replace(base, error=plan.error))
            remove_outputs(SectionJob(image=row.image, path=row.path, out_dir=str(out), stem=stem))
            continue
        regions: list[SlideRegion | None] = list(plan.regions) if plan.slide_shape else [None]
        for slide_region in regions:
            index = None if slide_region is None else slide_region.region.index
            entry = replace(
                base,
                stem=stem if index is None else f"{stem}_s{index:02d}",
                section=_section_label(row, index, len(regions)),
                section_index=index,
            )
            job = SectionJob(
                image=row.image,
                path=row.path,
                out_dir=str(out),
                stem=entry.stem,
                reader=rd,
                parameters=pipeline.parameters,
                length_basis=pipeline.length_basis,
                overlay=draw,
                region=None if slide_region is None else slide_region.region,
                slide_shape=plan.slide_shape,
                consistency=consistency,
            )
            extra = {
                "patient_id": row.patient_id or None,
                "site": row.site or None,
                "section": entry.section or None,
                "input_sha256": plan.sha256,
                "batch_key": _job_key(plan.sha256, job),
                "pipeline": pipeline.record(),
                "reader_options": rd.to_dict(),
            }
            job = replace(job, extra=extra)
            jobs.append((len(entries), job, slide_region))
            entries.append(entry)

    total = len(entries)
    done = 0

    def report(i: int, status: str, record: dict[str, Any] | None, notes: list[str]) -> None:
        nonlocal done
        done += 1
        if on_event is not None:
            on_event(BatchEvent(done, total, entries[i], status, record, notes))

    for i, entry in enumerate(entries):
        if entry.error:
            report(i, "error", None, [])
    futures: dict[Any, tuple[int, SectionJob]] = {}
    n_skipped = 0
    for i, job, slide_region in jobs:
        if not force and _done_already(job):
            entries[i] = replace(entries[i], skipped=True)
            n_skipped += 1
            report(i, "skipped", None, [])
            continue
        fut: Any = client.submit(
            analyse_section, job, slide_region, pure=False, key=f"section-{job.stem}-{i}"
        )
        futures[fut] = (i, job)
    n_analysed = 0
    for fut in as_completed(list(futures)):
        i, job = futures.pop(fut)
        try:
            outcome = fut.result()
        except Exception as exc:  # KilledWorker: the section took down its worker(s)
            outcome = {
                "status": "error",
                "error": f"{job.image}: the worker analysing {job.stem} died "
                f"({type(exc).__name__}: {exc}); out of memory?",
            }
            remove_outputs(job)
        if outcome["status"] == "ok":
            n_analysed += 1
            report(i, "ok", outcome["record"], outcome["notes"])
        else:
            entries[i] = replace(entries[i], error=outcome["error"])
            report(i, "error", None, [])
        fut.release()

    return finish_batch(
        entries,
        out,
        pipeline=pipeline,
        extra_sites=extra_sites,
        run={
            "started_at": started,
            "inputs": inputs_record,
            "n_analysed": n_analysed,
            "n_skipped": n_skipped,
            "cluster": {
                "scheduler": client.scheduler.address if client.scheduler else None,
                "dashboard": client.dashboard_link,
                "workers": len(client.scheduler_info().get("workers", {})),
            },
            "command": command,
            "force": force,
            "consistency": consistency,
            "slide_bytes": slide_bytes,
        },
    )


def finish_batch(
    entries: list[SectionEntry],
    out: Path,
    *,
    pipeline: Pipeline,
    extra_sites: tuple[str, ...],
    run: dict[str, Any],
) -> BatchReport:
    """Write the section and biopsy tables from the folder's JSONs and sidecars, and run.json."""
    table = section_table(entries, out)
    sections_csv, sections_parquet = write_table(table, out / "sections")
    biopsies_csv: Path | None = None
    note = ""
    try:
        biopsies = biopsy_table(table, extra_sites=extra_sites, source=str(sections_csv))
    except ClinicalInputError as exc:
        note = f"no biopsy table: {exc}"
        for stale in (out / "biopsies.csv", out / "biopsies.parquet"):
            stale.unlink(missing_ok=True)
    else:
        biopsies_csv, _ = write_table(biopsies, out / "biopsies")
    n_need_review = int(table["needs_review"].sum())  # error rows (empty) not counted
    failed = table[table["status"] != "ok"]
    failures = [
        {"image": r.image, "section": r.section, "error": r.error} for r in failed.itertuples()
    ]
    record = {
        "ienfd_version": __version__,
        **run,
        "finished_at": _now(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "pipeline": pipeline.record(),
        "n_sections": len(table),
        "n_failed": len(failures),
        "n_corrected": int(table["corrected"].sum()),
        "n_need_review": n_need_review,
        "failures": failures,
        "outputs": {
            "sections": [sections_csv.name, sections_parquet.name],
            "biopsies": None if biopsies_csv is None else [biopsies_csv.name, "biopsies.parquet"],
            "biopsy_note": note or None,
        },
    }
    run_json = out / "run.json"
    write_json(run_json, record)
    return BatchReport(
        out_dir=out,
        entries=entries,
        n_analysed=int(run.get("n_analysed", 0)),
        n_skipped=int(run.get("n_skipped", 0)),
        n_failed=len(failures),
        n_corrected=int(table["corrected"].sum()),
        n_need_review=n_need_review,
        sections_csv=sections_csv,
        sections_parquet=sections_parquet,
        biopsies_csv=biopsies_csv,
        biopsy_note=note,
        run_json=run_json,
        failures=failures,
    )
