"""The batch graph on dask: find out about every input, then run every section's job.

Two kinds of task run on the workers: :func:`plan_input` (hash the file, read
its metadata and, for a whole-slide image, find its sections at low
resolution) and :func:`analyse_section` (read one section and run its job
with :func:`ienfd.workflow.attempt_section`). Everything between is the
workflow's, and runs without a cluster: :func:`ienfd.workflow.plan_jobs`
expands the inputs into jobs and decides which to skip, and
:func:`ienfd.workflow.run_sections` reports each section as it finishes,
here through :func:`cluster_runner`. The client then writes the tables and
the run record. Workers must see the input and output paths.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import platform
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ienfd import __version__
from ienfd.clinical import ClinicalInputError
from ienfd.io import ImageReadError, SectionImage, probe_image, write_json
from ienfd.parallel._slide import SlideRegion, find_sections, read_region
from ienfd.workflow import (
    InputPlan,
    InputRow,
    Pipeline,
    ReaderOptions,
    Runner,
    SectionEntry,
    SectionEvent,
    SectionJob,
    SectionRun,
    attempt_section,
    biopsy_table,
    decided_runs,
    failed_section,
    output_folder,
    plan_jobs,
    reader_for_row,
    run_sections,
    section_table,
    settle_entries,
    write_table,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DEFAULT_SLIDE_BYTES",
    "BatchReport",
    "analyse_section",
    "cluster_runner",
    "finish_batch",
    "plan_input",
    "run_batch",
]

logger = logging.getLogger(__name__)

#: Files whose full-resolution level needs more bytes than this are whole-slide
#: images: their sections are found at low resolution and analysed one by one.
DEFAULT_SLIDE_BYTES = 64 * 2**20
_HASH_CHUNK = 8 * 2**20


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


def plan_input(
    row: InputRow, reader: ReaderOptions, slide_bytes: int
) -> tuple[InputPlan, list[SlideRegion]]:
    """Hash one input and, if it is a whole-slide image, find its sections (a dask task).

    Returns the plan and, for a whole-slide image, each section's box with
    its tissue mask (what :func:`analyse_section` reads). Never raises for a
    bad file: the reason goes into the plan's ``error``.
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
            return InputPlan(row=row, sha256=sha, size_bytes=size), []
        slide = find_sections(row.path, reader=reader, info=info)
        plan = InputPlan(
            row=row,
            sha256=sha,
            size_bytes=size,
            slide_shape=slide.shape,
            regions=tuple(r.region for r in slide.regions),
        )
        return plan, list(slide.regions)
    except (ValueError, OSError, MemoryError) as exc:  # ImageReadError is a ValueError
        reason = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
        text = reason if reason.startswith(row.image) else f"{row.image}: {reason}"
        if isinstance(exc, OSError) and not isinstance(exc, ImageReadError):
            text += f" ({type(exc).__name__})"
        return InputPlan(row=row, error=text), []


def analyse_section(job: SectionJob, region: SlideRegion | None) -> SectionRun:
    """Read one section (a region of a slide, or the whole file) and run its job (a dask task).

    Never raises for the section's own failure (:func:`ienfd.workflow.attempt_section`).
    """

    def load(job: SectionJob) -> SectionImage:
        assert region is not None
        return read_region(job.path, region, image=job.image, reader=job.reader)

    return attempt_section(job, None if region is None else load)


def cluster_runner(client: Client, slides: Mapping[str, SlideRegion]) -> Runner:
    """A runner for :func:`ienfd.workflow.run_sections` that runs each job as a dask task.

    ``slides`` maps a job's stem to its region of a whole-slide image. A job
    whose worker died (out of memory, killed) is reported as failed, with
    any earlier result removed, rather than lost.
    """
    from distributed import as_completed

    def run(jobs: Sequence[SectionJob]) -> Iterator[tuple[int, SectionRun]]:
        futures: dict[Any, int] = {}
        for k, job in enumerate(jobs):
            fut: Any = client.submit(
                analyse_section,
                job,
                slides.get(job.stem),
                pure=False,
                key=f"section-{job.stem}-{k}",
            )
            futures[fut] = k
        for fut in as_completed(list(futures)):
            k = futures.pop(fut)
            job = jobs[k]
            try:
                run = fut.result()
            except Exception as exc:  # KilledWorker: the section took down its worker(s)
                run = failed_section(
                    job,
                    f"{job.image}: the worker analysing {job.stem} died "
                    f"({type(exc).__name__}: {exc}); out of memory?",
                    error_type=type(exc).__name__,
                )
            fut.release()
            yield k, run

    return run


def _remove_temporaries(out: Path) -> None:
    """Remove temporaries a killed run left (``.<name>.<random>.tmp``; never trusted).

    Sidecar temporaries (``*.correction.json``) belong to the review plugin and are left.
    """
    for tmp in out.glob(".*.tmp"):
        if ".correction.json." not in tmp.name and tmp.is_file():
            tmp.unlink(missing_ok=True)
            logger.info("removed %s, left by an interrupted run", tmp)


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
    on_event: Callable[[SectionEvent], None] | None = None,
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
        Called with a :class:`ienfd.workflow.SectionEvent` as each section finishes.
    command : list of str, optional
        The command line, recorded in the run record.

    Returns
    -------
    BatchReport
    """
    started = _now()
    out = output_folder(out_dir)
    _remove_temporaries(out)
    defaults = reader or ReaderOptions()
    readers = [reader_for_row(row, pipeline, defaults) for row in rows]
    plan_futures = [
        client.submit(plan_input, row, rd, slide_bytes, pure=False, key=f"plan-{i}-{row.image}")
        for i, (row, rd) in enumerate(zip(rows, readers, strict=True))
    ]
    plans: list[InputPlan] = []
    slides: dict[tuple[int, int], SlideRegion] = {}
    for i, (row, plan_future) in enumerate(zip(rows, plan_futures, strict=True)):
        try:
            plan, regions = plan_future.result()
        except Exception as exc:  # the worker died (KilledWorker) or the cluster went away
            plan, regions = InputPlan(row=row, error=f"{row.image}: planning failed: {exc!r}"), []
        plans.append(plan)
        slides.update({(i, r.region.index): r for r in regions})

    batch = plan_jobs(
        plans,
        out,
        pipeline=pipeline,
        reader=defaults,
        overlay=overlay,
        consistency=consistency,
        force=force,
    )
    by_stem = {
        s.job.stem: slides[(s.input_index, s.job.region.index)]
        for s in batch.sections
        if s.job.region is not None
    }
    runs = run_sections(
        batch.jobs,
        on_event,
        runner=cluster_runner(client, by_stem),
        decided=decided_runs(batch),
    )
    return finish_batch(
        settle_entries(batch, runs),
        out,
        pipeline=pipeline,
        extra_sites=extra_sites,
        run={
            "started_at": started,
            "inputs": list(batch.inputs),
            "n_analysed": sum(r.status == "ok" for r in runs),
            "n_skipped": sum(r.status == "skipped" for r in runs),
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
