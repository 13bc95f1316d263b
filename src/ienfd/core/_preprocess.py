"""Intensity normalisation and resolution reduction shared by the core steps."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ienfd.core._morphology import binary_dilation, diamond

__all__ = [
    "HAEMATOXYLIN_FREE",
    "HAEMATOXYLIN_OD",
    "block_mean",
    "block_to_full",
    "block_window",
    "channel_max",
    "channel_mean",
    "channel_min",
    "expand_blocks",
    "fit_background",
    "lower_surface",
    "optical_density",
    "polynomial_surface",
    "robust_scale",
    "suppress_fibres",
]

_CROSS = ndi.generate_binary_structure(2, 1)

#: Haematoxylin's RGB optical density vector (Ruifrok, A. C. & Johnston, D. A.
#: (2001), Anal Quant Cytol Histol 23:291; ``skimage.color.rgb_from_hed[0]``).
HAEMATOXYLIN_OD = (0.65, 0.70, 0.29)

#: RGB optical density weights that give haematoxylin nothing: the blue
#: channel's OD less the red's times haematoxylin's blue-to-red ratio, that is
#: (-0.29, 0, 0.65), here over their sum so that a neutral grey keeps its OD.
#: The same source's DAB (0.27, 0.57, 0.78) gets 1.19 in this signal against
#: 0.54 in the mean of the three channels, eosin (0.07, 0.99, 0.11) 0.14: nuclei
#: drop out of the fibre signal and brown fibres stand out against them. The
#: weights' norm is 1.98 against the mean's 0.58, so noise uncorrelated between
#: the channels grows 3.4 times where DAB grows 2.2 times; and a blue-black
#: chromogen (SG) keeps little. Which is why the analysis traces a section this
#: way only beside the mean, and keeps it only when it counts more
#: (:func:`ienfd.core.analyze_section`, docs/algorithm.md step 8).
HAEMATOXYLIN_FREE = (
    -HAEMATOXYLIN_OD[2] / (HAEMATOXYLIN_OD[0] - HAEMATOXYLIN_OD[2]),
    0.0,
    HAEMATOXYLIN_OD[0] / (HAEMATOXYLIN_OD[0] - HAEMATOXYLIN_OD[2]),
)


def robust_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and robust standard deviation (1.4826 * median absolute deviation).

    The standard deviation is floored at 1e-6 so that it can divide.
    """
    med = float(np.median(values))
    return med, max(1.4826 * float(np.median(np.abs(values - med))), 1e-6)


def channel_mean(image: np.ndarray) -> np.ndarray:
    """``image.mean(axis=-1)`` of a float32 (M, N, C) image, value for value, several times faster.

    numpy sums a short last axis in order, ``(c0 + c1) + c2``, in float32 and
    divides by the count: written out over whole planes the same operations
    run vectorised instead of three elements at a time.
    """
    if image.dtype != np.float32 or image.ndim != 3:
        return np.asarray(image.mean(axis=-1))
    total = image[..., 0].copy()
    for k in range(1, image.shape[-1]):
        total += image[..., k]
    total /= image.shape[-1]
    return total


def channel_max(image: np.ndarray) -> np.ndarray:
    """``image.max(axis=-1)`` of an (M, N, C) image, exactly, from whole planes (faster)."""
    if image.ndim != 3 or image.dtype.kind != "f":
        return np.asarray(image.max(axis=-1))
    largest = image[..., 0].copy()
    for k in range(1, image.shape[-1]):
        np.maximum(largest, image[..., k], out=largest)
    return largest


def channel_min(image: np.ndarray) -> np.ndarray:
    """``image.min(axis=-1)`` of an (M, N, C) image, exactly, from whole planes (faster)."""
    if image.ndim != 3 or image.dtype.kind != "f":
        return np.asarray(image.min(axis=-1))
    smallest = image[..., 0].copy()
    for k in range(1, image.shape[-1]):
        np.minimum(smallest, image[..., k], out=smallest)
    return smallest


