"""Run section jobs and report each as it finishes: one error path for ``analyze`` and ``batch``.

:func:`attempt_section` runs one :class:`~ienfd.workflow.SectionJob` and never
raises: a file that cannot be read or analysed becomes a :class:`SectionRun`
with status ``'error'``, a message naming the file and the reason, and any
result an earlier run left under the same name removed. :func:`run_sections`
runs many jobs, by default one after the other in this process (``ienfd
analyze``); :mod:`ienfd.parallel` passes a runner that sends them to a dask
cluster (``ienfd batch``). No dask here.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ienfd.io import ImageReadError, ResultQuality, SectionImage, file_sha256, result_quality
from ienfd.workflow._section import SectionJob, remove_outputs, run_section

__all__ = [
    "Runner",
    "SectionEvent",
    "SectionRun",
    "SectionStatus",
    "attempt_section",
    "failed_section",
    "run_sections",
    "serial_runner",
    "with_input_hash",
]

#: What became of one section: analysed, skipped (its result was already there), or failed.
SectionStatus = Literal["ok", "skipped", "error"]


@dataclass(frozen=True)
class SectionRun:
    """What became of one section job.

    Attributes
    ----------
    job : SectionJob
        The job (its ``image``, ``stem`` and output paths).
    status : {'ok', 'skipped', 'error'}
        ``'ok'``: analysed and written; ``'skipped'``: its result was
        already there; ``'error'``: it could not be read or analysed.
    record : dict or None
        The JSON record written (``'ok'`` only).
    notes : tuple of str
        Reader and analysis warnings (``'ok'`` only).
    error : str
        Why it failed, naming the file (``'error'`` only).
    error_type : str
        The class name of the exception it failed with (``'error'`` only).
    traceback : str
        The traceback of an unexpected exception, which is a bug to report;
        empty for an expected failure (unreadable file, no tissue...).
    removed : tuple of Path
        Results of an earlier run removed because this one failed.
    """

    job: SectionJob
    status: SectionStatus
    record: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    error: str = ""
    error_type: str = ""
    traceback: str = ""
    removed: tuple[Path, ...] = ()

    @property
    def reason(self) -> str:
        """Why it failed, without the file's name in front (``'error'`` only; else ``''``).

        What a table that names the file in another column shows.
        """
        text = self.error
        stripped = True
        while stripped:  # "a.tif: /abs/a.tif: reason" names it twice
            stripped = False
            for prefix in _prefixes(self.job):
                if text.startswith(prefix):
                    text, stripped = text[len(prefix) :], True
                    break
        return text

    @property
    def quality(self) -> ResultQuality:
        """Whether the count needs review by eye, and why (``'ok'`` runs only)."""
        if self.record is None:
            raise ValueError(f"a section with status {self.status!r} has no result to check")
        return result_quality(self.record)


@dataclass(frozen=True)
class SectionEvent:
    """One section finished: the ``done``-th of ``total``, job ``index`` in the list given."""

    done: int
    total: int
    index: int
    run: SectionRun


def _prefixes(job: SectionJob) -> tuple[str, ...]:
    """How a message names the input in front of the reason: as given or as opened."""
    names = dict.fromkeys((job.image, job.path))
    if job.region is None:
        return tuple(f"{name}: " for name in names)
    return tuple(p for name in names for p in (f"{name} section {job.region.index}: ", f"{name}: "))


class _Recorder(logging.Handler):
    """Keep the messages of WARNING and above that one thread logs."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_messages() -> Iterator[list[str]]:
    """What tifffile logs in this thread inside the block (its warnings and errors).

    tifffile reports a damaged header or tag only in its log, then reads on;
    when the section then fails, what it said is often the real reason (a
    truncated file whose OME metadata is cut off reads as "no pixel size").
    """
    recorder = _Recorder()
    logger = logging.getLogger("tifffile")
    logger.addHandler(recorder)
    try:
        yield recorder.messages
    finally:
        logger.removeHandler(recorder)


def _with_tifffile(message: str, logged: list[str]) -> str:
    """``message`` and what tifffile logged that it does not already say."""
    new = list(dict.fromkeys(text for text in logged if text not in message))
    if not new:
        return message
    return f"{message} (tifffile reported: {'; '.join(new[:3])})"


def _named(job: SectionJob, reason: str) -> str:
    """``reason`` with the input's name in front (once), and the section of a slide.

    A reader names the file as it opened it (``job.path``, absolute in a
    batch); the message names it as the user gave it (``job.image``).
    """
    if job.path != job.image and reason.startswith(job.path):
        reason = job.image + reason[len(job.path) :]
    text = reason if reason.startswith(job.image) else f"{job.image}: {reason}"
    if job.region is not None:
        text = text.replace(job.image, f"{job.image} section {job.region.index}", 1)
    return text


def failed_section(
    job: SectionJob, error: str, *, error_type: str = "", trace: str = ""
) -> SectionRun:
    """The run of a job that failed with ``error``: any earlier result under its name removed.

    Used by :func:`attempt_section` and by a runner whose worker died with the job.
    """
    try:
        removed = tuple(remove_outputs(job))
    except OSError as exc:
        removed = ()
        error += f"; could not remove the stale result: {exc}"
    return SectionRun(
        job=job,
        status="error",
        error=error,
        error_type=error_type,
        traceback=trace,
        removed=removed,
    )


