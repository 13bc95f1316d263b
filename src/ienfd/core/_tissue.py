"""Tissue (section) masks on a low-resolution image."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import filters, morphology

from ienfd.core._preprocess import block_mean, lower_surface, robust_scale

__all__ = [
    "above_floor",
    "constant_padding",
    "fill_holes",
    "pieces_touching",
    "segment_tissue",
    "textured_beyond",
]

_CROSS = ndi.generate_binary_structure(2, 1)
_EIGHT = ndi.generate_binary_structure(2, 2)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """:func:`scipy.ndimage.binary_fill_holes` of a 2-D mask, value for value.

    The background stays background where its 4-connected piece reaches the
    image's edge; every other background piece is a hole. One labelling of the
    background instead of scipy's dilation from the edge repeated to a fixed
    point, a few times faster on a megapixel mask.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or min(mask.shape) == 0:
        return np.asarray(ndi.binary_fill_holes(mask), dtype=bool)
    labels, _ = ndi.label(~mask, structure=_CROSS)
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    outside = np.zeros(int(labels.max()) + 1, dtype=bool)
    outside[edge] = True
    outside[0] = False
    return ~outside[labels]


def pieces_touching(
    mask: np.ndarray, seed: np.ndarray, *, structure: np.ndarray | None = None
) -> np.ndarray:
    """The connected pieces of ``mask`` that hold at least one pixel of ``seed``.

    ``structure`` is :func:`scipy.ndimage.label`'s (4-connected by default).
    Binary reconstruction of ``mask`` from ``mask & seed``, by one labelling.
    """
    labels, n = ndi.label(mask, structure=structure)
    keep = np.zeros(n + 1, dtype=bool)
    keep[labels[np.asarray(seed, dtype=bool)]] = True
    keep[0] = False
    return keep[labels]


def above_floor(
    signal: np.ndarray,
    *,
    spacing: float,
    smooth_um: float,
    outside: np.ndarray | None = None,
) -> np.ndarray:
    """The signal less a quadratic floor fitted under its lowest values: uneven glass made flat.

    A fluorescence field is often brighter in its centre than in its corners
    (vignetting, uneven illumination, mounting medium thicker in places): the
    glass beside the section in the centre can then lie above the corners'
    glass by more than a dim epidermis lies above its own glass, and no one
    threshold keeps the epidermis without taking that glass in. The floor is
    :func:`~ienfd.core._preprocess.lower_surface` of order 2 (the shape of
    vignetting) under the signal smoothed over ``smooth_um``; pixels
    ``outside`` the micrograph (its constant fill) are left out of the
    smoothing (a normalised convolution) and of the fit.

    Parameters
    ----------
    signal : (m, n) ndarray
        Low-resolution fluorescence signal, higher in tissue.
    spacing : float
        Pixel size of ``signal`` in µm.
    smooth_um : float
        Gaussian smoothing before the fit, in µm.
    outside : (m, n) ndarray of bool, optional

    Returns
    -------
    flat : (m, n) ndarray of float32
    """
    sigma = smooth_um / spacing
    signal = signal.astype(np.float32)
    if outside is None or not outside.any() or outside.all():
        return np.asarray(
            signal - lower_surface(ndi.gaussian_filter(signal, sigma), order=2), dtype=np.float32
        )
    inside = (~outside).astype(np.float32)
    weight = ndi.gaussian_filter(inside, sigma)
    smoothed = ndi.gaussian_filter(signal * inside, sigma) / np.maximum(weight, 1e-6)
    floor = lower_surface(smoothed, order=2, mask=~outside)
    return np.asarray(signal - floor, dtype=np.float32)