def median_filter_line(image: np.ndarray, size: int, axis: int) -> np.ndarray:
    """:func:`scipy.ndimage.median_filter` of a 2-D image along one axis (mode 'reflect').

    Sizes 3 and 5 by a selection network of elementwise minima and maxima on
    shifted copies (the median is one of the values: exact, and several times
    faster than scipy's rank filter); other sizes by scipy.
    """
    if size not in (3, 5) or image.ndim != 2 or image.shape[axis] < size:
        shape = [1, 1]
        shape[axis] = size
        return np.asarray(ndi.median_filter(image, size=tuple(shape)))
    half = size // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (half, half)
    padded = np.pad(image, pad, mode="symmetric")  # numpy's 'symmetric' is scipy's 'reflect'
    n = image.shape[axis]
    views = [padded[k : k + n] if axis == 0 else padded[:, k : k + n] for k in range(size)]
    if size == 3:
        a, b, c = views
        low, high = np.minimum(a, b), np.maximum(a, b)
        return np.maximum(low, np.minimum(high, c))
    # Median of five: the lowest and the highest of the first four are never it;
    # it is the median of the fifth and the middle two of the four.
    a, b, c, d, e = views
    f = np.maximum(np.minimum(a, b), np.minimum(c, d))
    g = np.minimum(np.maximum(a, b), np.maximum(c, d))
    low, high = np.minimum(f, g), np.maximum(f, g)
    np.minimum(high, e, out=high)
    return np.maximum(low, high, out=low)


