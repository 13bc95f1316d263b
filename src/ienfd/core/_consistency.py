"""Consistency that needs no truth: the same section rescaled (and turned, flipped).

A section's count cannot depend on how it lies in the frame or on the
scanner's pixel size. Analysing it at more than one pixel size, and comparing,
tells on any image, with no truth at all, whether the answer is stable. The
eight orientations (rotations by 90° with and without a mirror flip) are
analysed in one frame (:func:`ienfd.core._frame.canonical_frame`) and give one
answer by construction; ``turned=True`` analyses them all the same, to show it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ienfd.core._analyze import (
    AnalysisError,
    AnalysisParameters,
    LengthBasis,
    SectionResult,
    analyze_section,
)

__all__ = ["ConsistencyReport", "assess_consistency", "with_consistency"]


@dataclass(frozen=True)
class ConsistencyReport:
    """Counts and junction lengths of one section over orientations and pixel sizes.

    Attributes
    ----------
    runs : list of dict
        One per analysis: ``rotation`` (quarter turns), ``flip``, ``pixel_size_um``,
        ``count``, ``dej_length_um``, ``needs_review`` (the copy's own quality
        checks; None when the analysis failed) and ``error``.
    """

    runs: list[dict[str, object]]

    @property
    def counts(self) -> np.ndarray:
        """Counts of the runs that succeeded."""
        return np.array([r["count"] for r in self.runs if r["error"] is None], dtype=float)

    @property
    def dej_lengths_um(self) -> np.ndarray:
        """Junction lengths of the runs that succeeded, in µm."""
        return np.array([r["dej_length_um"] for r in self.runs if r["error"] is None], dtype=float)

    @property
    def failed(self) -> int:
        """Runs in which no section was found."""
        return sum(r["error"] is not None for r in self.runs)

    @property
    def count_spread(self) -> float:
        """Largest minus smallest count (NaN when no run succeeded)."""
        c = self.counts
        return float(c.max() - c.min()) if c.size else float("nan")

    @property
    def dej_spread(self) -> float:
        """(Largest - smallest) junction length over their median (NaN when none)."""
        d = self.dej_lengths_um
        if not d.size or np.median(d) <= 0:
            return float("nan")
        return float((d.max() - d.min()) / np.median(d))

    def reasons(self, *, max_count_spread: float = 2.0, max_dej_spread: float = 0.1) -> list[str]:
        """Sentences for the checks that failed (empty when the section is stable).

        The count may differ by ``max_count_spread`` fibres, or by 15 % of the
        median count if that is more, and the junction length by
        ``max_dej_spread`` of its median, before the result is called unstable.
        """
        out = []
        if self.failed:
            out.append(
                f"no section found in {self.failed} of {len(self.runs)} rescaled (or turned) "
                "copies of the image"
            )
        counts = self.counts
        if counts.size:
            allowed = max(max_count_spread, 0.15 * float(np.median(counts)))
            if self.count_spread > allowed:
                out.append(
                    f"the count changes from {counts.min():.0f} to {counts.max():.0f} when the "
                    "image is rescaled or turned: the junction or fibres are uncertain"
                )
            if self.dej_spread > max_dej_spread:
                out.append(
                    f"the junction length changes by {self.dej_spread:.0%} when the image is "
                    "rescaled or turned: the junction is uncertain"
                )
        return out


def _orient(array: np.ndarray, rotation: int, flip: bool) -> np.ndarray:
    out = np.fliplr(array) if flip else array
    return np.ascontiguousarray(np.rot90(out, rotation))


def assess_consistency(
    image: np.ndarray,
    *,
    spacing: float,
    modality: Literal["brightfield", "fluorescence"] | None = None,
    membrane: np.ndarray | None = None,
    length_basis: LengthBasis = "dej",
    parameters: AnalysisParameters | None = None,
    scales: tuple[float, ...] = (1.0, 1.25, 1.5),
    turned: bool = False,
    own: SectionResult | None = None,
) -> ConsistencyReport:
    """Analyse a section at each of several pixel sizes (and in all eight orientations).

    Parameters
    ----------
    image, spacing, modality, membrane, length_basis, parameters
        As for :func:`analyze_section`.
    scales : tuple of float
        Pixel sizes to analyse at, as multiples of ``spacing`` (>= 1: the
        image is reduced with anti-aliasing, never enlarged).
    turned : bool
        Analyse each scale in all eight orientations, not only as it is. They
        are analysed in one frame and agree by construction (docs/algorithm.md,
        step 0): this shows it, at eight times the cost.
    own : SectionResult, optional
        The result of :func:`analyze_section` on this image with these
        arguments, when the caller has it: it is the run at scale 1 as the
        image lies (the analysis is deterministic), one analysis saved.

    Returns
    -------
    ConsistencyReport

    Raises
    ------
    ValueError
        A scale below 1, or the arguments :func:`analyze_section` refuses.

    Examples
    --------
    >>> from ienfd.synthetic import generate_section, random_spec
    >>> spec = random_spec(4, modality="brightfield", length_um=400, pixel_size_um=0.8)
    >>> image = generate_section(spec).image
    >>> report = assess_consistency(image, spacing=0.8, scales=(1.0,), turned=True)
    >>> len(report.runs), report.count_spread, report.dej_spread
    (8, 0.0, 0.0)
    """
    if not scales or any(not np.isfinite(s) or s < 1.0 for s in scales):
        raise ValueError(f"scales must be pixel-size multiples >= 1, got {scales!r}")
    runs: list[dict[str, object]] = []
    for scale in scales:
        if scale == 1.0:
            scaled, scaled_membrane = image, membrane
        else:
            scaled = _reduce(image, scale)
            scaled_membrane = None if membrane is None else _reduce(membrane, scale)
        size = spacing * image.shape[0] / scaled.shape[0]
        for flip in (False, True) if turned else (False,):
            for rotation in range(4) if turned else range(1):
                run: dict[str, object] = {
                    "rotation": rotation,
                    "flip": flip,
                    "pixel_size_um": round(size, 4),
                    "count": None,
                    "dej_length_um": None,
                    "needs_review": None,
                    "error": None,
                }
                if own is not None and scale == 1.0 and rotation == 0 and not flip:
                    run["count"] = own.count
                    run["dej_length_um"] = round(own.dej_length_um, 1)
                    run["needs_review"] = own.needs_review
                    runs.append(run)
                    continue
                try:
                    result = analyze_section(
                        _orient(scaled, rotation, flip),
                        spacing=size,
                        modality=modality,
                        membrane=None
                        if scaled_membrane is None
                        else _orient(scaled_membrane, rotation, flip),
                        length_basis=length_basis,
                        parameters=parameters,
                    )
                except AnalysisError as err:
                    run["error"] = str(err)
                else:
                    run["count"] = result.count
                    run["dej_length_um"] = round(result.dej_length_um, 1)
                    run["needs_review"] = result.needs_review
                runs.append(run)
    return ConsistencyReport(runs=runs)


def _reduce(array: np.ndarray, scale: float) -> np.ndarray:
    """``array`` at 1/scale of its size, anti-aliased, in its own dtype."""
    from skimage.transform import rescale  # here: ienfd analyze without the check never loads it

    axis = -1 if array.ndim == 3 else None
    out = rescale(
        array.astype(np.float32),
        1.0 / scale,
        anti_aliasing=True,
        preserve_range=True,
        channel_axis=axis,
    )
    if array.dtype.kind in "ui":
        info = np.iinfo(array.dtype)
        return np.clip(np.round(out), info.min, info.max).astype(array.dtype)
    return out.astype(array.dtype)


def with_consistency(result: SectionResult, report: ConsistencyReport) -> SectionResult:
    """``result`` with the consistency checks added to its ``qc`` and reasons."""
    qc = dict(result.qc)
    counts = report.counts
    qc["consistency_runs"] = len(report.runs)
    qc["consistency_failed_runs"] = report.failed
    qc["consistency_count_min"] = int(counts.min()) if counts.size else None
    qc["consistency_count_max"] = int(counts.max()) if counts.size else None
    spread = report.dej_spread
    qc["consistency_dej_spread"] = None if not np.isfinite(spread) else round(spread, 3)
    return dataclasses.replace(result, qc=qc, qc_reasons=[*result.qc_reasons, *report.reasons()])
