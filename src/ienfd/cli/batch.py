"""``ienfd batch``: many sections or whole slides on a dask cluster, resumable."""

from __future__ import annotations

import argparse
import logging
import sys

from ienfd.cli._common import (
    CONSISTENCY_HELP,
    SCENE_HELP,
    Progress,
    Subparsers,
    add_output_options,
    consistency_words,
    in_flag_words,
    notes_status,
    out_problem,
    pixel_size_argument,
    scene_argument,
    shorten,
)

#: What the help says ``--slide-mb`` defaults to; the default itself is
#: :data:`ienfd.parallel.DEFAULT_SLIDE_BYTES` (a test checks that they agree; importing
#: ienfd.parallel here would load dask for every command).
SLIDE_MB_DEFAULT = 64.0
#: What the help says ``--worker-timeout`` defaults to
#: (:data:`ienfd.parallel.DEFAULT_WORKER_TIMEOUT_S`, checked by a test).
WORKER_TIMEOUT_DEFAULT = 60.0

_BATCH_EPILOG = """\
INPUT:
  a folder (its image files, recursively: every format ienfd reads, see
  docs/reading-images.md; an OME-Zarr folder is one image), a quoted glob
  ("slides/*.ome.tif"), or a manifest CSV with columns
  image,patient_id,site,section and optional
  pixel_size_um,fibre_channel,membrane_channel,age,sex,junction (image paths
  relative to the manifest's folder; sites as in `ienfd classify`: distal_leg,
  distal_thigh, proximal_thigh, more with --site).

outputs, in DIR:
  <stem>.json, <stem>.overlay.png   one per section (as `ienfd analyze`); a
                                    whole-slide image gives <stem>_s01, _s02...
  sections.csv / .parquet           one row per section, status and error,
                                    needs_review and qc_reasons; readable by
                                    `ienfd classify`
  biopsies.csv / .parquet           per patient and site (manifest input only)
  run.json                          version, pipeline, input sha256, times,
                                    failures

A section whose JSON exists for the same input bytes and parameters is
skipped (--force redoes it); with --consistency, one written without the
consistency runs is analysed again. Corrections saved beside the JSONs by the
napari plugin are used in the tables.

A section whose quality checks failed is shown as "review" (not "ok") and
counted in the summary; it is not a failure. A result JSON without quality
checks (older ienfd) is analysed again.

On an existing scheduler (--scheduler), input paths and DIR are made
absolute here, and every worker is first asked whether it sees them (the
same folder, writable); a worker that does not is named with the path and
nothing runs. With no worker for --worker-timeout seconds (none joined, or
all lost mid-run) the batch stops with an error naming the scheduler; the
sections finished are kept and the same command resumes.

exit status: 0 all sections analysed or skipped (some may need review);
1 some failed (listed); 2 bad command line, manifest or pipeline, or a dask
cluster that cannot run the batch (unreachable within 5 s, no worker, a
worker that does not see the paths; nothing analysed); 3 the cluster was
lost mid-run (no worker for --worker-timeout s; run again to resume);
130 interrupted (Ctrl-C; run again to resume).

examples:
  ienfd batch slides/ --out results --pipeline pipelines/brightfield_pgp95.json
  ienfd batch manifest.csv --out results --workers 2
  ienfd batch manifest.csv --out results --scheduler tcp://10.0.0.5:8786
"""