def constant_padding(
    channels: list[np.ndarray], factor: int, *, min_fraction: float = 0.005
) -> np.ndarray:
    """Blocks of the frame that are padding: one exact value in every channel, off the image.

    A micrograph rotated to straighten the section, or stitched from tiles, is
    filled out to its rectangle with a constant (usually 0). That fill is not
    glass: glass has a level of its own (camera offset, autofluorescence) and
    noise about it, and taking the fill for the darkest glass puts the tissue
    threshold below the real glass. A block of ``factor`` x ``factor`` pixels
    is padding when all its pixels, in every channel, hold the channel's
    minimum, and its piece of such blocks reaches the frame's border. The fill
    is told from glass clipped at the same value (a dark field with no offset)
    by the pixels a few blocks from the fill: glass clipped there holds the
    same value often, glass beside a rotation's corner hardly ever (under 5 %).

    Parameters
    ----------
    channels : list of (M, N) ndarray
        The image's channels at full resolution, all the same shape.
    factor : int
        Block size: the mask is on the grid of :func:`block_mean` by ``factor``.
    min_fraction : float
        Padding covering less of the frame than this is ignored.

    Returns
    -------
    padding : (m, n) ndarray of bool
        All False when there is no such fill.
    """
    at_min = np.ones(channels[0].shape, dtype=bool)
    for channel in channels:
        at_min &= channel == channel.min()
    fraction = block_mean(at_min.astype(np.float32), factor)
    full = fraction >= 1.0
    if full.mean() < min_fraction:
        return np.zeros(full.shape, dtype=bool)
    frame_edge = np.ones(full.shape, dtype=bool)
    frame_edge[1:-1, 1:-1] = False
    padding = pieces_touching(full, frame_edge)
    if padding.mean() < min_fraction:
        return np.zeros(full.shape, dtype=bool)
    near = ndi.binary_dilation(padding, iterations=4) & ~ndi.binary_dilation(padding, iterations=2)
    if not near.any() or float(fraction[near].mean()) > 0.05:
        return np.zeros(full.shape, dtype=bool)
    return padding


def segment_tissue(
    signal: np.ndarray,
    *,
    spacing: float,
    smooth_um: float = 6.0,
    min_area_um2: float = 20_000.0,
    fill_holes_um2: float | None = None,
    background_fraction: float = 0.15,
    min_step: float = 0.0,
    tinted: np.ndarray | None = None,
    outside: np.ndarray | None = None,
) -> np.ndarray:
    """Segment tissue from a low-resolution signal that is higher in tissue.

    Parameters
    ----------
    signal : (m, n) ndarray
        Optical density (bright-field) or summed normalised fluorescence:
        background low, tissue higher.
    spacing : float
        Pixel size of ``signal`` in µm.
    smooth_um : float
        Gaussian smoothing before thresholding, in µm.
    min_area_um2 : float
        Tissue pieces smaller than this are discarded (dust, debris).
    fill_holes_um2 : float, optional
        Holes (vessel lumina, glands, tears, pale papillary dermis) up to this
        area are filled; by default every hole enclosed by tissue is filled,
        so that only glass connected to the outside counts as outside.
    background_fraction : float
        Where the threshold sits between the background level and Otsu's
        threshold. Bright-field glass varies more than a dark fluorescence
        field, and unstained fluorescence dermis is nearly as dark as the
        background: 0.15 (bright-field) and 0.1 (fluorescence) are the defaults.
    min_step : float
        The threshold is at least this far above the background level.
    tinted : (m, n) ndarray of bool, optional
        Pixels whose colour sets them apart from the background, tissue
        whatever their signal (bright-field: pale eosin dermis on mottled glass).

    Returns
    -------
    tissue : (m, n) ndarray of bool

    Notes
    -----
    The background level is the 3rd percentile of the smoothed signal (glass
    is assumed to fill at least a few percent of the frame). The threshold sits
    ``background_fraction`` of the way from it to Otsu's threshold, or eight noise standard
    deviations above it if higher, so that pale (bright-field) or dark
    (fluorescence) dermis is kept. Otsu, N. (1979), IEEE
    Trans. Syst. Man Cybern. 9:62, :DOI:`10.1109/TSMC.1979.4310076`.
    """
    smoothed = ndi.gaussian_filter(signal.astype(np.float32, copy=False), smooth_um / spacing)
    values = smoothed
    if outside is not None and outside.any():
        reach = max(1, round(2 * smooth_um / spacing))
        inside = ~ndi.binary_dilation(outside, iterations=reach)
        if inside.sum() >= 100:
            values = smoothed[inside]
    otsu = filters.threshold_otsu(values)
    background = float(np.percentile(values, 3))
    low_tail = values[values <= np.percentile(values, 10)]
    _, noise = robust_scale(low_tail)
    threshold = background + max(8.0 * noise, background_fraction * (otsu - background), min_step)
    threshold = min(threshold, otsu)
    tissue = smoothed > threshold
    if tinted is not None:
        tissue |= tinted
    if outside is not None:
        tissue &= ~outside
    area_px = spacing * spacing
    if fill_holes_um2 is None:
        tissue = fill_holes(tissue)
    else:
        tissue = morphology.remove_small_holes(tissue, max_size=int(fill_holes_um2 / area_px))
    tissue = morphology.remove_small_objects(tissue, max_size=int(min_area_um2 / area_px))
    return np.asarray(tissue, dtype=bool)


