"""``ienfd analyze``: count the fibres of one or more section images, print a table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ienfd.cli._common import (
    CONSISTENCY_HELP,
    LENGTH_BASIS_HELP,
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

if TYPE_CHECKING:
    from ienfd.workflow import SectionJob, SectionOutcome, SectionRun

_ANALYZE_EPILOG = """\
outputs, in DIR, for each IMAGE:
  <stem>.json          the result (keys described in docs/output.md)
  <stem>.overlay.png   quality-control picture: DEJ (orange), surface (cyan,
                       dashed), counted crossings (yellow discs numbered along
                       the DEJ), fragments (small red rings), fibres ending
                       below the DEJ (white triangles), a banner with the
                       reasons when it needs review; skipped with --no-overlay
  Inputs that share a stem get the parent folder's name appended
  (<stem>__<folder>.json); the command says so.

A result whose quality checks failed is marked "review: <reason>" in the
status column, with every reason on stderr, and its JSON says
"needs_review": true; it is not an error.

exit status:
  0  every image analysed (some may need review)
  1  at least one image could not be read or analysed (named on stderr, with
     the reason; no JSON is written for it, and a stale one from an earlier
     run is removed); the others are still analysed
  2  bad command line (unknown option, unreadable --params file, ...)

examples:
  ienfd analyze sample_images/*.tif --out results
  ienfd analyze leg_s1.tif leg_s2.tif --out results --pixel-size 0.5
  ienfd analyze stack.ome.tif --out results --fibre-channel PGP9.5 \\
      --membrane-channel 1 --length-basis surface
  ienfd analyze leg_s1.tif --out results --consistency   # slower: about 4x the time
  ienfd analyze leg_s1.tif --out results --junction leg_s1.geojson  # a QuPath-drawn DEJ
  ienfd analyze biopsy.czi --out results --scene 1      # the second scene of the file
  ienfd analyze camera.png --out results --pixel-size 0.5  # PNG/JPEG record no pixel size
"""


def register(subparsers: Subparsers) -> None:
    """Register ``analyze``: count intraepidermal nerve fibres in section images."""
    p = subparsers.add_parser(
        "analyze",
        help="count intraepidermal nerve fibres in section images (one JSON per image)",
        description=(
            "Count the intraepidermal nerve fibres crossing the dermal-epidermal junction "
            "(DEJ) in each section image by the EFNS/PNS rule (Lauria et al. 2010), measure "
            "the DEJ and epidermal-surface lengths, and write DIR/<stem>.json and a QC "
            "overlay DIR/<stem>.overlay.png per image. A summary table goes to stdout. "
            "Reads the formats of docs/reading-images.md: the TIFF family (TIFF, OME-TIFF, "
            "ImageJ TIFF, Aperio SVS, Hamamatsu NDPI, Leica SCN, Philips TIFF, Ventana BIF, "
            "Akoya QPTIFF), Zeiss CZI, OME-Zarr folders, PNG, JPEG, Leica LIF, Nikon ND2 and "
            "3DHistech MRXS (the last three untested here), bright-field RGB or multichannel "
            "fluorescence; `ienfd info FILE` shows what is seen in a file, and --scene picks "
            "one scene of a multi-scene file. The pixel size comes from the file's metadata "
            "or --pixel-size (needed for PNG and JPEG, which record none), never from a "
            "guess."
        ),
        epilog=_ANALYZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="section image file(s) or OME-Zarr folder(s)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument(
        "--pixel-size",
        type=pixel_size_argument,
        default=None,
        metavar="UM",
        help="pixel size in µm, overriding the files' metadata (needed when a file has none)",
    )
    p.add_argument(
        "--fibre-channel",
        default=None,
        metavar="C",
        help="fluorescence: PGP 9.5 channel, index (0-based) or name (default: a channel "
        "named PGP*/UCHL1*, else channel 0)",
    )
    p.add_argument(
        "--membrane-channel",
        default=None,
        metavar="C",
        help="fluorescence: collagen IV channel, index or name (default: a channel named "
        "Col*, else channel 1 when there is one)",
    )
    p.add_argument("--scene", type=scene_argument, default=None, metavar="N|NAME", help=SCENE_HELP)
    p.add_argument(
        "--modality",
        choices=("brightfield", "fluorescence"),
        default=None,
        help="imaging mode (default: detected; RGB is bright-field, channels are fluorescence)",
    )
    p.add_argument(
        "--length-basis", choices=("dej", "surface"), default="dej", help=LENGTH_BASIS_HELP
    )
    p.add_argument("--no-overlay", action="store_true", help="do not draw the QC overlay PNGs")
    p.add_argument("--consistency", action="store_true", help=CONSISTENCY_HELP)
    p.add_argument(
        "--junction",
        metavar="FILE",
        default=None,
        help="count across this drawn junction instead of searching for one (one IMAGE): a "
        "QuPath GeoJSON with a line classified DEJ (and optionally Surface) or a polygon "
        "classified Epidermis, in full-resolution pixels (x = column, y = row), or a label "
        "TIFF of the image's shape with the epidermis > 0 (docs/output.md)",
    )
    p.add_argument(
        "--params",
        metavar="FILE",
        default=None,
        help="JSON file of analysis parameters (names as in ienfd.core.AnalysisParameters; "
        "missing ones keep their defaults); an earlier result JSON works too: its "
        "'parameters' are used",
    )
    p.add_argument(
        "--pipeline",
        metavar="FILE",
        default=None,
        help="pipeline file (pipelines/*.json, or one saved by `ienfd train`): its modality, "
        "length basis and parameters, and its lab's pixel model when it names one (the "
        "junction of the model's epidermis replaces the junction search); not with --params",
    )
    add_output_options(p, quiet_help="print nothing but errors (no table, notes or progress bar)")
    p.set_defaults(func=_run_analyze)


