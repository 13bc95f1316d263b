"""Readers: section images (the formats :func:`ienfd.io.read_section` reads), an ienfd
result JSON (image + result, with its correction restored), and a results folder
(its least certain section first).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ienfd.io import READ_SUFFIXES, ImageReadError, is_image_folder, read_section
from ienfd.napari._layers import LayerDataTuple, image_layers, result_layers
from ienfd.review import ReviewSession, build_queue, read_result_image
from ienfd.review._session import is_result_file
from ienfd.workflow import image_stem

__all__ = ["get_reader", "read_image", "read_result_folder", "read_result_json"]

logger = logging.getLogger(__name__)

#: Endings of the image files claimed: every format :func:`ienfd.io.read_section` reads but
#: PNG and JPEG, which record no pixel size (so read_section, given none, refuses them; and
#: napari opens them itself). An OME-Zarr folder is claimed too (:func:`ienfd.io.is_image_folder`).
CAMERA_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_SUFFIXES = tuple(s for s in READ_SUFFIXES if s not in CAMERA_SUFFIXES)

PathLike = str | os.PathLike[str]
ReaderFunction = Callable[[Any], list[LayerDataTuple]]


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def get_reader(path: PathLike | list[PathLike]) -> ReaderFunction | None:
    """napari reader contribution: a reader function, or None for what ienfd does not read.

    Claimed: image files of the formats ienfd reads that record a pixel size
    (TIFF family, CZI, LIF, ND2, MRXS: ``IMAGE_SUFFIXES``; not PNG or JPEG),
    OME-Zarr folders, JSON files that are ienfd results (not sidecars, not
    other JSON), and folders holding ienfd results. A claimed file that turns
    out to be broken raises an error naming the file when it is read.
    """
    paths = [Path(p) for p in path] if isinstance(path, list) else [Path(path)]
    if not paths:
        return None
    if all((p.is_file() and _is_image(p)) or is_image_folder(p) for p in paths):
        return _read_images
    if len(paths) != 1:
        return None
    p = paths[0]
    if p.is_dir():
        try:
            return read_result_folder if build_queue(p) else None
        except OSError:
            return None
    if p.suffix.lower() == ".json" and is_result_file(p):
        return read_result_json
    return None


def _read_images(path: PathLike | list[PathLike]) -> list[LayerDataTuple]:
    paths = path if isinstance(path, list) else [path]
    layers: list[LayerDataTuple] = []
    for p in paths:
        layers += read_image(p)
    return layers


def read_image(path: PathLike, **reader_options: Any) -> list[LayerDataTuple]:
    """Layers of one section image (physical scale in µm on every layer).

    Raises
    ------
    ImageReadError
        The file cannot be read (the message names it and says why).
    """
    section = read_section(path, **reader_options)
    for note in section.warnings:
        logger.info("%s: %s", path, note)
    return image_layers(section)


def read_result_json(path: PathLike) -> list[LayerDataTuple]:
    """An ienfd result: its image and its result layers, a saved correction restored.

    Raises
    ------
    ValueError
        The JSON is not an ienfd result, its image cannot be found or read
        (:class:`ienfd.io.ImageReadError`), or its sidecar is broken
        (:class:`ienfd.io.CorrectionError`); each names the file.
    """
    result_json = Path(path)
    session = ReviewSession.open(result_json)
    record = session.record
    try:
        section = read_result_image(record, result_json)
    except FileNotFoundError as exc:
        raise ImageReadError(str(result_json), str(exc)) from None
    name = image_stem(result_json.name[: -len(".json")] + ".tif")
    layers = image_layers(section, name=name)
    for _, kwargs, _ in layers:
        kwargs["metadata"]["ienfd"]["section"] = str(result_json)
    fibres, sources = session.initial_fibres()
    layers += result_layers(
        record,
        section=str(result_json),
        result_json=str(result_json),
        fibres=fibres,
        sources=sources,
        dej=session.initial_dej(),
        surface=session.initial_surface(),
        name=name,
    )
    return layers


def read_result_folder(path: PathLike) -> list[LayerDataTuple]:
    """A results folder: the least certain section (the first of its review queue).

    The widget picks the folder up as its review queue.
    """
    queue = build_queue(path)
    if not queue:
        raise ValueError(f"{path}: no ienfd result JSON in this folder")
    layers = read_result_json(queue[0].result_json)
    for _, kwargs, _ in layers:
        kwargs["metadata"]["ienfd"]["queue_folder"] = str(Path(path))
    return layers
