"""Run the ``ienfd`` command line in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_ienfd(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m ienfd.cli ARGS``: its exit code, stdout and stderr (10 min at most)."""
    return subprocess.run(
        [sys.executable, "-m", "ienfd.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
