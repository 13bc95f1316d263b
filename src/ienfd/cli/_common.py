"""What more than one command shares: argument types, help texts, logging and progress.

Logging is set up here and only here (:func:`configure_logging`, called by
:func:`ienfd.cli.main` for every command): the library logs through
``logging.getLogger(__name__)`` and never prints. :class:`Progress` prints a
batch's per-section lines under a live bar with rate and time left on a
terminal, and as plain lines everywhere else.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

#: The object ``ArgumentParser.add_subparsers`` returns, which each command registers on.
Subparsers = argparse._SubParsersAction

CONSISTENCY_HELP = (
    "check each result without any truth: analyse the section again at 1.25x and 1.5x its "
    "pixel size (turning or mirroring it changes nothing: it is analysed in one frame). "
    "SLOWER: 2 more analyses per section, of reduced copies, about 4x the time. A section "
    "whose count or DEJ length changes beyond the tolerance in docs/output.md is marked for "
    "review; what it found is printed, and every run goes in the JSON under 'consistency'"
)

LENGTH_BASIS_HELP = (
    "length the density is per mm of: 'dej' (dermal-epidermal junction, default) or "
    "'surface' (epidermal surface). Both lengths are always reported."
)


def pixel_size_argument(text: str) -> float:
    """Parse ``--pixel-size``: a finite number of µm in [0.01, 100)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of µm") from None
    if not (0.01 <= value < 100.0):  # also rejects NaN; the range the reader and core take
        raise argparse.ArgumentTypeError(f"{text} µm; accepted: a pixel size in [0.01, 100) µm")
    return value


SCENE_HELP = (
    "for a file of several scenes (CZI scenes, LIF images, ND2 positions, OME-Zarr images, "
    "the images of an OME-TIFF): the one to analyse, by index (0-based) or name (default: "
    "the first; `ienfd info FILE` lists them)"
)


def scene_argument(text: str) -> int | str:
    """Parse ``--scene``: an index (digits, as int) or a scene name.

    >>> scene_argument("2"), scene_argument("thigh")
    (2, 'thigh')
    """
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("empty; give a scene index (0-based) or name")
    return int(name) if name.isdigit() else name


#: What the reader says a caller can pass, and the option that passes it on the command line.
_FLAG_WORDS = (
    ("pass pixel_size_um", "pass --pixel-size UM"),
    ("pass modality='fluorescence'", "pass --modality fluorescence"),
    ("pass fibre_channel", "pass --fibre-channel"),
    ("pass membrane_channel", "pass --membrane-channel"),
    (
        "read whole-slide images region by region (open_lazy)",
        "use `ienfd batch` for whole-slide images",
    ),
    (
        "(or draw the junction)",
        "(or draw the junction and count across it: --junction FILE, or a manifest's junction "
        "column; docs/output.md)",
    ),
)


def in_flag_words(text: str) -> str:
    """A reader's message or note with its argument names turned into this CLI's options.

    ``ienfd.io`` names the :func:`ienfd.io.read_section` argument that fixes a
    file ("...; pass pixel_size_um"); printed by a command, the option is named
    instead ("...; pass --pixel-size UM").

    >>> in_flag_words("x.png: no pixel size: PNG files do not record it; pass pixel_size_um")
    'x.png: no pixel size: PNG files do not record it; pass --pixel-size UM'
    >>> in_flag_words("no epidermis found (or draw the junction)").split(": ")[1]
    "--junction FILE, or a manifest's junction column; docs/output.md)"
    """
    for words, flag in _FLAG_WORDS:
        text = text.replace(words, flag)
    return text


VERBOSE_HELP = "more log output: -v info and what tifffile reports, -vv debug"

QUIET_HELP = "print nothing but errors (each command's -q says what it leaves out)"


def add_output_options(parser: argparse.ArgumentParser, *, quiet_help: str) -> None:
    """Add ``-v/--verbose`` (counted) and ``-q/--quiet`` to a command's parser.

    ``-v`` lands in ``args.command_verbose`` (added to the ``ienfd -v`` before
    the command by :func:`ienfd.cli.main`), ``-q`` in ``args.quiet`` (which
    :func:`ienfd.cli.main` also sets for an ``ienfd -q`` before the command).
    """
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, dest="command_verbose", help=VERBOSE_HELP
    )
    parser.add_argument("-q", "--quiet", action="store_true", help=quiet_help)


def printer(args: argparse.Namespace) -> Callable[..., None]:
    """``print``, or a function that prints nothing when the command was given ``-q``."""
    if getattr(args, "quiet", False):
        return lambda *_, **__: None
    return print


