"""The command line's output on fixed inputs is byte for byte what it was.

See :mod:`tests.cli._golden` for what is compared and how to regenerate the
golden file after a deliberate change to the analysis or the generator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli._golden import GOLDEN, analyze_output, synth_output


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_analyze_on_the_samples_prints_and_writes_what_it_did(
    golden: dict[str, Any], tmp_path: Path
) -> None:
    now = analyze_output(tmp_path / "out")
    want = golden["analyze"]
    assert now["exit_code"] == want["exit_code"] == 0
    assert now["stdout"] == want["stdout"]
    assert now["stderr"] == want["stderr"]
    assert now["files"] == want["files"]
    for name, record in want["records"].items():
        assert now["records"][name]["headline"] == record["headline"], name
        assert now["records"][name]["keys"] == record["keys"], name
        assert now["records"][name]["sha256"] == record["sha256"], name


def test_synth_prints_and_writes_what_it_did(golden: dict[str, Any], tmp_path: Path) -> None:
    now = synth_output(tmp_path / "out")
    assert now == golden["synth"]
