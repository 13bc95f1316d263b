"""Layer data for a section: its image channels and its result (napari LayerDataTuples).

Every layer gets ``scale = (pixel size, pixel size)`` and ``units = µm`` so that
napari's scale bar and measurements are in µm; data stay in pixels (row, col)
of the input image, the coordinates of the result JSON. ``metadata["ienfd"]``
says what a layer is (``role``) and which section it belongs to (``section``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ienfd.io import SectionImage
from ienfd.workflow import image_stem

__all__ = [
    "ROLE_COLOURS",
    "epidermis_mask",
    "image_layers",
    "layer_info",
    "paint_layer",
    "result_layers",
]

LayerDataTuple = tuple[Any, dict[str, Any], str]

#: Colours of the result layers (as in the QC overlay of ``ienfd analyze``).
ROLE_COLOURS = {
    "dej": "orange",
    "surface": "cyan",
    "fibres_auto": "yellow",
    "fibres_manual": "lime",
    "fragments": "red",
    "short_fibres": "white",
    "epidermis_paint": "magenta",
}
#: Marker size and line width on screen, in µm.
POINT_UM = 9.0
LINE_UM = 2.0


def layer_info(layer: Any) -> dict[str, Any]:
    """What ienfd wrote into a layer's ``metadata["ienfd"]`` (empty for another layer)."""
    info = layer.metadata.get("ienfd") if isinstance(layer.metadata, dict) else None
    return info if isinstance(info, dict) else {}


def list_image_layers(combo: Any, layers: Any) -> None:
    """Fill a combo box with the image layers a panel works on (not membrane channels).

    The current choice is kept when its layer is still there.
    """
    from napari.layers import Image

    names = [
        layer.name
        for layer in layers
        if isinstance(layer, Image) and layer_info(layer).get("role") != "membrane"
    ]
    current = combo.currentText()
    combo.clear()
    combo.addItems(names)
    if current in names:
        combo.setCurrentText(current)


def _spatial(pixel_size_um: float) -> dict[str, Any]:
    return {"scale": (pixel_size_um, pixel_size_um), "units": ("µm", "µm")}