#: Loggers that speak only with ``-v``: what they say reaches the user another way
#: (tifffile's warnings become a section's notes or its error message).
_VERBOSE_ONLY = ("tifffile",)

#: The name of the handler :func:`configure_logging` installs (so that it replaces its own).
_HANDLER = "ienfd.cli"

#: The live progress bar, while there is one; log lines are written above it.
_active_bar: tqdm | None = None


class _Handler(logging.StreamHandler):
    """Write to the ``sys.stderr`` of the moment (tests swap it), above a live bar."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        pass  # always the current sys.stderr

    def emit(self, record: logging.LogRecord) -> None:
        if _active_bar is None:
            super().emit(record)
            return
        try:
            _active_bar.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


class _Formatter(logging.Formatter):
    """``ienfd analyze: warning: ...``; with ``-v`` the logger's name too."""

    def __init__(self, prog: str, verbose: int) -> None:
        super().__init__()
        self.prog = prog
        self.verbose = verbose

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)  # the message, and a traceback if there is one
        where = f" [{record.name}]" if self.verbose else ""
        return f"{self.prog}: {record.levelname.lower()}{where}: {text}"


def _shown(verbose: int) -> logging.Filter:
    def keep(record: logging.LogRecord) -> bool:
        if verbose:
            return True
        return not any(record.name == n or record.name.startswith(n + ".") for n in _VERBOSE_ONLY)

    shown = logging.Filter()
    shown.filter = keep  # type: ignore[method-assign]
    return shown


def configure_logging(prog: str, *, verbose: int = 0, quiet: bool = False) -> None:
    """Send log records to stderr as ``PROG: level: message``: the only logging set-up.

    Default: warnings and errors of the library and the libraries below it,
    except tifffile's, whose warnings reach the user as a section's notes or
    in its error message. ``verbose`` 1 adds INFO records, tifffile's and the
    logger names; 2 adds DEBUG. ``quiet``: errors only. Called once per
    command; a second call replaces the first's handler.

    The root logger's level is never raised above WARNING, even with
    ``quiet``: tifffile's warnings must still reach the recorders that turn
    them into notes; the handler is what hides them.
    """
    level = logging.ERROR if quiet else logging.WARNING - 10 * min(verbose, 2)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    handler = _Handler()
    handler.set_name(_HANDLER)
    handler.setLevel(level)
    handler.setFormatter(_Formatter(prog, verbose))
    handler.addFilter(_shown(verbose))
    root.addHandler(handler)
    root.setLevel(min(level, logging.WARNING))


def shorten(text: str, width: int = 70) -> str:
    """``text`` cut to at most ``width`` characters, at a space if one is near, ending in ``…``.

    >>> shorten("membrane channel too weak for the junction", 20)
    'membrane channel…'
    >>> shorten("/a/very/long/path/without/spaces.tif", 12)
    '/a/very/lon…'
    >>> shorten("short")
    'short'
    """
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:  # a word boundary not too far back
        cut = cut[:space]
    return cut.rstrip(" ,;:(") + "…"


def out_problem(out: str, exc: OSError) -> str:
    """Why ``--out`` cannot be used, in words: ``exc`` from making the folder.

    >>> out_problem(os.devnull, FileExistsError(17, "File exists"))
    '--out /dev/null: is a file, not a folder'
    """
    if os.path.exists(out) and not os.path.isdir(out):
        return f"--out {out}: is a file, not a folder"
    return f"--out {out}: {exc.strerror or exc}"


def consistency_words(record: Mapping[str, Any], *, brief: bool = False) -> str | None:
    """What ``--consistency`` found for one result, in a few words; None when it did not run.

    ``brief``: the counts alone (a batch's progress line).

    >>> qc = {"consistency_count_min": 4, "consistency_count_max": 5,
    ...       "consistency_dej_spread": 0.003, "consistency_failed_runs": 0}
    >>> runs = [{"pixel_size_um": 0.6}, {"pixel_size_um": 0.75}, {"pixel_size_um": 0.9}]
    >>> consistency_words({"qc": qc, "consistency": runs})
    'consistency: count 4-5 over 3 pixel sizes (0.6-0.9 µm), DEJ length spread 0.3 %'
    >>> consistency_words({"qc": qc, "consistency": runs}, brief=True)
    'consistency: count 4-5'
    """
    runs = record.get("consistency")
    if not runs:
        return None
    qc = record.get("qc", {})
    sizes = [float(run["pixel_size_um"]) for run in runs]
    low, high = qc.get("consistency_count_min"), qc.get("consistency_count_max")
    spread = qc.get("consistency_dej_spread")
    failed = qc.get("consistency_failed_runs") or 0
    counts = "no count" if low is None else f"count {low}" + (f"-{high}" if high != low else "")
    if brief:
        return f"consistency: {counts}"
    words = (
        f"consistency: {counts} over {len(runs)} pixel sizes ({min(sizes):.3g}-{max(sizes):.3g} µm)"
    )
    if spread is not None:
        words += f", DEJ length spread {100 * spread:.1f} %"
    if failed:
        words += f", no section in {failed}"
    return words


