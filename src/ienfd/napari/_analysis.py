"""Run the core on napari image layers (no Qt here; the widget runs this in a worker thread)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from napari.layers import Image, Layer

from ienfd.core import AnalysisParameters, FibreTrace
from ienfd.io import PixelSize, SectionImage
from ienfd.napari._layers import layer_info as _info
from ienfd.workflow import SectionJob, image_stem, run_section

__all__ = ["Analysed", "default_results_folder", "run_analysis", "section_from_layers"]


@dataclass(frozen=True, eq=False)
class Analysed:
    """A section analysed in the plugin: its result JSON and the fibres traced."""

    json_path: Path
    trace: FibreTrace | None


def default_results_folder(layer: Layer) -> Path:
    """``ienfd_results`` beside the layer's file (the current folder when it has none)."""
    path = _info(layer).get("path") or (layer.source.path if layer.source else None)
    base = Path(path).parent if path else Path.cwd()
    return base / "ienfd_results"


def section_from_layers(layer: Image, layers: Any) -> SectionImage:
    """The section an image layer shows, as the core needs it.

    Layers opened by the ienfd reader carry their file, modality and channels;
    for a fluorescence channel the other channel of the same file is found in
    `layers` (the membrane). Other layers: an RGB layer is bright-field, a 2-D
    one fluorescence without membrane; the pixel size is the layer's scale.

    Raises
    ------
    ValueError
        The layer is not 2-D (or RGB), or its scale is not a pixel size in µm
        (napari's default scale of 1 is taken as "not set").
    """
    info = _info(layer)
    data = np.asarray(layer.data)
    if "pixel_size_um" in info:
        px = float(info["pixel_size_um"])
        source = info.get("pixel_size_source", "user")
    else:
        sy, sx = (float(s) for s in layer.scale[-2:])
        if abs(sy - sx) > 0.05 * max(sy, sx) or (sy == 1.0 and sx == 1.0):
            raise ValueError(
                f"layer {layer.name!r}: scale {tuple(layer.scale)} is not a pixel size in µm; "
                "open the file with the ienfd reader, or set the layer's scale to the pixel size"
            )
        px, source = 0.5 * (sy + sx), "user"
    size = PixelSize(px, px, source)
    path = str(
        info.get("path")
        or (layer.source.path if layer.source and layer.source.path else layer.name)
    )
    if layer.rgb:
        if data.ndim != 3 or data.shape[-1] not in (3, 4):
            raise ValueError(
                f"layer {layer.name!r}: RGB data of shape {data.shape} is not (M, N, 3)"
            )
        return SectionImage(path=path, modality="brightfield", pixel_size=size, rgb=data[..., :3],
                            warnings=list(info.get("reader_warnings", [])))  # fmt: skip
    if data.ndim != 2:
        raise ValueError(f"layer {layer.name!r}: data of shape {data.shape} is not one 2-D plane")
    fibre: np.ndarray | None = data
    membrane: np.ndarray | None = None
    if info.get("role") in ("fibre", "membrane"):
        partner_role = "membrane" if info["role"] == "fibre" else "fibre"
        partner = next(
            (
                other_layer
                for other_layer in layers
                if _info(other_layer).get("section") == info.get("section")
                and _info(other_layer).get("role") == partner_role
            ),
            None,
        )
        other = np.asarray(partner.data) if partner is not None else None
        fibre, membrane = (data, other) if info["role"] == "fibre" else (other, data)
        if fibre is None:
            raise ValueError(f"layer {layer.name!r}: the PGP 9.5 channel of this file is not open")
    assert fibre is not None
    return SectionImage(
        path=path,
        modality="fluorescence",
        pixel_size=size,
        fibre=fibre,
        membrane=membrane,
        channel_names=tuple(info.get("channel_names", ())),
        fibre_channel=info.get("fibre_channel"),
        membrane_channel=info.get("membrane_channel"),
        warnings=list(info.get("reader_warnings", [])),
    )


def run_analysis(
    section: SectionImage,
    out_dir: Path,
    *,
    length_basis: Literal["dej", "surface"] = "dej",
    parameters: AnalysisParameters | None = None,
) -> Analysed:
    """Analyse and write ``out_dir/<stem>.json`` as ``ienfd analyze`` does.

    Returns its path and the analysis' fibre trace (kept in memory with the
    section, to recount after a junction edit).

    Raises
    ------
    ValueError
        The core cannot analyse the section (:class:`ienfd.core.AnalysisError`).
    OSError
        The result cannot be written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = image_stem(Path(section.path).name)
    job = SectionJob(
        image=section.path,
        path=section.path,
        out_dir=str(out_dir),
        stem=stem,
        parameters=parameters or AnalysisParameters(),
        length_basis=length_basis,
        overlay=False,
    )
    outcome = run_section(job, image=section)
    trace = outcome.result.trace if outcome.result is not None else None
    if trace is not None:
        trace.groups  # noqa: B018 (the pieces grouped here, in the worker, not on the first edit)
    return Analysed(job.json_path, trace)
