"""Pixel features for the pixel classifier, at a fixed working resolution in µm.

The image is resampled to ``working_um`` µm per pixel before any filter, so a
model trained at one pixel size applies at another, and every filter scale
is a length in µm. The features are rotation-invariant (smoothed intensity,
gradient magnitude and Hessian eigenvalues of each channel, over scales from
nuclei to the thickness of the epidermis), so a model does not depend on the
section's orientation in the frame.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import multiscale_basic_features

from ienfd.core._preprocess import block_mean

__all__ = ["FeatureSpec", "pixel_features", "to_working", "working_shape"]

# Pixel size (µm) at which bright-field fibres are taken out before the features.
_FINE_UM = 1.0


@dataclass(frozen=True)
class FeatureSpec:
    """How pixel features are computed; stored with every model.

    Parameters
    ----------
    modality : {'brightfield', 'fluorescence'}
        Bright-field: the optical density of the R, G and B channels against the
        image's white level. Fluorescence: the fibre channel and, when the
        model was trained with one, the membrane channel, each scaled between
        its 2nd and 99.5th percentile.
    n_channels : int
        Channels the features are computed on (3 for bright-field).
    working_um : float
        Pixel size, in µm, the image is resampled to first.
    sigma_min_um, sigma_max_um : float
        Smallest and largest Gaussian scale, in µm.
    num_sigma : int
        Scales between them, evenly spaced on a log scale.
    fibre_opening_um : float
        Bright-field: width in µm of the grey opening that takes the stained
        fibres out of the optical density (at 1 µm pixels) before the
        features; 0 turns it off.

    Examples
    --------
    >>> spec = FeatureSpec()
    >>> spec.n_features
    84
    >>> FeatureSpec.from_dict(spec.to_dict()) == spec
    True
    """

    modality: Literal["brightfield", "fluorescence"] = "brightfield"
    n_channels: int = 3
    working_um: float = 2.0
    sigma_min_um: float = 1.0
    sigma_max_um: float = 64.0
    num_sigma: int = 7
    fibre_opening_um: float = 3.0

    def __post_init__(self) -> None:
        if self.modality not in ("brightfield", "fluorescence"):
            raise ValueError(
                f"modality must be 'brightfield' or 'fluorescence', got {self.modality!r}"
            )
        if self.modality == "brightfield" and self.n_channels != 3:
            raise ValueError(f"bright-field features use 3 channels, got {self.n_channels}")
        if not 1 <= self.n_channels <= 2 and self.modality == "fluorescence":
            raise ValueError(
                f"fluorescence features use 1 or 2 channels (fibre, membrane), "
                f"got {self.n_channels}"
            )
        if not 0.1 <= self.working_um <= 20:
            raise ValueError(f"working_um must be in [0.1, 20] µm, got {self.working_um!r}")
        if not 0 < self.sigma_min_um <= self.sigma_max_um:
            raise ValueError(
                f"sigmas must satisfy 0 < sigma_min_um <= sigma_max_um, got "
                f"{self.sigma_min_um!r}, {self.sigma_max_um!r}"
            )
        if not 0 <= self.fibre_opening_um <= 20:
            raise ValueError(
                f"fibre_opening_um must be in [0, 20] µm, got {self.fibre_opening_um!r}"
            )
        if not 1 <= self.num_sigma <= 20:
            raise ValueError(f"num_sigma must be in [1, 20], got {self.num_sigma!r}")

    @property
    def n_features(self) -> int:
        """Features per pixel: per channel and scale, intensity, edges and two eigenvalues."""
        return self.n_channels * self.num_sigma * 4

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FeatureSpec:
        """Build from :meth:`to_dict`'s layout (a ``TypeError`` names an unknown key)."""
        return cls(**values)


def working_shape(shape: tuple[int, int], spacing: float, spec: FeatureSpec) -> tuple[int, int]:
    """Shape of an image of ``shape`` pixels of ``spacing`` µm at the working resolution.

    >>> working_shape((1000, 3000), 0.5, FeatureSpec())
    (250, 750)
    """
    scale = spacing / spec.working_um
    return (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))


