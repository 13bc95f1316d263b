"""Pictures for the docs: the README's QC overlay and a patient report in a real browser.

Run from the repository root (takes about a minute)::

    .venv/bin/python scripts/docs_screenshots.py

* ``docs/images/overlay_brightfield_sg.png``: the QC overlay ``ienfd analyze``
  draws for ``sample_images/brightfield_sg.ome.tif``.
* ``docs/images/report_patient.png``: the first patient's report of
  ``ienfd classify`` on a small synthetic batch (two patients, distal leg and
  proximal thigh, three sections each, analysed by ``ienfd batch``) against
  ``docs/examples/clinical/simulated_norms.csv``, as headless Chromium shows it.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
IENFD = [sys.executable, "-m", "ienfd.cli"]


def _ienfd(*args: str) -> None:
    subprocess.run([*IENFD, *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def overlay_picture(tmp: Path) -> Path:
    _ienfd("analyze", "sample_images/brightfield_sg.ome.tif", "--out", str(tmp / "samples"))
    target = IMAGES / "overlay_brightfield_sg.png"
    shutil.copyfile(tmp / "samples" / "brightfield_sg.overlay.png", target)
    return target


def report_picture(tmp: Path) -> Path:
    images = tmp / "images"
    _ienfd("synth", str(images), "--n", "12", "--seed", "21", "--modality", "brightfield",
           "--pixel-size", "0.6", "--length", "700", "--stem", "s")  # fmt: skip
    files = sorted(images.glob("s_*.tif"))
    rows = []
    for i, path in enumerate(files):
        patient, age, sex = (("P01", 62, "female"), ("P02", 45, "male"))[i // 6]
        site = ("distal_leg", "proximal_thigh")[(i // 3) % 2]
        rows.append({"image": str(path), "patient_id": patient, "site": site,
                     "section": i % 3 + 1, "age": age, "sex": sex})  # fmt: skip
    manifest = tmp / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _ienfd("batch", str(manifest), "--out", str(tmp / "batch"), "--workers", "1")
    norms = ROOT / "docs" / "examples" / "clinical" / "simulated_norms.csv"
    _ienfd("classify", str(tmp / "batch" / "sections.csv"), "--norms", str(norms),
           "--out", str(tmp / "clinical"))  # fmt: skip
    page = tmp / "clinical" / "reports" / "P01.html"
    shot = tmp / "report.png"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium not found (apt package 'chromium', see scripts/setup.sh)")
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp / 'profile'}", "--window-size=900,2600",
         f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True,
    )  # fmt: skip
    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB"))
    used = np.flatnonzero((rgb < 245).any(axis=(1, 2)))  # crop the blank page below
    bottom = int(used.max()) + 20 if used.size else rgb.shape[0]
    target = IMAGES / "report_patient.png"
    Image.fromarray(rgb[:bottom]).save(target, optimize=True)
    return target


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ienfd-docs-") as tmp:
        for made in (overlay_picture(Path(tmp)), report_picture(Path(tmp))):
            print(f"wrote {made.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
