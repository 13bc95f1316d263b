"""Speed of the napari plugin on one 10-megapixel section.

Run (starts Xvfb itself through ``xvfb-run`` when there is no display)::

    .venv/bin/python benchmarks/bench_napari.py

Measures, in a real viewer with the plugin's dock widget:

- ``open_s``: ``viewer.open(path, plugin="ienfd")`` of the OME-TIFF until the
  canvas has drawn it;
- ``analyse_s``: the widget's Analyse (core in a worker thread, the result
  JSON written) until the result layers are shown and the numbers displayed;
- for a fibre added (``add_fibre``, what Shift-F and a click in add mode do),
  a fibre removed, and a DEJ edit: ``numbers_ms`` from the edit to the new
  count / lengths / density set in the widget's text, ``painted_ms`` to the
  end of the widget's next paint event (of the numbers or the recount line; the
  new numbers on screen: Qt paints on the event loop's next turn, after napari
  has finished handling the edit; when an edit leaves their text as it was,
  the time they were set), ``saved_ms`` until the autosaved sidecar is written (also on the
  event loop, after the paint). Medians and maxima over repeated edits.
  The section was analysed in the viewer, so every DEJ edit recounts the
  automatic fibres (``edit_dej``: one vertex moved 5 pixels);
- ``recount_after_dej_edit``: a stretch of the DEJ (its vertices within 20 µm
  of a counted fibre) moved 5-15 µm up or down, as a technician drags it:
  the same three times, plus ``recount_ms`` (the recount itself,
  :func:`ienfd.core.recount_section`, inside ``numbers_ms``) and how many of
  the edits changed the automatic count. The bar: the new count on screen
  (``painted_ms``) within 300 ms of the edit.

The machine's load average (``os.getloadavg()``) is recorded before and after:
the figures are wall-clock times on shared cores. Writes
``benchmarks/results/napari.json`` and the table ``benchmarks/results/napari.md``.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if not os.environ.get("DISPLAY") and shutil.which("xvfb-run") and __name__ == "__main__":
    args = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable, *sys.argv]
    os.execvp("xvfb-run", args)

os.environ.setdefault("QT_API", "pyqt6")

import numpy as np

from ienfd import __version__
from ienfd.io import write_json, write_section_tiff
from ienfd.synthetic import SectionSpec, estimate_shape, generate_section

RESULTS = Path(__file__).resolve().parent / "results"
REPEATS = 25


def spec_near(megapixels: float, seed: int = 7) -> SectionSpec:
    """A bright-field section spec whose image is close to ``megapixels``."""
    best = None
    for length in range(600, 4001, 100):
        spec = SectionSpec(
            modality="brightfield",
            pixel_size_um=0.5,
            length_um=float(length),
            rotation_deg=20.0,
            dermis_depth_um=300.0,
            density_per_mm=12.0,
            seed=seed,
        )
        rows, cols = estimate_shape(spec)
        error = abs(rows * cols / 1e6 - megapixels)
        if best is None or error < best[0]:
            best = (error, spec)
    assert best is not None
    return best[1]


def _wait(app, condition, timeout: float = 300.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        app.processEvents()
        time.sleep(0.002)
        if time.perf_counter() > end:
            raise TimeoutError("the viewer did not finish in time")


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def main() -> dict:
    from qtpy.QtCore import QEvent, QEventLoop, QObject
    from qtpy.QtWidgets import QApplication

    import napari

    folder = Path(tempfile.mkdtemp(prefix="ienfd-bench-napari-"))
    spec = spec_near(10.6)  # estimate_shape overestimates by a few %: about 10 megapixels
    section = generate_section(spec)
    image_path = folder / "section10mp.ome.tif"
    write_section_tiff(image_path, section.image, pixel_size_um=spec.pixel_size_um, kind="ome")
    shape = section.image.shape[:2]
    load_before = os.getloadavg()

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    viewer.window._qt_window.resize(1280, 1000)
    _, widget = viewer.window.add_plugin_dock_widget("ienfd", "IENFD review")
    app.processEvents()

    t0 = time.perf_counter()
    viewer.open(image_path, plugin="ienfd")
    app.processEvents()
    open_s = time.perf_counter() - t0

    widget.out_edit.setText(str(folder / "results"))
    t0 = time.perf_counter()
    worker = widget.analyse()
    loop = QEventLoop()  # wait as napari does: an idle event loop, no polling
    worker.finished.connect(loop.quit)
    loop.exec()
    _wait(app, lambda: widget.current is not None)
    app.processEvents()
    analyse_s = time.perf_counter() - t0
    sec = widget.current
    auto_count = len(sec.fibres.data)

    shown: list[float] = []
    original_show = widget.review_panel.show_measurement

    def timed_show(m):
        original_show(m)
        shown.append(time.perf_counter())

    sec.on_change = timed_show
    sidecar = sec.session.sidecar_path

    def before_saves() -> int:
        return sidecar.stat().st_mtime_ns if sidecar.exists() else 0

    painted: list[float] = []

    class PaintClock(QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
            if event.type() == QEvent.Type.Paint:
                painted.append(time.perf_counter())  # the paint starts; its end is next
            return False

    clock = PaintClock()
    widget.numbers.installEventFilter(clock)
    widget.review_panel.recount_label.installEventFilter(clock)

    def texts() -> tuple[str, str]:
        return widget.numbers.text(), widget.review_panel.recount_label.text()

    def timed(edit) -> tuple[float, float, float]:
        app.processEvents()
        shown.clear()
        painted.clear()
        saves = before_saves()
        before = texts()
        start = time.perf_counter()
        edit()
        # (an edit that leaves the numbers' text as it was needs no paint)
        while (not painted and texts() != before) or before_saves() == saves:
            app.processEvents()
        saved = time.perf_counter()
        assert len(shown) == 1, "the display was not updated exactly once"
        return (
            (shown[0] - start) * 1e3,
            ((painted[0] if painted else shown[0]) - start) * 1e3,
            (saved - start) * 1e3,
        )

    rng = np.random.default_rng(0)
    dej = np.asarray(sec.dej.data[0])
    assert sec.trace is not None, "the analysis kept no fibre trace: no recount to time"
    recount_s: list[float] = []
    original_recount = sec._recount_across

    def timed_recount(junction):
        t = time.perf_counter()
        found = original_recount(junction)
        recount_s.append(time.perf_counter() - t)
        return found

    sec._recount_across = timed_recount
    added, removed, dej_edits = [], [], []
    for _ in range(REPEATS):
        r, c = dej[rng.integers(len(dej))] + rng.normal(0, 3, 2)
        added.append(timed(lambda r=r, c=c: sec.add_fibre(r, c)))
        removed.append(timed(lambda r=r, c=c: sec.remove_nearest(r, c)))
        lines = [np.array(d) for d in sec.dej.data]
        k = int(rng.integers(len(lines[0]) - 1))
        lines[0][k, 0] += 5.0

        def edit(lines=lines) -> None:
            sec.dej.data = lines

        dej_edits.append(timed(edit))
    assert [e.action for e in sec.session.events].count("recount") == REPEATS

    # Recount after a DEJ edit: a stretch near a counted fibre dragged up or down.
    recount_s.clear()
    stretches, changed = [], 0
    for _ in range(REPEATS):
        fibres = np.asarray(sec.fibres.data, float)
        where = fibres[rng.integers(len(fibres))]
        lines = [np.array(d) for d in sec.dej.data]
        line = lines[0]
        near = np.hypot(*(line - where).T) * spec.pixel_size_um < 20.0
        line[near, 0] += rng.choice([-1, 1]) * rng.uniform(5, 15) / spec.pixel_size_um
        before = sec.auto_now

        def drag(lines=lines) -> None:
            sec.dej.data = lines

        numbers, painted_ms, saved = timed(drag)
        stretches.append((numbers, painted_ms, saved, recount_s[-1] * 1e3))
        changed += sec.auto_now != before
    assert len(recount_s) == REPEATS

    def table(samples: list[tuple[float, ...]]) -> dict[str, dict[str, float]]:
        names = ("numbers_ms", "painted_ms", "saved_ms", "recount_ms")
        return {
            n: _summary([s[i] for s in samples]) for i, n in enumerate(names[: len(samples[0])])
        }

    results = {
        "benchmark": "napari plugin, one section",
        "image_shape": list(shape),
        "megapixels": round(shape[0] * shape[1] / 1e6, 2),
        "pixel_size_um": spec.pixel_size_um,
        "dej_vertices": int(sum(len(d) for d in sec.dej.data)),
        "auto_count": auto_count,
        "open_s": round(open_s, 2),
        "analyse_s": round(analyse_s, 2),
        "repeats": REPEATS,
        "add_fibre": table(added),
        "remove_fibre": table(removed),
        "edit_dej": table(dej_edits),
        "recount_after_dej_edit": {
            **table(stretches),
            "edits_changing_the_count": changed,
            "skeleton_pieces": len(sec.trace.components[2]),
            "piece_groups": len(sec.trace.groups),
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "napari": napari.__version__,
        "ienfd_version": __version__,
        "command": "python benchmarks/bench_napari.py (under xvfb-run)",
    }
    viewer.close()
    shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "napari.json", results)
    (RESULTS / "napari.md").write_text(markdown(results), encoding="utf-8")
    return results


def markdown(results: dict) -> str:
    """The results as a Markdown table (medians, maxima in brackets; ms)."""
    head = (
        f"# napari plugin, one {results['megapixels']}-megapixel section\n\n"
        f"Open {results['open_s']} s, analyse {results['analyse_s']} s; "
        f"{results['repeats']} edits of each kind; load average "
        f"{results['loadavg_before'][0]} before, {results['loadavg_after'][0]} after "
        f"({results['cpu_count']} cores). `{results['command']}`.\n\n"
        "| edit | numbers shown (ms) | on screen (ms) | saved (ms) | recount (ms) |\n"
        "|---|---|---|---|---|\n"
    )
    rows = []
    for name in ("add_fibre", "remove_fibre", "edit_dej", "recount_after_dej_edit"):
        phase = results[name]
        cells = [
            f"{phase[k]['median']} ({phase[k]['max']})" if k in phase else "-"
            for k in ("numbers_ms", "painted_ms", "saved_ms", "recount_ms")
        ]
        rows.append(f"| {name.replace('_', ' ')} | " + " | ".join(cells) + " |")
    recount = results["recount_after_dej_edit"]
    tail = (
        f"\nRecount after a DEJ edit: {recount['edits_changing_the_count']} of "
        f"{results['repeats']} edits changed the automatic count; the fibre trace holds "
        f"{recount['skeleton_pieces']} pieces in {recount['piece_groups']} groups.\n"
    )
    return head + "\n".join(rows) + "\n" + tail


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
