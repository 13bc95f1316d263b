"""The command line only parses and prints: no file is opened or written in ``ienfd.cli``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ienfd.cli
from ienfd.cli.batch import SLIDE_MB_DEFAULT

CLI = Path(ienfd.cli.__file__).parent
#: Calls that touch files; the library does them (``ienfd.workflow``, ``ienfd.io``...).
FILE_CALLS = {
    "open",
    "mkdir",
    "unlink",
    "rmdir",
    "write_text",
    "write_bytes",
    "read_text",
    "read_bytes",
    "write_json",
    "write_section_tiff",
    "rename",
}


def _calls(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in FILE_CALLS:
                found.append((name, node.lineno))
    return found


@pytest.mark.parametrize("module", sorted(CLI.glob("*.py")), ids=lambda p: p.name)
def test_no_command_module_touches_files(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    assert _calls(tree) == [], f"{module.name} touches files; move that into the library"


def test_the_structure_check_sees_file_calls() -> None:
    code = "from pathlib import Path\nPath('x').mkdir()\nopen('y')\nPath('z').write_text('')\n"
    assert _calls(ast.parse(code)) == [("mkdir", 2), ("open", 3), ("write_text", 4)]


def test_slide_mb_default_in_the_help_is_the_library_default() -> None:
    from ienfd.parallel import DEFAULT_SLIDE_BYTES

    assert SLIDE_MB_DEFAULT * 2**20 == DEFAULT_SLIDE_BYTES


def test_clinical_defaults_in_the_command_are_the_library_defaults() -> None:
    import inspect

    from ienfd.cli import clinical as command
    from ienfd.clinical import ClassificationRules, run_norms_build

    rules = ClassificationRules()
    assert (command.MIN_SECTIONS, command.DEFICIT_MARGIN) == (
        rules.min_sections,
        rules.deficit_margin,
    )
    build = inspect.signature(run_norms_build).parameters
    assert command.QUANTILE == build["quantile"].default
    assert command.MIN_CONTROLS == build["min_controls"].default


def test_batch_without_dask_names_a_broken_install_not_an_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """dask is a dependency of the plain install: its absence is a broken install to repair."""
    import sys

    monkeypatch.setitem(sys.modules, "ienfd.parallel", None)  # import ienfd.parallel fails
    code = ienfd.cli.main(["batch", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("ienfd batch: error: ") and "ienfd.parallel" in err
    assert "extra" not in err and "ienfd[dask]" not in err
    assert "pip install --force-reinstall ienfd" in err
