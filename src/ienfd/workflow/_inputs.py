"""Batch inputs: a folder, a glob or a manifest CSV, turned into checked input rows."""

from __future__ import annotations

import glob
import logging
import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ienfd.io import is_image_folder
from ienfd.workflow._section import IMAGE_SUFFIXES

__all__ = ["MANIFEST_COLUMNS", "BatchInputError", "InputRow", "SkippedInput", "collect_inputs"]

logger = logging.getLogger(__name__)

#: Required and optional manifest columns.
MANIFEST_COLUMNS = ("image", "patient_id", "site", "section")
OPTIONAL_COLUMNS = (
    "pixel_size_um",
    "fibre_channel",
    "membrane_channel",
    "age",
    "sex",
    "junction",
)


class BatchInputError(ValueError):
    """INPUT cannot be used: every problem found, one per line, each naming its row."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class InputRow:
    """One input image with what the manifest says about it.

    ``image`` is the path as given (in the manifest or on the command line),
    ``path`` where to open it (manifest paths are relative to the manifest's
    folder). ``row`` is the 1-based manifest data row (None without one).
    """

    image: str
    path: str
    patient_id: str = ""
    site: str = ""
    section: str = ""
    age: float | None = None
    sex: str | None = None
    pixel_size_um: float | None = None
    fibre_channel: str | None = None
    membrane_channel: str | None = None
    junction: str | None = None
    row: int | None = None


@dataclass(frozen=True)
class SkippedInput:
    """A folder entry or glob match named like an image that cannot be an input, and why.

    Examples
    --------
    >>> SkippedInput("in/x.tif", "a named pipe (FIFO), not a regular file").record()
    {'path': 'in/x.tif', 'reason': 'a named pipe (FIFO), not a regular file'}
    """

    path: str
    reason: str

    def record(self) -> dict[str, str]:
        """As the run record lists it."""
        return {"path": self.path, "reason": self.reason}


OnSkip = Callable[[SkippedInput], None]


def _named_like_image(path: Path) -> bool:
    """A name ending in an image suffix; not hidden, not an overlay ienfd drew."""
    name = path.name.lower()
    return not (
        name.startswith(".") or name.endswith(".overlay.png") or not name.endswith(IMAGE_SUFFIXES)
    )


def why_not_input(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be read as an input, in words; None for an image file or folder.

    A regular file (or a link to one) and an OME-Zarr folder are inputs; an
    unreadable file is one too (its error row says why it cannot be read).

    Examples
    --------
    >>> import tempfile
    >>> why_not_input(tempfile.mkdtemp())
    'a folder, not an image file nor an OME-Zarr folder'
    """
    path = os.fspath(path)
    if is_image_folder(path):
        return None
    link: str | None = None
    try:
        if os.path.islink(path):
            link = os.readlink(path)
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if link is not None:
            return f"a symbolic link to {link}, which does not exist (a dangling link)"
        return "no such file or folder"
    except OSError as exc:
        return f"cannot be examined: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = (
        "a folder, not an image file nor an OME-Zarr folder"
        if stat.S_ISDIR(mode)
        else "a named pipe (FIFO), not a regular file"
        if stat.S_ISFIFO(mode)
        else "a socket, not a regular file"
        if stat.S_ISSOCK(mode)
        else "a device, not a regular file"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return kind if link is None else f"a symbolic link to {link}: {kind}"


