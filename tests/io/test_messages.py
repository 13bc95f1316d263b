"""The library speaks the library's words: no message of ienfd.io names a command-line flag.

Every string an io module can put into an exception or a note is scanned (docstrings, which
may describe the command line, are not messages). A reader that needs a value the file does
not hold names the read_section argument instead (``pass pixel_size_um``); the command line
translates that into its own option where it prints the message.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import ienfd.io

IO_DIR = Path(ienfd.io.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*|\bienfd (analyze|batch|info|synth|classify)\b")


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes of the module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    # attribute docstrings: a bare string right after an assignment
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list):
                continue
            for stmt in stmts:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    found.add(id(stmt.value))
    return found


def _messages(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


MODULES = sorted(IO_DIR.glob("*.py"))


def test_the_scan_finds_the_messages() -> None:
    """The scan sees the reader's messages (so a pass below means something)."""
    texts = [text for _, text in _messages(IO_DIR / "_read.py")]
    assert any("pass pixel_size_um" in text for text in texts)
    assert FLAG.search("no pixel size; pass --pixel-size UM")
    assert FLAG.search("use `ienfd batch` for whole-slide images")
    assert not FLAG.search("a 2-channel image; pass modality='fluorescence'")


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_io_message_names_a_flag(path: Path) -> None:
    bad = [(line, text) for line, text in _messages(path) if FLAG.search(text)]
    assert not bad, f"{path.name}: messages naming command-line flags: {bad}"
