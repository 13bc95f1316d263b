"""The Teach panel in a real viewer: paint (a real mouse press too), train, preview, save."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip(
    "napari", reason='the napari plugin tests need napari (pip install "ienfd[napari]")'
)
from qtpy.QtCore import Qt

from ienfd.learn import CLASS_NAMES
from ienfd.workflow import read_pipeline
from tests.learn._painted import CROP, painted_crop, script

from .test_widget import _dock, _screen_pos

pytestmark = pytest.mark.napari


def test_teach_panel_paints_trains_previews_and_saves(make_napari_viewer, qtbot, tmp_path):
    rgb, labels, entry = painted_crop()
    px = entry["pixel_size_um"]
    viewer = make_napari_viewer(show=True)
    image = viewer.add_image(rgb, rgb=True, name="crop", scale=(px, px))
    widget = _dock(viewer, qtbot)
    panel = widget.teach_panel
    assert all(name in panel.legend.text() for name in CLASS_NAMES.values())
    panel.image_combo.setCurrentText("crop")
    qtbot.mouseClick(panel.paint_button, Qt.MouseButton.LeftButton)
    strokes = viewer.layers["ienfd teach strokes: crop"]
    assert strokes.data.shape == rgb.shape[:2] and strokes.mode == "paint"

    # One stroke painted with the mouse on the canvas, in the dermis near the bottom ...
    canvas = viewer.window._qt_viewer.canvas.native
    viewer.reset_view()
    strokes.selected_label = 3
    row = rgb.shape[0] - 30
    start = _screen_pos(viewer, strokes, row, 100)
    end = _screen_pos(viewer, strokes, row, 300)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    for t in np.linspace(0, 1, 12):
        qtbot.mouseMove(canvas, start + (end - start) * float(t))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=end)
    painted_by_mouse = int(np.count_nonzero(strokes.data == 3))
    assert painted_by_mouse >= 15  # at least the brush's dab where the button went down
    # ... and the rest of the strokes through the layer's API (the generated ones).
    strokes.data = np.where(labels > 0, labels, strokes.data).astype(np.uint8)

    panel.lab_edit.setText("Napari lab")
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    # Trained in a worker thread: the button waits, the panel says so, the viewer runs on.
    assert not panel.train_button.isEnabled() and panel.result_label.text() == "training ..."
    qtbot.waitUntil(lambda: panel.train_button.isEnabled(), timeout=300_000)
    assert panel.model is not None and panel.save_button.isEnabled()
    assert "trained on 1 section(s)" in panel.result_label.text()
    preview = viewer.layers["ienfd teach preview"]
    assert set(np.unique(preview.data)) <= {2, 3}
    dej = viewer.layers["ienfd teach DEJ"].data
    found = [np.asarray(line) for line in dej]
    within = script("validate_real_tissue").dej_within_fraction(entry["dej"], found, px)
    assert within >= 0.9
    # The preview lies over the section, in µm.
    assert np.allclose(preview.extent.world[1], image.extent.world[1], atol=3 * px)

    pipeline = panel.save(tmp_path / "lab.json")
    assert pipeline is not None and pipeline.pixel_model is not None
    again = read_pipeline(tmp_path / "lab.json")
    assert again.pixel_model.lab == "Napari lab"
    (section,) = json.loads((tmp_path / "lab.json").read_text())["pixel_model"]["trained_on"]
    assert section["labelled_pixels"]["dermis"] >= painted_by_mouse
    assert CROP.name  # the image came from an array here: no file, no sha256
    assert section["sha256"] == ""


def test_a_training_that_fails_says_why_in_the_panel(make_napari_viewer, qtbot):
    rgb, _, entry = painted_crop()
    px = entry["pixel_size_um"]
    viewer = make_napari_viewer(show=True)
    viewer.add_image(rgb, rgb=True, name="crop", scale=(px, px))
    panel = _dock(viewer, qtbot).teach_panel
    panel.image_combo.setCurrentText("crop")
    strokes = panel.start_painting()
    strokes.data[100:120, 100:300] = 2  # epidermis only: no dermis to tell it from
    strokes.refresh()
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.train_button.isEnabled(), timeout=60_000)
    assert panel.result_label.text().startswith("cannot train: ")
    assert panel.model is None and not panel.save_button.isEnabled()
