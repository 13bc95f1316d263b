"""Teach ienfd a lab's stain: a pixel classifier trained from a few painted strokes.

A lab paints a few strokes of epidermis, dermis and glass (optionally stratum
corneum) on one to three of its sections; :func:`train_pixel_model` trains a
random forest on rotation-invariant pixel features computed at a fixed
working resolution in µm (:func:`pixel_features`); :func:`write_pixel_model`
saves it as a portable ``.npz`` of plain arrays (no pickle), which
:func:`read_pixel_model` loads and :class:`PixelModel` predicts with numpy
alone, identically on any machine. :func:`analyze_with_model` counts a
section's fibres across the junction of the model's epidermis
(``junction_method`` "model"); a pipeline file names the model so that
``ienfd analyze/batch --pipeline`` use it.

Label codes (:data:`CLASS_NAMES`): 0 unlabelled, 1 background (glass),
2 epidermis, 3 dermis, 4 stratum corneum, 5 fibre, 6 not fibre (5 and 6 are
recorded, not learnt).
"""

from ienfd.learn._epidermis import (
    ModelEpidermis,
    analyze_with_model,
    model_epidermis,
    model_junction,
)
from ienfd.learn._features import FeatureSpec, pixel_features, working_shape
from ienfd.learn._file import (
    MODEL_FORMAT,
    PixelModelError,
    TrainingInputError,
    model_bytes,
    read_pixel_model,
    read_training_sections,
    write_pixel_model,
)
from ienfd.learn._forest import Forest, forest_from_sklearn
from ienfd.learn._model import (
    CLASS_NAMES,
    LEARNT_CLASSES,
    PixelModel,
    TrainingSection,
    check_labels,
    train_pixel_model,
)

__all__ = [
    "CLASS_NAMES",
    "LEARNT_CLASSES",
    "MODEL_FORMAT",
    "FeatureSpec",
    "Forest",
    "ModelEpidermis",
    "PixelModel",
    "PixelModelError",
    "TrainingInputError",
    "TrainingSection",
    "analyze_with_model",
    "check_labels",
    "forest_from_sklearn",
    "model_bytes",
    "model_epidermis",
    "model_junction",
    "pixel_features",
    "read_pixel_model",
    "read_training_sections",
    "train_pixel_model",
    "working_shape",
    "write_pixel_model",
]