def with_input_hash(job: SectionJob) -> SectionJob:
    """The job with its input's SHA-256 in ``extra['input_sha256']`` (hashed if missing).

    A batch hashes every input when it plans; ``ienfd analyze`` does not, so
    its jobs are hashed here, where the file is read, and every result JSON
    carries the hash of the bytes it was computed from. A file that cannot be
    hashed is returned unchanged: reading it fails next, with the reader's
    message.
    """
    if job.extra.get("input_sha256"):
        return job
    try:
        sha, _ = file_sha256(job.path)
    except OSError:
        return job
    return replace(job, extra={**job.extra, "input_sha256": sha})


def attempt_section(
    job: SectionJob, load: Callable[[SectionJob], SectionImage] | None = None
) -> SectionRun:
    """Run one job with :func:`run_section`; never raise for the section's own failure.

    Parameters
    ----------
    job : SectionJob
        What to analyse and where to write.
    load : callable, optional
        Reads the section for ``job`` (a region of a whole-slide image); by
        default ``job.path`` is read by :func:`run_section`.

    Returns
    -------
    SectionRun
        ``'ok'`` with the record and notes, or ``'error'`` with a message
        that names the file: the reason for an unreadable file, a failed
        analysis, a full disk or exhausted memory, and for any other
        exception (a bug) its type and traceback; what tifffile logged
        while the section was read (a damaged tag, a short file) and the
        message does not already say is added to it. On error, a JSON and
        overlay an earlier run left under the job's stem are removed, so
        that a stale result cannot pass for a new one.
    """
    with _tifffile_messages() as logged:
        try:
            job = with_input_hash(job)
            image = None if load is None else load(job)
            outcome = run_section(job, image)
        except (ValueError, OSError, MemoryError) as exc:  # ImageReadError, AnalysisError too
            reason = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
            message = _named(job, reason)
            if isinstance(exc, OSError) and not isinstance(exc, ImageReadError):
                message += f" ({type(exc).__name__})"
            message = _with_tifffile(message, logged)
            return failed_section(job, message, error_type=type(exc).__name__)
        except Exception as exc:  # a bug: keep the traceback, carry on with the others
            message = _named(
                job, f"{job.image}: unexpected {type(exc).__name__}: {exc} (please report this)"
            )
            return failed_section(
                job, message, error_type=type(exc).__name__, trace=traceback.format_exc()
            )
    return SectionRun(job=job, status="ok", record=outcome.record, notes=tuple(outcome.notes))


#: Runs jobs and yields ``(index, run)`` for each, in the order they finish.
Runner = Callable[[Sequence[SectionJob]], Iterable[tuple[int, SectionRun]]]


def serial_runner(jobs: Sequence[SectionJob]) -> Iterator[tuple[int, SectionRun]]:
    """Run the jobs one after the other in this process, in order."""
    for i, job in enumerate(jobs):
        yield i, attempt_section(job)


def run_sections(
    jobs: Sequence[SectionJob],
    on_event: Callable[[SectionEvent], None] | None = None,
    *,
    runner: Runner = serial_runner,
    decided: Sequence[SectionRun | None] | None = None,
) -> list[SectionRun]:
    """Run every job, tell ``on_event`` as each finishes; return the runs in job order.

    Parameters
    ----------
    jobs : sequence of SectionJob
        The sections to analyse.
    on_event : callable, optional
        Called with a :class:`SectionEvent` as each section finishes (in the
        order they finish; ``done`` counts from 1 to ``len(jobs)``).
    runner : callable
        How the jobs run: :func:`serial_runner` (the default, in this
        process, in order) or a parallel one (:mod:`ienfd.parallel`).
    decided : sequence of SectionRun or None, optional
        Per job, a run already decided without running it (a skipped
        section, an input that could not be planned), or None to run it.
        Decided runs are reported first, in order.

    Returns
    -------
    list of SectionRun
        One per job, in the order of ``jobs``.
    """
    total = len(jobs)
    if decided is not None and len(decided) != total:
        raise ValueError(f"decided has {len(decided)} entries; expected one per job ({total})")
    runs: list[SectionRun | None] = list(decided) if decided is not None else [None] * total
    done = 0

    def report(i: int, run: SectionRun) -> None:
        nonlocal done
        done += 1
        runs[i] = run
        if on_event is not None:
            on_event(SectionEvent(done=done, total=total, index=i, run=run))

    for i, run in enumerate(list(runs)):
        if run is not None:
            report(i, run)
    todo = [i for i, run in enumerate(runs) if run is None]
    for k, run in runner([jobs[i] for i in todo]):
        report(todo[k], run)
    missing = [jobs[i].stem for i, run in enumerate(runs) if run is None]
    if missing:
        raise RuntimeError(f"the runner returned no result for {missing}")
    return [run for run in runs if run is not None]
