"""The batch graph on dask: find out about every input, then run every section's job.

Two kinds of task run on the workers: :func:`plan_input` (hash the file, read
its metadata and, for a whole-slide image, find its sections at low
resolution) and :func:`analyse_section` (read one section and run its job
with :func:`ienfd.workflow.attempt_section`). Everything between is the
workflow's, and runs without a cluster: :func:`ienfd.workflow.plan_jobs`
expands the inputs into jobs and decides which to skip, and
:func:`ienfd.workflow.run_sections` reports each section as it finishes,
here through :func:`cluster_runner`. The client then writes the tables and
the run record (:func:`ienfd.workflow.finish_batch`).

Workers must see the input and output paths: every path is made absolute on
the client before a task is sent (a worker's working folder is not the
client's), and :func:`ienfd.parallel.check_workers` asks every worker, before
the run, whether it sees them. No wait is unbounded: with no worker for
``worker_timeout`` seconds the run stops (:class:`ienfd.parallel.ClusterLostError`),
keeping what was finished.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ienfd.io import ImageReadError, SectionImage, file_sha256, probe_image
from ienfd.parallel._cluster import (
    DEFAULT_WORKER_TIMEOUT_S,
    ClusterLostError,
    as_finished,
    check_workers,
    result_of,
)
from ienfd.parallel._slide import SlideRegion, find_sections, read_region
from ienfd.workflow import (
    BatchPlan,
    BatchReport,
    InputPlan,
    InputRow,
    Pipeline,
    ReaderOptions,
    Runner,
    SectionEvent,
    SectionJob,
    SectionRun,
    SkippedInput,
    attempt_section,
    decided_runs,
    failed_section,
    finish_batch,
    now_utc,
    output_folder,
    plan_jobs,
    reader_for_row,
    remove_temporaries,
    run_sections,
    settle_entries,
)

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DEFAULT_SLIDE_BYTES",
    "absolute_rows",
    "analyse_section",
    "cluster_runner",
    "input_records",
    "plan_input",
    "run_batch",
]

logger = logging.getLogger(__name__)

#: Files whose full-resolution level needs more bytes than this are whole-slide
#: images: their sections are found at low resolution and analysed one by one.
DEFAULT_SLIDE_BYTES = 64 * 2**20


def input_records(batch: BatchPlan, runs: Sequence[SectionRun]) -> list[dict[str, Any]]:
    """The run record's inputs, each with the error of every section of it that failed.

    An input that could not be planned keeps its own error; one whose
    sections failed in the analysis gets their errors (joined by ``"; "``),
    so that ``inputs[].error`` is empty only for an input whose every
    section has a result.
    """
    errors: dict[int, list[str]] = {}
    for section, run in zip(batch.sections, runs, strict=True):
        if run.status == "error" and run.error:
            errors.setdefault(section.input_index, []).append(run.error)
    records = []
    for i, record in enumerate(batch.inputs):
        if record.get("error") is None and i in errors:
            record = {**record, "error": "; ".join(dict.fromkeys(errors[i]))}
        records.append(record)
    return records


def absolute_rows(rows: Sequence[InputRow]) -> list[InputRow]:
    """The rows with ``path`` and ``junction`` made absolute (resolved) here, on the client.

    A worker resolves a relative path against its own working folder, which
    is not the client's; ``image`` (the name reported) stays as given.
    """
    return [
        replace(
            row,
            path=str(Path(row.path).resolve()),
            junction=None if row.junction is None else str(Path(row.junction).resolve()),
        )
        for row in rows
    ]


def _worker_name() -> str:
    """This worker's address, for messages ("this process" outside a dask worker)."""
    try:
        from distributed import get_worker

        return f"worker {get_worker().address}"
    except (ImportError, ValueError):
        return "this process"


def _unseen(image: str, path: str, out_dir: str | None = None) -> str | None:
    """Why this worker cannot do the task (an input or output folder it does not see), or None."""
    if out_dir is not None and not os.path.isdir(out_dir):
        return f"{image}: {_worker_name()} cannot see the output folder {out_dir}"
    if not os.path.exists(path):
        return (
            f"{image}: {_worker_name()} cannot see {path}: no such file there "
            "(is the file system shared under the same path?)"
        )
    return None


