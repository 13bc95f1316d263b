"""Screenshots of the napari plugin for docs/napari.md, taken from the real plugin.

Run (starts Xvfb itself through ``xvfb-run`` when there is no display)::

    .venv/bin/python scripts/napari_screenshots.py

Writes ``docs/images/napari_review.png`` (a bright-field sample analysed and
corrected, with the dock widget), ``docs/images/napari_fluorescence.png`` (a
fluorescence section: channels as layers, the result over them) and
``docs/images/napari_queue.png`` (the review queue over an ``ienfd analyze``
output folder).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

if not os.environ.get("DISPLAY") and shutil.which("xvfb-run") and __name__ == "__main__":
    args = ["xvfb-run", "-a", "-s", "-screen 0 1600x1100x24", sys.executable, *sys.argv]
    os.execvp("xvfb-run", args)

os.environ.setdefault("QT_API", "pyqt6")

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
SAMPLES = ROOT / "sample_images"


def _wait(app, condition, timeout: float = 300.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        time.sleep(0.01)
        if time.perf_counter() > end:
            raise TimeoutError("the viewer did not finish in time")


def _settle(app, seconds: float = 0.5) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def _viewer():
    import napari

    viewer = napari.Viewer(show=True, title="ienfd review")
    viewer.window._qt_window.resize(1500, 950)
    dock, widget = viewer.window.add_plugin_dock_widget("ienfd", "IENFD review")
    return viewer, dock, widget


def _save(viewer, app, name: str) -> Path:
    from imageio.v3 import imwrite

    _settle(app)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    target = IMAGES / name
    imwrite(target, shot)
    if shot[..., :3].std() < 10:
        raise RuntimeError(f"{target}: the screenshot is blank")
    print(f"wrote {target} {shot.shape[1]}x{shot.shape[0]}")
    return target


def review_screenshot(app, work: Path) -> None:
    import numpy as np

    viewer, _, widget = _viewer()
    image = work / "brightfield_sg.ome.tif"
    shutil.copy(SAMPLES / image.name, image)
    viewer.open(image, plugin="ienfd")
    widget.out_edit.setText(str(work / "results"))
    widget.user_edit.setText("technician")
    widget.analyse()
    _wait(app, lambda: widget.current is not None)
    sec = widget.current
    # the technician adds the fibre the algorithm missed that is farthest from
    # any automatic crossing (from the sample's truth) and removes the automatic
    # crossing farthest from any true one, if there is such a false one
    truth = json.loads((SAMPLES / "brightfield_sg.truth.json").read_text())
    true_pts = np.array([[c["row"], c["col"]] for c in truth["crossings"]])
    auto = sec.points()
    gap = np.min(np.linalg.norm(true_pts[:, None] - auto[None], axis=-1), axis=1)
    missed = true_pts[int(np.argmax(gap))]
    false = np.min(np.linalg.norm(auto[:, None] - true_pts[None], axis=-1), axis=1)
    if false.max() > 20:
        sec.remove_nearest(*auto[int(np.argmax(false))])
    sec.add_fibre(*missed)
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari 0.9
    camera.center = tuple(missed * sec.session.pixel_size_um)
    camera.zoom = 1.6
    viewer.layers.selection.active = sec.fibres
    _save(viewer, app, "napari_review.png")
    viewer.close()


def fluorescence_screenshot(app, work: Path) -> None:
    viewer, _, widget = _viewer()
    image = work / "fluorescence.ome.tif"
    shutil.copy(SAMPLES / image.name, image)
    layers = viewer.open(image, plugin="ienfd")
    widget.image_combo.setCurrentText(layers[-1].name)
    widget.out_edit.setText(str(work / "results"))
    widget.analyse()
    _wait(app, lambda: widget.current is not None)
    viewer.reset_view()
    _save(viewer, app, "napari_fluorescence.png")
    viewer.close()


def queue_screenshot(app, work: Path) -> None:
    from ienfd.workflow import SectionJob, image_stem, run_section

    out = work / "batch"
    (out / "images").mkdir(parents=True)
    for source in sorted(SAMPLES.glob("*.tif")):
        shutil.copy(source, out / "images" / source.name)
        job = SectionJob(
            image=f"images/{source.name}",
            path=str(out / "images" / source.name),
            out_dir=str(out),
            stem=image_stem(source.name),
            overlay=False,
        )
        run_section(job)
    viewer, _, widget = _viewer()
    widget.open_folder(out)
    _wait(app, lambda: widget.current is not None)
    widget.accept()
    widget.next_section()
    _wait(app, lambda: widget.current is not None and widget.queue_index == 1)
    viewer.reset_view()
    _save(viewer, app, "napari_queue.png")
    viewer.close()


def main() -> None:
    from qtpy.QtWidgets import QApplication

    import napari

    IMAGES.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ienfd-screenshots-"))
    try:
        napari.Viewer  # noqa: B018
        app = QApplication.instance() or QApplication([])
        for sub in ("a", "b", "c"):
            (work / sub).mkdir()
        review_screenshot(app, work / "a")
        fluorescence_screenshot(app, work / "b")
        queue_screenshot(app, work / "c")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
