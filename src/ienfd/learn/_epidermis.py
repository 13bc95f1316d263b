"""From a pixel model's classes to the epidermis the count is made across.

The model's epidermis (cleaned of specks and pinholes) is handed to the
analysis as a given junction: the DEJ is the part of its outline that faces
the dermis, and the fibres are counted across it by the same rule as ever.
What the model cannot vouch for is said: an epidermis in many pieces, or a
section where the model is unsure of most pixels, needs review.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from ienfd.core import (
    AnalysisError,
    AnalysisParameters,
    GivenJunction,
    SectionResult,
    analyze_section,
    trace_junction,
)
from ienfd.learn._model import BACKGROUND, EPIDERMIS, PixelModel, classes_from_proba

__all__ = ["ModelEpidermis", "analyze_with_model", "model_epidermis", "model_junction"]

# Pieces of model epidermis smaller than this (µm²) are specks, not epidermis:
# a 100 µm stretch 20 µm thick.
_MIN_PIECE_UM2 = 2000.0
# Holes smaller than this (µm²) inside the epidermis are filled (a pale cell, a duct).
_MAX_HOLE_UM2 = 2500.0
# Review limits: the epidermis should be one band, or a few long pieces.
_MAX_PIECES = 3
_MIN_LARGEST_FRACTION = 0.7
# Working pixels of no tissue put around the frame before the junction is traced.
_FRAME_MARGIN_PX = 3
# Background pieces smaller than this (µm²) are taken for tissue, not glass.
_MIN_GLASS_UM2 = 50_000.0
# Pieces smaller than this fraction of the largest are dropped.
_MIN_PIECE_OF_LARGEST = 0.2
# The mean probability of the chosen class over the section below which the
# model is taken to be unsure (a stain unlike the one it was trained on).
_MIN_CONFIDENCE = 0.6


@dataclass(frozen=True)
class ModelEpidermis:
    """The epidermis a pixel model found, and what it says about its trust.

    Attributes
    ----------
    mask : (M, N) ndarray of bool
        The epidermis at the image's full resolution.
    classes : (m, n) ndarray of uint8
        Class codes at the model's working resolution.
    epidermis, tissue : (m, n) ndarray of bool
        The cleaned epidermis and the tissue (every class but background) at
        the working resolution.
    qc : dict
        ``model_epidermis_pieces``, ``model_largest_piece_fraction``,
        ``model_confidence``.
    reasons : list of str
        Why the model's epidermis needs a look (empty when it is plausible).
    """

    mask: np.ndarray
    classes: np.ndarray
    epidermis: np.ndarray
    tissue: np.ndarray
    qc: dict[str, float | int | None] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def model_epidermis(
    model: PixelModel,
    image: np.ndarray,
    *,
    spacing: float,
    membrane: np.ndarray | None = None,
) -> ModelEpidermis:
    """The cleaned epidermis of a section as a pixel model sees it.

    Parameters
    ----------
    model : PixelModel
    image : (M, N, 3) or (M, N) ndarray
    spacing : float
        Pixel size in µm.
    membrane : (M, N) ndarray, optional

    Returns
    -------
    ModelEpidermis

    Raises
    ------
    AnalysisError
        The model finds no epidermis of at least 2000 µm² in the section.
    """
    proba = model.predict_proba(image, spacing=spacing, membrane=membrane)
    classes = classes_from_proba(proba, model.classes)
    working = model.spec.working_um
    area_px = working**2
    epidermis = classes == EPIDERMIS
    epidermis |= ~_keep_large(~epidermis, _MAX_HOLE_UM2 / area_px)  # fill small holes
    epidermis = _keep_large(epidermis, _MIN_PIECE_UM2 / area_px)
    pieces, n = ndi.label(epidermis)
    if n == 0:
        raise AnalysisError(
            f"the pixel model{_lab(model)} found no epidermis in the section (no piece of "
            f"{_MIN_PIECE_UM2:g} µm² or more): is this the stain and tissue it was trained on?"
        )
    sizes = np.bincount(pieces.ravel())[1:]
    # Dense dermal infiltrates can look like epidermis: a piece far smaller than the
    # largest is dropped (and counted in qc), so no junction is drawn around it.
    kept = np.flatnonzero(sizes >= _MIN_PIECE_OF_LARGEST * sizes.max()) + 1
    epidermis = np.isin(pieces, kept)
    largest = float(sizes.max() / sizes[kept - 1].sum())
    confidence = float(np.mean(proba.max(axis=-1)))
    reasons = []
    if len(kept) > _MAX_PIECES or largest < _MIN_LARGEST_FRACTION:
        reasons.append(
            f"the pixel model's epidermis is in {len(kept)} pieces (the largest "
            f"{largest:.0%} of it): check the junction by eye, or paint this section and "
            "train again"
        )
    if confidence < _MIN_CONFIDENCE:
        reasons.append(
            f"the pixel model is unsure on this section (mean confidence {confidence:.2f}, "
            f"below {_MIN_CONFIDENCE}): the stain may differ from the sections it was "
            "trained on"
        )
    shape = (int(np.shape(image)[0]), int(np.shape(image)[1]))
    mask = _to_full(epidermis, shape)
    qc: dict[str, float | int | None] = {
        "model_epidermis_pieces": len(kept),
        "model_pieces_dropped": int(n - len(kept)),
        "model_largest_piece_fraction": round(largest, 4),
        "model_confidence": round(confidence, 4),
    }
    # Glass is a large expanse; smaller pale patches are tissue (a pale dermis,
    # vessel lumens, tears), or the dermis would seem to end there.
    tissue = ~_keep_large(classes == BACKGROUND, _MIN_GLASS_UM2 / area_px)
    return ModelEpidermis(
        mask=mask, classes=classes, epidermis=epidermis, tissue=tissue, qc=qc, reasons=reasons
    )


def model_junction(
    found: ModelEpidermis,
    *,
    working_um: float,
    shape: tuple[int, int],
    min_junction_um: float = 100.0,
    smooth_um: float = 2.0,
    source: str = "",
) -> GivenJunction:
    """The junction of a model's epidermis, traced against the model's own tissue.

    The DEJ is the part of the epidermis' outline that faces deep tissue
    (:func:`ienfd.core.trace_junction`); the tissue is the model's (every
    class but background), so a section without glass in the frame, or with
    a pale dermis, is split as the model sees it.

    Raises
    ------
    AnalysisError
        No outline of at least ``min_junction_um`` faces the dermis.
    """
    # A margin of no tissue around the frame: beyond the frame nothing is known,
    # and an epidermis touching the frame's edge must not seem to face deep tissue there.
    pad = _FRAME_MARGIN_PX
    traces = trace_junction(
        np.pad(found.epidermis, pad),
        np.pad(found.tissue | found.epidermis, pad),
        spacing=working_um,
        min_length_um=min_junction_um,
        smooth_um=smooth_um,
    )
    if not traces:
        raise AnalysisError(
            "the pixel model's epidermis has no outline facing the dermis of at least "
            f"{min_junction_um:g} µm: no DEJ to count across"
        )
    scale = np.array(
        [shape[0] / found.epidermis.shape[0], shape[1] / found.epidermis.shape[1]], dtype=float
    )

    def full(line: np.ndarray) -> np.ndarray:  # working pixel centres to full-resolution pixels
        line = np.clip(line - pad, -0.5, np.array(found.epidermis.shape) - 0.5)
        return (line + 0.5) * scale - 0.5

    return GivenJunction(
        dej=tuple(full(t.dej) for t in traces),
        surface=tuple(full(t.surface) for t in traces if len(t.surface) >= 2),
        epidermis=found.mask,
        source=source,
    )


def _keep_large(mask: np.ndarray, min_px: float) -> np.ndarray:
    """The connected pieces of ``mask`` of at least ``min_px`` pixels."""
    pieces, n = ndi.label(mask)
    keep = np.bincount(pieces.ravel(), minlength=n + 1) >= min_px
    keep[0] = False
    return np.asarray(keep[pieces])


def _lab(model: PixelModel) -> str:
    return f" ({model.lab})" if model.lab else ""


def _to_full(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A working-resolution mask at full resolution (linear interpolation, then half)."""
    zoom = (shape[0] / mask.shape[0], shape[1] / mask.shape[1])
    full = ndi.zoom(
        mask.astype(np.float32), zoom, order=1, mode="nearest", grid_mode=True, output=np.float32
    )
    full = full[: shape[0], : shape[1]]
    if full.shape != shape:
        full = np.pad(
            full, [(0, shape[0] - full.shape[0]), (0, shape[1] - full.shape[1])], mode="edge"
        )
    return full >= 0.5