def block_window(shape: tuple[int, ...], factor: int) -> tuple[slice, slice]:
    """The largest window of whole ``factor`` blocks centred on an image of ``shape``.

    The pixels left over (fewer than ``2 * factor`` per axis) are dropped,
    half on either side, so that the window, and the block grid on it, turn
    and mirror with the image: the analysis does not depend on how the
    section lies in the frame. The halves are equal unless ``factor`` is
    even and the extent odd (one pixel more is dropped at the end); an odd
    number over an odd ``factor`` drops one block more to halve it.

    Examples
    --------
    >>> block_window((10, 12), 3)
    (slice(2, 8, None), slice(0, 12, None))
    >>> block_window((11, 12), 2)
    (slice(0, 10, None), slice(0, 12, None))
    """
    window = []
    for n in shape[:2]:
        over = n % factor
        if factor % 2 and over % 2 and n >= over + factor:
            over += factor  # an odd number over: drop one block more, to halve it
        window.append(slice(over // 2, n - (over - over // 2)))
    return window[0], window[1]


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over non-overlapping ``factor x factor`` blocks.

    Rows and columns that do not fill a whole block are dropped, so low-resolution
    pixel ``(i, j)`` covers full-resolution rows ``i*factor .. (i+1)*factor - 1``.

    Parameters
    ----------
    image : (M, N) or (M, N, C) ndarray
    factor : int
        Block size, >= 1.

    Returns
    -------
    reduced : (M // factor, N // factor[, C]) ndarray of float32
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    m, n = image.shape[0] // factor, image.shape[1] // factor
    cropped = image[: m * factor, : n * factor]
    # Sum the factor**2 strided sub-images: several times faster than a mean over
    # the axes of a (m, f, n, f) view, which numpy walks with poor locality.
    dtype = np.dtype(image.dtype)
    if dtype.kind in "ui" and dtype.itemsize <= 2 and np.iinfo(dtype).max * factor**2 < 2**24:
        # Small integers: the float32 sums below are exact integers, so summing in
        # integers and converting once gives the same values, at half the cost.
        wide = np.uint16 if dtype == np.uint8 and 255 * factor**2 <= 65535 else np.int32
        rows: np.ndarray = cropped[0::factor].astype(wide)  # whole rows first: contiguous adds
        for i in range(1, factor):
            np.add(rows, cropped[i::factor], out=rows)
        whole: np.ndarray = rows[:, 0::factor].copy()
        for j in range(1, factor):
            np.add(whole, rows[:, j::factor], out=whole)
        total = whole.astype(np.float32)
    else:
        total = np.zeros((m, n, *image.shape[2:]), dtype=np.float32)
        for i in range(factor):
            for j in range(factor):
                total += cropped[i::factor, j::factor]
    total /= factor * factor
    return total


def block_to_full(points: np.ndarray, factor: int) -> np.ndarray:
    """(row, col) points of a :func:`block_mean` copy in full-resolution pixels.

    A block's centre: block ``k`` covers full-resolution pixels
    ``k * factor .. k * factor + factor - 1``.

    Examples
    --------
    >>> block_to_full(np.array([[0.0, 2.0]]), 3).tolist()
    [[1.0, 7.0]]
    """
    return points * factor + (factor - 1) / 2.0


def expand_blocks(reduced: np.ndarray, factor: int, rows: slice, cols: slice) -> np.ndarray:
    """The inverse of :func:`block_mean` by repetition, over a window of the full image.

    Full-resolution pixel ``(r, c)`` takes the value of block ``(r // factor,
    c // factor)``; rows and columns past the last whole block (which
    :func:`block_mean` dropped) take the last block's.

    Parameters
    ----------
    reduced : (m, n[, C]) ndarray
    factor : int
    rows, cols : slice
        The full-resolution window wanted (``start`` and ``stop`` set).

    Returns
    -------
    expanded : (rows.stop - rows.start, cols.stop - cols.start[, C]) ndarray
    """
    r = np.minimum(np.arange(rows.start, rows.stop) // factor, reduced.shape[0] - 1)
    c = np.minimum(np.arange(cols.start, cols.stop) // factor, reduced.shape[1] - 1)
    # The indices rise in runs: repeat each block's row, then column, as often
    # as it is wanted (block copies, several times faster than a gather by np.ix_).
    r_blocks, r_counts = np.unique(r, return_counts=True)
    c_blocks, c_counts = np.unique(c, return_counts=True)
    rows_wanted = np.repeat(reduced[r_blocks], r_counts, axis=0)
    return np.repeat(rows_wanted[:, c_blocks], c_counts, axis=1)


def polynomial_surface(values: np.ndarray, mask: np.ndarray, *, order: int = 2) -> np.ndarray:
    """Least-squares polynomial surface ``p(row, col)`` fitted to ``values[mask]``.

    Returns the coefficients (evaluated by :func:`optical_density`). Coordinates
    are normalised to [0, 1] by the array shape so the fit is well conditioned.
    """
    rows, cols = np.nonzero(mask)
    design = _design((rows + 0.5) / values.shape[0], (cols + 0.5) / values.shape[1], order)
    coef, *_ = np.linalg.lstsq(design, values[rows, cols], rcond=None)
    return np.asarray(coef)


def lower_surface(
    values: np.ndarray,
    *,
    order: int = 2,
    stride: int = 4,
    asymmetry: float = 0.02,
    iterations: int = 15,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Polynomial surface hugging the lowest values of an image: its floor.

    Asymmetric least squares: points above the current surface get weight
    ``asymmetry``, points below it ``1 - asymmetry``, and the weighted fit is
    repeated. The surface settles on the lowest population that covers a few
    percent of the image and rides over the rest. Eilers, P. H. C. & Boelens,
    H. F. M. (2005), *Baseline correction with asymmetric least squares
    smoothing*, Leiden University Medical Centre report (the one-dimensional
    original; here the smoother is a 2-D polynomial).

    Parameters
    ----------
    values : (m, n) ndarray
    order : int
        Polynomial order in (row, col).
    stride : int
        Every ``stride``-th pixel in each direction is fitted.
    asymmetry : float
        Weight of the points above the surface, in (0, 0.5).
    iterations : int
    mask : (m, n) ndarray of bool, optional
        Only these pixels are fitted (the surface still covers the whole
        image); by default all.

    Returns
    -------
    surface : (m, n) ndarray of float32
    """
    m, n = values.shape
    rows, cols = np.mgrid[0:m:stride, 0:n:stride]
    design = _design((rows.ravel() + 0.5) / m, (cols.ravel() + 0.5) / n, order)
    target = values[::stride, ::stride].ravel().astype(np.float64)
    if mask is not None:
        fitted = np.asarray(mask, dtype=bool)[::stride, ::stride].ravel()
        if fitted.sum() > design.shape[1]:
            design, target = design[fitted], target[fitted]
    weight = np.ones_like(target)
    for _ in range(iterations):
        root = np.sqrt(weight)
        coef, *_ = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)
        new = np.where(target > design @ coef, asymmetry, 1.0 - asymmetry)
        if np.array_equal(new, weight):
            break
        weight = new
    r = (np.arange(m) + 0.5) / m
    c = (np.arange(n) + 0.5) / n
    full = _design(r[:, None], c[None, :], order) @ coef
    return np.asarray(full, dtype=np.float32)


def _terms(order: int) -> list[tuple[int, int]]:
    """Exponents (i, j) of the terms r**i * c**j of a polynomial of ``order``, in order."""
    return [(i, j) for i in range(order + 1) for j in range(order + 1 - i)]


def _design(r: np.ndarray, c: np.ndarray, order: int) -> np.ndarray:
    terms = [r**i * c**j for i, j in _terms(order)]
    return np.stack(terms, axis=-1)


def fit_background(
    rgb_lr: np.ndarray,
    tissue_lr: np.ndarray,
    *,
    order: int = 2,
    floor: float = 1.0,
    margin_px: int = 3,
) -> np.ndarray:
    """Fit the bright-field illumination (the glass seen without tissue).

    Parameters
    ----------
    rgb_lr : (m, n, 3) ndarray
        Low-resolution RGB image.
    tissue_lr : (m, n) ndarray of bool
        Current tissue estimate; pixels away from it are background.
    order : int
        Order of the polynomial in (row, col) fitted to log intensity.
    floor : float
        Intensities are clipped to at least this before the logarithm
        (the analysis uses 1/256 of the white level, whatever the dtype or scale).
    margin_px : int
        Pixels this close to the tissue are not background (the mask's edge
        is blurred).

    Returns
    -------
    coef : (T, 3) ndarray
        Polynomial coefficients of log intensity for each channel.
    """
    # scipy's binary_dilation(iterations=margin_px), value for value (a diamond).
    background = ~binary_dilation(tissue_lr, diamond(max(margin_px, 0)))
    if background.sum() > 40_000:
        # Six smooth terms need far fewer points: every k-th background pixel.
        keep = np.zeros_like(background)
        k = int(np.ceil(np.sqrt(background.sum() / 40_000)))
        keep[::k, ::k] = True
        background &= keep
    if background.sum() < 50:
        raise ValueError("no background (glass) visible around the tissue to estimate illumination")
    # A polynomial is only as good as the glass it is fitted on: from a strip of
    # glass along one side (a section filling the rest of the frame) a quadratic
    # extrapolates wildly across the tissue. The order follows the extent of
    # the glass in the frame: the full order where glass spans most of both
    # axes, a plane where it spans part, a constant where it is a strip.
    rows, cols = np.nonzero(background)
    span = min(
        float(np.ptp(np.percentile(rows, [2, 98]))) / background.shape[0],
        float(np.ptp(np.percentile(cols, [2, 98]))) / background.shape[1],
    )
    fit_order = order if span >= 0.6 else min(order, 1) if span >= 0.3 else 0
    log_i = np.log(np.clip(rgb_lr, floor, None))
    low = np.stack(
        [polynomial_surface(log_i[..., k], background, order=fit_order) for k in range(3)],
        axis=-1,
    )
    # The same coefficient layout whatever order was fitted (higher terms 0).
    coef = np.zeros((len(_terms(order)), 3))
    for t, term in enumerate(_terms(fit_order)):
        coef[_terms(order).index(term)] = low[t]
    return coef


def flat_background(white: np.ndarray, *, order: int = 2, floor: float = 1.0) -> np.ndarray:
    """Illumination coefficients (as :func:`fit_background` returns) of a flat ``white`` (3,)."""
    coef = np.zeros((len(_terms(order)), 3))
    coef[0] = np.log(np.clip(np.asarray(white, dtype=float), floor, None))
    return coef


def optical_density(
    rgb: np.ndarray,
    background_coef: np.ndarray,
    *,
    offset: tuple[int, int] = (0, 0),
    full_shape: tuple[int, int],
    order: int = 2,
    per_channel: bool = False,
    floor: float = 1.0,
    weights: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """Optical density of an RGB tile relative to the fitted illumination.

    The mean over the three channels by default; each channel's, or a
    weighted sum of them, on request.

    Parameters
    ----------
    rgb : (M, N, 3) ndarray
        A tile of the full-resolution (or reduced) image.
    background_coef : (T, 3) ndarray
        From :func:`fit_background` (fitted on normalised coordinates, so it
        applies at any resolution).
    offset : (int, int)
        Position of the tile's first pixel in the image of shape ``full_shape``.
    full_shape : (int, int)
        Shape of the image the tile comes from.
    order : int
        Degree of the illumination polynomial ``background_coef`` holds
        (``T = (order + 1) (order + 2) / 2`` terms).
    per_channel : bool
        Return the optical density of each channel instead of their mean.
    floor : float
        Intensities are clipped to at least this before the logarithm.
    weights : (float, float, float), optional
        Return ``sum_k weights[k] log(I0_k / I_k)`` instead of the mean (for
        example :data:`HAEMATOXYLIN_FREE`); not with ``per_channel``.

    Returns
    -------
    od : (M, N) or (M, N, 3) ndarray of float32
        ``mean_k log(I0_k / I_k)`` (or each channel's, or the weighted sum):
        0 on glass, larger for denser stain.

    Raises
    ------
    ValueError
        ``weights`` together with ``per_channel``.
    """
    if weights is not None:
        if per_channel:
            raise ValueError("weights and per_channel exclude each other")
        return _weighted_od(rgb, background_coef, weights, offset, full_shape, order, floor)
    # The surface is linear in its coefficients: the channels' mean log I0 is
    # the surface of the mean coefficients, so one plane does for the mean OD.
    coef = np.asarray(background_coef, dtype=np.float64)
    coef = coef if per_channel else coef.mean(axis=1, keepdims=True)
    log_i0 = _log_illumination(coef, rgb.shape[:2], offset, full_shape, order)
    if rgb.dtype == np.uint8:
        # A 256-entry table instead of a logarithm per pixel.
        table = np.log(np.clip(np.arange(256, dtype=np.float32), floor, None))
        if not per_channel and rgb.shape[-1] == 3:
            # The mean of the three channels' logs, summed in the order np.mean
            # sums them (0 + 1, then + 2, in float32) from three look-ups: the same
            # values without the (M, N, 3) float32 array of logs.
            mean_log = table[rgb[..., 0]]
            mean_log += table[rgb[..., 1]]
            mean_log += table[rgb[..., 2]]
            mean_log /= 3
            return np.subtract(log_i0[..., 0], mean_log, out=mean_log)
        log_i = table[rgb]
    else:
        log_i = np.clip(rgb, floor, None, dtype=np.float32)
        np.log(log_i, out=log_i)
    if per_channel:
        return np.subtract(log_i0, log_i, out=log_i)
    return log_i0[..., 0] - np.mean(log_i, axis=-1, dtype=np.float32)


def _log_illumination(
    coef: np.ndarray,
    shape: tuple[int, ...],
    offset: tuple[int, int],
    full_shape: tuple[int, int],
    order: int,
) -> np.ndarray:
    """The fitted log-illumination surfaces (one per column of ``coef``) over a tile.

    Returns a float32 array that broadcasts to ``(*shape, coef.shape[1])``.
    """
    r = (np.arange(shape[0]) + offset[0] + 0.5) / full_shape[0]
    c = (np.arange(shape[1]) + offset[1] + 0.5) / full_shape[1]
    # Separable evaluation: sum_ij coef_ij r**i c**j as outer products. A term
    # of one coordinate (r**i, c**j or the constant: the other factor is 1.0,
    # exactly) is computed along that axis only and broadcast into the sum:
    # the same float32 values, added in the same order, at a fraction of the cost.
    # The sum itself stays as small as its terms so far (the column terms come
    # first): it grows to the tile's shape only when a term needs it.
    log_i0 = np.zeros((1, 1, coef.shape[1]), dtype=np.float32)
    k = 0
    for i in range(order + 1):
        for j in range(order + 1 - i):
            rows = (r**i)[:, None, None] if i else 1.0
            cols = (c**j)[None, :, None] if j else 1.0
            term = np.asarray(rows * cols * coef[k]).astype(np.float32)
            if np.broadcast_shapes(log_i0.shape, term.shape) == log_i0.shape:
                log_i0 += term
            else:
                log_i0 = log_i0 + term
            k += 1
    return log_i0


def _weighted_od(
    rgb: np.ndarray,
    background_coef: np.ndarray,
    weights: tuple[float, float, float],
    offset: tuple[int, int],
    full_shape: tuple[int, int],
    order: int,
    floor: float,
) -> np.ndarray:
    """``optical_density(..., per_channel=True) @ weights``, one channel at a time."""
    w = np.asarray(weights, dtype=np.float64)
    # The surface is linear in its coefficients: one plane for the weighted sum.
    coef = np.asarray(background_coef, dtype=np.float64) @ w[:, None]
    log_i0 = _log_illumination(coef, rgb.shape[:2], offset, full_shape, order)[..., 0]
    out = np.broadcast_to(log_i0, rgb.shape[:2]).astype(np.float32)  # less each log(I) below
    for k in np.flatnonzero(w):
        if rgb.dtype == np.uint8:
            table = (w[k] * np.log(np.clip(np.arange(256, dtype=np.float64), floor, None))).astype(
                np.float32
            )
            out -= table[rgb[..., k]]
        else:
            channel = np.clip(rgb[..., k], floor, None, dtype=np.float32)
            out -= np.float32(w[k]) * np.log(channel, out=channel)
    return out


def suppress_fibres(
    signal: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    clear_um: float = 6.0,
    k: float = 4.0,
) -> np.ndarray:
    """Tissue signal with fibres, bundles and other stain-dense objects removed.

    Stained objects (thin ridges above the local median, and the densest 3% of
    the tissue) get zero weight, and the signal is re-estimated from the rest by
    normalised convolution: ``G(s * w) / G(w)``. Knutsson, H. & Westin, C.-F.
    (1993), CVPR, :DOI:`10.1109/CVPR.1993.341081`.

    Parameters
    ----------
    signal : (m, n) or (m, n, C) ndarray
        Optical density (bright-field) or intensity (fluorescence): higher = more stain.
    tissue : (m, n) ndarray of bool
    spacing : float
        Pixel size in µm.
    clear_um : float
        Objects narrower than this are removed; also the smoothing scale.
    k : float
        Robust standard deviations above the local median that mark stain.

    Returns
    -------
    clean : ndarray of float32, the shape of ``signal``
    """
    signal = np.asarray(signal, dtype=np.float32)  # no copy of float32: it is only read
    stack = signal if signal.ndim == 3 else signal[..., None]
    total = channel_mean(stack)
    size = max(3, round(clear_um / spacing) | 1)
    # Separable median: a thin ridge of any orientation is removed by one of
    # the two passes, at a fraction of the cost of the 2-D median. Rows then
    # columns and columns then rows differ (at blobs and corners), and which is
    # which turns with the image: the mean of both orders is the same however
    # the section lies in the frame (a quarter turn or a mirror).
    floor = median_filter_line(median_filter_line(total, size, axis=1), size, axis=0)
    floor += median_filter_line(median_filter_line(total, size, axis=0), size, axis=1)
    floor *= 0.5
    residual = total - floor
    if tissue.sum() < 100:
        return signal.copy()
    _, noise = robust_scale(residual[tissue])
    stain = (residual > k * noise) | (total > np.percentile(total[tissue], 97))
    del residual, floor
    weight = (tissue & ~binary_dilation(stain, _CROSS)).astype(np.float32)
    sigma = 0.5 * clear_um / spacing
    norm = ndi.gaussian_filter(weight, sigma)
    # The wide fallback is smooth: compute it on a copy reduced by about sigma.
    step = max(1, round(sigma))
    full = (slice(0, weight.shape[0]), slice(0, weight.shape[1]))
    wide_norm = ndi.gaussian_filter(block_mean(weight, step), 4 * sigma / step)
    # What every channel divides by and where it uses what (the same for all).
    supported = norm > 0.05
    np.maximum(norm, 1e-6, out=norm)
    wide_supported = wide_norm > 0.02
    np.maximum(wide_norm, 1e-6, out=wide_norm)
    used = weight > 0
    clean = np.empty_like(stack)
    for c in range(stack.shape[-1]):
        # Inside thick objects (nerve bundles) the local estimate has no support:
        # fall back to a wider one, then to the tissue's median.
        values = stack[..., c][used]  # a copy, which the median may reorder
        typical = float(np.median(values, overwrite_input=True)) if values.size else 0.0
        weighted = stack[..., c] * weight
        smooth = ndi.gaussian_filter(weighted, sigma)
        smooth /= norm
        wide_sum = ndi.gaussian_filter(block_mean(weighted, step), 4 * sigma / step)
        del weighted
        wide = np.where(wide_supported, wide_sum / wide_norm, typical)
        np.copyto(clean[..., c], expand_blocks(wide, step, *full))
        np.copyto(clean[..., c], smooth, where=supported)
    return clean if signal.ndim == 3 else clean[..., 0]