def _search(folder: str, on_skip: OnSkip) -> list[Path]:
    """The images in ``folder`` and below, sorted; an image folder is one input, not searched.

    Entries named like images that are not (a dangling link, a FIFO, a
    folder that is no OME-Zarr, a link to a folder: links to folders are not
    followed) and folders that cannot be listed go to ``on_skip``, in order.
    """
    found: list[Path] = []
    skipped: list[SkippedInput] = []

    def unlistable(exc: OSError) -> None:
        where = exc.filename or folder
        skipped.append(SkippedInput(str(where), f"a folder ienfd cannot list: {exc.strerror}"))

    for parent, dirs, files in os.walk(folder, onerror=unlistable):
        here = Path(parent)
        images = [d for d in dirs if is_image_folder(here / d)]
        found.extend(here / d for d in images if not d.startswith("."))
        for d in dirs:
            entry = here / d
            if d in images or d.startswith("."):
                continue
            if entry.is_symlink():
                skipped.append(
                    SkippedInput(
                        str(entry),
                        f"a symbolic link to the folder {os.readlink(entry)}: links to folders "
                        "are not followed (give that folder as INPUT, or copy it here)",
                    )
                )
            elif _named_like_image(entry):
                skipped.append(
                    SkippedInput(
                        str(entry),
                        "a folder named like an image, not an OME-Zarr folder (searched as a "
                        "folder)",
                    )
                )
        dirs[:] = sorted(d for d in dirs if d not in images and not (here / d).is_symlink())
        for f in files:
            entry = here / f
            if not _named_like_image(entry):
                continue
            reason = why_not_input(entry)
            if reason is None:
                found.append(entry)
            else:
                skipped.append(SkippedInput(str(entry), reason))
    for item in sorted(skipped, key=lambda e: e.path):
        on_skip(item)
    return sorted(found)


def _is_input(path: str) -> bool:
    """An image file or an image folder (an OME-Zarr)."""
    return os.path.isfile(path) or is_image_folder(path)


def _under(path: Path, folder: Path) -> bool:
    """``path`` (which may be a dangling link) lies in ``folder`` (resolved) or below."""
    parent = path.parent.resolve()
    return parent == folder or folder in parent.parents


def _ignore(entry: SkippedInput) -> None:
    logger.warning("skipped %s: %s", entry.path, entry.reason)


def collect_inputs(
    spec: str,
    *,
    extra_sites: tuple[str, ...] = (),
    exclude: str | None = None,
    on_skip: OnSkip | None = None,
) -> list[InputRow]:
    """Turn INPUT into input rows.

    Parameters
    ----------
    spec : str
        A folder (its image files, recursively, sorted: every ending in
        :data:`ienfd.io.READ_SUFFIXES`; an OME-Zarr folder in it is one input,
        not searched), a glob pattern (``"slides/*.tif"``, ``**`` allowed) or a
        manifest ``.csv`` with
        columns ``image, patient_id, site, section`` and optional
        ``pixel_size_um, fibre_channel, membrane_channel, age, sex, junction``
        (a drawn junction file, :func:`ienfd.io.read_junction`).
    extra_sites : tuple of str
        Site names accepted besides the clinical module's
        (``distal_leg``, ``distal_thigh``, ``proximal_thigh``).
    exclude : str, optional
        A folder whose files are never inputs (the output folder).
    on_skip : callable, optional
        Called with a :class:`SkippedInput` for every folder entry or glob
        match named like an image that is not one (a dangling link, a FIFO or
        socket, a folder that is no OME-Zarr, a link to a folder, a folder
        that cannot be listed), so that nothing is left out silently
        (default: logged as a warning).

    Returns
    -------
    list of InputRow

    Raises
    ------
    BatchInputError
        No input found; or manifest rows with an unknown file, an unknown site
        or sex, a bad pixel size or age, an empty patient or a duplicated image
        (every bad row is listed, each naming the manifest, the row and the
        column).
    """
    if spec.lower().endswith(".csv"):
        return _read_manifest(spec, extra_sites)
    report = _ignore if on_skip is None else on_skip
    skipped: list[SkippedInput] = []
    skip = Path(exclude).resolve() if exclude else None
    if os.path.isdir(spec) and not is_image_folder(spec):
        found = _search(spec, skipped.append)
        paths = [str(p) for p in found if skip is None or skip not in p.resolve().parents]
        skipped = [e for e in skipped if skip is None or not _under(Path(e.path), skip)]
        if not paths:
            raise BatchInputError(
                [f"{spec}: no image files in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})"]
                + [f"{e.path}: skipped: {e.reason}" for e in skipped]
            )
    elif glob.has_magic(spec):
        paths = []
        for match in sorted(glob.glob(spec, recursive=True)):
            reason = why_not_input(match)
            if reason is None:
                paths.append(match)
            elif _named_like_image(Path(match)):
                skipped.append(SkippedInput(match, reason))
        if not paths:
            raise BatchInputError(
                [f"{spec}: the pattern matches no file"]
                + [f"{e.path}: skipped: {e.reason}" for e in skipped]
            )
    elif _is_input(spec):
        paths = [spec]
    elif os.path.lexists(spec):
        raise BatchInputError(
            [f"{spec}: {why_not_input(spec)}; INPUT is a folder, a glob or a manifest .csv"]
        )
    else:
        raise BatchInputError(
            [f"{spec}: no such file or folder; INPUT is a folder, a glob or a manifest .csv"]
        )
    for entry in skipped:
        report(entry)
    return [InputRow(image=p, path=p) for p in paths]