def notes_status(notes: tuple[str, ...] | list[str], width: int = 70) -> str:
    """The first note, shortened, and how many more: what a status shows of the notes.

    >>> notes_status(["membrane channel too weak", "z-stack projected"])
    'note: membrane channel too weak (+1 more)'
    >>> notes_status([])
    ''
    """
    if not notes:
        return ""
    first, *more = notes
    return f"note: {shorten(in_flag_words(first), width)}" + (
        f" (+{len(more)} more)" if more else ""
    )


def on_terminal() -> bool:
    """Whether both stdout and stderr are terminals (the progress bar's condition)."""
    return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))


def _size() -> dict[str, Any]:
    """tqdm's size: the terminal's as it changes, or 80 x 24 for one that says 0 x 0.

    (tqdm takes a size of 0 as -1, and hides a bar on a screen of -1 rows.)
    """
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        columns = 0
    return {"dynamic_ncols": True} if columns > 0 else {"ncols": 80, "nrows": 24}


class Progress:
    """One line per finished section; on a terminal, under a live bar with rate and time left.

    The bar (tqdm, on stderr) is drawn only when stdout and stderr are both
    terminals and ``quiet`` is false; elsewhere (a pipe, a log file, CI) the
    lines are printed as they are and nothing else. While the bar is up, the
    lines and every log record are written above it. Use as a context manager.

    Parameters
    ----------
    desc : str
        The bar's label (the command).
    total : int, optional
        Sections to come. When it is not known beforehand (a batch plans its
        sections on the cluster), the bar starts at the first section
        finished, with the total that :meth:`advance` is given; its clock
        starts then, so that the rate is that of the sections, not of the
        planning.
    quiet : bool
        Print nothing (neither the lines nor the bar) but :meth:`error`.
    bar : bool, optional
        Draw the bar; default: on a terminal (:func:`on_terminal`).
    """

    def __init__(
        self, desc: str, *, total: int | None = None, quiet: bool = False, bar: bool | None = None
    ):
        self.desc = desc
        self.total = total
        self.quiet = quiet
        self.bar_wanted = (not quiet) and (on_terminal() if bar is None else bar)
        self.bar: tqdm | None = None

    def __enter__(self) -> Progress:
        if self.bar_wanted and self.total is not None:
            self._start(self.total, done=0)
        return self

    def __exit__(self, *exc: object) -> None:
        global _active_bar
        if self.bar is not None:
            self.bar.close()
            _active_bar = None
            self.bar = None
        self.bar_wanted = False

    def _start(self, total: int, *, done: int) -> None:
        global _active_bar
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=done,  # tqdm's rate counts the sections after these
            desc=self.desc,
            unit="section",
            file=sys.stderr,
            smoothing=0.1,
            bar_format=(
                "{desc} {n_fmt}/{total_fmt} |{bar}| {percentage:3.0f}%  "
                "{elapsed} elapsed, {remaining} left, {rate_fmt}"
            ),
            **_size(),
        )
        _active_bar = self.bar

    def write(self, text: str, file: IO[str] | None = None) -> None:
        """Print a line (to stdout by default), above the bar if there is one."""
        if self.quiet:
            return
        stream = sys.stdout if file is None else file
        if self.bar is not None:
            self.bar.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def error(self, text: str) -> None:
        """Print a line to stderr, also when quiet (errors always show), above the bar."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)

    def advance(self, *, total: int | None = None, skipped: bool = False) -> None:
        """One more section finished, of ``total`` (default: the one given at the start).

        ``skipped`` sections (done by an earlier run) do not count in the
        rate: a batch reports them first, all at once, and the bar's clock
        restarts after each, so that the rate and time left are those of the
        sections analysed.
        """
        if not self.bar_wanted:
            return
        bar = self.bar
        if bar is None:  # the first section finished: its time is not known, only the rest's
            self._start(total if total is not None else self.total or 1, done=1)
            return
        if not skipped:
            bar.update(1)
            return
        done = bar.n + 1
        bar.reset()  # restarts the clock and the rate's average
        bar.initial = done
        bar.n = bar.last_print_n = done
        bar.refresh()