def register(subparsers: Subparsers) -> None:
    """Register ``batch``: many sections in parallel on dask."""
    p = subparsers.add_parser(
        "batch",
        help="analyse a folder, glob or manifest of sections in parallel on dask",
        description=(
            "Analyse every section of every input in parallel on a dask.distributed "
            "LocalCluster (default) or an existing scheduler; whole-slide images are split "
            "into sections found at low resolution and read tile by tile. Writes one JSON "
            "and overlay per section, the section and biopsy tables and a run record."
        ),
        epilog=_BATCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT", help="folder, glob or manifest .csv")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument(
        "--pipeline",
        metavar="FILE",
        default=None,
        help="pipeline file (pipelines/*.json): modality, length basis and every analysis "
        "parameter (default: built-in parameters, modality detected per image)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes of the LocalCluster (default: one per core, >= 2 GB each)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running dask scheduler (tcp://host:8786, as `dask scheduler` prints "
        "it) instead of a LocalCluster; its workers must see INPUT and DIR under the same paths "
        "(checked before the run)",
    )
    p.add_argument(
        "--worker-timeout",
        type=float,
        default=None,
        metavar="S",
        help="stop with an error after S seconds without any worker (none joined, or all lost "
        f"mid-run) instead of waiting (default {WORKER_TIMEOUT_DEFAULT:g})",
    )
    p.add_argument("--force", action="store_true", help="analyse again sections already done")
    p.add_argument(
        "--pixel-size",
        type=pixel_size_argument,
        default=None,
        metavar="UM",
        help="pixel size in µm, overriding the files' metadata (needed for files without one; "
        "a manifest's pixel_size_um wins)",
    )
    p.add_argument(
        "--fibre-channel", default=None, metavar="C", help="fluorescence PGP 9.5 channel"
    )
    p.add_argument(
        "--membrane-channel", default=None, metavar="C", help="fluorescence collagen IV channel"
    )
    p.add_argument(
        "--scene",
        type=scene_argument,
        default=None,
        metavar="N|NAME",
        help=SCENE_HELP + "; the same for every input (default: every scene, each a section)",
    )
    p.add_argument("--no-overlay", action="store_true", help="do not draw the QC overlay PNGs")
    p.add_argument("--consistency", action="store_true", help=CONSISTENCY_HELP)
    p.add_argument(
        "--site", action="append", default=[], metavar="NAME", help="accept this extra site name"
    )
    p.add_argument(
        "--slide-mb",
        type=float,
        default=None,
        metavar="MB",
        help="files whose full-resolution image needs more MiB are whole-slide images, "
        f"split into sections found at low resolution (default {SLIDE_MB_DEFAULT:g})",
    )
    add_output_options(p, quiet_help="print nothing but errors (no per-section lines, no bar)")
    p.set_defaults(func=_run_batch)


def _run_batch(args: argparse.Namespace) -> int:
    """Run a batch; print progress, failures and a summary; 0, 1 (some failed), 2, 3 or 130."""
    try:
        return _batch(args)
    except KeyboardInterrupt:  # Ctrl-C: what finished is kept, as after a kill
        print(
            f"ienfd batch: interrupted; the sections finished are kept in {args.out}: run the "
            "same command again to finish the rest",
            file=sys.stderr,
        )
        return 130