def _contrast(plane: np.ndarray) -> tuple[float, float]:
    sample = plane[:: max(1, plane.shape[0] // 512), :: max(1, plane.shape[1] // 512)]
    lo, hi = np.percentile(sample, [0.5, 99.9])
    return float(lo), float(max(hi, lo + 1e-6))


def image_layers(section: SectionImage, *, name: str | None = None) -> list[LayerDataTuple]:
    """Image layers of a section: one RGB layer, or one layer per fluorescence channel.

    Fluorescence channels are separate named layers (PGP 9.5 green, collagen
    IV magenta, additive blending).
    """
    stem = name or image_stem(Path(section.path).name)
    info = {
        "path": section.path,
        "section": section.path,
        "modality": section.modality,
        "pixel_size_um": section.pixel_size_um,
        "pixel_size_source": section.pixel_size.source,
        "channel_names": list(section.channel_names),
        "fibre_channel": section.fibre_channel,
        "membrane_channel": section.membrane_channel,
        "reader_warnings": list(section.warnings),
    }
    spatial = _spatial(section.pixel_size_um)
    if section.rgb is not None:
        meta = {"ienfd": {**info, "role": "image"}}
        return [(section.rgb, {"name": stem, "rgb": True, "metadata": meta, **spatial}, "image")]
    assert section.fibre is not None
    names = section.channel_names
    fibre_name = (
        names[section.fibre_channel] if section.fibre_channel is not None and names else "PGP 9.5"
    )
    layers: list[LayerDataTuple] = []
    if section.membrane is not None:
        m_idx = section.membrane_channel
        membrane_name = names[m_idx] if m_idx is not None and names else "collagen IV"
        layers.append(
            (
                section.membrane,
                {
                    "name": f"{stem} {membrane_name}",
                    "colormap": "magenta",
                    "blending": "additive",
                    "contrast_limits": _contrast(section.membrane),
                    "metadata": {"ienfd": {**info, "role": "membrane"}},
                    **spatial,
                },
                "image",
            )
        )
    layers.append(
        (
            section.fibre,
            {
                "name": f"{stem} {fibre_name}",
                "colormap": "green",
                "blending": "additive",
                "contrast_limits": _contrast(section.fibre),
                "metadata": {"ienfd": {**info, "role": "fibre"}},
                **spatial,
            },
            "image",
        )
    )
    return layers


def _points_array(items: list[dict[str, float]]) -> np.ndarray:
    return np.array([[p["row"], p["col"]] for p in items], dtype=float).reshape(-1, 2)


def fibre_features(sources: list[str]) -> pd.DataFrame:
    """The fibres layer's features: ``source`` in {auto, manual}."""
    return pd.DataFrame({"source": pd.Categorical(sources, categories=["auto", "manual"])})


def result_layers(
    record: dict[str, Any],
    *,
    section: str,
    result_json: str,
    fibres: np.ndarray,
    sources: list[str],
    dej: list[np.ndarray],
    surface: list[np.ndarray],
    name: str,
) -> list[LayerDataTuple]:
    """Result layers: fragments, short fibres, surface, DEJ and (last) the counted fibres.

    ``fibres``/``sources``/``dej``/``surface`` are the state to show (the
    automatic result, or a restored correction); fragments and short fibres
    come from ``record``. The fibres layer comes last so that when it is
    inserted the others are already in the viewer.
    """
    px = float(record["pixel_size_um"])
    spatial = _spatial(px)

    def meta(role: str) -> dict[str, Any]:
        return {"ienfd": {"role": role, "section": section, "result_json": result_json}}

    point_size = POINT_UM / px
    line_width = LINE_UM / px
    layers: list[LayerDataTuple] = []
    for role, symbol in (("fragments", "square"), ("short_fibres", "triangle_down")):
        layers.append(
            (
                _points_array(record.get(role) or []),
                {
                    "name": f"{name} {role.replace('_', ' ')} (not counted)",
                    "symbol": symbol,
                    "size": point_size,
                    "face_color": "transparent",
                    "border_color": ROLE_COLOURS[role],
                    "border_width": 0.15,
                    "metadata": meta(role),
                    "visible": role == "fragments",
                    **spatial,
                },
                "points",
            )
        )
    for role, lines in (("surface", surface), ("dej", dej)):
        layers.append(
            (
                [np.asarray(line, float) for line in lines],
                {
                    "name": f"{name} {'DEJ' if role == 'dej' else 'surface'}",
                    "shape_type": "path",
                    "edge_color": ROLE_COLOURS[role],
                    "edge_width": line_width,
                    "metadata": meta(role),
                    **spatial,
                },
                "shapes",
            )
        )
    layers.append(
        (
            np.asarray(fibres, float).reshape(-1, 2),
            {
                "name": f"{name} fibres",
                "features": fibre_features(sources),
                "feature_defaults": {"source": "manual"},
                "face_color": "source",
                "face_color_cycle": {
                    "auto": ROLE_COLOURS["fibres_auto"],
                    "manual": ROLE_COLOURS["fibres_manual"],
                },
                "border_color": "black",
                "size": point_size,
                "metadata": meta("fibres"),
                **spatial,
            },
            "points",
        )
    )
    return layers


def epidermis_mask(
    dej: list[np.ndarray], surface: list[np.ndarray], shape: tuple[int, int]
) -> np.ndarray:
    """The epidermis between DEJ and surface lines, as a (M, N) uint8 mask (1 inside).

    Each DEJ line is closed with the surface line whose ends lie nearest its
    own (run the other way round, so that the outline does not cross
    itself): the start of a painting that the technician then corrects.
    """
    from skimage.draw import polygon

    mask = np.zeros(shape, dtype=np.uint8)
    for line in dej:
        if not surface:
            break
        line = np.asarray(line, float)

        def gap(other: np.ndarray, line: np.ndarray = line) -> float:
            return float(
                min(
                    np.hypot(*(line[0] - other[0])) + np.hypot(*(line[-1] - other[-1])),
                    np.hypot(*(line[0] - other[-1])) + np.hypot(*(line[-1] - other[0])),
                )
            )

        top = np.asarray(min(surface, key=gap), float)
        if np.hypot(*(line[-1] - top[-1])) < np.hypot(*(line[-1] - top[0])):
            top = top[::-1]
        ring = np.concatenate([line, top])
        rows, cols = polygon(ring[:, 0], ring[:, 1], shape=shape)
        mask[rows, cols] = 1
    return mask


def paint_layer(
    mask: np.ndarray, *, pixel_size_um: float, section: str, result_json: str
) -> LayerDataTuple:
    """A Labels layer to paint the epidermis in (label 1), over the section's other layers."""
    meta = {"ienfd": {"role": "epidermis_paint", "section": section, "result_json": result_json}}
    return (
        mask,
        {
            "name": "epidermis (paint)",
            "opacity": 0.35,
            "metadata": meta,
            **_spatial(pixel_size_um),
        },
        "labels",
    )