def _status(outcome: SectionOutcome | SectionRun) -> str:
    """The status column: the verdict and why, each reason or note shortened.

    ``ok``; ``ok, note: <first note> (+N more)``; ``review: <first reason>
    (+N more)``; for a failed section ``error: <the reason>``. Every reason
    and note is printed in full on stderr.
    """
    if getattr(outcome, "status", "ok") == "error":  # a SectionRun that failed
        return f"error: {shorten(in_flag_words(outcome.reason))}"  # type: ignore[union-attr]
    quality = outcome.quality
    if quality.needs_review:
        first, *more = quality.reasons
        return f"review: {shorten(first)}" + (f" (+{len(more)} more)" if more else "")
    return f"ok, {notes_status(outcome.notes)}" if outcome.notes else "ok"


def _table_cells(record: Mapping[str, Any]) -> str:
    """The columns after the image name in the printed table."""
    return (
        f"{record['modality']:<12} {record['pixel_size_um']:>6.3f} {record['count']:>5d} "
        f"{record['dej_length_um'] / 1000:>7.3f} {record['surface_length_um'] / 1000:>7.3f} "
        f"{record['density_per_mm']:>6.2f}"
    )


def _run_analyze(args: argparse.Namespace) -> int:
    """Analyse every IMAGE; print the table; return 0, or 1 if any image failed."""
    from pathlib import Path

    from ienfd.workflow import (
        ReaderOptions,
        SectionEvent,
        analysis_jobs,
        image_stem,
        read_parameters,
        run_sections,
    )

    def note(text: str) -> None:
        progress.write(f"ienfd analyze: {text}", file=sys.stderr)

    parameters = None
    pixel_model = None
    recorded: dict[str, Any] = {}  # what every result JSON records of the command
    from_pipeline = False  # the modality is a pipeline's, not overruled by --modality
    clash = None  # what is said when --modality overrules it
    if args.pipeline is not None:
        from ienfd.workflow import PipelineError, read_pipeline

        if args.params is not None:
            print("ienfd analyze: error: --params and --pipeline: give one", file=sys.stderr)
            return 2
        try:
            pipeline = read_pipeline(args.pipeline)
        except (PipelineError, OSError) as exc:
            print(f"ienfd analyze: error: --pipeline: {exc}", file=sys.stderr)
            return 2
        parameters, args.length_basis = pipeline.parameters, pipeline.length_basis
        recorded["pipeline"] = pipeline.record()  # as ienfd batch records it
        if args.modality is None:
            args.modality, from_pipeline = pipeline.modality, pipeline.modality is not None
        elif args.modality != pipeline.modality:
            clash = (
                f"--modality {args.modality} overrules the pipeline's {pipeline.modality}: its "
                f"parameters were chosen for {pipeline.modality} images"
            )
        pixel_model = pipeline.pixel_model.path if pipeline.pixel_model else None
    if args.params is not None:
        try:
            parameters = read_parameters(args.params)
        except (OSError, ValueError, TypeError) as exc:
            print(f"ienfd analyze: error: --params {args.params}: {exc}", file=sys.stderr)
            return 2
    if args.junction is not None:
        problem = None
        if len(args.images) != 1:
            problem = f"a drawn junction belongs to one image; {len(args.images)} were given"
        elif args.consistency:
            problem = "--consistency checks the junction search; with --junction there is none"
        elif not Path(args.junction).is_file():
            problem = "no such file"
        if problem is not None:
            print(f"ienfd analyze: error: --junction {args.junction}: {problem}", file=sys.stderr)
            return 2
    reader = ReaderOptions(
        modality=args.modality,
        pixel_size_um=args.pixel_size,
        fibre_channel=args.fibre_channel,
        membrane_channel=args.membrane_channel,
        scene=args.scene,
    )
    try:
        jobs = analysis_jobs(
            args.images,
            args.out,
            reader=reader,
            parameters=parameters,
            length_basis=args.length_basis,
            overlay=not args.no_overlay,
            consistency=args.consistency,
            junction=args.junction,
            pixel_model=pixel_model,
        )
    except OSError as exc:
        print(f"ienfd analyze: error: {out_problem(args.out, exc)}", file=sys.stderr)
        return 2
    if recorded:
        from dataclasses import replace

        jobs = [replace(job, extra={**job.extra, **recorded}) for job in jobs]
    # The bar for more than one image only: one image's line comes soon enough.
    progress = Progress(
        "analyze", total=len(jobs), quiet=args.quiet, bar=None if len(jobs) > 1 else False
    )
    for job in jobs:
        if job.stem != image_stem(job.image):
            note(
                f"note: {job.image} shares its stem with another input; written as {job.stem}.json"
            )
    if clash is not None:
        note(f"note: {clash}")
    # As `ienfd batch` does: a pipeline made for the other modality is refused per image
    # (--modality, given on purpose, reads an RGB file as fluorescence channels instead).
    decided = _refused(jobs) if from_pipeline else None

    width = max(5, *(len(job.image) for job in jobs))
    if not args.quiet:
        print(
            f"{'image':<{width}}  {'modality':<12} {'px µm':>6} {'count':>5} "
            f"{'DEJ mm':>7} {'surf mm':>7} {'/mm':>6}  status",
            flush=True,
        )

    def show(event: SectionEvent) -> None:
        run = event.run
        path = run.job.image
        if run.status == "ok" and run.record is not None:
            cells = _table_cells(run.record)
            for text in run.notes:
                note(f"note: {path}: {in_flag_words(text)}")
            checked = consistency_words(run.record)
            if checked is not None:
                note(f"{path}: {checked}")
            for reason in run.quality.reasons if run.quality.needs_review else []:
                note(f"review: {path}: {reason}")
        else:
            progress.error(f"ienfd analyze: error: {in_flag_words(run.error)}")
            if run.traceback:
                progress.error(run.traceback.rstrip("\n"))
            for stale in run.removed:
                note(f"note: removed {stale}, left by an earlier run")
            cells = f"{'-':<12} {'-':>6} {'-':>5} {'-':>7} {'-':>7} {'-':>6}"
        progress.write(f"{path:<{width}}  {cells}  {_status(run)}")
        progress.advance()

    with progress:
        runs = run_sections(jobs, show, decided=decided)
    if not args.quiet:
        failed = sum(run.status == "error" for run in runs)
        review = sum(run.status == "ok" and run.quality.needs_review for run in runs)
        print(
            f"{len(runs) - failed} of {len(runs)} image(s) analysed"
            + (f", {failed} failed (see the errors above)" if failed else "")
            + (f", {review} need{'s' if review == 1 else ''} review (see above)" if review else "")
            + f"; density per mm of {'DEJ' if args.length_basis == 'dej' else 'surface'}; "
            f"results in {Path(args.out)}"
        )
    return 1 if any(run.status == "error" for run in runs) else 0


def _refused(jobs: list[SectionJob]) -> list[SectionRun | None]:
    """Per job, a failed run when its file is of the other modality than the pipeline's.

    The pipeline's modality is the jobs' reader's (:meth:`ReaderOptions.refuses`,
    as ``ienfd batch`` refuses such a file); read from the file's metadata
    (:func:`ienfd.io.probe_image`). A file that cannot be probed is left to the
    analysis, which says what is wrong with it.
    """
    from ienfd.io import probe_image
    from ienfd.workflow import failed_section

    decided: list[SectionRun | None] = []
    for job in jobs:
        try:
            why = job.reader.refuses(probe_image(job.path, scene=job.reader.scene))
        except (ValueError, OSError):  # unreadable: its analysis says why
            why = None
        if why is not None:
            wanted = job.reader.modality
            why = f"{job.image}: {why} (or give --modality {wanted} to read it as {wanted} anyway)"
        decided.append(None if why is None else failed_section(job, why))
    return decided
