"""Reading and writing clinical files: CSV tables, norms files, correction sidecars.

The only module of :mod:`ienfd.clinical` (with :mod:`._report`) that touches
files. Every write goes through ienfd's one atomic writer
(:func:`ienfd.io.atomic_path`): synced to disk, never a partial file, with the
permissions the user's umask gives.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from ienfd.clinical._errors import ClinicalInputError
from ienfd.clinical._norms import NormsTable, validate_norms
from ienfd.io import (
    CorrectionError,
    check_plausible,
    correction_problem,
    read_correction,
    write_bytes,
)

logger = logging.getLogger(__name__)

__all__ = [
    "SIDECAR_SUFFIX",
    "read_correction_sidecars",
    "read_norms",
    "read_table",
    "write_bytes_atomic",
    "write_csv_atomic",
    "write_norms",
    "write_text_atomic",
]

#: File-name suffix of the napari correction sidecars (``<image stem>.correction.json``).
SIDECAR_SUFFIX = ".correction.json"


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV file with every column as text (empty cells stay ``""``).

    Raises
    ------
    ClinicalInputError
        If the file does not exist, cannot be parsed, or has no header.
    """
    p = Path(path)
    if not p.is_file():
        raise ClinicalInputError("no such file", source=str(p))
    try:
        table = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ClinicalInputError(
            "the file is empty; expected a CSV header", source=str(p)
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ClinicalInputError(f"cannot be read as CSV: {exc}", source=str(p)) from None
    table.columns = [str(c).strip() for c in table.columns]
    return table


def read_norms(path: str | os.PathLike[str], *, extra_sites: tuple[str, ...] = ()) -> NormsTable:
    """Read and validate a norms file (format: :mod:`ienfd.clinical._norms`)."""
    return validate_norms(read_table(path), source=str(path), extra_sites=extra_sites)


def write_bytes_atomic(data: bytes, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`ienfd.io.write_bytes`); return the path.

    The folder is created if missing.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes(p, data)


def write_text_atomic(text: str, path: str | os.PathLike[str]) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; return the path."""
    return write_bytes_atomic(text.encode("utf-8"), path)


def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` as CSV (no index, floats at full precision) atomically."""
    return write_text_atomic(frame.to_csv(index=False, lineterminator="\n"), path)


def write_norms(norms: NormsTable, path: str | os.PathLike[str]) -> Path:
    """Write a norms table in the file format; :func:`read_norms` reads it back."""
    return write_csv_atomic(norms.to_frame(), path)


def _check_against_result(sidecar: Path) -> None:
    """Refuse a sidecar that does not belong to the result JSON beside it, if there is one."""
    result_json = sidecar.with_name(sidecar.name[: -len(SIDECAR_SUFFIX)] + ".json")
    if not result_json.is_file():
        return
    try:
        record = json.loads(result_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClinicalInputError(
            f"its result {result_json.name} cannot be read ({exc})", source=str(sidecar)
        ) from None
    if not isinstance(record, dict) or "count" not in record:
        return  # not an ienfd result: nothing to bind to
    try:
        correction = read_correction(sidecar)
        problem = correction_problem(correction, record)
        if problem is None:
            check_plausible(correction, record, sidecar)
    except CorrectionError as exc:
        raise ClinicalInputError(exc.reason, source=str(sidecar)) from None
    if problem is not None:
        raise ClinicalInputError(
            f"not applied to {result_json.name}: {problem}", source=str(sidecar)
        )


def read_correction_sidecars(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Read every ``*.correction.json`` in ``folder`` (napari correction sidecars).

    Returns
    -------
    pandas.DataFrame
        Columns ``image, count, sidecar_auto_count, user, saved_at, file`` with
        ``count`` = the sidecar's ``final_count`` (the human's count), as text.

    Raises
    ------
    ClinicalInputError
        If the folder has no sidecars, a file is not valid JSON, or a sidecar
        lacks ``image`` or ``final_count`` (naming the file and the key); or,
        for a sidecar whose result JSON ``<stem>.json`` is beside it (a batch
        or ``analyze`` output folder), if the correction was made on another
        image or analysis, records no result (an older ienfd), or holds
        values that cannot be right (:func:`ienfd.io.correction_problem`,
        :func:`ienfd.io.check_plausible`; the message names the file and says
        to review again). A folder of sidecars alone has no result to check
        them against: they are read as they are.
    """
    d = Path(folder)
    if not d.is_dir():
        raise ClinicalInputError("not a folder", source=str(d))
    files = sorted(d.glob(f"*{SIDECAR_SUFFIX}"))
    if not files:
        raise ClinicalInputError(f"no *{SIDECAR_SUFFIX} files in this folder", source=str(d))
    records = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ClinicalInputError(f"not valid JSON: {exc}", source=str(f)) from None
        if not isinstance(data, dict):
            raise ClinicalInputError("expected a JSON object", source=str(f))
        for key in ("image", "final_count"):
            if key not in data:
                raise ClinicalInputError(f"missing key {key!r}", source=str(f), column=key)
        _check_against_result(f)
        records.append(
            {
                "image": str(data["image"]),
                "count": str(data["final_count"]),
                "sidecar_auto_count": str(data.get("auto_count", "")),
                "user": str(data.get("user", "")),
                "saved_at": str(data.get("saved_at", "")),
                "file": f.name,
            }
        )
    return pd.DataFrame(records)
