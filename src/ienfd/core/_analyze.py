"""One section image in, its intraepidermal nerve fibre count out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import shapely
from scipy import ndimage as ndi
from skimage import measure

from ienfd.core._bodies import without_attached_bodies
from ienfd.core._counting import CrossingCount, count_crossings, skeleton_points
from ienfd.core._epidermis import (
    frame_filled,
    segment_epidermis_brightfield,
    segment_epidermis_fluorescence,
    without_outer_glass,
)
from ienfd.core._fibres import enhance_fibres, iter_blocks, segment_fibres, threshold_base
from ienfd.core._frame import Frame, canonical_frame
from ienfd.core._given import GivenJunction, given_geometry
from ienfd.core._junction import (
    JunctionTrace,
    pieces_at_surface,
    refine_junction,
    trace_junction,
)
from ienfd.core._polyline import polyline_length
from ienfd.core._preprocess import (
    HAEMATOXYLIN_FREE,
    block_mean,
    block_to_full,
    block_window,
    channel_max,
    channel_mean,
    expand_blocks,
    fit_background,
    flat_background,
    lower_surface,
    optical_density,
    robust_scale,
    suppress_fibres,
)
from ienfd.core._qc import QualityLimits, assess_section, counterstain_index, settle_counterstain
from ienfd.core._recount import FibreTrace, JunctionBasis
from ienfd.core._tissue import (
    above_floor,
    constant_padding,
    fill_holes,
    pieces_touching,
    segment_tissue,
    textured_beyond,
)

__all__ = ["AnalysisError", "AnalysisParameters", "SectionResult", "analyze_section"]

logger = logging.getLogger(__name__)

LengthBasis = Literal["dej", "surface"]


class AnalysisError(ValueError):
    """The image holds no analysable section (no tissue, no epidermis, ...)."""


class _NoJunctionError(AnalysisError):
    """Tissue, but no epidermis with a junction in it (see :func:`_flat_tissue_if_no_junction`)."""


# The accepted closed range of every analysis parameter (lengths in µm,
# thresholds in robust standard deviations, block_px in pixels).
_PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "junction_resolution_um": (0.1, 10.0),
    "tissue_smooth_um": (0.5, 100.0),
    "epidermis_opening_um": (0.5, 50.0),
    "epidermis_opening_fluorescence_um": (0.5, 50.0),
    "junction_smooth_um": (0.0, 50.0),
    "min_junction_um": (0.0, 10_000.0),
    "membrane_search_um": (0.5, 50.0),
    "dermal_band_um": (1.0, 200.0),
    "fibre_width_um": (0.1, 10.0),
    "threshold_low": (0.5, 100.0),
    "threshold_high": (0.5, 100.0),
    "min_fibre_um": (0.0, 100.0),
    "close_gap_um": (0.0, 10.0),
    "min_depth_um": (0.0, 100.0),
    "rise_um": (0.0, 200.0),
    "rise_depth_um": (0.0, 100.0),
    "min_dermal_um": (0.0, 100.0),
    "min_dermal_brightfield_um": (0.0, 100.0),
    "dej_tolerance_um": (0.0, 50.0),
    "merge_um": (0.0, 100.0),
    "min_fragment_um": (0.0, 100.0),
    "end_margin_um": (0.0, 100.0),
    "block_px": (32, 8192),
}


@dataclass(frozen=True)
class AnalysisParameters:
    """Every tunable of the analysis, with the defaults validated in docs/validation.md.

    Lengths are in µm. Pipelines (``pipelines/*.json``) hold a full copy of these.
    Each value is checked on construction: a value outside its accepted range
    (or ``threshold_low > threshold_high``) is a ``ValueError`` naming the
    field, the value and the range.
    """

    junction_resolution_um: float = 1.5
    tissue_smooth_um: float = 6.0
    epidermis_opening_um: float = 6.0
    epidermis_opening_fluorescence_um: float = 10.0
    junction_smooth_um: float = 2.0
    min_junction_um: float = 100.0
    membrane_search_um: float = 5.0
    dermal_band_um: float = 30.0
    fibre_width_um: tuple[float, ...] = (0.8, 1.6)
    threshold_low: float = 5.0
    threshold_high: float = 8.0
    min_fibre_um: float = 3.0
    close_gap_um: float = 0.8
    min_depth_um: float = 5.0
    rise_um: float = 25.0
    rise_depth_um: float = 5.0
    min_dermal_um: float = 3.0
    # Bright-field: the basal layer's nuclei (a counterstain's, or unstained
    # but dense) lie across the junction, and their traces reach a few µm
    # below it; a crossing's dermal trace reaches past that band (one basal
    # cell, ~10 µm, as in merge_um). See docs/algorithm.md, "Counting".
    min_dermal_brightfield_um: float = 10.0
    dej_tolerance_um: float = 4.0
    merge_um: float = 10.0
    min_fragment_um: float = 3.0
    end_margin_um: float = 5.0
    block_px: int = 256

    def __post_init__(self) -> None:
        for name, (low, high) in _PARAMETER_RANGES.items():
            value = getattr(self, name)
            values = value if isinstance(value, tuple) else (value,)
            if name == "fibre_width_um" and not values:
                raise ValueError("fibre_width_um must name at least one width in µm, got ()")
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int | float) or not low <= v <= high:
                    raise ValueError(
                        f"analysis parameter {name} must be a number in [{low}, {high}], "
                        f"got {value!r}"
                    )
        if self.threshold_low > self.threshold_high:
            raise ValueError(
                f"threshold_low ({self.threshold_low}) must not exceed threshold_high "
                f"({self.threshold_high}): hysteresis keeps weak pixels joined to strong ones"
            )
        if not isinstance(self.block_px, int) or isinstance(self.block_px, bool):
            raise ValueError(
                f"analysis parameter block_px must be an integer, got {self.block_px!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def junction_block(self, spacing: float) -> int:
        """Block size, in pixels of ``spacing`` µm, of the junction search's low resolution."""
        return max(1, round(self.junction_resolution_um / spacing))

    def counting_rule(self, modality: str) -> dict[str, float]:
        """The counting rule's keywords of :func:`count_crossings`, from these parameters.

        The analysis and a recount (:func:`ienfd.core.recount_section`) count by
        the same rule: both pass these. ``modality`` picks the dermal reach a
        crossing needs (``min_dermal_brightfield_um`` in bright-field,
        ``min_dermal_um`` in fluorescence).
        """
        if modality not in ("brightfield", "fluorescence"):
            raise ValueError(f"modality must be 'brightfield' or 'fluorescence', got {modality!r}")
        return {
            "min_depth_um": self.min_depth_um,
            "min_dermal_um": (
                self.min_dermal_brightfield_um if modality == "brightfield" else self.min_dermal_um
            ),
            "dej_tolerance_um": self.dej_tolerance_um,
            "merge_um": self.merge_um,
            "rise_um": self.rise_um,
            "rise_depth_um": self.rise_depth_um,
            "min_fragment_um": self.min_fragment_um,
            "end_margin_um": self.end_margin_um,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AnalysisParameters:
        """Build from a mapping; unknown keys are an error naming them.

        A full set written before ``min_dermal_brightfield_um`` existed (a
        result's, every other parameter present) counted bright-field
        crossings with ``min_dermal_um``: it keeps that rule, so that a
        result reopened for review is recounted as it was counted.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown analysis parameter(s) {unknown}; known parameters are {sorted(known)}"
            )
        if set(values) == known - {"min_dermal_brightfield_um"}:
            values = {**values, "min_dermal_brightfield_um": values["min_dermal_um"]}
        cleaned = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**cleaned)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SectionResult:
    """Everything the analysis of one section found.

    Coordinates are (row, col) in pixels of the analysed image.
    """

    modality: str
    pixel_size_um: float
    count: int
    crossings: np.ndarray
    fragments: np.ndarray
    short_fibres: np.ndarray
    secondary_branches: int
    dej: list[np.ndarray]
    surface: list[np.ndarray]
    dej_length_um: float
    surface_length_um: float
    length_basis: LengthBasis
    density_per_mm: float
    junction_method: str
    epidermis_area_mm2: float
    warnings: list[str] = field(default_factory=list)
    parameters: AnalysisParameters = field(default_factory=AnalysisParameters)
    qc: dict[str, float | int | None] = field(default_factory=dict)
    qc_reasons: list[str] = field(default_factory=list)
    junction_source: str = ""
    #: The fibres traced, kept to count them again across an edited junction
    #: (:func:`ienfd.core.recount_section`); not part of :meth:`to_dict`.
    trace: FibreTrace | None = field(default=None, repr=False, compare=False)

    @property
    def needs_review(self) -> bool:
        """True when a quality check failed: the count must be confirmed by eye.

        ``qc_reasons`` says why, in words; ``qc`` holds every check's value.
        """
        return bool(self.qc_reasons)

    def moved(self, offset: tuple[int, int], shape: tuple[int, int]) -> SectionResult:
        """The result of a window of an image, in the pixels of the image.

        ``offset`` is the window's first pixel, ``shape`` the image's.
        """
        if not any(offset) and (self.trace is None or self.trace.shape == tuple(shape)):
            return self
        shift = np.asarray(offset, dtype=float)
        trace = self.trace
        if trace is not None:
            basis = trace.basis
            trace = replace(
                trace,
                origin=(trace.origin[0] + offset[0], trace.origin[1] + offset[1]),
                shape=shape,
                basis=None if basis is None else basis.moved(shift),
            )
        return replace(
            self,
            crossings=self.crossings + shift,
            fragments=self.fragments + shift,
            short_fibres=self.short_fibres + shift,
            dej=[line + shift for line in self.dej],
            surface=[line + shift for line in self.surface],
            trace=trace,
        )

    def turned_back(self, frame: Frame) -> SectionResult:
        """The result of an image turned into ``frame``, in the pixels of the image.

        The trace stays in the analysis frame and keeps ``frame``
        (:attr:`FibreTrace.frame`), so that a recount runs on the pixels the
        analysis counted.
        """
        if frame.identity:
            return self
        back = frame.points_back
        trace = self.trace
        return replace(
            self,
            crossings=back(self.crossings),
            fragments=back(self.fragments),
            short_fibres=back(self.short_fibres),
            dej=[back(line) for line in self.dej],
            surface=[back(line) for line in self.surface],
            trace=None if trace is None else replace(trace, frame=frame),
        )

    @property
    def mean_epidermal_thickness_um(self) -> float:
        """Epidermal area divided by DEJ length."""
        if self.dej_length_um <= 0:
            return float("nan")
        return self.epidermis_area_mm2 * 1e6 / self.dej_length_um

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary following the output contract of docs/output.md."""
        return {
            "modality": self.modality,
            "pixel_size_um": self.pixel_size_um,
            "count": self.count,
            "crossings": [{"row": float(r), "col": float(c)} for r, c in self.crossings],
            "dej_length_um": round(self.dej_length_um, 2),
            "surface_length_um": round(self.surface_length_um, 2),
            "density_per_mm": round(self.density_per_mm, 3),
            "length_basis": self.length_basis,
            "density_per_mm_dej": _density(self.count, self.dej_length_um),
            "density_per_mm_surface": _density(self.count, self.surface_length_um),
            "n_fragments": len(self.fragments),
            "fragments": [{"row": float(r), "col": float(c)} for r, c in self.fragments],
            "n_short_fibres": len(self.short_fibres),
            "short_fibres": [{"row": float(r), "col": float(c)} for r, c in self.short_fibres],
            "n_secondary_branches": self.secondary_branches,
            "junction_method": self.junction_method,
            **({"junction_source": self.junction_source} if self.junction_source else {}),
            "n_junction_pieces": len(self.dej),
            "epidermis_area_mm2": round(self.epidermis_area_mm2, 5),
            "mean_epidermal_thickness_um": round(self.mean_epidermal_thickness_um, 1),
            "dej": [np.round(line, 1).tolist() for line in self.dej],
            "surface": [np.round(line, 1).tolist() for line in self.surface],
            "warnings": list(self.warnings),
            "needs_review": self.needs_review,
            "qc_reasons": list(self.qc_reasons),
            "qc": dict(self.qc),
            "parameters": self.parameters.to_dict(),
        }


def _density(count: int, length_um: float) -> float | None:
    return round(count / (length_um / 1000.0), 3) if length_um > 0 else None


def analyze_section(
    image: np.ndarray,
    *,
    spacing: float,
    modality: Literal["brightfield", "fluorescence"] | None = None,
    membrane: np.ndarray | None = None,
    length_basis: LengthBasis = "dej",
    parameters: AnalysisParameters | None = None,
    junction: GivenJunction | None = None,
) -> SectionResult:
    """Count the intraepidermal nerve fibres of one section.

    Parameters
    ----------
    image : (M, N, 3) or (M, N) ndarray
        Bright-field RGB, or the fluorescence PGP 9.5 (fibre) channel.
    spacing : float
        Pixel size in µm (square pixels).
    modality : {'brightfield', 'fluorescence'}, optional
        Inferred from the shape when omitted: (M, N, 3) is bright-field.
    membrane : (M, N) ndarray, optional
        Fluorescence collagen IV channel; without it the junction is found
        from the tissue.
    length_basis : {'dej', 'surface'}
        Which length the density is per mm of. Default 'dej' (see docs).
    parameters : AnalysisParameters, optional
    junction : GivenJunction, optional
        A junction drawn by a person: the junction search is skipped and the
        fibres are counted across this one (``junction_method`` "given").

    Returns
    -------
    SectionResult

    Raises
    ------
    ValueError
        A bad argument (shape, spacing, basis, NaN values).
    AnalysisError
        No tissue, or no epidermis with a junction, in the image. A
        fluorescence section with tissue but no junction is first analysed
        once more on a flattened field (:func:`_flat_tissue_if_no_junction`);
        the error then says whether a junction found there was doubted.

    Notes
    -----
    Bright-field fibres are traced in the mean optical density of the three
    channels. A section whose epidermis is bluer than its dermis
    (``qc["haematoxylin_index"]`` above 0: a nuclear counterstain, or some
    brown sections without one) is traced a second time in the
    haematoxylin-free optical density (:data:`ienfd.core._preprocess.HAEMATOXYLIN_FREE`),
    and that trace is the result's when it counts more crossings with no more
    reasons for review, or as many (more than none) with fewer reasons;
    ``qc`` says which (``count_mean_od``, ``count_haematoxylin_free``,
    ``haematoxylin_free_trace``). See docs/algorithm.md, step 8.

    Examples
    --------
    A short synthetic section; one of its four crossings is missed here:

    >>> from ienfd.synthetic import SectionSpec, generate_section
    >>> section = generate_section(SectionSpec(seed=1, length_um=400, pixel_size_um=0.6))
    >>> result = analyze_section(section.image, spacing=0.6)
    >>> result.count, section.truth["count"], result.needs_review
    (3, 4, False)
    """
    params = parameters or AnalysisParameters()
    image = np.asarray(image)
    modality = _check_inputs(image, spacing, modality, membrane, length_basis)
    # The analysis runs in one frame for all eight turned and mirrored copies
    # of a section (canonical_frame), on the whole blocks of its low
    # resolution centred on the image (a few edge pixels dropped): see
    # block_window.
    frame = canonical_frame(image, modality)
    if junction is not None:
        junction = junction.turned(frame)
    image = frame.array(image)
    factor = params.junction_block(spacing)
    rows, cols = block_window(image.shape, factor)
    shape = (int(image.shape[0]), int(image.shape[1]))
    if junction is not None:
        junction = junction.in_window(rows, cols, shape)
    window = image[rows, cols]
    membrane_window = None if membrane is None else frame.array(np.asarray(membrane))[rows, cols]

    def analyse(fibre_only_tissue: bool | None, flat: bool = False) -> SectionResult:
        return _analyze_window(
            window,
            spacing=spacing,
            modality=modality,
            membrane=membrane_window,
            length_basis=length_basis,
            params=params,
            junction=junction,
            factor=factor,
            fibre_only_tissue=fibre_only_tissue,
            flat_tissue=flat,
        )

    def analyse_fluorescence(flat: bool) -> SectionResult:
        if membrane_window is None:
            return analyse(None, flat)
        return _tissue_from_fibre_if_better(lambda fibre_only: analyse(fibre_only, flat))

    if modality == "brightfield" or junction is not None:
        # No second opinion to choose: bright-field ignores a membrane channel.
        result = analyse(None)
    else:
        result = _flat_tissue_if_no_junction(analyse_fluorescence)
    return result.moved((rows.start, cols.start), shape).turned_back(frame)


def _tissue_from_fibre_if_better(
    analyse: Callable[[bool | None], SectionResult],
) -> SectionResult:
    """A fluorescence analysis, run again on the tissue of the fibre channel alone if need be.

    The tissue is found first in the sum of the two channels: collagen IV
    shows a dermis that is dark in PGP 9.5. But collagen IV gives the
    epidermis nothing, and a collagen IV channel whose glass is as bright as
    the epidermis (mounting medium, an uneven field) takes that glass in with
    the tissue: the epidermis band is then lost, or the wrong side of the
    membrane line is taken. When the first analysis finds no junction, or
    needs review, the section is analysed again with the tissue found in the
    fibre channel alone (its diffuse signal sets the epidermis off from the
    glass), and that result is kept when it has fewer reasons for review, or
    the first found no junction. ``qc["tissue_fibre_only"]`` says which (1:
    the second), and ``warnings`` says so when the second is kept; a
    drawn junction is never searched again.
    """
    try:
        first: SectionResult | None = analyse(False)
        error: AnalysisError | None = None
    except AnalysisError as err:
        first, error = None, err
    if first is not None and not first.needs_review:
        return first
    try:
        second = analyse(True)
    except AnalysisError:
        if first is None:
            assert error is not None
            raise error from None
        return first
    if first is not None and len(second.qc_reasons) >= len(first.qc_reasons):
        return first
    before = (
        "found no junction"
        if first is None
        else f"needed review for {len(first.qc_reasons)} reason(s)"
    )
    second.warnings.append(
        "tissue found in the fibre channel alone: with the collagen IV channel (its glass as "
        f"bright as the tissue?) the analysis {before}"
    )
    return second


def _flat_tissue_if_no_junction(analyse: Callable[[bool], SectionResult]) -> SectionResult:
    """A fluorescence analysis, run again on a flattened field when it finds no junction.

    ``analyse(False)`` finds the tissue on the signal as it is. When that
    finds tissue but no junction in it (:class:`_NoJunctionError`, with either tissue mask of
    :func:`_tissue_from_fibre_if_better`), the section is analysed again with
    the tissue found above a floor fitted under the field
    (:func:`~ienfd.core._tissue.above_floor`): glass brightened by vignetting
    or mounting medium no longer joins the tissue and hides its edge. That
    second analysis is kept only when it needs no review
    (``qc["tissue_flattened"]`` 1, and ``warnings`` says so): a junction
    found on a guessed floor that its own checks doubt was, on every such
    development section, a piece of the junction with a count to match
    (7 of 11, 3 of 18), no better than the refusal. Otherwise the first
    analysis's error is raised, saying that a doubtful junction was found.
    """
    try:
        return analyse(False)
    except _NoJunctionError as err:
        error = err
    try:
        result = analyse(True)
    except AnalysisError:
        raise error from None
    if result.needs_review:
        raise _NoJunctionError(
            f"{error}; on the field flattened under a fitted floor a junction was found, but its "
            "checks doubt it, so it is not reported"
        ) from None
    result.warnings.append(
        "tissue found above a floor fitted under the field (glass brighter in the centre "
        "than at the corners?): on the field as it is, no junction was found"
    )
    return result


def _analyze_window(
    image: np.ndarray,
    *,
    spacing: float,
    modality: Literal["brightfield", "fluorescence"],
    membrane: np.ndarray | None,
    length_basis: LengthBasis,
    params: AnalysisParameters,
    junction: GivenJunction | None,
    factor: int,
    fibre_only_tissue: bool | None = None,
    flat_tissue: bool = False,
) -> SectionResult:
    """:func:`analyze_section` on an image of whole ``factor`` blocks.

    With ``fibre_only_tissue``, fluorescence tissue is found in the fibre
    channel alone, not in the sum of the two channels (see
    :func:`_tissue_from_fibre_if_better`); False: in the sum; None: there
    was no choice (bright-field, no membrane channel, or a drawn junction),
    and ``qc["tissue_fibre_only"]`` is None. With ``flat_tissue``,
    fluorescence tissue is found above a floor fitted under the field
    (:func:`_flat_tissue_if_no_junction`); ``qc["tissue_flattened"]`` says
    so (None in bright-field and with a drawn junction).
    """
    spacing_lr = spacing * factor
    shape = (int(image.shape[0]), int(image.shape[1]))
    warnings: list[str] = []

    saturated = None
    glass_seen = True
    # Bright-field: the fibre signal with the nuclear counterstain left out.
    get_tile_haematoxylin_free: Callable[[slice, slice], np.ndarray] | None = None
    if modality == "brightfield":
        rgb_lr = block_mean(image, factor)
        # Any dtype or scale: clip at one 8-bit quantum of the white level before logs.
        floor = max(float(np.percentile(rgb_lr, 99.5)) / 256, float(np.finfo(np.float32).tiny))
        coef, glass_seen = _brightfield_background(rgb_lr, spacing_lr, params, floor=floor)
        od_rgb_lr = optical_density(
            rgb_lr, coef, full_shape=rgb_lr.shape[:2], per_channel=True, floor=floor
        )
        tissue = _brightfield_tissue(od_rgb_lr, spacing_lr, params)
        od_clean = suppress_fibres(od_rgb_lr, tissue, spacing=spacing_lr)
        if junction is None:
            epidermis = segment_epidermis_brightfield(
                od_clean, tissue, spacing=spacing_lr, opening_um=params.epidermis_opening_um
            )
        method = "tissue"

        def od_tiles(
            weights: tuple[float, float, float] | None,
        ) -> Callable[[slice, slice], np.ndarray]:
            def od_tile(rows: slice, cols: slice) -> np.ndarray:
                return optical_density(
                    image[rows, cols],
                    coef,
                    offset=(rows.start, cols.start),
                    full_shape=shape,
                    floor=floor,
                    weights=weights,
                )

            return od_tile

        get_tile = od_tiles(None)  # the mean over the channels
        get_tile_haematoxylin_free = od_tiles(HAEMATOXYLIN_FREE)

    else:
        # Each channel on its own robust scale: nothing below depends on the
        # channels' intensity units or their ratio.
        # A rotated or stitched micrograph's constant fill is outside the image,
        # not glass: it is left out of every level and threshold below.
        padding = constant_padding([image] if membrane is None else [image, membrane], factor)
        fibre_lr = _normalise(block_mean(image, factor), padding)
        membrane_lr = (
            _normalise(block_mean(membrane, factor), padding) if membrane is not None else None
        )
        signal = fibre_lr if membrane_lr is None or fibre_only_tissue else fibre_lr + membrane_lr
        if flat_tissue:
            signal = above_floor(
                signal, spacing=spacing_lr, smooth_um=params.tissue_smooth_um, outside=padding
            )
        tissue = segment_tissue(
            signal,
            spacing=spacing_lr,
            smooth_um=params.tissue_smooth_um,
            background_fraction=0.1,
            outside=padding,
        )
        _require_tissue(tissue)
        tissue = _with_faint_edge_band(
            signal, tissue, spacing=spacing_lr, smooth_um=params.tissue_smooth_um, outside=padding
        )
        if padding.any():
            logger.info("%.0f %% of the frame is constant fill, not glass", 100 * padding.mean())
        method = "tissue"
        if junction is None:
            epidermis, method = segment_epidermis_fluorescence(
                membrane_lr,
                fibre_lr,
                tissue,
                spacing=spacing_lr,
                opening_um=params.epidermis_opening_fluorescence_um,
            )
            if membrane is not None and method == "tissue":
                warnings.append("membrane channel too weak for the junction; found from the tissue")
            if method == "membrane":
                epidermis, tissue = without_outer_glass(
                    epidermis, tissue, fibre_lr, spacing=spacing_lr
                )

        def fibre_tile(rows: slice, cols: slice) -> np.ndarray:
            return np.asarray(image[rows, cols], dtype=np.float32)

        get_tile = fibre_tile

        saturated = _saturated_fraction(image, tissue, factor)

    if junction is None:
        try:
            epidermis, dej, surface, inside, body_areas_um2 = _search_junction(
                epidermis,
                tissue,
                od_clean if modality == "brightfield" else None,
                membrane,
                factor=factor,
                spacing_lr=spacing_lr,
                params=params,
            )
            if body_areas_um2:
                warnings.append(_bodies_left_out(body_areas_um2))
        except AnalysisError as err:
            if not glass_seen:
                raise type(err)(f"{err}; {_NO_GLASS}") from None
            border = np.concatenate([tissue[0], tissue[-1], tissue[:, 0], tissue[:, -1]])
            if frame_filled(tissue) or border.mean() > 0.25:
                raise type(err)(f"{err}; {_FRAME_CUT}") from None
            raise
    else:
        given = given_geometry(
            junction,
            tissue,
            factor=factor,
            spacing=spacing,
            shape=shape,
            min_junction_um=params.min_junction_um,
            smooth_um=params.junction_smooth_um,
        )
        epidermis, dej, surface, inside = given.epidermis_lr, given.dej, given.surface, given.inside
        warnings.extend(given.warnings)
        method = "given"
    haematoxylin = (
        counterstain_index(od_clean, epidermis, tissue) if modality == "brightfield" else None
    )

    band = epidermis | (
        ndi.binary_dilation(epidermis, iterations=max(1, round(params.dermal_band_um / spacing_lr)))
        & tissue
    )
    blocks = list(iter_blocks(band, factor, shape, block=params.block_px))
    region = _bounding_region(blocks)
    origin = np.array([region[0].start, region[1].start], dtype=float)
    region_shape = (region[0].stop - region[0].start, region[1].stop - region[1].start)
    band_full = expand_blocks(band, factor, *region)
    rule = params.counting_rule(modality)
    dej_length = sum(polyline_length(line) for line in dej) * spacing
    surface_length = sum(polyline_length(line) for line in surface) * spacing
    if len(dej) > 1:
        warnings.append(f"epidermis in {len(dej)} pieces; lengths and counts are summed")
    limits = _QC_LIMITS[modality]
    if haematoxylin is not None and haematoxylin > limits.counterstain_index:
        warnings.append(
            "nuclear (haematoxylin) counterstain in the epidermis: nuclei can be traced as "
            "fibres; counts on counterstained synthetic sections ran up to four times the truth"
        )
    pixel_jumps = _pixel_jump_fraction(image)

    def trace_fibres(
        get_tile: Callable[[slice, slice], np.ndarray], *, at_least: int = 0
    ) -> _Fibres:
        """Trace and count the fibres of one fibre signal, and assess the result.

        A trace that counts fewer than ``at_least`` crossings is returned
        unassessed (``qc_reasons`` None): it is not kept whatever its checks say.
        """
        response = enhance_fibres(
            get_tile,
            blocks,
            shape,
            region=region,
            spacing=spacing,
            fibre_width_um=(
                params.fibre_width_um
                if modality == "brightfield"
                else _fluorescence_widths(params.fibre_width_um)
            ),
            edges=modality == "brightfield",
        )
        # The thresholds' base (median and spread of the response in the band)
        # is the same for both counts below: computed once.
        ridge_scale = threshold_base(response, band_full)

        def trace_and_count(
            low: float, high: float, *, near_junction: bool = False
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, CrossingCount]:
            # near_junction: only the skeleton's pieces that reach the junction's
            # crossing tolerance, enough for the number of crossings (not for the
            # fragments or the fibres stopping short).
            skeleton = (
                np.zeros(response.shape, dtype=bool)
                if ridge_scale is None
                else segment_fibres(
                    response,
                    band_full,
                    spacing=spacing,
                    low=low,
                    high=high,
                    min_length_um=params.min_fibre_um,
                    close_um=params.close_gap_um,
                    scale=ridge_scale,
                    near=[line - origin for line in dej] if near_junction else None,
                    near_px=params.dej_tolerance_um / spacing,
                )
            )
            points = skeleton_points(skeleton)
            points_inside = inside(points + origin)
            found = count_on(skeleton, points, points_inside, rule)
            return skeleton, points, points_inside, found

        def count_on(
            skeleton: np.ndarray,
            points: np.ndarray,
            points_inside: np.ndarray,
            rule: dict[str, float],
        ) -> CrossingCount:
            # The counting rule needs the epidermis only where the skeleton is.
            epidermis_full = np.zeros(region_shape, dtype=bool)
            epidermis_full[points[:, 0], points[:, 1]] = points_inside
            return count_crossings(
                skeleton,
                epidermis_full,
                [line - origin for line in dej],
                spacing=spacing,
                **rule,
                surface=[line - origin for line in surface],
                ridge=response,
            )

        skeleton, points, points_inside, found = trace_and_count(
            params.threshold_low, params.threshold_high
        )
        if len(found.crossings) < at_least:
            return _Fibres(skeleton, points_inside, np.empty(0, np.float32), found, {}, None)
        # Self-assessment: the count again with the fibre thresholds lowered. A
        # count that rises steeply rests on fibres at the edge of the threshold
        # (faint or beaded fibres broken at the junction) or on noise.
        _, _, _, found_lower = trace_and_count(
            _LOWER_THRESHOLD * params.threshold_low,
            _LOWER_THRESHOLD * params.threshold_high,
            near_junction=True,
        )
        # And, in bright-field, with the shorter dermal reach of fluorescence: a
        # count that rises steeply rests on fibres broken just below the junction.
        count_short_reach = None
        if rule["min_dermal_um"] > params.min_dermal_um:
            found_reach = count_on(
                skeleton, points, points_inside, {**rule, "min_dermal_um": params.min_dermal_um}
            )
            count_short_reach = (
                len(found_reach.crossings),
                params.min_dermal_um,
                rule["min_dermal_um"],
            )
        # What a recount needs of the ridge response: its value along the
        # skeleton. (The response itself goes when this function returns; the
        # checks below allocate little beside it.)
        ridge = response[points[:, 0], points[:, 1]]
        qc, qc_reasons = assess_section(
            dej,
            surface,
            tissue,
            spacing=spacing,
            tissue_spacing=spacing_lr,
            count=len(found.crossings),
            n_short_fibres=len(found.short_fibres),
            n_fragments=found.epidermal_pieces,
            haematoxylin_index=haematoxylin,
            fibre_trace_um=float(len(points)) * spacing,
            saturated_fraction=saturated,
            pixel_jump_fraction=pixel_jumps,
            crossings=found.crossings + origin,
            count_lower_threshold=len(found_lower.crossings),
            count_short_reach=count_short_reach,
            junction_method=method,
            limits=limits,
        )
        return _Fibres(skeleton, points_inside, ridge, found, qc, qc_reasons)

    fibres = trace_fibres(get_tile)
    if (
        get_tile_haematoxylin_free is not None
        and haematoxylin is not None
        and haematoxylin > _HAEMATOXYLIN_FREE_ABOVE
    ):
        # A section whose epidermis is bluer than its dermis (a counterstain,
        # or some brown sections without one) is traced again in its
        # haematoxylin-free signal, where nuclei drop out and brown (DAB)
        # fibres stand out. That trace is kept when it counts more crossings
        # with no more reasons for review, or as many (more than none) with
        # fewer reasons: a blue-black SG fibre fades in it, and noise grows
        # (docs/algorithm.md, step 8). A trace that cannot be kept (fewer
        # crossings, or none at all) is not assessed.
        first_count = len(fibres.found.crossings)
        first_reasons = fibres.qc_reasons or []
        haematoxylin_free = trace_fibres(get_tile_haematoxylin_free, at_least=max(first_count, 1))
        free_count = len(haematoxylin_free.found.crossings)
        free_reasons = haematoxylin_free.qc_reasons
        kept = free_reasons is not None and (
            (free_count > first_count and len(free_reasons) <= len(first_reasons))
            or (free_count == first_count > 0 and len(free_reasons) < len(first_reasons))
        )
        if kept:
            fibres = haematoxylin_free
            warnings.append(
                "fibres traced in the haematoxylin-free optical density (nuclei left out of "
                "the fibre signal): it counted more crossings than the mean optical density "
                "with no more reasons for review, or as many with fewer"
            )
        fibres.qc["count_haematoxylin_free"] = free_count
        fibres.qc["count_mean_od"] = first_count
        fibres.qc["haematoxylin_free_trace"] = int(kept)
        fibres.qc["counterstain_count_change"] = abs(free_count - first_count)
        both_counts: tuple[int, int] | None = (free_count, first_count)
    else:
        brightfield = modality == "brightfield"
        fibres.qc["count_haematoxylin_free"] = None
        fibres.qc["count_mean_od"] = len(fibres.found.crossings) if brightfield else None
        fibres.qc["haematoxylin_free_trace"] = 0 if brightfield else None
        fibres.qc["counterstain_count_change"] = None
        both_counts = None
    # Which tissue mask a fluorescence section with a membrane channel used
    # (see _tissue_from_fibre_if_better); None where there was no choice.
    fibres.qc["tissue_fibre_only"] = None if fibre_only_tissue is None else int(fibre_only_tissue)
    # Whether that mask was found on the flattened field (_flat_tissue_if_no_junction).
    fibres.qc["tissue_flattened"] = (
        None if modality == "brightfield" or junction is not None else int(flat_tissue)
    )
    found, skeleton, qc = fibres.found, fibres.skeleton, fibres.qc
    qc_reasons = fibres.qc_reasons if fibres.qc_reasons is not None else []
    if both_counts is not None:
        free_count, mean_count = both_counts
        qc_reasons, settled = settle_counterstain(
            qc_reasons,
            count=len(found.crossings),
            count_haematoxylin_free=free_count,
            count_mean_od=mean_count,
            limits=limits,
        )
        if settled:
            warnings.append(
                "many fibre ends lie just below the junction of a counterstained epidermis, "
                f"but traced with the nuclei and without them the count is about the same "
                f"({mean_count} and {free_count}): not a reason for review"
            )
    basis_length = dej_length if length_basis == "dej" else surface_length
    count = len(found.crossings)
    if not glass_seen:
        qc_reasons.append(_NO_GLASS)
    elif junction is None and frame_filled(tissue):
        qc_reasons.append(_FRAME_SURFACE)
    return SectionResult(
        modality=modality,
        pixel_size_um=float(spacing),
        count=count,
        crossings=found.crossings + origin,
        fragments=found.fragments + origin,
        short_fibres=found.short_fibres + origin,
        secondary_branches=found.secondary_branches,
        dej=dej,
        surface=surface,
        dej_length_um=float(dej_length),
        surface_length_um=float(surface_length),
        length_basis=length_basis,
        density_per_mm=float(count / (basis_length / 1000.0)) if basis_length > 0 else 0.0,
        junction_method=method,
        epidermis_area_mm2=float(epidermis.sum() * spacing_lr**2 / 1e6),
        warnings=warnings,
        parameters=params,
        qc=qc,
        qc_reasons=qc_reasons,
        junction_source=junction.source if junction is not None else "",
        trace=FibreTrace(
            skeleton=skeleton,
            origin=(region[0].start, region[1].start),
            shape=shape,
            spacing=float(spacing),
            factor=factor,
            tissue=tissue,
            band=band,
            parameters=params,
            modality=modality,
            basis=JunctionBasis(tuple(dej), fibres.inside),
            ridge=fibres.ridge,
        ),
    )


def _search_junction(
    epidermis: np.ndarray,
    tissue: np.ndarray,
    od_clean: np.ndarray | None,
    membrane: np.ndarray | None,
    *,
    factor: int,
    spacing_lr: float,
    params: AnalysisParameters,
) -> tuple[
    np.ndarray, list[np.ndarray], list[np.ndarray], Callable[[np.ndarray], np.ndarray], list[float]
]:
    """Trace and refine the junction of a found epidermis (low resolution in).

    Returns the epidermis with its holes filled (less any body joined to it
    beneath its junction, :func:`without_attached_bodies`), the DEJ and
    surface polylines at full resolution, the test of which full-resolution
    points lie in the epidermis (its traced outlines, even-odd), and the
    areas of the bodies left out (µm2).
    """
    # A hole inside the epidermis is a pale patch the segmentation missed, not
    # dermis: its rim would otherwise be traced as a closed loop of junction.
    epidermis = fill_holes(epidermis)

    def pieces(epidermis: np.ndarray) -> list[JunctionTrace]:
        traces = trace_junction(
            epidermis,
            tissue,
            spacing=spacing_lr,
            min_length_um=params.min_junction_um,
            smooth_um=params.junction_smooth_um,
        )
        if not traces:
            raise _NoJunctionError(
                "no epidermis with a dermal-epidermal junction found in the tissue "
                f"(tissue area {tissue.sum() * spacing_lr**2 / 1e6:.3f} mm2)"
            )
        # A piece deep in the dermis (a nerve trunk taken for epidermis) has no
        # surface along the tissue's edge: dropped when another piece has one.
        kept = pieces_at_surface(traces, tissue, spacing=spacing_lr)
        if len(kept) < len(traces):
            logger.info(
                "%d piece(s) of 'epidermis' deep in the dermis left out", len(traces) - len(kept)
            )
        return kept

    traces = pieces(epidermis)
    # A body joined to the epidermis beneath its junction (a trunk against
    # the basal layer) is one piece with it: cut off, left out, traced again.
    epidermis, body_areas_um2 = without_attached_bodies(
        epidermis, tissue, traces, spacing=spacing_lr
    )
    if body_areas_um2:
        traces = pieces(epidermis)
    if od_clean is not None:
        clean = channel_mean(od_clean)
        traces = [
            refine_junction(t, clean, epidermis, spacing=spacing_lr, mode="edge") for t in traces
        ]
    elif membrane is not None:
        traces = [
            refine_junction(
                t,
                membrane,
                epidermis,
                spacing=spacing_lr,
                mode="ridge",
                search_um=params.membrane_search_um,
                scale=factor,
            )
            for t in traces
        ]
    traces = [
        JunctionTrace(
            dej=block_to_full(t.dej, factor),
            surface=block_to_full(t.surface, factor),
            outline=block_to_full(t.outline, factor),
        )
        for t in traces
    ]

    def inside(points: np.ndarray) -> np.ndarray:
        result = np.zeros(len(points), dtype=bool)
        for trace in traces:
            result ^= _in_outline(points, trace.outline)
        return result

    return epidermis, [t.dej for t in traces], [t.surface for t in traces], inside, body_areas_um2


def _check_inputs(
    image: np.ndarray,
    spacing: float,
    modality: str | None,
    membrane: np.ndarray | None,
    length_basis: str,
) -> Literal["brightfield", "fluorescence"]:
    if not np.isfinite(spacing) or not 0.01 <= spacing <= 100:
        raise ValueError(f"spacing must be a pixel size in µm in [0.01, 100], got {spacing!r}")
    if length_basis not in ("dej", "surface"):
        raise ValueError(f"length_basis must be 'dej' or 'surface', got {length_basis!r}")
    if modality is None:
        modality = "brightfield" if image.ndim == 3 and image.shape[-1] == 3 else "fluorescence"
    if modality == "brightfield":
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(
                f"bright-field analysis needs an (M, N, 3) RGB image, got shape {image.shape}"
            )
    elif modality == "fluorescence":
        if image.ndim != 2:
            raise ValueError(
                f"fluorescence analysis needs the (M, N) fibre channel, got shape {image.shape}"
            )
        if membrane is not None and np.shape(membrane) != image.shape:
            raise ValueError(
                f"membrane channel shape {np.shape(membrane)} differs from the fibre "
                f"channel's {image.shape}"
            )
    else:
        raise ValueError(f"modality must be 'brightfield' or 'fluorescence', got {modality!r}")
    if min(image.shape[:2]) < 64:
        raise ValueError(f"image too small to hold a section: {image.shape[:2]} pixels")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values")
    return modality  # type: ignore[return-value]


def _require_tissue(tissue: np.ndarray) -> None:
    if not tissue.any():
        raise AnalysisError("no tissue found in the image (blank or background only)")


def _brightfield_background(
    rgb_lr: np.ndarray, spacing_lr: float, params: AnalysisParameters, *, floor: float
) -> tuple[np.ndarray, bool]:
    """Illumination fit, alternating with the tissue mask it makes possible.

    The glass is the palest population of the frame, but under uneven
    illumination pale dermis on the bright side can be paler than glass on the
    dark side, so no single threshold finds it. The first guess is the pixels
    near the floor of the optical density against a flat white (a surface fitted
    under the lowest few percent of the frame, :func:`lower_surface`); each
    fit then flattens the illumination so the next tissue mask, and the glass
    around it, is cleaner. Glass keeps its colour where its brightness
    varies; pale pink (eosin) dermis does not have it, and is never taken for
    glass (:func:`_hue_shift`).

    Returns the coefficients and whether any glass was in view; without
    glass, the frame's white stands for it, flat.
    """
    # Illumination varies over hundreds of µm: fit it at the tissue mask's own
    # scale. The coefficients are in normalised frame coordinates, so they
    # apply at any resolution.
    step = max(1, round(0.5 * params.tissue_smooth_um / spacing_lr))
    rgb = block_mean(rgb_lr, step)
    spacing = spacing_lr * step
    margin = max(1, round(5.0 / spacing))  # the tissue mask's edge is blurred over a few µm
    white = np.percentile(rgb.reshape(-1, 3), 99.5, axis=0)
    flat = np.log(np.clip(white, floor, None)) - np.log(np.clip(rgb, floor, None))
    sigma = params.tissue_smooth_um / spacing
    smoothed = ndi.gaussian_filter(_tissue_signal(flat), sigma)
    tinted = _hue_shift(flat, sigma) > _GLASS_HUE_STEP
    # A plane under the frame first; a quadratic floor only when the plane
    # fails: under strong vignetting the plane leaves dark glass corners above
    # it, the whole frame becomes tissue and no glass is left to fit. (The
    # quadratic floor is the less stable of the two where glass is a strip
    # along one side: it can ride up onto pale dermis.)
    for floor_order in (1, 2):
        try:
            coef = _fit_illumination(
                rgb, smoothed, tinted, floor_order, spacing, margin, params, floor=floor
            )
        except ValueError:
            continue
        return coef, True
    return flat_background(white, floor=floor), False


def _fit_illumination(
    rgb: np.ndarray,
    smoothed: np.ndarray,
    tinted: np.ndarray,
    floor_order: int,
    spacing: float,
    margin: int,
    params: AnalysisParameters,
    *,
    floor: float,
) -> np.ndarray:
    """The illumination fit from a first glass guess on a floor of ``floor_order``."""
    above = smoothed - lower_surface(smoothed, order=floor_order)
    # The glass's own spread about its floor, from the points below the floor.
    below = above[above < 0]
    spread = float(np.sqrt(np.mean(below**2))) if below.size else 0.0
    guess = (above > max(4.0 * spread, 0.02)) | tinted
    coef = fit_background(rgb, guess, floor=floor, margin_px=margin)
    for _ in range(2):
        od = optical_density(rgb, coef, full_shape=rgb.shape[:2], floor=floor, per_channel=True)
        guess = _brightfield_tissue(od, spacing, params, texture=False)
        coef = fit_background(rgb, guess, floor=floor, margin_px=margin)
    return coef


# Quality limits per modality: in fluorescence, fragments (the stratum
# corneum's texture) and dermal fibre ends (a dense plexus under the collagen
# IV line) are reported but not reasons (see QualityLimits).
_QC_LIMITS = {
    "brightfield": QualityLimits(),
    "fluorescence": QualityLimits(fragments_per_mm=None, short_fibres=None),
}

# Where the bright-field tissue threshold sits between glass and Otsu's
# threshold. Otsu's threshold separates a dark (counterstained) epidermis from
# everything else, and pale eosin dermis lies far below it: at 0.15 of the way
# it was taken for glass (real H&E W0043323: median dermis 0.05 OD above glass,
# threshold 0.125). The threshold is never less than 0.03 OD above the glass
# level, for glass that is not uniform (a slide's glass beside a section 0.026
# OD above the rest of the slide).
_BRIGHTFIELD_BACKGROUND_FRACTION = 0.05
_BRIGHTFIELD_GLASS_STEP = 0.03


def _brightfield_tissue(
    od_rgb: np.ndarray, spacing: float, params: AnalysisParameters, *, texture: bool = True
) -> np.ndarray:
    """The bright-field tissue mask from per-channel optical density (never empty).

    With ``texture``, regions as textured as tissue (:func:`textured_beyond`)
    are tissue too. The illumination fit's masks go without: each fit moves
    the glass's texture level, and a region taken in on one round moved the
    next fit (ienfd's wide development section 61000: 0 -> 59 of 25 counted).
    """
    tissue = segment_tissue(
        _tissue_signal(od_rgb),
        spacing=spacing,
        smooth_um=params.tissue_smooth_um,
        background_fraction=_BRIGHTFIELD_BACKGROUND_FRACTION,
        min_step=_BRIGHTFIELD_GLASS_STEP,
        tinted=_hue_shift(od_rgb, params.tissue_smooth_um / spacing) > _GLASS_HUE_STEP,
    )
    _require_tissue(tissue)
    if not texture:
        return tissue
    # Dermis as pale and colourless as the glass is told from it by its texture.
    textured = textured_beyond(
        channel_mean(od_rgb), tissue, spacing=spacing, smooth_um=params.tissue_smooth_um
    )
    if textured.any():
        tissue = fill_holes(tissue | textured)
    return tissue


@dataclass(frozen=True)
class _Fibres:
    """One fibre signal's trace, count and quality checks (:func:`analyze_section`)."""

    skeleton: np.ndarray
    inside: np.ndarray  # of each skeleton point: in the epidermis
    ridge: np.ndarray  # the ridge response at each skeleton point
    found: CrossingCount
    qc: dict[str, Any]
    qc_reasons: list[str] | None  # None: not assessed


#: Bright-field sections whose ``haematoxylin_index`` is above this are traced a
#: second time in the haematoxylin-free optical density (docs/algorithm.md,
#: step 8). 0: any epidermis bluer than its dermis. On the independent
#: generator's development sections (seeds 100-339, the rule's prototype) a
#: margin lost more than it saved: H&E sections have low indices (the dermis
#: is pink too; a quarter of them below 0.012), and the summed bright-field
#: count error was 510 fibres at 0 against 528 at 0.005, 539 at 0.01 and 556
#: at 0.02 (517 with no gate at all; ienfd's development sets 54-55 at every
#: one). Sections without a counterstain pass too (a quarter of them above
#: 0.004 there, some DAB sections far above); the rule keeps their mean trace
#: unless the second counts more with no more reasons.
_HAEMATOXYLIN_FREE_ABOVE = 0.0

#: The factor on both fibre thresholds for the quality check's second count
#: (:func:`ienfd.core._qc.assess_section`, ``count_lower_threshold``).
_LOWER_THRESHOLD = 0.7


def _bodies_left_out(areas_um2: list[float]) -> str:
    """The note on bodies cut out of the epidermis (:func:`without_attached_bodies`).

    A note, not a reason for review: on the real H&E copies of the validation
    page it fired on 8 of 64 copies (W0043323, 4 of 8 orientations at each
    pixel size) whose counts were right, and as a reason it flagged 6 more
    correct copies (8 -> 14 of 21). A junction a cut shortened or bent is
    left to the junction-length and thickness checks.
    """
    n = len(areas_um2)
    what, was = ("a dense body", "was") if n == 1 else (f"{n} dense bodies", "were")
    sizes = ", ".join(f"{a:.0f}" for a in areas_um2)
    return (
        f"{what} ({sizes} µm2) joined beneath the junction, taken for a nerve trunk, vessel "
        f"or gland, {was} cut out of the epidermis: check the junction there when in doubt "
        "(rete ridges cut obliquely look alike)"
    )


_NO_GLASS = (
    "no glass in view: the illumination could not be measured, and the epidermis is "
    "found along the tissue's outer surface, which must be in the image (or draw the junction)"
)

_FRAME_CUT = (
    "the tissue fills the frame or runs along its border: the surface may be cut by the frame, "
    "or pale tissue taken for glass (or draw the junction)"
)

_FRAME_SURFACE = (
    "the tissue fills the frame, with little glass along its edge: the surface may be cut by "
    "the frame, and which side of the epidermis is the junction could not be checked against "
    "glass (confirm the junction)"
)

# How far a pixel's colour may stray from the glass's own colour and still be
# glass, in optical density. Glass changes brightness across a frame
# (vignetting, uneven illumination) but hardly its colour; pale eosin dermis
# is as bright as dim glass but pink (real H&E W0043375: green minus red
# optical density +0.15 in the dermis, -0.06 on the glass).
_GLASS_HUE_STEP = 0.06


def _hue_shift(flat: np.ndarray, sigma: float) -> np.ndarray:
    """How far the colour around each pixel lies from the glass's colour, in optical density.

    ``flat`` is the optical density of each channel against the glass (or the
    frame's white). A pixel's colour is its optical density less its mean
    over the channels (its grey level); the glass's colour is the median
    colour of the palest 2 % of the frame, which is glass wherever any glass is
    in view. The colour difference is smoothed over ``sigma`` pixels before its
    largest channel is taken, so that noise does not add up to a tint.
    """
    grey = channel_mean(flat)
    palest = grey <= np.percentile(grey, 2)
    glass = np.median(flat[palest] - grey[palest][:, None], axis=0)
    # The channels one at a time, each a contiguous plane (no stacked copy of
    # the colour); the largest as a running maximum.
    largest = None
    for k in range(flat.shape[-1]):
        shift = flat[..., k] - grey
        shift -= glass[k]
        smooth = np.abs(ndi.gaussian_filter(shift, sigma, output=shift), out=shift)
        largest = smooth if largest is None else np.maximum(largest, smooth, out=largest)
    assert largest is not None
    return largest


def _tissue_signal(od_rgb: np.ndarray) -> np.ndarray:
    """What sets tissue apart from glass: the optical density of its densest channel.

    A counterstain's colour is in one or two channels (eosin absorbs green,
    haematoxylin red and green): the mean over the three dilutes pale pink
    dermis to the level of glass, the densest channel does not. Glass is about
    0 in every channel after the illumination fit.
    """
    return channel_max(od_rgb)


def _pixel_jump_fraction(image: np.ndarray, *, step: int = 4) -> float:
    """Fraction of neighbouring pixels (every ``step``-th row) that jump by half the range.

    The range is the span of the sampled rows, their smallest to their
    largest value; a jump is the largest of the channels' absolute
    differences between two pixels side by side. Micrographs change smoothly
    at the pixel scale (a fibre's edge is one of the few sharp steps, and a
    bright fibre can rise above most of the image: the span is the whole
    range, not a percentile span that the fibres lie above); random bytes,
    from a damaged file or a transfer or scanner fault, fill the type's
    range and jump half of it about a quarter of the time.
    """
    rows = np.asarray(image[::step])
    if rows.size == 0 or rows.shape[1] < 2:
        return 0.0
    low, high = float(rows.min()), float(rows.max())
    limit = 0.5 * max(high - low, 1e-6)
    if rows.dtype.kind == "u":
        # Unsigned pixels: |a - b| is max - min in their own type, exactly, with
        # no wider copy of the rows.
        jumps = np.maximum(rows[:, 1:], rows[:, :-1])
        jumps -= np.minimum(rows[:, 1:], rows[:, :-1])
        if jumps.ndim == 3:  # the channels' largest, one at a time (faster than a reduction)
            largest = jumps[..., 0].copy()
            for k in range(1, jumps.shape[-1]):
                np.maximum(largest, jumps[..., k], out=largest)
            jumps = largest
        return float(np.count_nonzero(jumps > limit) / jumps.size)
    # 8- and 16-bit pixels differ exactly in 32-bit integers: no float copy of the rows.
    work = np.int32 if rows.dtype.kind in "ui" and rows.dtype.itemsize <= 2 else np.float32
    rows = rows.astype(work, copy=False)
    jumps = np.abs(rows[:, 1:] - rows[:, :-1])
    if jumps.ndim == 3:
        jumps = jumps.max(axis=-1)
    return float(np.count_nonzero(jumps > limit) / jumps.size)


def _saturated_fraction(channel: np.ndarray, tissue: np.ndarray, factor: int) -> float | None:
    """Fraction of the tissue's brightest 2 % where an integer channel is at its type's maximum.

    Fibres are a few per cent of the tissue, so it is among its brightest
    pixels that over-exposure shows: there clipped fibres merge into blobs.
    One pixel of every ``factor`` x ``factor`` block, on the tissue's grid.
    """
    if not np.issubdtype(channel.dtype, np.integer) or not tissue.any():
        return None
    sample = channel[::factor, ::factor]
    rows, cols = min(sample.shape[0], tissue.shape[0]), min(sample.shape[1], tissue.shape[1])
    values = sample[:rows, :cols][tissue[:rows, :cols]]
    if not values.size:
        return None
    brightest = values[values >= np.percentile(values, 98)]
    return float(np.mean(brightest == np.iinfo(channel.dtype).max))


def _with_faint_edge_band(
    signal: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float,
    reach_um: float = 200.0,
    min_thickness_um: float = 20.0,
    outside: np.ndarray | None = None,
) -> np.ndarray:
    """The tissue with the faint band along its edge that its threshold left out.

    In fluorescence the epidermis can be nearly as dark as the glass: no
    collagen IV, little diffuse PGP 9.5. The tissue threshold, set for the
    whole frame, then stops at the basement membrane and the epidermis is
    lost (the membrane line runs along the tissue's edge, with nothing
    beyond it to cut). Glass far from the tissue (more than ``reach_um``)
    gives the background's level and noise; pixels within ``reach_um`` of
    the tissue whose signal, smoothed over half ``smooth_um``, is 6 noise SD
    above that level, and connected to the tissue, are added when, together,
    they form a band at least ``min_thickness_um`` thick on average along
    the edge they border (an epidermis, 20 µm thick or more, not the blur of
    the tissue's edge), at most three quarters of ``reach_um`` thick, and not running along
    the frame's border for more than a quarter of that edge's length (glass
    brighter near the tissue than far from it). Without glass that far away
    the tissue is returned as it is. Pixels ``outside`` the micrograph (its
    constant fill) are neither glass nor band, and their border counts as the
    frame's.
    """
    smoothed = ndi.gaussian_filter(signal.astype(np.float32), 0.5 * smooth_um / spacing)
    distance_um = ndi.distance_transform_edt(~tissue) * spacing
    far = distance_um > reach_um + 2 * smooth_um
    fill = np.zeros_like(tissue) if outside is None else outside
    if fill.any():
        fill = ndi.binary_dilation(fill, iterations=max(1, round(smooth_um / spacing)))
        far &= ~fill
    if far.sum() < 200:
        return tissue
    level, noise = robust_scale(smoothed[far])
    faint = (smoothed > level + 6.0 * noise) & (distance_um <= reach_um) & ~fill
    added = pieces_touching(faint | tissue, tissue) & ~tissue
    if not added.any():
        return tissue
    edge = tissue & ~ndi.binary_erosion(tissue, border_value=1)
    length = max(int((edge & ndi.binary_dilation(added)).sum()), 1)
    thickness_um = added.sum() * spacing / length
    frame = np.zeros_like(added)
    frame[[0, -1], :] = frame[:, [0, -1]] = True
    frame |= ndi.binary_dilation(fill) & ~fill
    too_thick = thickness_um > 0.75 * reach_um
    if thickness_um < min_thickness_um or too_thick or (added & frame).sum() > 0.25 * length:
        # Too thin (the blur of the tissue's edge), filling most of the reach
        # (the glass itself, brighter near the tissue than far from it), or
        # running along the frame rather than the tissue (glass the frame cuts).
        return tissue
    return fill_holes(tissue | added)


def _fluorescence_widths(widths: tuple[float, ...]) -> tuple[float, ...]:
    """The fibre widths enhanced in fluorescence: the given ones, and 2 and 3 times the widest.

    A faint PGP 9.5 fibre is often a row of beads joined by a thread near the
    noise: at the fibre's own width the thread's ridge response falls below
    the threshold between the beads and the fibre is cut into pieces that
    stop short of the junction. A wider scale sums the signal over a longer
    stretch of the line (the noise falls as the square root of that length,
    a line's signal does not) and bridges the gaps between beads, so that the
    fibre is traced whole. Bright-field keeps its widths: there the wider
    scales would answer the epidermis's nuclei and basal layer.
    """
    widest = max(widths)
    return (*widths, 2.0 * widest, 3.0 * widest)


def _normalise(channel: np.ndarray, outside: np.ndarray | None = None) -> np.ndarray:
    """The channel on its own robust scale: 0 at its 2nd percentile, 1 at its 99.5th.

    The percentiles are of the pixels not ``outside`` the micrograph (its
    constant fill), when there are such pixels.
    """
    values = channel if outside is None or not outside.any() else channel[~outside]
    low, high = np.percentile(values, [2, 99.5])
    return (channel - low) / max(float(high - low), 1e-6)


def _in_outline(points: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Which (row, col) points lie inside a closed outline.

    A prepared shapely polygon (indexed point location, about a hundred times
    faster than testing every edge); an outline that crosses itself, where the
    even-odd rule is the one meant, goes to :func:`skimage.measure.points_in_poly`.
    """
    polygon = shapely.Polygon(outline)
    if not polygon.is_valid:
        return np.asarray(measure.points_in_poly(points, outline), dtype=bool)
    shapely.prepare(polygon)
    return np.asarray(shapely.contains_xy(polygon, points[:, 0], points[:, 1]), dtype=bool)


def _bounding_region(blocks: list[tuple[slice, slice]]) -> tuple[slice, slice]:
    r0 = min(b[0].start for b in blocks)
    r1 = max(b[0].stop for b in blocks)
    c0 = min(b[1].start for b in blocks)
    c1 = max(b[1].stop for b in blocks)
    return slice(r0, r1), slice(c0, c1)
