"""The exception raised for bad clinical input, naming file, row and column."""

from __future__ import annotations

__all__ = ["ClinicalInputError", "describe_location"]


def describe_location(source: str | None, row: int | None, column: str | None) -> str:
    """Return ``"FILE, data row R (line L), column 'C'"`` for whatever is known.

    Rows are **1-based data rows**: the first row under the header is data row 1,
    which a spreadsheet shows on line 2 (the header is line 1).
    """
    parts = []
    if source:
        parts.append(str(source))
    if row is not None:
        parts.append(f"data row {row} (line {row + 1})")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)


class ClinicalInputError(ValueError):
    """A bad value in a clinical table, located by file, data row and column.

    Parameters
    ----------
    message : str
        What was received and what would be accepted.
    source : str, optional
        File name (or table name) the value came from.
    row : int, optional
        1-based data row (the first row below the header is row 1).
    column : str, optional
        Column name.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.reason = message
        where = describe_location(source, row, column)
        super().__init__(f"{where}: {message}" if where else message)
