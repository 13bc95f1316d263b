"""Lets the test suite run in a CLI-only environment (``pip install ".[test-cli]"``).

pyproject.toml configures pytest-qt (``qt_api``) and pytest-xvfb (``xvfb_*``,
``--xvfb-backend=xvfb``, which makes a missing Xvfb an error rather than a silent
skip of the napari tests). Without those plugins pytest would reject the keys and
the option, so this file, loaded before the command line is parsed, registers them
as inert; with the plugins installed it does nothing and they keep their meaning.
The napari tests skip themselves (``pytest.importorskip("napari")``).
"""

from __future__ import annotations

from importlib.util import find_spec

import pytest

_SKIPPED = "inert here: napari/Qt test plugin not installed, the napari tests are skipped"

NAPARI = find_spec("napari") is not None

# --doctest-modules imports every module of src/ienfd; the plugin's modules that
# import napari or Qt at the top would fail collection in an environment without them.
collect_ignore_glob = [] if NAPARI else ["src/ienfd/napari/*.py"]


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    if not pluginmanager.has_plugin("pytest-qt"):
        parser.addini("qt_api", help=f"pytest-qt's Qt binding ({_SKIPPED})")
    if not pluginmanager.has_plugin("xvfb"):
        for key in ("xvfb_width", "xvfb_height", "xvfb_colordepth"):
            parser.addini(key, help=f"pytest-xvfb's {key} ({_SKIPPED})")
        parser.addoption(
            "--xvfb-backend", action="store", help=f"pytest-xvfb's backend ({_SKIPPED})"
        )