def _planned(
    row: InputRow, future: Any, client: Client, worker_timeout: float
) -> tuple[InputPlan, list[SlideRegion]]:
    """A planning task's result; a worker lost while planning is the input's error."""
    try:
        result: tuple[InputPlan, list[SlideRegion]] = result_of(
            client, future, worker_timeout=worker_timeout
        )
        return result
    except ClusterLostError:
        raise
    except Exception as exc:  # the worker died (KilledWorker)
        return InputPlan(row=row, error=f"{row.image}: planning failed: {exc!r}"), []


def plan_input(
    row: InputRow, reader: ReaderOptions, slide_bytes: int
) -> tuple[InputPlan, list[SlideRegion]]:
    """Hash one input and, if it is a whole-slide image, find its sections (a dask task).

    Returns the plan and, for a whole-slide image, each section's box with
    its tissue mask (what :func:`analyse_section` reads). Never raises for a
    bad file: the reason goes into the plan's ``error``.
    """
    unseen = _unseen(row.image, row.path)
    if unseen is not None:
        return InputPlan(row=row, error=unseen), []
    try:
        sha, size = file_sha256(row.path)
        info = probe_image(row.path, scene=reader.scene)
        refused = reader.refuses(info)
        if refused is not None:
            raise ImageReadError(row.image, refused)
        # Scene 0 of a multi-scene file with no scene asked for: the others are
        # planned next, each a section of its own (the reader's scene is kept as asked).
        scene = 0 if reader.scene is None and len(info.scenes) > 1 else None
        n_scenes = len(info.scenes)
        if info.nbytes <= slide_bytes:
            plan = InputPlan(row=row, sha256=sha, size_bytes=size, scene=scene, n_scenes=n_scenes)
            return plan, []
        slide = find_sections(row.path, reader=reader, info=info)
        plan = InputPlan(
            row=row,
            sha256=sha,
            size_bytes=size,
            slide_shape=slide.shape,
            regions=tuple(r.region for r in slide.regions),
            scene=scene,
            n_scenes=n_scenes,
        )
        return plan, list(slide.regions)
    except (ValueError, OSError, MemoryError) as exc:  # ImageReadError is a ValueError
        reason = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
        if row.path != row.image and reason.startswith(row.path):  # the file as the user named it
            reason = row.image + reason[len(row.path) :]
        text = reason if reason.startswith(row.image) else f"{row.image}: {reason}"
        if isinstance(exc, OSError) and not isinstance(exc, ImageReadError):
            text += f" ({type(exc).__name__})"
        return InputPlan(row=row, error=text), []


def analyse_section(job: SectionJob, region: SlideRegion | None) -> SectionRun:
    """Read one section (a region of a slide, or the whole file) and run its job (a dask task).

    Never raises for the section's own failure (:func:`ienfd.workflow.attempt_section`).
    A worker that does not see the input or the output folder writes nothing
    and says so (an error row naming the worker and the path).
    """
    unseen = _unseen(job.image, job.path, str(job.out_dir))
    if unseen is not None:
        return SectionRun(job=job, status="error", error=unseen, error_type="FileNotFoundError")

    def load(job: SectionJob) -> SectionImage:
        assert region is not None
        return read_region(job.path, region, image=job.image, reader=job.reader)

    return attempt_section(job, None if region is None else load)