#: The least texture level the glass is given, in optical density (RMS): a
#: frame's constant fill (a whole-slide region outside its section, a
#: rotation's corners) or glass clipped at white has none, and against zero
#: every pixel of noise would be texture. Camera noise of 2 grey levels on
#: 8-bit glass is about 0.003 OD after block averaging; the glass of the
#: independent generator's development sections measured 0.009-0.016, real
#: glass (W0043323) 0.008.
_MIN_GLASS_TEXTURE = 0.005


def textured_beyond(
    signal: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    smooth_um: float = 6.0,
    detail_um: float = 3.0,
    factor: float = 1.7,
    open_um: float = 4.0,
    min_area_um2: float = 20_000.0,
) -> np.ndarray:
    """Regions outside ``tissue`` whose fine texture stands well above the glass's.

    Dermis as pale and as colourless as the glass (a chromogen with no
    counterstain) is left out of a mask thresholded on density and colour, and
    the junction facing it is lost. Its collagen is textured; glass is smooth
    but for noise. The texture is the local root mean square of ``signal`` less
    its Gaussian blur at ``detail_um`` (details of a few µm: collagen bundles,
    cells), averaged over ``smooth_um``. The glass's level is its 5th percentile
    outside ``tissue`` (what is left out holds glass wherever any is in view,
    and glass is its smoothest part), leaving out what has no texture at all
    (a constant fill, clipped glass), and at least 0.005 OD. Regions more than
    ``factor`` times as textured, beyond the halo every edge has within three
    averaging widths, opened by a disk of ``open_um`` and at least
    ``min_area_um2`` large, are grown back across the halo to the tissue they
    border; those that then touch ``tissue`` are returned. Dermis left out of
    the mask continues the tissue; a textured patch of glass apart from it (a
    vignetted corner, where the optical density's noise is higher) does not.

    Parameters
    ----------
    signal : (m, n) ndarray
        Low-resolution optical density (the mean over the channels).
    tissue : (m, n) ndarray of bool
        The tissue mask so far.
    spacing : float
        Pixel size of ``signal`` in µm.

    Returns
    -------
    (m, n) ndarray of bool
        The textured regions outside ``tissue``; all False when there are none,
        or too little outside ``tissue`` to measure the glass by.
    """
    outside = ~np.asarray(tissue, dtype=bool)
    if outside.sum() < 100:
        return np.zeros(outside.shape, dtype=bool)
    signal = np.asarray(signal, dtype=np.float32)
    detail = signal - ndi.gaussian_filter(signal, detail_um / spacing)
    texture = np.sqrt(ndi.gaussian_filter(detail * detail, smooth_um / spacing))
    # A constant fill or clipped glass has no texture at all: not glass's
    # level (were it 5 % of what is left out, the floor would stand in for
    # the glass, and glass noisier than twice the floor would be taken in).
    measured = texture[outside & (texture > 0.1 * _MIN_GLASS_TEXTURE)]
    level = float(np.percentile(measured, 5)) if measured.size >= 100 else 0.0
    glass = max(level, _MIN_GLASS_TEXTURE)
    textured = (texture > factor * glass) & outside
    # Within three averaging widths of the tissue every edge is textured: the
    # regions are found beyond that halo, then grown back across it (only
    # where they are, not along the whole edge).
    halo = 3 * smooth_um / spacing
    # Chessboard distances, not dilations by a disk of the halo's radius: a
    # square's reach (the halo a little wider along the diagonals), in time
    # independent of the radius.
    far = textured & (ndi.distance_transform_cdt(outside, metric="chessboard") > halo)
    min_px = int(min_area_um2 / spacing**2)
    if far.sum() <= min_px:
        return np.zeros(outside.shape, dtype=bool)
    far = ndi.binary_opening(far, morphology.disk(max(1, round(open_um / spacing))))
    far = morphology.remove_small_objects(far, max_size=min_px)
    if not far.any():
        return far
    grown = (ndi.distance_transform_cdt(~far, metric="chessboard") <= halo) & textured
    # Only what continues the tissue: the pieces with a pixel beside it.
    beside = ndi.binary_dilation(~outside, structure=_EIGHT)
    return pieces_touching(grown, beside, structure=_EIGHT)
