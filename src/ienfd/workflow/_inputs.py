"""Batch inputs: a folder, a glob or a manifest CSV, turned into checked input rows."""

from __future__ import annotations

import glob
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ienfd.io import is_image_folder
from ienfd.workflow._section import IMAGE_SUFFIXES

__all__ = ["MANIFEST_COLUMNS", "BatchInputError", "InputRow", "collect_inputs"]

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


def _is_image(path: Path) -> bool:
    """A file of a format ienfd reads, or an image folder (OME-Zarr); not hidden, not an
    overlay ienfd drew."""
    name = path.name.lower()
    if name.startswith(".") or name.endswith(".overlay.png") or not name.endswith(IMAGE_SUFFIXES):
        return False
    return path.is_file() or is_image_folder(path)


def _search(folder: str) -> list[Path]:
    """The images in ``folder`` and below, sorted; an image folder is one input, not searched."""
    found: list[Path] = []
    for parent, dirs, files in os.walk(folder):
        here = Path(parent)
        images = [d for d in dirs if is_image_folder(here / d)]
        found.extend(here / d for d in images if not d.startswith("."))
        dirs[:] = sorted(d for d in dirs if d not in images)
        found.extend(here / f for f in files if _is_image(here / f))
    return sorted(found)


def _is_input(path: str) -> bool:
    """An image file or an image folder (an OME-Zarr)."""
    return os.path.isfile(path) or is_image_folder(path)


def collect_inputs(
    spec: str, *, extra_sites: tuple[str, ...] = (), exclude: str | None = None
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
    skip = Path(exclude).resolve() if exclude else None
    if os.path.isdir(spec) and not is_image_folder(spec):
        found = _search(spec)
        paths = [str(p) for p in found if skip is None or skip not in p.resolve().parents]
        if not paths:
            raise BatchInputError(
                [f"{spec}: no image files in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})"]
            )
    elif glob.has_magic(spec):
        paths = sorted(p for p in glob.glob(spec, recursive=True) if _is_input(p))
        if not paths:
            raise BatchInputError([f"{spec}: the pattern matches no file"])
    elif _is_input(spec):
        paths = [spec]
    else:
        raise BatchInputError(
            [f"{spec}: no such file or folder; INPUT is a folder, a glob or a manifest .csv"]
        )
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