def cluster_runner(
    client: Client,
    slides: Mapping[str, SlideRegion],
    *,
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
) -> Runner:
    """A runner for :func:`ienfd.workflow.run_sections` that runs each job as a dask task.

    ``slides`` maps a job's stem to its region of a whole-slide image. A job
    whose worker died (out of memory, killed) is reported as failed, with
    any earlier result removed, rather than lost. With no worker for
    ``worker_timeout`` seconds the runner raises
    :class:`ienfd.parallel.ClusterLostError` (sections not finished stay
    undone, for a later run).
    """

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
        for fut in as_finished(client, list(futures), worker_timeout=worker_timeout):
            k = futures.pop(fut)
            job = jobs[k]
            try:
                # the result is fetched under the same watch: it can be lost with its worker
                run = result_of(client, fut, worker_timeout=worker_timeout)
            except ClusterLostError:
                raise
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
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S,
    skipped: Sequence[SkippedInput] = (),
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
        Also analyse every section at three pixel sizes and flag it for
        review when the count or junction length changes
        (``SectionJob.consistency``; about 4 times the work in all).
    slide_bytes : int
        Inputs whose full-resolution level needs more bytes are whole-slide
        images, split into sections.
    extra_sites : tuple of str
        Site names accepted besides the clinical module's.
    on_event : callable, optional
        Called with a :class:`ienfd.workflow.SectionEvent` as each section finishes.
    command : list of str, optional
        The command line, recorded in the run record.
    worker_timeout : float
        Seconds to wait with no worker (none joined, or all lost) before
        giving up.
    skipped : sequence of SkippedInput
        What :func:`ienfd.workflow.collect_inputs` passed over, and why;
        listed in the run record as ``skipped_inputs``.

    Returns
    -------
    BatchReport

    Raises
    ------
    ClusterError
        Before anything is analysed: no worker within ``worker_timeout``
        seconds, or a worker that does not see an input or the output folder
        (:func:`ienfd.parallel.check_workers`).
    ClusterLostError
        During the run: no worker for ``worker_timeout`` seconds. The
        sections finished are kept in ``out_dir``; the tables are not
        written; the same call again finishes the rest.
    """
    started = now_utc()
    given = output_folder(out_dir)  # the client's tables, and what it reports, as given
    out = given.resolve()  # what the workers are sent
    rows = absolute_rows(rows)
    check_workers(client, out, [row.path for row in rows], worker_timeout=worker_timeout)
    remove_temporaries(out)
    defaults = reader or ReaderOptions()
    readers = [reader_for_row(row, pipeline, defaults) for row in rows]
    plan_futures = [
        client.submit(plan_input, row, rd, slide_bytes, pure=False, key=f"plan-{i}-{row.image}")
        for i, (row, rd) in enumerate(zip(rows, readers, strict=True))
    ]
    for _ in as_finished(client, plan_futures, worker_timeout=worker_timeout):
        pass
    firsts = [
        _planned(row, future, client, worker_timeout)
        for row, future in zip(rows, plan_futures, strict=True)
    ]
    # A multi-scene file asked for no scene: every scene is planned, each on its own.
    more = {
        i: [
            client.submit(
                plan_input, row, replace(rd, scene=k), slide_bytes, pure=False,
                key=f"plan-{i}-scene{k}-{row.image}",
            )
            for k in range(1, first[0].n_scenes)
        ]
        for i, (row, rd, first) in enumerate(zip(rows, readers, firsts, strict=True))
        if rd.scene is None and first[0].scene == 0
    }  # fmt: skip
    for _ in as_finished(
        client, [f for futures in more.values() for f in futures], worker_timeout=worker_timeout
    ):
        pass
    plans: list[InputPlan] = []
    slides: dict[tuple[int, int], SlideRegion] = {}
    for i, row in enumerate(rows):
        planned = [firsts[i]]
        for k, future in enumerate(more.get(i, []), start=1):
            plan, regions = _planned(row, future, client, worker_timeout)
            planned.append((replace(plan, scene=k), regions))
        for plan, regions in planned:
            slides.update({(len(plans), r.region.index): r for r in regions})
            plans.append(plan)

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
        runner=cluster_runner(client, by_stem, worker_timeout=worker_timeout),
        decided=decided_runs(batch),
    )
    return finish_batch(
        settle_entries(batch, runs),
        given,
        pipeline=pipeline,
        extra_sites=extra_sites,
        run={
            "started_at": started,
            "inputs": input_records(batch, runs),
            "skipped_inputs": [entry.record() for entry in skipped],
            "n_analysed": sum(r.status == "ok" for r in runs),
            "n_skipped": sum(r.status == "skipped" for r in runs),
            "cluster": {
                "scheduler": client.scheduler.address if client.scheduler else None,
                "dashboard": client.dashboard_link,
                "workers": len(client.scheduler_info().get("workers", {})),
                "worker_timeout_s": worker_timeout,
            },
            "command": command,
            "force": force,
            "consistency": consistency,
            "slide_bytes": slide_bytes,
        },
    )