def _batch(args: argparse.Namespace) -> int:
    from ienfd.workflow import (
        BatchInputError,
        PipelineError,
        ReaderOptions,
        SectionEvent,
        SkippedInput,
        collect_inputs,
        default_pipeline,
        output_folder,
        read_pipeline,
    )

    def say(text: str) -> None:
        if not args.quiet:
            print(text, flush=True)

    def fail(text: str) -> int:
        print(f"ienfd batch: error: {text}", file=sys.stderr)
        return 2

    try:
        from ienfd.parallel import (
            ClusterError,
            ClusterLostError,
            batch_client,
            check_scheduler_address,
            run_batch,
        )
    except ModuleNotFoundError as exc:
        return fail(  # dask is one of ienfd's dependencies: the install is broken
            f"{exc}; ienfd's install is incomplete (dask and distributed come with it): "
            "pip install --force-reinstall ienfd"
        )
    if args.scheduler is not None:
        try:
            check_scheduler_address(args.scheduler)
        except ValueError as exc:
            return fail(f"--scheduler: {exc}")
    if args.worker_timeout is not None and not args.worker_timeout > 0:
        return fail(f"--worker-timeout {args.worker_timeout}; accepted: > 0 (seconds)")
    if args.workers is not None and args.workers < 1:
        return fail(f"--workers {args.workers}; accepted: >= 1")
    if args.slide_mb is not None and not args.slide_mb > 0:
        return fail(f"--slide-mb {args.slide_mb}; accepted: > 0")
    try:
        pipeline = read_pipeline(args.pipeline) if args.pipeline else default_pipeline()
    except (PipelineError, OSError) as exc:
        return fail(f"--pipeline: {exc}")
    skipped: list[SkippedInput] = []
    try:
        rows = collect_inputs(
            args.input, extra_sites=tuple(args.site), exclude=str(args.out), on_skip=skipped.append
        )
        out_dir = output_folder(args.out)
    except BatchInputError as exc:
        for problem in exc.problems:
            print(f"ienfd batch: error: {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        return fail(out_problem(args.out, exc))
    reader = ReaderOptions(
        pixel_size_um=args.pixel_size,
        fibre_channel=args.fibre_channel,
        membrane_channel=args.membrane_channel,
        scene=args.scene,
    )
    for entry in skipped:  # not a failure, but never silent
        print(f"ienfd batch: skipped {entry.path}: {entry.reason}", file=sys.stderr)
    say(
        f"ienfd batch: {len(rows)} input(s), pipeline {pipeline.name} {pipeline.version}, "
        f"density per mm of {'DEJ' if pipeline.length_basis == 'dej' else 'surface'}"
    )

    # A live bar on a terminal (its total known once the sections are planned).
    bar = Progress("batch", quiet=args.quiet)

    def progress(event: SectionEvent) -> None:
        run = event.run
        region = run.job.region
        label = run.job.image + (f" [section {region.index}]" if region else "")
        if run.status == "ok" and run.record is not None:
            r = run.record
            quality = run.quality
            word = "review" if quality.needs_review else "ok"
            state = f"{word}  count {r['count']}  {r['density_per_mm']:.2f}/mm"
            checked = consistency_words(r, brief=True)
            if checked is not None:
                state += f"  [{checked}]"
            if quality.needs_review:
                first, *more = quality.reasons
                state += f"  ({shorten(first)}" + (f"; +{len(more)} more)" if more else ")")
            elif run.notes:
                state += f"  ({notes_status(run.notes)})"
        elif run.status == "skipped":
            state = "skipped (done earlier, same input and parameters)"
        else:
            state = f"FAILED: {shorten(in_flag_words(run.reason))}"
        width = len(str(event.total))
        bar.write(f"[{event.done:>{width}}/{event.total}] {label}  {state}")
        bar.advance(total=event.total, skipped=run.status == "skipped")

    if args.verbose < 2:  # distributed logs every worker start and stop at INFO
        import distributed  # noqa: F401  (its import sets its loggers' levels)

        logging.getLogger("distributed").setLevel(logging.WARNING)
    try:
        with batch_client(workers=args.workers, scheduler=args.scheduler) as client, bar:
            say(f"ienfd batch: dask dashboard {client.dashboard_link}")
            report = run_batch(
                rows,
                out_dir,
                client=client,
                pipeline=pipeline,
                reader=reader,
                force=args.force,
                overlay=False if args.no_overlay else None,
                consistency=args.consistency,
                **({} if args.slide_mb is None else {"slide_bytes": int(args.slide_mb * 2**20)}),
                extra_sites=tuple(args.site),
                on_event=progress,
                command=["ienfd", *sys.argv[1:]],
                skipped=skipped,
                **({} if args.worker_timeout is None else {"worker_timeout": args.worker_timeout}),
            )
    except ClusterLostError as exc:
        print(
            f"ienfd batch: error: {exc}; the sections finished are kept in {args.out}, the "
            "tables were not written: run the same command again to finish the rest",
            file=sys.stderr,
        )
        return 3
    except ClusterError as exc:  # unreachable, no worker, a worker not seeing the paths
        return fail(str(exc))
    except OSError as exc:  # the LocalCluster could not start
        return fail(f"dask cluster: {exc}")
    for failure in report.failures:
        print(f"ienfd batch: error: {in_flag_words(failure['error'])}", file=sys.stderr)
    total = len(report.entries)
    say(
        f"{total - report.n_failed} of {total} section(s) done "
        f"({report.n_analysed} analysed, {report.n_skipped} skipped as already done)"
        + (f", {report.n_failed} FAILED (listed above and in run.json)" if report.n_failed else "")
        + (
            f"; {len(skipped)} folder entr{'y' if len(skipped) == 1 else 'ies'} named like "
            "images skipped: not image files (listed above and in run.json)"
            if skipped
            else ""
        )
    )
    if report.n_need_review:
        say(
            f"{report.n_need_review} section(s) need review: their quality checks failed and no "
            "reviewer has accepted them (needs_review and qc_reasons in sections.csv; review "
            "them in napari: open DIR as a results folder)"
        )
    if report.n_corrected:
        say(
            f"{report.n_corrected} section(s) have a reviewed correction: the tables use their "
            "corrected counts and lengths (count_auto keeps the automatic count)"
        )
    say(f"wrote {report.sections_csv} (+ .parquet) and {report.run_json}")
    if report.biopsies_csv is not None:
        say(f"wrote {report.biopsies_csv} (+ .parquet)")
    else:
        say(report.biopsy_note)
    return 1 if report.n_failed else 0