def analyze_with_model(
    image: np.ndarray,
    model: PixelModel,
    *,
    spacing: float,
    source: str = "",
    membrane: np.ndarray | None = None,
    **arguments: Any,
) -> SectionResult:
    """Count a section's fibres across the junction of a pixel model's epidermis.

    Parameters
    ----------
    image : (M, N, 3) or (M, N) ndarray
    model : PixelModel
    spacing : float
        Pixel size in µm.
    source : str
        Recorded as the result's ``junction_source`` (the model file's sha256).
    membrane : (M, N) ndarray, optional
    **arguments
        Passed on to :func:`ienfd.core.analyze_section` (``modality``,
        ``length_basis``, ``parameters``).

    Returns
    -------
    SectionResult
        With ``junction_method`` "model", the model's checks in ``qc`` and
        any doubt about its epidermis in ``qc_reasons`` (``needs_review``).

    Raises
    ------
    AnalysisError
        The model finds no epidermis, or no junction along it.
    """
    found = model_epidermis(model, image, spacing=spacing, membrane=membrane)
    params = arguments.get("parameters") or AnalysisParameters()
    junction = model_junction(
        found,
        working_um=model.spec.working_um,
        shape=(int(np.shape(image)[0]), int(np.shape(image)[1])),
        min_junction_um=params.min_junction_um,
        smooth_um=params.junction_smooth_um,
        source=source,
    )
    result = analyze_section(
        image, spacing=spacing, membrane=membrane, junction=junction, **arguments
    )
    return replace(
        result,
        junction_method="model",
        qc={**result.qc, **found.qc},
        qc_reasons=[*found.reasons, *result.qc_reasons],
    )
