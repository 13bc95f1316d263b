"""Command-line interface: argument parsing and printing only.

Every sub-command lives in its own section below; each section defines
``_add_<name>(subparsers)`` that registers the parser and sets ``func``.
The work itself is done by the library (``ienfd.io``, ``ienfd.core``,
``ienfd.clinical``, ...).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ienfd import __version__

if TYPE_CHECKING:
    from ienfd.workflow import SectionOutcome

logger = logging.getLogger("ienfd")


# ---------------------------------------------------------------------------
# analyze  (issue 2: the core)
# ---------------------------------------------------------------------------


_ANALYZE_EPILOG = """\
outputs, in DIR, for each IMAGE:
  <stem>.json          the result (keys described in docs/output.md)
  <stem>.overlay.png   quality-control picture: DEJ (orange), surface (cyan,
                       dashed), counted crossings (numbered yellow discs),
                       fragments (red squares), fibres ending below the DEJ
                       (white triangles); skipped with --no-overlay
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
  ienfd analyze leg_s1.tif --out results --consistency   # slow: about 16x the time
"""

_CONSISTENCY_HELP = (
    "check each result without any truth: analyse the section again in all 8 orientations "
    "(turned by 90°, mirrored) at its pixel size and at 1.5x it. SLOW: 16 more analyses per "
    "section, about 16x the time. A section whose count or DEJ length changes beyond the "
    "tolerance in docs/output.md is marked for review; every run goes in the JSON under "
    "'consistency'"
)

_LENGTH_BASIS_HELP = (
    "length the density is per mm of: 'dej' (dermal-epidermal junction, default) or "
    "'surface' (epidermal surface). Both lengths are always reported."
)


def _add_analyze(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``analyze``: count intraepidermal nerve fibres in section images."""
    p = subparsers.add_parser(
        "analyze",
        help="count intraepidermal nerve fibres in section images (one JSON per image)",
        description=(
            "Count the intraepidermal nerve fibres crossing the dermal-epidermal junction "
            "(DEJ) in each section image by the EFNS/PNS rule (Lauria et al. 2010), measure "
            "the DEJ and epidermal-surface lengths, and write DIR/<stem>.json and a QC "
            "overlay DIR/<stem>.overlay.png per image. A summary table goes to stdout. "
            "Reads TIFF, OME-TIFF and ImageJ TIFF, bright-field RGB or multichannel "
            "fluorescence; the pixel size comes from the file's metadata (OME "
            "PhysicalSizeX/Y, TIFF resolution tags, ImageJ) or --pixel-size, never from a "
            "guess."
        ),
        epilog=_ANALYZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="section image file(s)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument(
        "--pixel-size",
        type=_pixel_size_argument,
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
    p.add_argument(
        "--modality",
        choices=("brightfield", "fluorescence"),
        default=None,
        help="imaging mode (default: detected; RGB is bright-field, channels are fluorescence)",
    )
    p.add_argument(
        "--length-basis", choices=("dej", "surface"), default="dej", help=_LENGTH_BASIS_HELP
    )
    p.add_argument("--no-overlay", action="store_true", help="do not draw the QC overlay PNGs")
    p.add_argument("--consistency", action="store_true", help=_CONSISTENCY_HELP)
    p.add_argument(
        "--params",
        metavar="FILE",
        default=None,
        help="JSON file of analysis parameters (names as in ienfd.core.AnalysisParameters; "
        "missing ones keep their defaults); an earlier result JSON works too: its "
        "'parameters' are used",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors (no table, no notes)"
    )
    p.set_defaults(func=_run_analyze)


def _pixel_size_argument(text: str) -> float:
    """Parse ``--pixel-size``: a finite number of µm in [0.01, 100)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of µm") from None
    if not (0.01 <= value < 100.0):  # also rejects NaN; the range the reader and core take
        raise argparse.ArgumentTypeError(f"{text} µm; accepted: a pixel size in [0.01, 100) µm")
    return value


def _load_parameters(path: str) -> object:
    """Read ``--params``: AnalysisParameters from a JSON object (or its 'parameters')."""
    import json

    from ienfd.core import AnalysisParameters

    with open(path, encoding="utf-8") as fh:
        values = json.load(fh)
    if isinstance(values, dict) and isinstance(values.get("parameters"), dict):
        values = values["parameters"]
    if not isinstance(values, dict):
        raise ValueError(f"expected a JSON object of parameters, got {type(values).__name__}")
    return AnalysisParameters.from_dict(values)


def _analyze_one(
    path: str, args: argparse.Namespace, parameters: object, out: str, stem: str
) -> SectionOutcome:
    """Read, analyse, draw and write one image; return what was written and the notes.

    The work is :func:`ienfd.workflow.run_section` (shared with ``batch``);
    this only builds the job. Raises what it raises.
    """
    from ienfd.core import AnalysisParameters
    from ienfd.workflow import ReaderOptions, SectionJob, run_section

    if parameters is None:
        parameters = AnalysisParameters()
    if not isinstance(parameters, AnalysisParameters):
        raise TypeError(f"parameters must be AnalysisParameters, got {type(parameters).__name__}")
    job = SectionJob(
        image=path,
        path=path,
        out_dir=out,
        stem=stem,
        reader=ReaderOptions(
            modality=args.modality,
            pixel_size_um=args.pixel_size,
            fibre_channel=args.fibre_channel,
            membrane_channel=args.membrane_channel,
        ),
        parameters=parameters,
        length_basis=args.length_basis,
        overlay=not args.no_overlay,
        consistency=args.consistency,
    )
    return run_section(job)


def _status(outcome: SectionOutcome) -> str:
    """The status column: ``ok``, ``ok (N notes)``, or ``review: <first reason> (+N more)``."""
    quality = outcome.quality
    if quality.needs_review:
        first, *more = quality.reasons
        return f"review: {first}" + (f" (+{len(more)} more)" if more else "")
    n = len(outcome.notes)
    return f"ok ({n} note{'s' if n > 1 else ''})" if n else "ok"


def _table_cells(record: Mapping[str, Any]) -> str:
    """The columns after the image name in the printed table."""
    return (
        f"{record['modality']:<12} {record['pixel_size_um']:>6.3f} {record['count']:>5d} "
        f"{record['dej_length_um'] / 1000:>7.3f} {record['surface_length_um'] / 1000:>7.3f} "
        f"{record['density_per_mm']:>6.2f}"
    )


def _run_analyze(args: argparse.Namespace) -> int:
    """Analyse every IMAGE; print the table; return 0, or 1 if any image failed."""
    import traceback
    from pathlib import Path

    from ienfd.workflow import image_stem, output_stems

    def note(text: str) -> None:
        if not args.quiet:
            print(f"ienfd analyze: {text}", file=sys.stderr)

    parameters = None
    if args.params is not None:
        try:
            parameters = _load_parameters(args.params)
        except (OSError, ValueError, TypeError) as exc:
            print(f"ienfd analyze: error: --params {args.params}: {exc}", file=sys.stderr)
            return 2
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"ienfd analyze: error: --out {args.out}: {exc}", file=sys.stderr)
        return 2
    paths: list[str] = list(args.images)
    stems = output_stems(paths)
    for path, stem in zip(paths, stems, strict=True):
        if stem != image_stem(path):
            note(f"note: {path} shares its stem with another input; written as {stem}.json")

    width = max(5, *(len(p) for p in paths))
    if not args.quiet:
        print(
            f"{'image':<{width}}  {'modality':<12} {'px µm':>6} {'count':>5} "
            f"{'DEJ mm':>7} {'surf mm':>7} {'/mm':>6}  status",
            flush=True,
        )
    failed = review = 0
    for path, stem in zip(paths, stems, strict=True):
        try:
            outcome = _analyze_one(path, args, parameters, str(out_dir), stem)
        except (ValueError, OSError, MemoryError) as exc:  # ImageReadError, AnalysisError too
            reason = "not enough memory" if isinstance(exc, MemoryError) else str(exc)
            message = reason if reason.startswith(path) else f"{path}: {reason}"
            print(f"ienfd analyze: error: {message}", file=sys.stderr)
            failed += 1
            status = f"error: {type(exc).__name__}"
        except Exception as exc:  # a bug: say so, with the traceback, and go on
            print(
                f"ienfd analyze: error: {path}: unexpected {type(exc).__name__}: {exc} "
                "(please report this, with the traceback below)",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            failed += 1
            status = f"error: {type(exc).__name__}"
        else:
            cells = _table_cells(outcome.record)
            for text in outcome.notes:
                note(f"note: {path}: {text}")
            status = _status(outcome)
            if outcome.quality.needs_review:  # not an error: the count is there, to be checked
                review += 1
                for reason in outcome.quality.reasons:
                    note(f"review: {path}: {reason}")
        if status.startswith("error"):
            for stale in (out_dir / f"{stem}.json", out_dir / f"{stem}.overlay.png"):
                if stale.exists():
                    stale.unlink()
                    note(f"note: removed {stale}, left by an earlier run")
            cells = f"{'-':<12} {'-':>6} {'-':>5} {'-':>7} {'-':>7} {'-':>6}"
        if not args.quiet:
            print(f"{path:<{width}}  {cells}  {status}", flush=True)
    if not args.quiet:
        done = len(paths) - failed
        print(
            f"{done} of {len(paths)} image(s) analysed"
            + (f", {failed} failed (see the errors above)" if failed else "")
            + (f", {review} need{'s' if review == 1 else ''} review (see above)" if review else "")
            + f"; density per mm of {'DEJ' if args.length_basis == 'dej' else 'surface'}; "
            f"results in {out_dir}"
        )
    return 1 if failed else 0


# ---------------------------------------------------------------------------
# batch  (issue 4: many sections on a dask cluster, whole-slide images)
# ---------------------------------------------------------------------------


_BATCH_EPILOG = """\
INPUT:
  a folder (its TIFF files, recursively), a quoted glob ("slides/*.ome.tif"),
  or a manifest CSV with columns image,patient_id,site,section and optional
  pixel_size_um,fibre_channel,membrane_channel,age,sex (image paths relative
  to the manifest's folder; sites as in `ienfd classify`: distal_leg,
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

exit status: 0 all sections analysed or skipped (some may need review);
1 some failed (listed); 2 bad command line, manifest or pipeline (nothing
analysed).

examples:
  ienfd batch slides/ --out results --pipeline pipelines/brightfield_pgp95.json
  ienfd batch manifest.csv --out results --workers 2
  ienfd batch manifest.csv --out results --scheduler tcp://10.0.0.5:8786
"""


def _add_batch(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        help="address of a running dask scheduler (tcp://host:8786) instead of a LocalCluster; "
        "its workers must see the same paths",
    )
    p.add_argument("--force", action="store_true", help="analyse again sections already done")
    p.add_argument(
        "--pixel-size",
        type=_pixel_size_argument,
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
    p.add_argument("--no-overlay", action="store_true", help="do not draw the QC overlay PNGs")
    p.add_argument("--consistency", action="store_true", help=_CONSISTENCY_HELP)
    p.add_argument(
        "--site", action="append", default=[], metavar="NAME", help="accept this extra site name"
    )
    p.add_argument(
        "--slide-mb",
        type=float,
        default=64.0,
        metavar="MB",
        help="files whose full-resolution image needs more MiB are whole-slide images, "
        "split into sections found at low resolution (default 64)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_run_batch)


def _run_batch(args: argparse.Namespace) -> int:
    """Run a batch; print progress, failures and a summary; 0, 1 (some failed) or 2."""
    from pathlib import Path

    from ienfd.workflow import (
        BatchInputError,
        PipelineError,
        ReaderOptions,
        collect_inputs,
        default_pipeline,
        read_pipeline,
    )

    def say(text: str) -> None:
        if not args.quiet:
            print(text, flush=True)

    def fail(text: str) -> int:
        print(f"ienfd batch: error: {text}", file=sys.stderr)
        return 2

    from ienfd.io import result_quality

    try:
        from ienfd.parallel import BatchEvent, batch_client, run_batch
    except ModuleNotFoundError as exc:
        return fail(f"{exc}; install the dask extra: pip install 'ienfd[dask]'")
    if args.workers is not None and args.workers < 1:
        return fail(f"--workers {args.workers}; accepted: >= 1")
    if not args.slide_mb > 0:
        return fail(f"--slide-mb {args.slide_mb}; accepted: > 0")
    try:
        pipeline = read_pipeline(args.pipeline) if args.pipeline else default_pipeline()
    except (PipelineError, OSError) as exc:
        return fail(f"--pipeline: {exc}")
    out_dir = Path(args.out)
    try:
        rows = collect_inputs(args.input, extra_sites=tuple(args.site), exclude=str(out_dir))
        out_dir.mkdir(parents=True, exist_ok=True)
    except BatchInputError as exc:
        for problem in exc.problems:
            print(f"ienfd batch: error: {problem}", file=sys.stderr)
        return 2
    except OSError as exc:
        return fail(f"--out {args.out}: {exc}")
    reader = ReaderOptions(
        pixel_size_um=args.pixel_size,
        fibre_channel=args.fibre_channel,
        membrane_channel=args.membrane_channel,
    )
    say(
        f"ienfd batch: {len(rows)} input(s), pipeline {pipeline.name} {pipeline.version}, "
        f"density per mm of {'DEJ' if pipeline.length_basis == 'dej' else 'surface'}"
    )

    def progress(event: BatchEvent) -> None:
        e = event.entry
        label = e.image + (f" [section {e.section_index}]" if e.section_index else "")
        if event.status == "ok" and event.record is not None:
            r = event.record
            quality = result_quality(r)
            word = "review" if quality.needs_review else "ok"
            state = f"{word}  count {r['count']}  {r['density_per_mm']:.2f}/mm"
            if quality.needs_review:
                first, *more = quality.reasons
                state += f"  ({first}" + (f"; +{len(more)} more)" if more else ")")
            elif event.notes:
                state += f" ({len(event.notes)} note{'s' if len(event.notes) > 1 else ''})"
        elif event.status == "skipped":
            state = "skipped (done earlier, same input and parameters)"
        else:
            state = "FAILED"
        width = len(str(event.total))
        say(f"[{event.done:>{width}}/{event.total}] {label}  {state}")

    if args.verbose < 2:  # distributed logs every worker start and stop at INFO
        import distributed  # noqa: F401  (its import sets its loggers' levels)

        logging.getLogger("distributed").setLevel(logging.WARNING)
    try:
        with batch_client(workers=args.workers, scheduler=args.scheduler) as client:
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
                slide_bytes=int(args.slide_mb * 2**20),
                extra_sites=tuple(args.site),
                on_event=progress,
                command=["ienfd", *sys.argv[1:]],
            )
    except OSError as exc:  # scheduler unreachable (TimeoutError is an OSError)
        return fail(f"dask cluster: {exc}")
    for failure in report.failures:
        print(f"ienfd batch: error: {failure['error']}", file=sys.stderr)
    total = len(report.entries)
    say(
        f"{total - report.n_failed} of {total} section(s) done "
        f"({report.n_analysed} analysed, {report.n_skipped} skipped as already done)"
        + (f", {report.n_failed} FAILED (listed above and in run.json)" if report.n_failed else "")
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


# ---------------------------------------------------------------------------
# synth  (synthetic sections with known truth)
# ---------------------------------------------------------------------------


def _add_synth(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``synth``: write synthetic sections with their truth JSON."""
    p = subparsers.add_parser(
        "synth",
        help="write synthetic PGP 9.5 sections with known truth",
        description=(
            "Write N synthetic skin sections (<stem>.tif, or <stem>.ome.tif for OME-TIFF) "
            "and their truth (<stem>.truth.json) into OUT_DIR. Parameters not given are "
            "drawn at random (seeded, so the same command gives the same files)."
        ),
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created if missing)")
    p.add_argument("--n", type=int, default=1, help="number of sections (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--modality", choices=["brightfield", "fluorescence", "mixed"], default="mixed")
    p.add_argument("--chromogen", choices=["sg", "dab", "mixed"], default="mixed")
    p.add_argument("--pixel-size", type=float, default=None, metavar="UM", help="µm per pixel")
    p.add_argument("--kind", choices=["ome", "tiff", "imagej", "mixed"], default="ome")
    p.add_argument("--length", type=float, default=None, metavar="UM", help="section length")
    p.add_argument("--rotation", type=float, default=None, metavar="DEG", help="0-360")
    p.add_argument("--flip", choices=["yes", "no"], default=None)
    p.add_argument("--density", type=float, default=None, metavar="PER_MM")
    p.add_argument("--stem", default="synth", help="file-name prefix (default 'synth')")
    p.add_argument("--pyramid-levels", type=int, default=0, help="OME sub-resolutions")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="fix any SectionSpec field, e.g. --set noise=0.01 --set p_dermal_branch=0.5",
    )
    p.set_defaults(func=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from ienfd.io import write_json, write_section_tiff
    from ienfd.synthetic import generate_section, random_spec

    if args.n < 1:
        print(f"ienfd synth: error: --n {args.n}; accepted: >= 1", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {}
    for name, value in (
        ("modality", None if args.modality == "mixed" else args.modality),
        ("chromogen", None if args.chromogen == "mixed" else args.chromogen),
        ("pixel_size_um", args.pixel_size),
        ("length_um", args.length),
        ("rotation_deg", args.rotation),
        ("flip", None if args.flip is None else args.flip == "yes"),
        ("density_per_mm", args.density),
    ):
        if value is not None:
            overrides[name] = value
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep:
            print(f"ienfd synth: error: --set {item!r}; expected NAME=VALUE", file=sys.stderr)
            return 2
        try:
            overrides[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[name.strip()] = text
    try:  # validate the overrides before creating anything
        random_spec(args.seed, **overrides)
    except (TypeError, ValueError) as exc:
        print(f"ienfd synth: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    kinds = ["ome", "tiff", "imagej"] if args.kind == "mixed" else [args.kind]
    for i in range(args.n):
        try:
            spec = random_spec(rng, **overrides)
        except (TypeError, ValueError) as exc:
            print(f"ienfd synth: error: {exc}", file=sys.stderr)
            return 2
        kind = kinds[i % len(kinds)]
        stem = f"{args.stem}_{i:03d}" if args.n > 1 else args.stem
        sec = generate_section(spec)
        image_path = out / (f"{stem}.ome.tif" if kind == "ome" else f"{stem}.tif")
        write_section_tiff(
            image_path,
            sec.image,
            pixel_size_um=spec.pixel_size_um,
            kind=kind,
            channel_names=sec.channel_names if spec.modality == "fluorescence" else None,
            pyramid_levels=args.pyramid_levels if kind == "ome" else 0,
        )
        truth = {"image": image_path.name, "kind": kind, **sec.truth}
        truth_path = out / f"{stem}.truth.json"
        write_json(truth_path, truth)
        label = (
            spec.modality if spec.modality == "fluorescence" else f"brightfield/{spec.chromogen}"
        )
        rows, cols = sec.truth["shape"]
        print(
            f"{image_path}  {kind} {label} {rows}x{cols} px {spec.pixel_size_um:.3f} µm "
            f"rot {spec.rotation_deg:.0f}{' flip' if spec.flip else ''} count {sec.truth['count']}"
        )
        print(f"{truth_path}  truth")
    return 0


# ---------------------------------------------------------------------------
# classify / norms / agreement  (issue 3: the clinical module)
# ---------------------------------------------------------------------------


def _add_clinical(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``classify``, ``norms {build,show,check}`` and ``agreement``."""
    length_help = (
        "length to divide by when the table has no length_mm column: dej_length_um or "
        "surface_length_um (default: each row's length_basis column, else dej)"
    )
    p = subparsers.add_parser(
        "classify",
        help="per-patient density, normal limits and distal/proximal pattern",
        description=(
            "Aggregate section counts per patient and site, compare each site with its "
            "age- and sex-specific lower normal limit, and classify the distal/proximal "
            "pattern. Writes DIR/patients.csv, sites.csv, cohort_summary.csv, cohort.html, "
            "excluded.csv (if any) and DIR/reports/<patient>.html. Rows are numbered as "
            "1-based data rows (data row 1 = spreadsheet line 2)."
        ),
    )
    p.add_argument("input", metavar="INPUT.csv", help="section table (or one row per biopsy)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--norms", metavar="FILE", help="norms CSV to use instead of the built-in table")
    p.add_argument("--length-basis", choices=("dej", "surface"), default=None, help=length_help)
    p.add_argument(
        "--modality",
        choices=("brightfield", "fluorescence"),
        default=None,
        help="modality of rows that do not state one (selects modality-specific norms)",
    )
    p.add_argument(
        "--min-sections",
        type=int,
        default=3,
        metavar="N",
        help="fewer sections make the pattern indeterminate (default 3, EFNS/PNS guideline)",
    )
    p.add_argument(
        "--deficit-margin",
        type=float,
        default=0.0,
        metavar="F",
        help="both sites abnormal: relative deficits closer than F are indeterminate "
        "(default 0: the larger deficit decides)",
    )
    p.add_argument(
        "--site",
        action="append",
        default=[],
        metavar="NAME",
        help="accept this extra site name (repeatable)",
    )
    p.add_argument("--no-reports", action="store_true", help="skip the per-patient HTML reports")
    p.set_defaults(func=_run_classify)

    n = subparsers.add_parser("norms", help="build, show or check normative tables")
    nsub = n.add_subparsers(dest="norms_command", metavar="ACTION", required=True)
    b = nsub.add_parser(
        "build",
        help="fit age- and sex-specific 5th-percentile lines from healthy controls",
        description=(
            "Fit lower-limit lines by linear quantile regression (method of Lauria et al. "
            "2010) from a laboratory's healthy controls (same table format as classify). "
            "Writes DIR/norms.csv and DIR/norms.png."
        ),
    )
    b.add_argument("controls", metavar="CONTROLS.csv")
    b.add_argument("--out", required=True, metavar="DIR")
    b.add_argument("--quantile", type=float, default=0.05, help="default 0.05")
    b.add_argument("--pooled-sex", action="store_true", help="one line for both sexes")
    b.add_argument(
        "--min-controls", type=int, default=20, metavar="N", help="per group (default 20)"
    )
    b.add_argument("--length-basis", choices=("dej", "surface"), default=None, help=length_help)
    b.add_argument("--modality", choices=("brightfield", "fluorescence"), default=None)
    b.add_argument("--site", action="append", default=[], metavar="NAME")
    b.set_defaults(func=_run_norms_build)
    s = nsub.add_parser("show", help="print (or write) the built-in norms with their sources")
    s.add_argument("--out", metavar="FILE", help="write the table to FILE instead of printing")
    s.set_defaults(func=_run_norms_show)
    c = nsub.add_parser("check", help="validate a norms file")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--site", action="append", default=[], metavar="NAME")
    c.set_defaults(func=_run_norms_check)

    a = subparsers.add_parser(
        "agreement",
        help="automatic versus manual counts: ICC(A,1) and Bland-Altman",
        description=(
            "Pair sections by image file stem (or section_id) and report ICC(A,1) and "
            "Bland-Altman bias and limits. AUTO: CSV with image and count_auto or count. "
            "MANUAL: CSV with image and manual_count/final_count/count, or a folder of "
            "napari *.correction.json sidecars (final_count)."
        ),
    )
    a.add_argument("auto", metavar="AUTO.csv")
    a.add_argument("manual", metavar="MANUAL", help="CSV file or folder of correction sidecars")
    a.add_argument("--out", required=True, metavar="DIR")
    a.add_argument("--auto-column", default=None, help="count column in AUTO")
    a.add_argument("--manual-column", default=None, help="count column in MANUAL")
    a.set_defaults(func=_run_agreement)


def _clinical_error(command: str, exc: Exception) -> int:
    print(f"ienfd {command}: error: {exc}", file=sys.stderr)
    return 1


def _run_classify(args: argparse.Namespace) -> int:
    from ienfd.clinical import ClassificationRules, run_classify

    try:
        rules = ClassificationRules(
            min_sections=args.min_sections, deficit_margin=args.deficit_margin
        )
        out = run_classify(
            args.input,
            args.out,
            norms_path=args.norms,
            length_basis=args.length_basis,
            modality=args.modality,
            extra_sites=args.site,
            rules=rules,
            reports=not args.no_reports,
            version=__version__,
        )
    except (ValueError, OSError) as exc:
        return _clinical_error("classify", exc)
    print(f"{'patient':<12} {'distal':<11} {'proximal':<11} {'ratio':>5}  pattern")
    for r in out.results:
        d = r.sites.get(rules.distal_site)
        pr = r.sites.get(rules.proximal_site)
        ratio = "-" if r.ratio_distal_proximal is None else f"{r.ratio_distal_proximal:.2f}"
        print(
            f"{r.patient_id:<12} {d.status if d else 'missing':<11} "
            f"{pr.status if pr else 'missing':<11} {ratio:>5}  {r.pattern}"
        )
        print(f"    {r.reason}")
    pending = [r for r in out.results if r.n_need_review]
    if pending:
        n = sum(r.n_need_review for r in pending)
        print(
            f"{n} section(s) of {len(pending)} patient(s) need review (quality checks failed, "
            "not accepted by a reviewer): a pattern that depends on them is indeterminate "
            "until they are reviewed (column sections_need_review; reasons in the reports)"
        )
    print(f"wrote {out.patients_csv} ({len(out.results)} patients)")
    if out.excluded_csv is not None:
        print(f"wrote {out.excluded_csv} ({out.n_excluded} excluded sections)")
    print(f"wrote {out.cohort_html} and {len(out.reports)} patient reports in reports/")
    return 0


def _run_norms_build(args: argparse.Namespace) -> int:
    from ienfd.clinical import run_norms_build

    try:
        norms, csv_path, png_path = run_norms_build(
            args.controls,
            args.out,
            quantile=args.quantile,
            by_sex=not args.pooled_sex,
            min_controls=args.min_controls,
            length_basis=args.length_basis,
            modality=args.modality,
            extra_sites=args.site,
        )
    except (ValueError, OSError) as exc:
        return _clinical_error("norms build", exc)
    for r in norms.rows:
        assert r.intercept_per_mm is not None and r.slope_per_mm_per_year is not None
        print(
            f"{r.site} {r.sex} {r.modality or 'any'} ages {r.age_min}-{r.age_max}: "
            f"p{100 * args.quantile:g} = {r.intercept_per_mm:.3f} "
            f"{r.slope_per_mm_per_year:+.4f} x age"
        )
    print(f"wrote {csv_path} and {png_path}")
    return 0


def _run_norms_show(args: argparse.Namespace) -> int:
    from ienfd.clinical import builtin_norms, write_norms

    norms = builtin_norms()
    if args.out:
        print(f"wrote {write_norms(norms, args.out)}")
    else:
        print(norms.to_frame().to_csv(index=False, lineterminator="\n"), end="")
    return 0


def _run_norms_check(args: argparse.Namespace) -> int:
    from ienfd.clinical import read_norms

    try:
        norms = read_norms(args.file, extra_sites=tuple(args.site))
    except (ValueError, OSError) as exc:
        return _clinical_error("norms check", exc)
    print(f"{args.file}: {len(norms.rows)} rows, sites {', '.join(norms.sites())}: ok")
    return 0


def _run_agreement(args: argparse.Namespace) -> int:
    from ienfd.clinical import run_agreement

    try:
        table, summary, paths = run_agreement(
            args.auto,
            args.manual,
            args.out,
            auto_column=args.auto_column,
            manual_column=args.manual_column,
        )
    except (ValueError, OSError) as exc:
        return _clinical_error("agreement", exc)
    ba = summary.bland_altman
    print(f"sections paired: {summary.n}")
    print(f"ICC(A,1): {summary.icc_a1:.3f}")
    print(f"Bland-Altman (auto - manual): bias {ba.bias:+.2f}, SD {ba.sd:.2f}")
    print(f"  95% limits of agreement {ba.loa_low:+.2f} to {ba.loa_high:+.2f}")
    if table.only_auto or table.only_manual:
        print(
            f"unpaired: {len(table.only_auto)} only in AUTO, "
            f"{len(table.only_manual)} only in MANUAL"
        )
    for path in paths.values():
        print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the ``ienfd`` argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="ienfd",
        description=(
            "Intraepidermal nerve fibre density (IENFD) from PGP 9.5 skin-biopsy "
            "section images, counted by the EFNS/PNS rule."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ienfd {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_analyze(subparsers)
    _add_batch(subparsers)
    _add_synth(subparsers)
    _add_clinical(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ienfd`` command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
