"""The pixel model file: numpy arrays and a JSON header in one ``.npz``, no pickle.

Layout (format ``ienfd-pixel-model/1``):

- ``header``: a 0-d unicode array holding JSON: ``format``, ``classes`` (label
  codes), ``class_names``, ``features`` (the :class:`FeatureSpec`) and
  ``metadata`` (lab, created, ienfd version, what it was trained on);
- ``left``, ``right``, ``feature``, ``threshold``, ``value``, ``roots``: the
  forest (:class:`ienfd.learn.Forest`).

It is read with ``numpy.load(..., allow_pickle=False)``: a file holding an
object array is refused, so opening a model cannot run code.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ienfd.io import FileError, file_sha256, write_bytes
from ienfd.learn._features import FeatureSpec
from ienfd.learn._forest import Forest
from ienfd.learn._model import CLASS_NAMES, PixelModel, TrainingSection, check_labels

__all__ = [
    "MODEL_FORMAT",
    "PixelModelError",
    "model_bytes",
    "read_pixel_model",
    "write_pixel_model",
]

#: Value of the header's ``format`` key.
MODEL_FORMAT = "ienfd-pixel-model/1"
_ARRAYS = ("left", "right", "feature", "threshold", "value", "roots")


class PixelModelError(FileError):
    """A pixel model file that cannot be used, naming the file and the reason."""


def model_bytes(model: PixelModel) -> bytes:
    """The ``.npz`` bytes of a model (what :func:`write_pixel_model` writes)."""
    header = {
        "format": MODEL_FORMAT,
        "classes": list(model.classes),
        "class_names": [CLASS_NAMES[c] for c in model.classes],
        "features": model.spec.to_dict(),
        "metadata": dict(model.metadata),
    }
    buffer = io.BytesIO()
    arrays = {"header": np.array(json.dumps(header, sort_keys=True)), **model.forest.arrays()}
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def write_pixel_model(path: str | os.PathLike[str], model: PixelModel) -> Path:
    """Write a model file atomically; :func:`read_pixel_model` reads it back."""
    target = Path(path)
    write_bytes(target, model_bytes(model))
    return target


def read_pixel_model(path: str | os.PathLike[str]) -> PixelModel:
    """Read and check a pixel model file.

    Raises
    ------
    PixelModelError
        Not an ``.npz`` of this format, an array missing or of the wrong
        kind (object arrays are refused, never unpickled), or values that do
        not make a model; the message names the file.
    OSError
        The file cannot be opened.
    """
    p = Path(path)
    raw = p.read_bytes()
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            arrays: dict[str, Any] = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise PixelModelError(p, f"not a pixel model file (.npz without objects): {exc}") from None
    missing = [k for k in ("header", *_ARRAYS) if k not in arrays]
    if missing:
        raise PixelModelError(p, f"missing array(s) {missing}")
    header_array = arrays["header"]
    if header_array.dtype.kind != "U" or header_array.ndim != 0:
        raise PixelModelError(p, "the header must be a JSON string")
    try:
        header = json.loads(str(header_array))
    except json.JSONDecodeError as exc:
        raise PixelModelError(p, f"the header is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != MODEL_FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise PixelModelError(p, f"format is {found!r}; this ienfd reads {MODEL_FORMAT!r}")
    for name in _ARRAYS:
        if arrays[name].dtype.kind not in "iuf":
            raise PixelModelError(p, f"array {name} has dtype {arrays[name].dtype}, not numbers")
    try:
        return PixelModel(
            spec=FeatureSpec.from_dict(header["features"]),
            classes=tuple(int(c) for c in header["classes"]),
            forest=Forest.from_arrays({k: arrays[k] for k in _ARRAYS}),
            metadata=dict(header.get("metadata", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PixelModelError(p, f"not a valid model: {exc}") from None


class TrainingInputError(FileError):
    """An image or label file that cannot be trained on, naming the file and the reason."""


def read_training_sections(
    pairs: list[tuple[str, str]], *, pixel_size_um: float | None = None
) -> list[TrainingSection]:
    """Read (image, labels) file pairs for :func:`~ienfd.learn.train_pixel_model`.

    Parameters
    ----------
    pairs : list of (str, str)
        Each section image (any format :func:`ienfd.io.read_section` reads)
        with its label TIFF: uint8, the image's shape, codes of
        :data:`~ienfd.learn.CLASS_NAMES`.
    pixel_size_um : float, optional
        Overrides the images' metadata (needed for PNG and JPEG).

    Returns
    -------
    list of TrainingSection

    Raises
    ------
    TrainingInputError
        A label file that is not a TIFF, has another shape than its image,
        codes outside 0-6 or nothing painted.
    ImageReadError
        An image cannot be read (no pixel size, unknown format...).
    """
    import tifffile

    from ienfd.io import read_section

    sections = []
    for image_path, labels_path in pairs:
        image = read_section(image_path, pixel_size_um=pixel_size_um)
        pixels = image.planes[0]
        try:
            labels = tifffile.imread(labels_path)
        except (OSError, ValueError, tifffile.TiffFileError) as exc:
            raise TrainingInputError(labels_path, f"not a label TIFF ({exc})") from None
        try:
            labels = check_labels(labels, pixels.shape, name=f"{labels_path} (for {image_path})")
        except ValueError as exc:
            raise TrainingInputError(labels_path, str(exc).split(": ", 1)[1]) from None
        sections.append(
            TrainingSection(
                image=pixels,
                labels=labels,
                spacing=float(image.pixel_size_um),
                name=Path(image_path).name,
                sha256=file_sha256(image_path)[0],
                membrane=image.membrane,
            )
        )
    return sections
