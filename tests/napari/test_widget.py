"""The review widget in a real viewer: analyse, correct with mouse and keyboard, save, re-open."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip(
    "napari", reason='the napari plugin tests need napari (pip install "ienfd[napari]")'
)
from qtpy.QtCore import QPoint, Qt

from ienfd.io import read_correction
from ienfd.napari._widget import scale_bar
from ienfd.review import build_queue, polylines_length_px, read_result

from .conftest import wait_for_section

pytestmark = pytest.mark.napari


def _dock(viewer, qtbot):
    dock, widget = viewer.window.add_plugin_dock_widget("ienfd", "IENFD review")
    qtbot.waitUntil(dock.isVisible)
    return widget


def _camera(viewer):
    return viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari >= 0.9


def _screen_pos(viewer, layer, row, col):
    """Canvas position (logical pixels) of a data point of `layer`."""
    world = np.asarray(layer.data_to_world([row, col]))[-2:]
    canvas = viewer.window._qt_viewer.canvas.native
    center = np.asarray(_camera(viewer).center)[-2:]
    y, x = (world - center) * _camera(viewer).zoom + np.array([canvas.height(), canvas.width()]) / 2
    return QPoint(round(float(x)), round(float(y)))


def _move_mouse(qtbot, viewer, pos):
    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.mouseMove(canvas, pos)
    qtbot.wait(50)


def test_declared_widgets_dock(make_napari_viewer, qtbot):
    from importlib.resources import files

    import npe2

    manifest = npe2.PluginManifest.from_file(str(files("ienfd.napari") / "napari.yaml"))
    names = [w.display_name for w in manifest.contributions.widgets]
    assert names
    viewer = make_napari_viewer(show=True)
    for name in names:
        dock, widget = viewer.window.add_plugin_dock_widget("ienfd", name)
        qtbot.waitUntil(dock.isVisible)
        assert widget.isVisible()


def test_analyse_correct_save_reopen(make_napari_viewer, qtbot, section_file, tmp_path):
    viewer = make_napari_viewer(show=True)
    viewer.open(section_file, plugin="ienfd")
    widget = _dock(viewer, qtbot)
    out = tmp_path / "results"
    widget.out_edit.setText(str(out))
    widget.user_edit.setText("tech1")
    worker = widget.analyse()
    assert widget.progress.isVisible()  # busy while the core runs in its thread
    wait_for_section(qtbot, viewer, widget, worker)
    assert not widget.progress.isVisible()

    result_json = out / "brightfield_sg.json"
    record = read_result(result_json)
    sec = widget.current
    px = record["pixel_size_um"]
    # The section's physical size in view: a scale bar in µm over µm-scaled layers.
    assert scale_bar(viewer).visible
    assert tuple(sec.fibres.scale) == pytest.approx((px, px))
    assert all(str(unit) == "micrometer" for unit in sec.fibres.units)
    assert len(sec.fibres.data) == record["count"] > 0
    np.testing.assert_allclose(sec.fibres.data, [[c["row"], c["col"]] for c in record["crossings"]])
    assert set(sec.sources()) == {"auto"}
    assert len(sec.layers["fragments"].data) == record["n_fragments"]
    for role in ("fibres", "dej", "surface", "fragments"):
        np.testing.assert_allclose(sec.layers[role].scale, [px, px])
    assert f"<b>{record['count']}</b> fibres" in widget.numbers.text()

    # 1. a real click on the canvas in add mode adds a fibre where the user clicked
    viewer.reset_view()
    target = np.array(record["crossings"][0]["row"]) + 60.0, record["crossings"][0]["col"] + 30.0
    viewer.layers.selection.active = sec.fibres
    sec.fibres.mode = "add"
    pos = _screen_pos(viewer, sec.fibres, *target)
    canvas = viewer.window._qt_viewer.canvas.native
    _move_mouse(qtbot, viewer, pos)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: len(sec.fibres.data) == record["count"] + 1)
    one_screen_px = 1.5 / _camera(viewer).zoom / px  # data pixels per screen pixel, with margin
    np.testing.assert_allclose(sec.fibres.data[-1], target, atol=one_screen_px)
    assert sec.sources()[-1] == "manual"
    sidecar_path = out / "brightfield_sg.correction.json"
    # autosaved (on the event loop's next turn), without pressing Save
    qtbot.waitUntil(lambda: sidecar_path.exists() and len(read_correction(sidecar_path).events) > 0)
    sidecar = read_correction(sidecar_path)
    assert (sidecar.final_count, sidecar.status, sidecar.user) == (
        record["count"] + 1,
        "in_review",
        "tech1",
    )
    assert sidecar.events[-1].action == "add_fibre"
    assert sidecar.events[-1].row == pytest.approx(target[0], abs=one_screen_px)

    # 2. the keyboard: Shift-D removes the fibre nearest the mouse (a real key press)
    sec.fibres.mode = "pan_zoom"
    victim = record["crossings"][1]
    _move_mouse(qtbot, viewer, _screen_pos(viewer, sec.fibres, victim["row"], victim["col"]))
    qtbot.keyClick(canvas, Qt.Key.Key_D, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: len(sec.fibres.data) == record["count"])
    remaining = {tuple(p) for p in np.round(sec.fibres.data, 2)}
    assert (victim["row"], victim["col"]) not in remaining
    # ... and Shift-F adds one at the mouse
    _move_mouse(qtbot, viewer, _screen_pos(viewer, sec.fibres, target[0] + 40, target[1]))
    qtbot.keyClick(canvas, Qt.Key.Key_F, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: len(sec.fibres.data) == record["count"] + 1)

    # 3. through the layer API: remove an automatic fibre
    sec.fibres.selected_data = {0}
    sec.fibres.remove_selected()
    final_count = record["count"]
    assert len(sec.fibres.data) == final_count

    # 4. edit the DEJ: drag one of its vertices 30 screen pixels down with the mouse
    viewer.layers.selection.active = sec.dej
    sec.dej.mode = "direct"
    sec.dej.selected_data = {0}
    vertex = np.asarray(sec.dej.data[0])[len(sec.dej.data[0]) // 2]
    pos = _screen_pos(viewer, sec.dej, *vertex)
    _move_mouse(qtbot, viewer, pos)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=pos)
    for step in range(1, 11):
        qtbot.mouseMove(canvas, QPoint(pos.x(), pos.y() + 3 * step))
        qtbot.wait(10)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y() + 30))
    # analysed in this session: the edit recounts the automatic fibres across the new DEJ
    qtbot.waitUntil(lambda: [e.action for e in sec.session.events[-2:]] == ["edit_dej", "recount"])
    final_count = len(sec.fibres.data)
    assert sec.sources().count("manual") == 2  # the technician's additions are kept
    assert sec.sources().count("auto") <= sec.auto_now  # ... and their removals
    dej = [np.array(d) for d in sec.dej.data]
    moved = np.abs(dej[0] - np.asarray(read_result(result_json)["dej"][0])).max(axis=1)
    assert (moved > 1).sum() == 1  # one vertex moved, by about 30 screen pixels
    assert moved.max() == pytest.approx(30 / _camera(viewer).zoom / px, rel=0.2)
    dej_um = polylines_length_px(dej) * px
    assert dej_um != pytest.approx(record["dej_length_um"])
    density = final_count / (dej_um / 1000)
    assert f"<b>{density:.2f}</b> /mm" in widget.numbers.text()
    assert f"DEJ {dej_um / 1000:.3f} mm" in widget.numbers.text()

    widget.accept()
    saved = read_correction(out / "brightfield_sg.correction.json")
    assert saved.status == "accepted"
    assert (saved.auto_count, saved.final_count) == (record["count"], final_count)
    assert saved.dej_length_um == pytest.approx(dej_um, abs=0.01)
    assert saved.density_per_mm == pytest.approx(density, rel=1e-4)
    np.testing.assert_allclose(saved.dej, dej[0], atol=0.01)
    assert saved.dej_pieces == []  # one piece: `dej` holds it
    actions = [e.action for e in saved.events]
    assert actions == [
        "add_fibre",
        "remove_fibre",
        "add_fibre",
        "remove_fibre",
        "edit_dej",
        "recount",
        "accept",
    ]
    assert {e.user for e in saved.events} == {"tech1"}
    assert sorted(c["source"] for c in saved.crossings).count("manual") == 2
    raw = json.loads((out / "brightfield_sg.correction.json").read_text())
    assert raw["image"] == str(section_file) and raw["density_per_mm"] == pytest.approx(
        density, 1e-4
    )

    # export
    geo = widget.export(tmp_path / "s.geojson")
    features = json.loads(geo.read_text())["features"]
    assert (
        sum(f["properties"]["classification"]["name"] == "IENF crossing" for f in features)
        == final_count
    )
    assert widget.export(tmp_path / "s.csv").read_text().count("\nfibre,") == final_count

    # 5. re-open the result in a new viewer: the correction is restored
    viewer.layers.clear()
    viewer2 = make_napari_viewer(show=True)
    widget2 = _dock(viewer2, qtbot)
    viewer2.open(result_json, plugin="ienfd")
    qtbot.waitUntil(lambda: widget2.current is not None)
    sec2 = widget2.current
    assert len(sec2.fibres.data) == final_count
    np.testing.assert_allclose(sec2.fibres.data, [[c["row"], c["col"]] for c in saved.crossings])
    assert sec2.sources() == [c["source"] for c in saved.crossings]
    np.testing.assert_allclose(sec2.dej.data[0], dej[0], atol=0.01)
    m = sec2.measure()
    assert (m.count, m.density_per_mm) == (final_count, pytest.approx(density, rel=1e-4))
    assert sec2.session.status == "accepted"
    assert f"<b>{density:.2f}</b> /mm" in widget2.numbers.text()


def test_review_queue_next_previous_and_flag(make_napari_viewer, qtbot, results_folder):
    viewer = make_napari_viewer(show=True)
    widget = _dock(viewer, qtbot)
    expected = [e.result_json for e in build_queue(results_folder)]
    widget.open_folder(results_folder)
    assert [e.result_json for e in widget.queue] == expected
    assert widget.queue[0].uncertainty >= widget.queue[-1].uncertainty
    qtbot.waitUntil(lambda: widget.current is not None)
    assert widget.current.session.result_json == expected[0]
    widget.next_section()
    qtbot.waitUntil(
        lambda: widget.current is not None and widget.current.session.result_json == expected[1]
    )
    names = {layer.metadata["ienfd"]["section"] for layer in viewer.layers}
    assert names == {str(expected[1])}  # the first section's layers are gone
    widget.flag()
    assert (
        read_correction(expected[1].with_name(expected[1].stem + ".correction.json")).status
        == "flagged"
    )
    assert "[flagged]" in widget.queue_list.item(1).text()
    widget.previous_section()
    qtbot.waitUntil(
        lambda: widget.current is not None and widget.current.session.result_json == expected[0]
    )
    # opening the folder itself through the reader also loads the queue
    viewer.layers.clear()
    viewer.open(results_folder, plugin="ienfd")
    qtbot.waitUntil(lambda: widget.current is not None)
    assert widget.current.session.result_json == expected[0]


def test_queue_puts_sections_that_need_review_first_and_shows_why(
    make_napari_viewer, qtbot, results_folder, tmp_path
):
    import shutil

    from ienfd.io import write_section_tiff
    from ienfd.napari._widget import REVIEW_COLOUR
    from ienfd.synthetic import generate_section, random_spec
    from ienfd.workflow import SectionJob, run_section

    folder = tmp_path / "batch"
    shutil.copytree(results_folder, folder)
    for sidecar in folder.glob("*.correction.json"):  # left by other tests of the session
        sidecar.unlink()
    spec = random_spec(4, modality="fluorescence", density_per_mm=0.0, length_um=400,
                       pixel_size_um=0.6)  # fmt: skip
    empty = generate_section(spec)
    write_section_tiff(folder / "images" / "no_fibres.ome.tif", empty.image, pixel_size_um=0.6,
                       kind="ome", channel_names=empty.channel_names)  # fmt: skip
    run_section(SectionJob(image="images/no_fibres.ome.tif",
                           path=str(folder / "images" / "no_fibres.ome.tif"),
                           out_dir=str(folder), stem="no_fibres", overlay=False))  # fmt: skip
    result_json = folder / "no_fibres.json"
    assert read_result(result_json)["needs_review"] is True

    viewer = make_napari_viewer(show=True)
    widget = _dock(viewer, qtbot)
    widget.open_folder(folder)
    qtbot.waitUntil(lambda: widget.current is not None)
    flags = [e.needs_review for e in widget.queue]
    assert flags[0] and flags == sorted(flags, reverse=True)  # every one that needs review first
    n = sum(flags)
    title = f"Review queue: {len(flags)} section(s), {n} needing review first"
    assert widget.queue_box.title() == title
    # the first section opened is one that needs review, and the widget says why
    first = widget.queue[0]
    assert widget.current.session.result_json == first.result_json
    assert not widget.review_label.isHidden()
    assert first.qc_reasons[0] in widget.review_label.text()

    i = next(k for k, e in enumerate(widget.queue) if e.result_json == result_json)
    item = widget.queue_list.item(i)
    assert "REVIEW: no fibre counted" in item.text()
    assert item.toolTip().startswith("needs review: no fibre counted")  # the result's words
    assert item.foreground().color().name() == REVIEW_COLOUR
    widget.open_entry(i)
    qtbot.waitUntil(lambda: widget.current.session.result_json == result_json)
    assert "Needs review:" in widget.review_label.text()
    assert "no fibre counted" in widget.review_label.text()

    widget.accept()  # a technician looked and confirms: 0 fibres
    assert widget.review_label.text().startswith("Reviewed and accepted")
    assert not widget.queue[i].needs_review and "REVIEW" not in item.text()
    assert item.toolTip().startswith("accepted; the checks had said: no fibre counted")
    assert widget.queue_box.title().endswith(f", {n - 1} needing review first")
    assert build_queue(folder)[-1].result_json == result_json  # done: at the end


def test_screenshot_with_overlay_is_not_blank(make_napari_viewer, qtbot, tmp_path):
    from imageio.v3 import imread, imwrite

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1200, 900)
    viewer.open_sample("ienfd", "fluorescence")
    widget = _dock(viewer, qtbot)
    widget.image_combo.setCurrentIndex(widget.image_combo.findText(viewer.layers[-1].name))
    widget.out_edit.setText(str(tmp_path / "out"))
    wait_for_section(qtbot, viewer, widget, widget.analyse())
    viewer.reset_view()
    overlay = [
        layer for layer in viewer.layers if layer.metadata["ienfd"]["role"] in ("dej", "fibres")
    ]
    for layer in overlay:
        layer.visible = False
    plain = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    for layer in overlay:
        layer.visible = True
    imwrite(tmp_path / "shot.png", viewer.screenshot(canvas_only=True, flash=False))
    shot = imread(tmp_path / "shot.png")[..., :3].astype(int)
    assert shot.shape == plain.shape and shot.std() > 10  # written, and not blank
    drawn = np.abs(shot - plain).sum(axis=-1) > 60
    assert drawn.sum() > 250  # the DEJ and the fibres are drawn over the image ...
    r, _, b = shot[drawn].T
    warm = (r > 180) & (b < 100)  # ... in orange (DEJ) and yellow (counted fibres)
    assert warm.mean() > 0.5


def test_autosave_survives_a_crash(tmp_path, results_folder):
    """A process that edits and then dies without saving leaves the sidecar of its last edit."""
    import shutil

    folder = tmp_path / "batch"
    shutil.copytree(results_folder, folder)
    (folder / "brightfield_sg.correction.json").unlink(missing_ok=True)
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from napari.layers import Layer
        from ienfd.napari._reader import read_result_json
        from ienfd.napari._section import SectionLayers
        from ienfd.review import ReviewSession
        path = {str(folder / "brightfield_sg.json")!r}
        layers = {{kw["metadata"]["ienfd"]["role"]: Layer.create(d, kw, t)
                   for d, kw, t in read_result_json(path)}}
        sec = SectionLayers(ReviewSession.open(path, user="night"), layers)
        sec.add_fibre(100.0, 200.0)
        sec.remove_nearest(*sec.points()[0])
        os._exit(9)  # a crash: no save, no clean-up
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 9, done.stderr
    saved = read_correction(folder / "brightfield_sg.correction.json")
    record = read_result(folder / "brightfield_sg.json")
    assert saved.status == "in_review" and saved.user == "night"
    assert [e.action for e in saved.events] == ["add_fibre", "remove_fibre"]
    assert saved.final_count == record["count"]
    assert [c["source"] for c in saved.crossings].count("manual") == 1


def test_the_panels_act_on_the_one_section_under_review(
    make_napari_viewer, qtbot, results_folder, tmp_path
):
    """Analysis, review, export and queue panels share the widget's section and session."""
    import shutil

    folder = tmp_path / "batch"
    shutil.copytree(results_folder, folder)
    for sidecar in folder.glob("*.correction.json"):  # left by other tests of the session
        sidecar.unlink()
    viewer = make_napari_viewer(show=True)
    widget = _dock(viewer, qtbot)
    panels = (widget.analysis_panel, widget.review_panel, widget.export_panel, widget.queue_panel)
    assert all(panel.parent() is widget and panel.host is widget for panel in panels)
    widget.open_folder(folder)
    qtbot.waitUntil(lambda: widget.current is not None)
    session = widget.current.session
    assert widget.queue_panel.index == 0 and widget.queue_list.currentRow() == 0
    # the analysis panel's length basis goes to the session, the review panel and the sidecar
    widget.basis_combo.setCurrentText("surface")
    assert session.length_basis == "surface"
    assert "/mm of surface" in widget.numbers.text()
    sidecar = session.result_json.with_name(session.result_json.stem + ".correction.json")
    assert read_correction(sidecar).length_basis == "surface"
    # the review panel's Accept updates the queue panel's row
    widget.review_panel.accept_button.click()
    assert read_correction(sidecar).status == "accepted"
    assert "[accepted]" in widget.queue_list.item(0).text()
    # the export panel exports the same section
    exported = widget.export_panel.export(tmp_path / "s.csv")
    count = widget.current.measure().count
    assert exported is not None and exported.read_text().count("\nfibre,") == count
    # with nothing under review, the panels say so instead of acting
    viewer.layers.clear()
    assert widget.current is None and widget.numbers.text() == "no section"
    assert widget.review_panel.save() is None
    assert "nothing to save" in widget.status.text()
    assert widget.export_panel.export(tmp_path / "x.csv") is None
    assert widget.status.text() == "no section to export"
