"""The fibre trace of a result read from disk, rebuilt from its image.

A result JSON holds the crossings, not the fibres traced: the skeleton that a
recount after a junction edit needs (:class:`ienfd.core.FibreTrace`) lives
only in the memory of the session that analysed the section. A result opened
from a folder gets it back by analysing its image again with what the result
records: its modality, pixel size, channels, length basis and analysis
parameters (``parameters``, every field of :class:`ienfd.core.AnalysisParameters`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ienfd.core import AnalysisParameters, FibreTrace, GivenJunction, analyze_section
from ienfd.io import SectionImage, file_sha256, read_section

__all__ = ["RebuiltTrace", "read_result_image", "rebuild_trace"]

#: Junction methods the analysis finds by itself again from the image alone.
_SEARCHED = ("tissue", "membrane")


@dataclass(frozen=True, eq=False)
class RebuiltTrace:
    """A fibre trace rebuilt for a result, and how.

    Attributes
    ----------
    trace : FibreTrace
    note : str
        In words: how it was rebuilt, and whether it counts what the result says.
    count : int
        The count of the analysis that rebuilt it, across its own junction.
    """

    trace: FibreTrace
    note: str
    count: int


def read_result_image(record: dict[str, Any], result_json: str | os.PathLike[str]) -> SectionImage:
    """The image of a result, read as the result says it was read.

    Modality, pixel size and (in fluorescence) the fibre and membrane
    channels are taken from the result, not from the file's metadata.

    Raises
    ------
    FileNotFoundError
        The image is not where the result says, nor beside or above the JSON
        (:func:`ienfd.review.find_image`).
    ienfd.io.ImageReadError
        The file cannot be read.
    """
    from ienfd.review._session import find_image

    path = find_image(record, result_json)
    channels = record.get("channels") or {}
    options: dict[str, Any] = {
        "modality": record.get("modality"),
        "pixel_size_um": float(record["pixel_size_um"]),
    }
    if record.get("modality") == "fluorescence":
        options["fibre_channel"] = channels.get("fibre")
        options["membrane_channel"] = channels.get("membrane")
    if record.get("scene") is not None:
        options["scene"] = record["scene"]
    return read_section(path, **options)


def rebuild_trace(record: dict[str, Any], image: SectionImage) -> RebuiltTrace:
    """Analyse `image` again as `record` was made, for its fibre trace.

    A junction the analysis searched for (``junction_method`` "tissue" or
    "membrane") is searched for again, with the recorded parameters: the same
    image gives the same trace. A junction it did not find itself (drawn,
    "given"; or a lab's pixel model, "model") is not at hand again, and the
    fibres are traced around the result's own DEJ and surface instead.

    Parameters
    ----------
    record : dict
        The result JSON.
    image : SectionImage
        Its image (:func:`read_result_image`, or the image open in a viewer).

    Returns
    -------
    RebuiltTrace

    Raises
    ------
    ValueError
        The image is not the result's (another shape, modality or pixel size;
        or, when the file is at hand, another sha256), the result records no
        parameters, or it is a section of a whole-slide image.
    ienfd.core.AnalysisError
        The analysis finds no section in the image.
    """
    if "parameters" not in record:
        raise ValueError("the result records no analysis parameters")
    if record.get("region") is not None:
        raise ValueError("a section of a whole-slide image: its fibres are not traced again here")
    shape = [int(n) for n in image.shape]
    if record.get("image_shape") is not None and list(record["image_shape"]) != shape:
        raise ValueError(f"the image is {shape}, the result's was {list(record['image_shape'])}")
    if image.modality != record.get("modality"):
        raise ValueError(f"the image is {image.modality}, the result {record.get('modality')}")
    if abs(image.pixel_size_um - float(record["pixel_size_um"])) > 1e-6:
        raise ValueError(
            f"the image has {image.pixel_size_um} µm pixels, the result "
            f"{record['pixel_size_um']} µm"
        )
    expected = record.get("input_sha256")
    if expected and Path(image.path).is_file() and file_sha256(image.path)[0] != expected:
        raise ValueError(f"{image.path} has changed since the analysis (another sha256)")
    parameters = AnalysisParameters.from_dict(record["parameters"])
    pixels, membrane = image.planes
    arguments: dict[str, Any] = {
        "spacing": image.pixel_size_um,
        "modality": image.modality,
        "membrane": membrane,
        "length_basis": record.get("length_basis", "dej"),
        "parameters": parameters,
    }
    how = "its junction searched for again"
    if record.get("junction_method") not in _SEARCHED:
        arguments["junction"] = GivenJunction(
            dej=tuple(_lines(record.get("dej", []))),
            surface=tuple(_lines(record.get("surface", []))),
            source="the result's junction",
        )
        how = "around the result's DEJ and surface"
    result = analyze_section(pixels, **arguments)
    assert result.trace is not None  # every analysis keeps its trace
    note = f"fibre trace rebuilt from {Path(image.path).name} with the result's parameters, {how}"
    if result.count != int(record.get("count", result.count)):
        note += f" (it counts {result.count} where the result says {record['count']})"
    return RebuiltTrace(result.trace, note, result.count)


def _lines(lines: list[Any]) -> list[np.ndarray]:
    return [np.asarray(line, float).reshape(-1, 2) for line in lines if len(line) >= 2]
