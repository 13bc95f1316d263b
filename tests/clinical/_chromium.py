"""A real headless Chromium for the report tests: load a page, print it to PDF.

Chromium is a system package installed by ``scripts/setup.sh``; a missing
browser fails the tests that need it (it is never a silent skip).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Appended to a copy of the page: after the load event, list every image (loaded or
# not) and every link (as the browser resolves it) in a <pre> that --dump-dom prints.
_PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({
    src: i.getAttribute("src").slice(0, 60), ok: i.complete && i.naturalWidth > 0,
    width: i.naturalWidth}));
  const links = [...document.querySelectorAll("a[href]")].map(a => ({
    href: a.href, raw: a.getAttribute("href"),
    target_ok: a.hash && a.pathname === location.pathname
      ? document.getElementById(decodeURIComponent(a.hash.slice(1))) !== null : null}));
  const pre = document.createElement("pre");
  pre.id = "__probe__";
  pre.textContent = JSON.stringify({images, links});
  document.body.appendChild(pre);
});
</script>
"""


def chromium_path() -> str:
    """The browser's executable; fails the test when none is installed."""
    for name in _NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no Chromium found (apt package 'chromium', installed by scripts/setup.sh)")


def _run(args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="ienfd-chromium-") as profile:
        cmd = [
            chromium_path(),
            "--headless",
            "--no-sandbox",  # runs as root in CI
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass(frozen=True)
class PageCheck:
    """What the browser saw on one page."""

    images: list[dict[str, object]]
    links: list[dict[str, object]]

    def broken_images(self) -> list[str]:
        return [str(i["src"]) for i in self.images if not i["ok"]]

    def broken_links(self) -> list[str]:
        """Links to a missing file, a missing anchor, or anything outside the machine."""
        bad = []
        for link in self.links:
            url = urllib.parse.urlsplit(str(link["href"]))
            if link["target_ok"] is False:
                bad.append(str(link["raw"]))
            elif url.scheme == "file":
                if not Path(urllib.request.url2pathname(url.path)).exists():
                    bad.append(str(link["raw"]))
            elif url.scheme not in ("data", "mailto"):
                bad.append(str(link["raw"]))  # a report never needs the network
        return bad


def check_page(page: Path) -> PageCheck:
    """Open `page` in headless Chromium and list its images and links as loaded.

    The page is copied beside itself with a probe script added (so relative
    links resolve as in the original), loaded, and the copy removed.
    """
    text = page.read_text(encoding="utf-8")
    probe = page.with_name(page.stem + ".__probe__.html")
    probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    try:
        done = _run(["--virtual-time-budget=10000", "--dump-dom", probe.resolve().as_uri()])
    finally:
        probe.unlink()
    found = re.search(r'<pre id="__probe__">(.*?)</pre>', done.stdout, re.S)
    assert found, f"Chromium did not load {page}: {done.returncode}\n{done.stderr[-2000:]}"
    data = json.loads(html.unescape(found.group(1)))
    # the probe's own links are the page's links: the copy sits in the same folder
    for link in data["links"]:
        link["href"] = str(link["href"]).replace(probe.name, page.name)
    return PageCheck(images=data["images"], links=data["links"])


def print_to_pdf(page: Path, pdf: Path) -> bytes:
    """Print `page` to `pdf` as the browser's print does (no header or footer); its bytes."""
    done = _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.resolve().as_uri()])
    assert pdf.exists(), f"Chromium wrote no PDF: {done.returncode}\n{done.stderr[-2000:]}"
    return pdf.read_bytes()


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of every page of a PDF written by Chromium."""
    sizes = []
    for obj in re.split(rb"\bendobj\b", data):
        if re.search(rb"/Type\s*/Page(?![s\w])", obj):
            box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", obj)
            assert box, "a page without a MediaBox"
            x0, y0, x1, y1 = (float(v) for v in box.groups())
            sizes.append((x1 - x0, y1 - y0))
    return sizes
