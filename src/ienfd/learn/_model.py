"""A lab's pixel model: train it from painted strokes, predict the tissue classes.

The painted labels follow one code for every tool (napari's Labels layer, a
label TIFF for ``ienfd train``):

===== =======================
code  class
===== =======================
0     unlabelled
1     background (glass)
2     epidermis
3     dermis
4     stratum corneum
5     fibre
6     not fibre
===== =======================

Epidermis and dermis are required; glass and stratum corneum are learnt when
painted. Fibre and not-fibre strokes are accepted and counted in the model's
record, but not learnt: the fibres are traced by the analysis, and a fibre
is narrower than a pixel at the model's working resolution.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ienfd.learn._features import FeatureSpec, pixel_features, to_working, working_shape
from ienfd.learn._forest import Forest, forest_from_sklearn

__all__ = [
    "CLASS_NAMES",
    "LEARNT_CLASSES",
    "PixelModel",
    "TrainingSection",
    "check_labels",
    "train_pixel_model",
]

#: Label code -> class name (0 is unlabelled).
CLASS_NAMES: dict[int, str] = {
    1: "background",
    2: "epidermis",
    3: "dermis",
    4: "stratum corneum",
    5: "fibre",
    6: "not fibre",
}
#: The codes the model learns; 5 and 6 are recorded only.
LEARNT_CLASSES = (1, 2, 3, 4)
_REQUIRED = (2, 3)
BACKGROUND = 1
EPIDERMIS = 2


@dataclass(frozen=True)
class TrainingSection:
    """One image and its painted labels.

    Parameters
    ----------
    image : (M, N, 3) or (M, N) ndarray
        Bright-field RGB, or the fluorescence fibre channel.
    labels : (M, N) ndarray of int
        Codes of :data:`CLASS_NAMES`, 0 where nothing was painted.
    spacing : float
        Pixel size in µm.
    name : str
        Where it came from (a file name), for messages and the record.
    sha256 : str
        The image file's SHA-256, for the record ("" when not from a file).
    membrane : (M, N) ndarray, optional
        Fluorescence membrane channel.
    """

    image: np.ndarray
    labels: np.ndarray
    spacing: float
    name: str = "section"
    sha256: str = ""
    membrane: np.ndarray | None = None


def check_labels(labels: np.ndarray, shape: tuple[int, ...], name: str = "labels") -> np.ndarray:
    """The painted labels as uint8, checked against the image's shape and the codes.

    Raises
    ------
    ValueError
        Wrong shape, a code outside 0-6, or nothing painted; the message names ``name``.

    Examples
    --------
    >>> check_labels(np.array([[0, 2], [3, 1]]), (2, 2)).dtype
    dtype('uint8')
    """
    arr = np.asarray(labels)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != tuple(shape[:2]):
        raise ValueError(
            f"{name}: labels of shape {arr.shape}, the image is {tuple(shape[:2])}: "
            "paint the labels on the image itself (same rows and columns)"
        )
    if arr.dtype.kind not in "ui" and arr.dtype != bool:
        raise ValueError(f"{name}: labels must be integers 0-6, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > max(CLASS_NAMES)):
        raise ValueError(
            f"{name}: label codes must be 0-6 (0 unlabelled, "
            + ", ".join(f"{k} {v}" for k, v in CLASS_NAMES.items())
            + f"), found {int(arr.min())}..{int(arr.max())}"
        )
    if not arr.any():
        raise ValueError(f"{name}: nothing is painted (every label is 0)")
    return arr.astype(np.uint8, copy=False)


def working_labels(labels: np.ndarray, spacing: float, spec: FeatureSpec) -> np.ndarray:
    """Painted labels at the working resolution: each pixel takes its most painted learnt class.

    A working pixel is labelled when at least a fifth of it is painted with
    that class, so that strokes narrower than a working pixel still count.
    """
    shape = working_shape((int(labels.shape[0]), int(labels.shape[1])), spacing, spec)
    best = np.zeros(shape, dtype=np.float32)
    out = np.zeros(shape, dtype=np.uint8)
    for code in LEARNT_CLASSES:
        painted = labels == code
        if not painted.any():
            continue
        fraction = to_working(painted.astype(np.float32), spacing, spec)
        better = fraction > np.maximum(best, 0.2)
        out[better] = code
        best = np.maximum(best, fraction)
    return out


@dataclass(frozen=True)
class PixelModel:
    """A trained pixel classifier and what it was trained on.

    Attributes
    ----------
    spec : FeatureSpec
        How the features are computed.
    classes : tuple of int
        The label code of each of the forest's classes.
    forest : Forest
    metadata : dict
        ``lab``, ``created``, ``ienfd_version`` and ``trained_on`` (one
        entry per section: name, sha256, pixel size, shape, painted pixels
        per class).
    """

    spec: FeatureSpec
    classes: tuple[int, ...]
    forest: Forest
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.classes) != self.forest.n_classes:
            raise ValueError(
                f"{len(self.classes)} class codes for a forest of {self.forest.n_classes} classes"
            )
        unknown = [c for c in self.classes if c not in LEARNT_CLASSES]
        if unknown:
            raise ValueError(f"class codes {unknown} are not learnt classes {LEARNT_CLASSES}")
        if EPIDERMIS not in self.classes:
            raise ValueError("a pixel model must know the epidermis (code 2)")
        if self.forest.n_features > self.spec.n_features:
            raise ValueError(
                f"the forest splits on feature {self.forest.n_features - 1}; "
                f"the feature spec gives {self.spec.n_features}"
            )

    @property
    def lab(self) -> str:
        """The lab's name the model was saved with."""
        return str(self.metadata.get("lab", ""))

    def predict_proba(
        self, image: np.ndarray, *, spacing: float, membrane: np.ndarray | None = None
    ) -> np.ndarray:
        """Class probabilities of every working-resolution pixel.

        Returns
        -------
        (m, n, K) ndarray of float32
            In the order of :attr:`classes`; ``(m, n)`` is the working shape.
        """
        features = pixel_features(image, spacing=spacing, spec=self.spec, membrane=membrane)
        m, n, f = features.shape
        proba = self.forest.predict_proba(features.reshape(-1, f))
        return proba.reshape(m, n, -1).astype(np.float32)

    def predict_classes(
        self, image: np.ndarray, *, spacing: float, membrane: np.ndarray | None = None
    ) -> np.ndarray:
        """The most probable class code of every working-resolution pixel, (m, n) uint8."""
        proba = self.predict_proba(image, spacing=spacing, membrane=membrane)
        return classes_from_proba(proba, self.classes)