def to_working(
    image: np.ndarray,
    spacing: float,
    spec: FeatureSpec,
    *,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Resample an (M, N) or (M, N, C) array to the working resolution (area average).

    Whole blocks are averaged first (an integer factor), then the rest is
    linear interpolation to the exact working shape (or to ``shape``).

    Returns
    -------
    (m, n[, C]) ndarray of float32
    """
    arr = np.asarray(image)
    target = shape or working_shape((int(arr.shape[0]), int(arr.shape[1])), spacing, spec)
    factor = max(1, int(spec.working_um / spacing))
    factor = min(factor, int(arr.shape[0]), int(arr.shape[1]))
    reduced = block_mean(arr, factor) if factor > 1 else arr.astype(np.float32)
    zoom = (target[0] / reduced.shape[0], target[1] / reduced.shape[1])
    if zoom == (1.0, 1.0):
        return np.ascontiguousarray(reduced, dtype=np.float32)
    zooms = zoom + (1.0,) * (reduced.ndim - 2)
    out = ndi.zoom(reduced, zooms, order=1, mode="nearest", grid_mode=True, output=np.float32)
    return _fit(out, target)


def _fit(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``array`` cropped or edge-padded to ``shape`` in its first two axes."""
    array = array[: shape[0], : shape[1]]
    pad = [(0, shape[0] - array.shape[0]), (0, shape[1] - array.shape[1])]
    if any(p[1] for p in pad):
        array = np.pad(array, pad + [(0, 0)] * (array.ndim - 2), mode="edge")
    return array


def feature_channels(
    image: np.ndarray,
    spacing: float,
    spec: FeatureSpec,
    *,
    membrane: np.ndarray | None = None,
) -> np.ndarray:
    """The channels the features are computed on, at the working resolution.

    Returns
    -------
    (m, n, C) ndarray of float32
    """
    image = np.asarray(image)
    if spec.modality == "brightfield":
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(
                f"this pixel model is for bright-field RGB images, got shape {image.shape}"
            )
        # At a finer resolution first, where fibres are still lines to take out.
        fine_um = min(spec.working_um, _FINE_UM)
        fine = replace(spec, working_um=fine_um)
        rgb = to_working(image, spacing, fine)
        # Optical density against the image's own white (its brightest pixels:
        # glass, or the palest tissue when the section fills the frame).
        white = np.percentile(rgb.reshape(-1, 3), 99.5, axis=0)
        floor = max(float(white.max()) / 256.0, float(np.finfo(np.float32).tiny))
        white = np.clip(white, floor, None)
        od = np.log(white) - np.log(np.clip(rgb, floor, None))
        if spec.fibre_opening_um > 0:
            # Stained fibres are dark lines a few µm wide that cross the junction:
            # a grey opening of the density removes them (nuclei, wider, stay), so
            # that a section with more or darker fibres looks like the painted one.
            size = max(2, round(spec.fibre_opening_um / fine_um))
            od = ndi.grey_opening(od, size=(size, size, 1))
        if fine_um != spec.working_um:
            target = working_shape((int(image.shape[0]), int(image.shape[1])), spacing, spec)
            od = to_working(od, fine_um, spec, shape=target)
        return np.ascontiguousarray(od, dtype=np.float32)
    if image.ndim != 2:
        raise ValueError(
            f"this pixel model is for fluorescence images (the fibre channel, (M, N)), "
            f"got shape {image.shape}"
        )
    planes = [image]
    if spec.n_channels == 2:
        if membrane is None:
            raise ValueError(
                "this pixel model was trained with a membrane (collagen IV) channel; "
                "the image has none"
            )
        planes.append(np.asarray(membrane))
    out = []
    for plane in planes:
        small = to_working(plane, spacing, spec)
        low, high = np.percentile(small, [2, 99.5])
        out.append((small - low) / max(float(high - low), 1e-6))
    return np.ascontiguousarray(np.stack(out, axis=-1), dtype=np.float32)


def pixel_features(
    image: np.ndarray,
    *,
    spacing: float,
    spec: FeatureSpec,
    membrane: np.ndarray | None = None,
) -> np.ndarray:
    """Rotation-invariant features of every pixel at the working resolution.

    Parameters
    ----------
    image : (M, N, 3) or (M, N) ndarray
        Bright-field RGB, or the fluorescence fibre channel.
    spacing : float
        Pixel size of ``image`` in µm.
    spec : FeatureSpec
    membrane : (M, N) ndarray, optional
        Fluorescence membrane channel (when ``spec.n_channels == 2``).

    Returns
    -------
    (m, n, F) ndarray of float32
        ``(m, n)`` is :func:`working_shape`; ``F`` is ``spec.n_features``.

    Examples
    --------
    >>> rgb = np.full((200, 300, 3), 230, dtype=np.uint8)
    >>> pixel_features(rgb, spacing=0.5, spec=FeatureSpec()).shape
    (50, 75, 84)
    """
    channels = feature_channels(image, spacing, spec, membrane=membrane)
    features = multiscale_basic_features(
        channels,
        intensity=True,
        edges=True,
        texture=True,
        sigma_min=spec.sigma_min_um / spec.working_um,
        sigma_max=spec.sigma_max_um / spec.working_um,
        num_sigma=spec.num_sigma,
        channel_axis=-1,
    )
    return np.ascontiguousarray(features, dtype=np.float32)
