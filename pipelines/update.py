"""Refresh pipeline files after the core's AnalysisParameters changed.

    python pipelines/update.py                 # every pipelines/*.json
    python pipelines/update.py FILE [FILE...]
    python pipelines/update.py --defaults      # every value := the core's default

Keeps every value a file already holds, adds parameters the core gained (at
their defaults) and drops those it lost, then prints the changes. With
--defaults, every parameter is set to the core's current default (after the
defaults were validated again). A changed pipeline must be validated again
before clinical use (docs/batch.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ienfd.workflow import read_pipeline, update_pipeline_file


def main(argv: list[str]) -> int:
    defaults = "--defaults" in argv
    names = [a for a in argv if a != "--defaults"]
    files = [Path(a) for a in names] or sorted(Path(__file__).parent.glob("*.json"))
    for f in files:
        changes = update_pipeline_file(f, defaults=defaults)
        read_pipeline(f)  # the result must load
        print(f"{f}: " + ("; ".join(changes) if changes else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