def classes_from_proba(proba: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Class codes of the most probable class, after smoothing each map over one pixel."""
    smooth = ndi.gaussian_filter(proba, sigma=(1.0, 1.0, 0.0))
    return np.asarray(classes, dtype=np.uint8)[np.argmax(smooth, axis=-1)]


def train_pixel_model(
    sections: Sequence[TrainingSection],
    *,
    lab: str = "",
    spec: FeatureSpec | None = None,
    n_trees: int = 32,
    max_depth: int = 12,
    max_samples_per_class: int = 40_000,
    seed: int = 0,
) -> PixelModel:
    """Train a pixel model from painted sections.

    Parameters
    ----------
    sections : sequence of TrainingSection
        One to a few sections with strokes of at least epidermis and dermis.
    lab : str
        The lab's name, recorded with the model.
    spec : FeatureSpec, optional
        Default: bright-field or fluorescence from the first image's shape.
    n_trees, max_depth : int
        Size of the random forest.
    max_samples_per_class : int
        At most this many painted working pixels of each class are used
        (drawn at random with ``seed``), so that a large stroke does not
        drown the others and training stays in seconds.
    seed : int
        Makes training repeatable.

    Returns
    -------
    PixelModel

    Raises
    ------
    ValueError
        No sections, labels of the wrong shape or codes, modalities that
        differ, or no stroke of epidermis or of dermis in all the sections
        together (the message names what is missing).
    """
    from sklearn.ensemble import RandomForestClassifier

    if not sections:
        raise ValueError("no sections to train on")
    first = np.asarray(sections[0].image)
    if spec is None:
        rgb = first.ndim == 3 and first.shape[-1] == 3
        n_channels = 3 if rgb else 1 + (sections[0].membrane is not None)
        spec = FeatureSpec(modality="brightfield" if rgb else "fluorescence", n_channels=n_channels)
    samples: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    trained_on: list[dict[str, Any]] = []
    for section in sections:
        image = np.asarray(section.image)
        labels = check_labels(section.labels, image.shape, section.name)
        features = pixel_features(
            image, spacing=section.spacing, spec=spec, membrane=section.membrane
        )
        small = working_labels(labels, section.spacing, spec)
        painted = small > 0
        samples.append(features[painted])
        targets.append(small[painted])
        counts = {CLASS_NAMES[code]: int(np.count_nonzero(labels == code)) for code in CLASS_NAMES}
        trained_on.append(
            {
                "name": section.name,
                "sha256": section.sha256,
                "pixel_size_um": float(section.spacing),
                "shape": [int(image.shape[0]), int(image.shape[1])],
                "labelled_pixels": counts,
                "labelled_fraction": round(float(np.count_nonzero(labels)) / labels.size, 5),
            }
        )
    x = np.concatenate(samples)
    y = np.concatenate(targets)
    missing = [CLASS_NAMES[c] for c in _REQUIRED if not np.any(y == c)]
    if missing:
        names = ", ".join(s.name for s in sections)
        raise ValueError(
            f"{names}: no stroke of {' or '.join(missing)} (after resampling to "
            f"{spec.working_um:g} µm pixels); paint at least epidermis (2) and dermis (3)"
        )
    rng = np.random.default_rng(seed)
    keep = []
    for code in np.unique(y):
        idx = np.flatnonzero(y == code)
        if len(idx) > max_samples_per_class:
            idx = rng.choice(idx, max_samples_per_class, replace=False)
        keep.append(idx)
    chosen = np.sort(np.concatenate(keep))
    forest = RandomForestClassifier(
        n_estimators=n_trees,
        max_depth=max_depth,
        min_samples_leaf=2,
        class_weight="balanced",
        n_jobs=1,
        random_state=seed,
    )
    forest.fit(x[chosen], y[chosen])
    from ienfd import __version__

    metadata = {
        "lab": lab,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "ienfd_version": __version__,
        "trained_on": trained_on,
        "training_pixels": {
            CLASS_NAMES[int(c)]: int(np.count_nonzero(y[chosen] == c)) for c in np.unique(y)
        },
        "unused_classes": [
            CLASS_NAMES[c]
            for c in (5, 6)
            if any(t["labelled_pixels"][CLASS_NAMES[c]] for t in trained_on)
        ],
        "forest": {"n_trees": n_trees, "max_depth": max_depth, "seed": seed},
    }
    return PixelModel(
        spec=spec,
        classes=tuple(int(c) for c in forest.classes_),
        forest=forest_from_sklearn(forest),
        metadata=metadata,
    )
