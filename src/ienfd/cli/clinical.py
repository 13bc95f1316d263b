"""``ienfd classify``, ``ienfd norms {build,show,check}`` and ``ienfd agreement``."""

from __future__ import annotations

import argparse
import sys

from ienfd import __version__
from ienfd.cli._common import Subparsers, add_output_options, printer

# The library's defaults, repeated so that the help can show them without importing
# ienfd.clinical (pandas) for every command; tests/cli/test_structure.py checks they agree.
#: ``ClassificationRules.min_sections`` (EFNS/PNS guideline: at least three sections).
MIN_SECTIONS = 3
#: ``ClassificationRules.deficit_margin``.
DEFICIT_MARGIN = 0.0
#: ``run_norms_build(quantile=...)``: the 5th percentile (Lauria et al. 2010).
QUANTILE = 0.05
#: ``run_norms_build(min_controls=...)``.
MIN_CONTROLS = 20


def register(subparsers: Subparsers) -> None:
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
        default=MIN_SECTIONS,
        metavar="N",
        help="fewer sections make the pattern indeterminate "
        f"(default {MIN_SECTIONS}, EFNS/PNS guideline)",
    )
    p.add_argument(
        "--deficit-margin",
        type=float,
        default=DEFICIT_MARGIN,
        metavar="F",
        help="both sites abnormal: relative deficits closer than F are indeterminate "
        f"(default {DEFICIT_MARGIN:g}: the larger deficit decides)",
    )
    p.add_argument(
        "--site",
        action="append",
        default=[],
        metavar="NAME",
        help="accept this extra site name (repeatable)",
    )
    p.add_argument("--no-reports", action="store_true", help="skip the per-patient HTML reports")
    add_output_options(p, quiet_help="print nothing but errors (no table, no list of files)")
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
    b.add_argument("--quantile", type=float, default=QUANTILE, help=f"default {QUANTILE:g}")
    b.add_argument("--pooled-sex", action="store_true", help="one line for both sexes")
    b.add_argument(
        "--min-controls",
        type=int,
        default=MIN_CONTROLS,
        metavar="N",
        help=f"per group (default {MIN_CONTROLS})",
    )
    b.add_argument("--length-basis", choices=("dej", "surface"), default=None, help=length_help)
    b.add_argument("--modality", choices=("brightfield", "fluorescence"), default=None)
    b.add_argument("--site", action="append", default=[], metavar="NAME")
    add_output_options(b, quiet_help="print nothing but errors")
    b.set_defaults(func=_run_norms_build)
    s = nsub.add_parser("show", help="print (or write) the built-in norms with their sources")
    s.add_argument("--out", metavar="FILE", help="write the table to FILE instead of printing")
    add_output_options(
        s, quiet_help="with --out, print nothing but errors (without it, the table is printed)"
    )
    s.set_defaults(func=_run_norms_show)
    c = nsub.add_parser("check", help="validate a norms file")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--site", action="append", default=[], metavar="NAME")
    add_output_options(c, quiet_help="print nothing but errors (the exit status says ok)")
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
    add_output_options(a, quiet_help="print nothing but errors (the figures are in DIR)")
    a.set_defaults(func=_run_agreement)


def _clinical_error(command: str, exc: Exception) -> int:
    print(f"ienfd {command}: error: {exc}", file=sys.stderr)
    return 1


def _run_classify(args: argparse.Namespace) -> int:
    say = printer(args)
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
    say(f"{'patient':<12} {'distal':<11} {'proximal':<11} {'ratio':>5}  pattern")
    for r in out.results:
        d = r.sites.get(rules.distal_site)
        pr = r.sites.get(rules.proximal_site)
        ratio = "-" if r.ratio_distal_proximal is None else f"{r.ratio_distal_proximal:.2f}"
        say(
            f"{r.patient_id:<12} {d.status if d else 'missing':<11} "
            f"{pr.status if pr else 'missing':<11} {ratio:>5}  {r.pattern}"
        )
        say(f"    {r.reason}")
    for pid in out.not_classified:
        say(f"{pid:<12} not classified: all sections failed (listed in {out.excluded_csv})")
    pending = [r for r in out.results if r.n_need_review]
    if pending:
        n = sum(r.n_need_review for r in pending)
        say(
            f"{n} section(s) of {len(pending)} patient(s) need review (quality checks failed, "
            "not accepted by a reviewer): a pattern that depends on them is indeterminate "
            "until they are reviewed (column sections_need_review; reasons in the reports)"
        )
    say(f"wrote {out.patients_csv} ({len(out.results)} patients)")
    if out.excluded_csv is not None:
        say(f"wrote {out.excluded_csv} ({out.n_excluded} excluded sections)")
    say(f"wrote {out.cohort_html} and {len(out.reports)} patient reports in reports/")
    return 0


def _run_norms_build(args: argparse.Namespace) -> int:
    say = printer(args)
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
        say(
            f"{r.site} {r.sex} {r.modality or 'any'} ages {r.age_min}-{r.age_max}: "
            f"p{100 * args.quantile:g} = {r.intercept_per_mm:.3f} "
            f"{r.slope_per_mm_per_year:+.4f} x age"
        )
    say(f"wrote {csv_path} and {png_path}")
    return 0


def _run_norms_show(args: argparse.Namespace) -> int:
    from ienfd.clinical import builtin_norms, write_norms

    norms = builtin_norms()
    if args.out:
        printer(args)(f"wrote {write_norms(norms, args.out)}")
    else:
        print(norms.to_frame().to_csv(index=False, lineterminator="\n"), end="")
    return 0


def _run_norms_check(args: argparse.Namespace) -> int:
    say = printer(args)
    from ienfd.clinical import read_norms

    try:
        norms = read_norms(args.file, extra_sites=tuple(args.site))
    except (ValueError, OSError) as exc:
        return _clinical_error("norms check", exc)
    say(f"{args.file}: {len(norms.rows)} rows, sites {', '.join(norms.sites())}: ok")
    return 0


def _run_agreement(args: argparse.Namespace) -> int:
    say = printer(args)
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
    say(f"sections paired: {summary.n}")
    low, high = summary.icc_a1_ci
    say(f"ICC(A,1): {summary.icc_a1:.3f} (95% CI {low:.3f} to {high:.3f}, McGraw & Wong 1996)")
    say(
        f"Bland-Altman (auto - manual): bias {ba.bias:+.2f} "
        f"(95% CI {ba.bias_ci[0]:+.2f} to {ba.bias_ci[1]:+.2f}), SD {ba.sd:.2f}"
    )
    say(
        f"  95% limits of agreement {ba.loa_low:+.2f} "
        f"(CI {ba.loa_low_ci[0]:+.2f} to {ba.loa_low_ci[1]:+.2f}) to {ba.loa_high:+.2f} "
        f"(CI {ba.loa_high_ci[0]:+.2f} to {ba.loa_high_ci[1]:+.2f})"
    )
    if table.only_auto or table.only_manual:
        say(
            f"unpaired: {len(table.only_auto)} only in AUTO, "
            f"{len(table.only_manual)} only in MANUAL"
        )
    for path in paths.values():
        say(f"wrote {path}")
    return 0
