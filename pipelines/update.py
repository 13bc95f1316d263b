"""Refresh pipeline files after the core's AnalysisParameters changed.

    python pipelines/update.py                 # every pipelines/*.json
    python pipelines/update.py FILE [FILE...]

Keeps every value a file already holds, adds parameters the core gained (at
their defaults) and drops those it lost, then prints the changes. A changed
pipeline must be validated again before clinical use (docs/batch.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ienfd.workflow import read_pipeline, update_pipeline_file


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted(Path(__file__).parent.glob("*.json"))
    for f in files:
        changes = update_pipeline_file(f)
        read_pipeline(f)  # the result must load
        print(f"{f}: " + ("; ".join(changes) if changes else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
