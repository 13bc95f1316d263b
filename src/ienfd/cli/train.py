"""``ienfd train``: teach ienfd a lab's stain from painted label images."""

from __future__ import annotations

import argparse
import sys
import time

from ienfd.cli._common import (
    LENGTH_BASIS_HELP,
    Subparsers,
    add_output_options,
    in_flag_words,
    pixel_size_argument,
)

_TRAIN_EPILOG = """\
LABELS is a uint8 TIFF of its IMAGE's shape (rows x columns), painted with:
  0 unlabelled   1 background (glass)   2 epidermis   3 dermis
  4 stratum corneum   5 fibre   6 not fibre
Epidermis and dermis strokes are required; glass and stratum corneum are
learnt when painted; fibre / not-fibre strokes are recorded in the model
but not learnt (the fibres are traced by the analysis itself). A few short
strokes of each class on one to three sections are enough (well under 2 %
of the pixels); paint near the junction too, where the two sides differ.

outputs:
  OUT                 the pipeline file (ienfd-pipeline/1) naming the model
  <OUT stem>.model.npz the model (ienfd-pixel-model/1: plain arrays, no
                      pickle), with the lab's name and what it was trained
                      on (image sha256s, pixel sizes, painted pixels per class)
Keep the two files together: the pipeline checks the model's sha256.

exit status:
  0  trained and saved
  2  bad command line or inputs (odd IMAGE/LABELS pairs, an unreadable
     image, labels of another shape, nothing painted, no epidermis or no
     dermis strokes); nothing is written

examples:
  ienfd train s1.tif s1_labels.tif --out lab.json --lab "Neuro lab A"
  ienfd train a.png a_labels.tif b.png b_labels.tif --out lab.json --pixel-size 0.5
  ienfd analyze new.tif --out results --pipeline lab.json
  ienfd batch slides/ --out results --pipeline lab.json
"""


def register(subparsers: Subparsers) -> None:
    """Register ``train``: a pixel model from painted sections, saved as a pipeline."""
    p = subparsers.add_parser(
        "train",
        help="teach ienfd a lab's stain from painted labels; saves a pipeline file",
        description=(
            "Train a pixel model (epidermis, dermis, glass, stratum corneum) from one or "
            "more section images, each with a label TIFF of painted strokes, and save it "
            "with a pipeline file that `ienfd analyze --pipeline` and `ienfd batch "
            "--pipeline` use: the fibres are then counted across the junction of the "
            "model's epidermis instead of the built-in junction search."
        ),
        epilog=_TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "pairs",
        nargs="+",
        metavar="IMAGE LABELS",
        help="section image followed by its label TIFF, one pair per section",
    )
    p.add_argument("--out", required=True, metavar="OUT", help="pipeline file to write (.json)")
    p.add_argument(
        "--pixel-size",
        type=pixel_size_argument,
        default=None,
        metavar="UM",
        help="pixel size in µm of every IMAGE, overriding the files' metadata",
    )
    p.add_argument("--lab", default="", metavar="NAME", help="the lab's name, saved with the model")
    p.add_argument(
        "--length-basis", choices=("dej", "surface"), default="dej", help=LENGTH_BASIS_HELP
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the forest (default 0)")
    add_output_options(p, quiet_help="log errors only (what was learnt is still printed)")
    p.set_defaults(func=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    """Read the pairs, train, save; print what was learnt. 0, or 2 for bad inputs."""
    from pathlib import Path

    from ienfd.io import FileError
    from ienfd.learn import CLASS_NAMES, read_training_sections, train_pixel_model
    from ienfd.workflow._pipeline import save_trained_pipeline

    def fail(text: str) -> int:
        print(f"ienfd train: error: {in_flag_words(text)}", file=sys.stderr)
        return 2

    if len(args.pairs) % 2:
        return fail(
            f"{len(args.pairs)} file(s) given; expected IMAGE LABELS pairs "
            f"(the last, {args.pairs[-1]}, has no partner)"
        )
    if not args.out.lower().endswith(".json"):
        return fail(f"--out {args.out}: the pipeline file must end in .json")
    pairs = list(zip(args.pairs[::2], args.pairs[1::2], strict=True))
    for path in args.pairs:
        if not Path(path).exists():
            return fail(f"{path}: no such file")
    start = time.perf_counter()
    try:
        sections = read_training_sections(pairs, pixel_size_um=args.pixel_size)
        model = train_pixel_model(sections, lab=args.lab, seed=args.seed)
    except (FileError, ValueError) as exc:
        return fail(str(exc))
    try:
        pipeline = save_trained_pipeline(args.out, model, length_basis=args.length_basis)
    except OSError as exc:
        return fail(f"--out {args.out}: {exc}")
    elapsed = time.perf_counter() - start
    for entry in model.metadata["trained_on"]:
        painted = ", ".join(f"{name} {n}" for name, n in entry["labelled_pixels"].items() if n)
        print(
            f"{entry['name']}: {entry['pixel_size_um']:.3f} µm/px, "
            f"{100 * entry['labelled_fraction']:.2f}% painted ({painted})"
        )
    learnt = ", ".join(CLASS_NAMES[c] for c in model.classes)
    unused = model.metadata.get("unused_classes") or []
    print(f"learnt: {learnt}" + (f"; recorded, not learnt: {', '.join(unused)}" if unused else ""))
    assert pipeline.pixel_model is not None
    print(
        f"trained in {elapsed:.1f} s; pipeline {pipeline.source} with model "
        f"{pipeline.pixel_model.path} (sha256 {pipeline.pixel_model.sha256[:12]})"
    )
    return 0
