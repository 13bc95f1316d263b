"""MkDocs hook for the docs site (``hooks:`` in mkdocs.yml).

The docstrings name other objects with Sphinx roles (``:func:`read_section```),
which mkdocstrings leaves as they are. This hook drops the role, so that the
page shows ``read_section`` as code instead of ``:func:read_section``.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):(<code>)~?")


def on_page_content(html: str, **_: Any) -> str:
    """Remove Sphinx role prefixes in front of inline code in a rendered page."""
    return _ROLE.sub(r"\1", html)
