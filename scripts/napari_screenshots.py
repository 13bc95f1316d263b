"""Screenshots of the napari plugin for docs/napari.md, taken from the real plugin.

Run (starts Xvfb itself through ``xvfb-run`` when there is no display)::

    .venv/bin/python scripts/napari_screenshots.py

Writes ``docs/images/napari_review.png`` (a bright-field sample analysed and
corrected, with the dock widget), ``docs/images/napari_fluorescence.png`` (a
fluorescence section: channels as layers, the result over them) and
``docs/images/napari_queue.png`` (the review queue over an ``ienfd analyze``
output folder), ``docs/images/napari_recount.png`` (a stretch of the DEJ
dragged up past a fibre: the automatic fibres recounted, the panel saying what
changed) and ``docs/images/napari_paint.png`` (the epidermis painted in a
Labels layer, the junction taken from it and recounted).
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


def _analysed(app, work: Path, name: str = "brightfield_sg.ome.tif"):
    viewer, _, widget = _viewer()
    image = work / name
    shutil.copy(SAMPLES / name, image)
    viewer.open(image, plugin="ienfd")
    widget.out_edit.setText(str(work / "results"))
    widget.user_edit.setText("technician")
    widget.analyse()
    _wait(app, lambda: widget.current is not None)
    return viewer, widget


def recount_screenshot(app, work: Path) -> None:
    import dataclasses

    import numpy as np

    from ienfd.core import GivenJunction, recount_section

    viewer, widget = _analysed(app, work)
    sec = widget.current
    px = sec.session.pixel_size_um
    line = np.asarray(sec.dej.data[0], float)
    surface = np.concatenate(sec.lines("surface"))

    def dragged(point, by_um):
        """The DEJ with its stretch within 40 µm of `point` moved by_um towards the surface."""
        k = int(np.argmin(np.hypot(*(line - point).T)))
        up = surface[np.argmin(np.hypot(*(surface - line[k]).T))] - line[k]
        reach = np.hypot(*(line - line[k]).T) * px
        weight = np.clip(1.5 * np.cos(np.minimum(reach, 40) / 40 * np.pi / 2), 0, 1)
        return line + np.outer(weight, up / np.hypot(*up)) * by_um / px

    # The technician drags a stretch of the DEJ, drawn too low under a fibre, 20 or 40 µm
    # up (or, drawn too high over a fibre stopping short of it, 20 µm down): the first such
    # drag, away from the section's ends, that changes what the rule counts.
    trace = dataclasses.replace(sec.trace)  # a copy: the plugin's own trace stays as it is
    ends = np.concatenate([line[:1], line[-1:]])
    where = [(p, by) for by in (20.0, 40.0) for p in sec.points()]
    where += [(t, -20.0) for t in np.asarray(sec.layers["short_fibres"].data, float)]
    choice = None
    for point, by_um in where:
        if np.hypot(*(ends - point).T).min() * px < 50:
            continue
        moved = dragged(point, by_um)
        found = recount_section(trace, GivenJunction(dej=(moved, *[np.asarray(d, float)
                                for d in sec.dej.data[1:]]), surface=(surface,)))  # fmt: skip
        if found.count != sec.auto_now:
            choice = point, moved
            break
    if choice is None:
        raise RuntimeError("no drag of the DEJ changes the count on this sample")
    point, moved = choice
    sec.layers["short_fibres"].visible = True
    sec.dej.data = [moved, *sec.dej.data[1:]]
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari 0.9
    camera.center = tuple(point * px)
    camera.zoom = 2.5
    viewer.layers.selection.active = sec.dej
    _save(viewer, app, "napari_recount.png")
    viewer.close()


def paint_screenshot(app, work: Path) -> None:
    viewer, widget = _analysed(app, work)
    panel = widget.review_panel
    layer = panel.start_painting()
    assert layer is not None
    # the technician paints a rete ridge the analysis left in the dermis: a disk of
    # 20 µm radius whose centre lies 15 µm below the middle of the DEJ
    import numpy as np
    from skimage.draw import disk

    sec = widget.current
    px = sec.session.pixel_size_um
    line = sec.lines("dej")[0]
    middle = line[len(line) // 2]
    surface = np.concatenate(sec.lines("surface"))
    up = surface[np.argmin(np.hypot(*(surface - middle).T))] - middle
    centre = middle - up / np.hypot(*up) * 15 / px
    data = layer.data.copy()
    data[disk(tuple(centre), 20 / px, shape=data.shape)] = 1
    layer.data = data
    panel.junction_from_painting()
    panel.start_painting()
    widget.say(widget.current.recount_note)
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari 0.9
    camera.center = tuple(centre * px)
    camera.zoom = 2.0
    _save(viewer, app, "napari_paint.png")
    viewer.close()


def main() -> None:
    from qtpy.QtWidgets import QApplication

    import napari

    IMAGES.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ienfd-screenshots-"))
    try:
        napari.Viewer  # noqa: B018
        app = QApplication.instance() or QApplication([])
        for sub in ("a", "b", "c", "d", "e"):
            (work / sub).mkdir()
        only = set(sys.argv[1:])  # names of the shots to take (all by default)
        shots = {
            "review": review_screenshot,
            "fluorescence": fluorescence_screenshot,
            "queue": queue_screenshot,
            "recount": recount_screenshot,
            "paint": paint_screenshot,
        }
        for sub, (name, shoot) in zip("abcde", shots.items(), strict=True):
            if not only or name in only:
                shoot(app, work / sub)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