def _read_manifest(spec: str, extra_sites: tuple[str, ...]) -> list[InputRow]:
    # Here, not with the module: ienfd.clinical loads pandas, which analyze never needs.
    from ienfd.clinical import ClinicalInputError, normalize_sex, normalize_site, read_table

    try:
        table = read_table(spec)
    except ClinicalInputError as exc:
        raise BatchInputError([str(exc)]) from None
    missing = [c for c in MANIFEST_COLUMNS if c not in table.columns]
    if missing:
        raise BatchInputError(
            [
                f"{spec}: manifest lacks column(s) {missing}; required: "
                f"{', '.join(MANIFEST_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)}"
            ]
        )
    unknown = [c for c in table.columns if c not in MANIFEST_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        logger.info("%s: columns %s are not used by ienfd batch", spec, unknown)
    base = Path(spec).parent
    rows: list[InputRow] = []
    problems: list[str] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for i, rec in enumerate(table.to_dict("records"), start=1):
        where = f"{spec}, data row {i} (line {i + 1})"
        cell = {k: str(v).strip() for k, v in rec.items()}
        image = cell["image"]
        path = image if os.path.isabs(image) else str(base / image)
        bad = len(problems)
        if not image:
            problems.append(f"{where}, column 'image': empty")
        elif not _is_input(path) and os.path.lexists(path) and not os.path.isdir(path):
            problems.append(f"{where}, column 'image': {image!r} is {why_not_input(path)}")
        elif not _is_input(path):
            problems.append(
                f"{where}, column 'image': no such file {image!r} (looked for {path}, a file or "
                "an OME-Zarr folder; manifest paths are relative to the manifest's folder)"
            )
        if not cell["patient_id"]:
            problems.append(f"{where}, column 'patient_id': empty")
        site = ""
        try:
            site = normalize_site(cell["site"], extra_sites=extra_sites, source=spec, row=i)
        except ClinicalInputError as exc:
            problems.append(str(exc))
        sex = None
        try:
            sex = normalize_sex(cell.get("sex", ""), source=spec, row=i)
        except ClinicalInputError as exc:
            problems.append(str(exc))
        age = _number(cell.get("age", ""), where, "age", problems, lo=0.0, hi=130.0)
        pixel = _number(
            cell.get("pixel_size_um", ""), where, "pixel_size_um", problems, lo=0.01, hi=100.0
        )
        junction = cell.get("junction") or None
        if junction is not None and not os.path.isabs(junction):
            junction = str(base / junction)
        if junction is not None and not os.path.isfile(junction):
            problems.append(
                f"{where}, column 'junction': no such file {cell['junction']!r} (looked for "
                f"{junction}; manifest paths are relative to the manifest's folder)"
            )
        key = (image, cell["patient_id"], site, cell["section"])
        if image and key in seen:
            problems.append(
                f"{where}: the same image, patient, site and section as data row {seen[key]}"
            )
        seen.setdefault(key, i)
        if len(problems) > bad:
            continue
        rows.append(
            InputRow(
                image=image,
                path=path,
                patient_id=cell["patient_id"],
                site=site,
                section=cell["section"],
                age=age,
                sex=sex,
                pixel_size_um=pixel,
                fibre_channel=cell.get("fibre_channel") or None,
                membrane_channel=cell.get("membrane_channel") or None,
                junction=junction,
                row=i,
            )
        )
    if problems:
        raise BatchInputError(problems)
    if not rows:
        raise BatchInputError([f"{spec}: the manifest has no rows"])
    return rows


def _number(
    text: str, where: str, column: str, problems: list[str], *, lo: float, hi: float
) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        problems.append(f"{where}, column {column!r}: {text!r} is not a number")
        return None
    if not (math.isfinite(value) and lo <= value < hi):
        problems.append(f"{where}, column {column!r}: {text}; accepted: {lo} to below {hi}")
        return None
    return value
