"""The Teach panel: paint a few strokes, train a pixel model, see it, save it as a pipeline.

Glue only: the painting is a napari Labels layer over the section (codes of
:data:`ienfd.learn.CLASS_NAMES`), training and prediction are
:func:`ienfd.learn.train_pixel_model` and :func:`ienfd.learn.model_epidermis`,
saving is :func:`ienfd.workflow._pipeline.save_trained_pipeline` (what
``ienfd train`` does).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Image, Labels
from napari.qt.threading import FunctionWorker, create_worker
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from ienfd.io import SectionImage
from ienfd.napari._analysis import section_from_layers
from ienfd.napari._layers import list_image_layers

if TYPE_CHECKING:
    from ienfd.learn import PixelModel
    from ienfd.napari._widget import ReviewWidget
    from ienfd.workflow import Pipeline

__all__ = ["TEACH_COLOURS", "TeachPanel"]

#: Colours of the painted classes (label code -> RGBA), and of the preview.
TEACH_COLOURS: dict[int | None, tuple[float, ...]] = {
    0: (0.0, 0.0, 0.0, 0.0),
    1: (0.55, 0.55, 0.55, 1.0),  # background (glass): grey
    2: (0.85, 0.1, 0.85, 1.0),  # epidermis: magenta
    3: (1.0, 0.65, 0.1, 1.0),  # dermis: orange
    4: (0.2, 0.8, 1.0, 1.0),  # stratum corneum: cyan
    5: (1.0, 1.0, 0.0, 1.0),  # fibre: yellow
    6: (0.3, 0.3, 1.0, 1.0),  # not fibre: blue
    None: (0.0, 0.0, 0.0, 0.0),
}
_STROKES = "ienfd teach strokes"
_PREVIEW = "ienfd teach preview"
_PREVIEW_DEJ = "ienfd teach DEJ"


class TeachPanel(QGroupBox):
    """Teach ienfd a lab's stain on the sections open in the viewer."""

    def __init__(self, host: ReviewWidget) -> None:
        super().__init__("Teach ienfd your stain")
        from ienfd.learn import CLASS_NAMES

        self.host = host
        self.model: PixelModel | None = None
        #: The last training's worker thread (:meth:`start_training`).
        self.worker: FunctionWorker[_Trained] | None = None
        self.image_combo = QComboBox()
        self.paint_button = QPushButton("Paint strokes")
        self.paint_button.clicked.connect(lambda: self.start_painting())
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(lambda: self.start_training())
        self.lab_edit = QLineEdit()
        self.lab_edit.setPlaceholderText("lab name")
        self.save_button = QPushButton("Save pipeline...")
        self.save_button.clicked.connect(self._dialog)
        self.save_button.setEnabled(False)
        legend = "  ".join(f"{code} {name}" for code, name in CLASS_NAMES.items())
        self.legend = QLabel(f"label: {legend} (epidermis and dermis needed)")
        self.legend.setWordWrap(True)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        row = QHBoxLayout()
        for w in (self.image_combo, self.paint_button, self.train_button):
            row.addWidget(w)
        save_row = QHBoxLayout()
        save_row.addWidget(self.lab_edit)
        save_row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.legend)
        layout.addLayout(save_row)
        layout.addWidget(self.result_label)
        self.refresh_images()
        host.viewer.layers.events.inserted.connect(lambda _e: self.refresh_images())
        host.viewer.layers.events.removed.connect(lambda _e: self.refresh_images())

    def refresh_images(self) -> None:
        """List the image layers that can be painted on (RGB or a fibre channel)."""
        list_image_layers(self.image_combo, self.host.viewer.layers)

    def _strokes_for(self, image: Image) -> Labels | None:
        for layer in self.host.viewer.layers:
            if isinstance(layer, Labels) and layer.metadata.get("ienfd_teach") == image.name:
                return layer
        return None

    def start_painting(self, name: str | None = None) -> Labels | None:
        """A Labels layer to paint strokes on over image layer ``name`` (the chosen one)."""
        viewer = self.host.viewer
        name = name or self.image_combo.currentText()
        if name not in viewer.layers:
            self.host.say("no image layer to paint on")
            return None
        image = viewer.layers[name]
        strokes = self._strokes_for(image)
        if strokes is None:
            shape = image.data.shape[:2] if image.rgb else image.data.shape[-2:]
            strokes = viewer.add_labels(
                np.zeros(shape, dtype=np.uint8),
                name=f"{_STROKES}: {name}",
                scale=image.scale[-2:],
                translate=image.translate[-2:],
                metadata={"ienfd_teach": name},
                opacity=0.8,
            )
            strokes.colormap = _colormap(TEACH_COLOURS)
        strokes.brush_size = 5
        strokes.selected_label = 2
        strokes.mode = "paint"
        viewer.layers.selection.active = strokes
        self.host.say(
            f"paint on {strokes.name}: 2 epidermis, 3 dermis, 1 glass (keys 1-6 pick the "
            "label, or the layer controls); then Train"
        )
        return strokes

    def painted_sections(self) -> list[Any]:
        """Every image with painted strokes, as :class:`ienfd.learn.TrainingSection`."""
        from ienfd.io import file_sha256
        from ienfd.learn import TrainingSection

        sections = []
        for layer in self.host.viewer.layers:
            if not isinstance(layer, Labels) or "ienfd_teach" not in layer.metadata:
                continue
            name = layer.metadata["ienfd_teach"]
            if name not in self.host.viewer.layers or not np.any(layer.data):
                continue
            image = self.host.viewer.layers[name]
            section = section_from_layers(image, self.host.viewer.layers)
            pixels = section.planes[0]
            path = getattr(image.source, "path", None)
            sha = file_sha256(path)[0] if path and Path(path).is_file() else ""
            sections.append(
                TrainingSection(
                    image=np.asarray(pixels),
                    labels=np.asarray(layer.data, dtype=np.uint8),
                    spacing=section.pixel_size_um,
                    name=Path(path).name if path else name,
                    sha256=sha,
                    membrane=section.membrane,
                )
            )
        return sections

    def start_training(self) -> FunctionWorker[_Trained] | None:
        """Train on every painted image in a worker thread (the Train button); returns it.

        The viewer stays responsive while the forest fits and the preview is
        predicted: the button is disabled and the panel says "training ..."
        until the preview is shown, or the error is.
        """
        job = self._training_job()
        if job is None:
            return None
        self.train_button.setEnabled(False)
        self.result_label.setText("training ...")
        self.host.say("training ...")
        # Errors are shown in the panel (_failed), not raised again in Qt's event loop.
        worker = create_worker(_fit, *job, _progress=False, _ignore_errors=True)
        worker.returned.connect(self._trained)
        worker.errored.connect(self._failed)
        worker.finished.connect(lambda: self.train_button.setEnabled(True))
        self.worker = worker
        worker.start()
        return worker

    def train(self) -> PixelModel | None:
        """Train on every painted image and show the preview, here and now (for scripts).

        The Train button runs the same in a worker thread (:meth:`start_training`).
        """
        job = self._training_job()
        if job is None:
            return None
        try:
            trained = _fit(*job)
        except ValueError as exc:
            self._failed(exc)
            return None
        self._trained(trained)
        return self.model

    def _training_job(self) -> tuple[list[Any], str, tuple[Image, SectionImage] | None] | None:
        """What a training needs from the viewer: the painted sections, the lab's name and
        the chosen image to preview on (read here, on the main thread)."""
        sections = self.painted_sections()
        if not sections:
            self.host.say("paint strokes first (Paint strokes), at least epidermis and dermis")
            return None
        viewer = self.host.viewer
        name = self.image_combo.currentText()
        shown = None
        if name in viewer.layers:
            image = viewer.layers[name]
            shown = (image, section_from_layers(image, viewer.layers))
        return sections, self.lab_edit.text(), shown

    def _trained(self, trained: _Trained) -> None:
        self.model = trained.model
        self.save_button.setEnabled(True)
        if trained.preview is not None:
            self._show_preview(trained.preview)
        self.result_label.setText(
            f"trained on {trained.n_sections} section(s), {trained.painted_percent:.2f}% painted, "
            f"in {trained.seconds:.1f} s"
        )
        self.host.say(
            trained.preview_error
            or "trained: the preview shows the classes and the DEJ; Save pipeline..."
        )

    def _failed(self, exc: BaseException) -> None:
        self.result_label.setText(f"cannot train: {exc}")
        self.host.say(f"cannot train: {exc}")

    def preview(self, name: str | None = None) -> np.ndarray | None:
        """The model's classes and DEJ over image layer ``name`` (default: the chosen one).

        Returns the DEJ polylines' vertices stacked, (K, 2) in image pixels (None
        without a model or a junction).
        """
        viewer = self.host.viewer
        name = name or self.image_combo.currentText()
        if self.model is None or name not in viewer.layers:
            return None
        image = viewer.layers[name]
        shown = _predict(self.model, image, section_from_layers(image, viewer.layers))
        self._show_preview(shown)
        if shown.error:
            self.host.say(shown.error)
            return None
        return np.concatenate(shown.dej)

    def _show_preview(self, shown: _Preview) -> None:
        """Add (or replace) the preview's classes and DEJ layers over its image."""
        viewer = self.host.viewer
        image = shown.image
        _remove(viewer, _PREVIEW)
        viewer.add_labels(
            shown.classes, name=_PREVIEW, scale=shown.scale, opacity=0.35,
            translate=tuple(image.translate[-2:]), metadata={"ienfd_teach_preview": image.name},
        )  # fmt: skip
        viewer.layers[_PREVIEW].colormap = _colormap(TEACH_COLOURS)
        if shown.error:
            return
        _remove(viewer, _PREVIEW_DEJ)
        viewer.add_shapes(
            [np.asarray(line) for line in shown.dej], shape_type="path", edge_color="orange",
            edge_width=4 * shown.pixel_size_um, name=_PREVIEW_DEJ, scale=image.scale[-2:],
            translate=tuple(image.translate[-2:]),
        )  # fmt: skip

    def save(self, path: str | Path) -> Pipeline | None:
        """Save the model and a pipeline naming it (``path``: the pipeline's ``.json``)."""
        from ienfd.workflow._pipeline import save_trained_pipeline

        if self.model is None:
            self.host.say("train first")
            return None
        if self.lab_edit.text() and self.model.metadata.get("lab") != self.lab_edit.text():
            from dataclasses import replace

            self.model = replace(
                self.model, metadata={**self.model.metadata, "lab": self.lab_edit.text()}
            )
        pipeline = save_trained_pipeline(path, self.model)
        self.host.say(f"saved {pipeline.source} (ienfd analyze/batch --pipeline {Path(path).name})")
        return pipeline

    def _dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save pipeline", "lab.json", "Pipeline (*.json)"
        )
        if path:
            self.save(path)


@dataclass(frozen=True, eq=False)
class _Preview:
    """A trained model's classes and DEJ on one image layer."""

    image: Image
    classes: np.ndarray
    scale: tuple[float, float]
    pixel_size_um: float
    dej: list[np.ndarray]
    error: str = ""


@dataclass(frozen=True, eq=False)
class _Trained:
    """What a training gave: the model, its preview, and the facts the panel shows."""

    model: PixelModel
    preview: _Preview | None
    n_sections: int
    painted_percent: float
    seconds: float

    @property
    def preview_error(self) -> str:
        return self.preview.error if self.preview is not None else ""


def _predict(model: PixelModel, image: Image, section: SectionImage) -> _Preview:
    """The model's classes and DEJ on `section` (the pixels of image layer `image`)."""
    from ienfd.core import AnalysisError
    from ienfd.learn import model_epidermis, model_junction

    pixels = section.planes[0]
    px = section.pixel_size_um
    found = model_epidermis(model, pixels, spacing=px, membrane=section.membrane)
    scale = (
        px * pixels.shape[0] / found.classes.shape[0],
        px * pixels.shape[1] / found.classes.shape[1],
    )
    try:
        junction = model_junction(found, working_um=model.spec.working_um, shape=pixels.shape[:2])
    except AnalysisError as exc:
        return _Preview(image, found.classes, scale, px, [], error=str(exc))
    return _Preview(image, found.classes, scale, px, list(junction.dej))


def _fit(sections: list[Any], lab: str, shown: tuple[Image, SectionImage] | None) -> _Trained:
    """Train the pixel model on the painted `sections` and predict its preview on `shown`.

    Runs in a worker thread: numpy and scikit-learn only, no layer is touched.
    """
    from ienfd.learn import train_pixel_model

    start = time.perf_counter()
    model = train_pixel_model(sections, lab=lab)
    seconds = time.perf_counter() - start
    preview = _predict(model, *shown) if shown is not None else None
    painted = sum(int(np.count_nonzero(s.labels)) for s in sections)
    total = sum(s.labels.size for s in sections)
    return _Trained(model, preview, len(sections), 100 * painted / total, seconds)


def _remove(viewer: Any, name: str) -> None:
    if name in viewer.layers:
        viewer.layers.remove(name)


def _colormap(colours: dict[int | None, tuple[float, ...]]) -> Any:
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict=colours)
