"""The basement membrane line of a collagen IV channel, and the tissue cut along it."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from scipy import ndimage as ndi
from skimage import filters, morphology

from ienfd.core._preprocess import robust_scale

__all__: list[str] = []


def _largest_components(mask: np.ndarray, *, keep_fraction: float) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= keep_fraction * sizes.max()) + 1
    return np.isin(labels, keep)


def _sato_bright(image: np.ndarray, sigma: float) -> np.ndarray:
    """Sato's tubeness of bright ridges at one scale (float32 in and out).

    Value for value ``skimage.filters.sato(image, sigmas=[sigma],
    black_ridges=False, mode="reflect")`` (its Hessian of Gaussian-derivative
    kernels, each at ``sigma / sqrt(2)`` applied twice, truncated at 8 sigma,
    or 100 when sigma <= 1): written out because that module imports
    ``skimage.feature``, which loads ``scipy.stats`` (half a second of start-up).
    In 2-D the measure is ``sigma**2 * max(lambda_max, 0)`` of the negated image.
    """
    image = -image
    smooth = partial(
        ndi.gaussian_filter,
        sigma=(1 / math.sqrt(2)) * sigma,
        mode="reflect",
        truncate=8 if sigma > 1 else 100,
    )
    d_row, d_col = smooth(image, order=(1, 0)), smooth(image, order=(0, 1))
    h_rr = smooth(d_row, order=(1, 0))
    h_rc = smooth(d_row, order=(0, 1))
    h_cc = smooth(d_col, order=(0, 1))
    largest = (h_rr + h_cc) / 2 + np.sqrt(h_rc**2 + ((h_rr - h_cc) / 2) ** 2)
    return np.maximum(np.zeros_like(image), sigma**2 * np.maximum(largest, 0))


def _epidermis_from_membrane(
    membrane: np.ndarray,
    tissue: np.ndarray,
    *,
    spacing: float,
    line_sigma_um: float,
    min_line_um: float,
    gap_um: float,
    tissue_band: np.ndarray | None = None,
) -> np.ndarray | None:
    image = membrane.astype(np.float32)
    sigma = max(line_sigma_um / spacing, 0.7)
    ridge = _sato_bright(image, sigma)
    inside = ndi.binary_erosion(tissue, iterations=2)
    if inside.sum() < 100:
        return None
    # Over the pixels with any ridge response: the epidermis has none (no
    # collagen IV), and its zeros would shrink the scale to the noise floor.
    responding = inside & (ridge > 0)
    if responding.sum() < 100:
        return None
    med, mad = robust_scale(ridge[responding])
    score = (ridge - med) / mad
    line = filters.apply_hysteresis_threshold(score, 4.0, 10.0) & ndi.binary_dilation(
        tissue, iterations=2
    )
    skeleton = morphology.skeletonize(line)
    skeleton = _junction_line_pieces(skeleton, spacing=spacing, min_line_um=min_line_um)
    if skeleton is None:
        return None
    cut = _link_line(skeleton, tissue, gap_px=gap_um / spacing)
    cut = ndi.binary_dilation(cut, structure=np.ones((3, 3)))
    regions, n_regions = ndi.label(tissue & ~cut)
    if n_regions < 2:
        return None
    touching = ndi.binary_dilation(cut, structure=np.ones((3, 3)))
    areas = np.bincount(regions.ravel(), minlength=n_regions + 1).astype(float)
    contact = np.bincount(regions[touching].ravel(), minlength=n_regions + 1).astype(float)
    areas[0] = contact[0] = 0
    big = (areas >= 0.03 * areas[1:].sum()) & (contact >= 0.2 * contact[1:].max())
    if big.sum() < 2:
        return None
    thickness = np.where(big, areas / np.maximum(contact, 1), np.inf)
    epidermis_label = int(np.argmin(thickness))
    if tissue_band is not None and tissue_band.any():
        # The side the tissue evidence calls epidermis, when it clearly says so
        # (a thin dermis or a long line end can make the dermis the thinner side).
        shared = np.bincount(regions[tissue_band].ravel(), minlength=n_regions + 1)
        iou = np.where(big, shared / (areas + tissue_band.sum() - shared + 1e-9), 0.0)
        if iou.max() >= 0.3:
            epidermis_label = int(np.argmax(iou))
    epidermis = regions == epidermis_label
    # Give the line itself to the epidermis up to its centre: the junction is the
    # membrane's centre line, found again at full resolution by the caller.
    epidermis |= cut & ndi.binary_dilation(epidermis, iterations=2)
    return epidermis


def _junction_line_pieces(
    skeleton: np.ndarray, *, spacing: float, min_line_um: float
) -> np.ndarray | None:
    """The pieces of a membrane skeleton that can belong to the junction line.

    The basement membrane is one long open curve; vessel walls are small rings
    and ring clusters. A piece is kept when its extent (bounding-box diagonal)
    is at least a quarter of the largest piece's and its skeleton is not much
    longer than that extent allows for a wavy line (rete ridges).
    """
    labels, n = ndi.label(skeleton, structure=np.ones((3, 3)))
    if n == 0:
        return None
    boxes = ndi.find_objects(labels)
    extent = np.array([np.hypot(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes])
    size = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(float)
    linear = size <= 3.0 * extent
    candidates = linear & (extent * spacing >= 20.0)
    if not candidates.any():
        return None
    longest = extent[candidates].max()
    if longest * spacing < min_line_um:
        return None
    keep = np.flatnonzero(candidates & (extent >= 0.25 * longest)) + 1
    return np.isin(labels, keep)


def _link_line(skeleton: np.ndarray, tissue: np.ndarray, *, gap_px: float) -> np.ndarray:
    """Join line pieces across gaps and extend the free ends to the tissue edge."""
    out = skeleton.copy()
    labels, _n = ndi.label(skeleton, structure=np.ones((3, 3)))
    neighbours = ndi.convolve(skeleton.astype(np.uint8), np.ones((3, 3), np.uint8), mode="constant")
    ends = np.argwhere(skeleton & (neighbours == 2))
    end_labels = labels[ends[:, 0], ends[:, 1]]
    free_ends = []
    linked: set[int] = set()
    for k, end in enumerate(ends):
        if k in linked:
            continue
        dist = np.hypot(*(ends - end).T)
        dist[(end_labels == end_labels[k]) | (dist > gap_px)] = np.inf
        for j in sorted(linked):
            dist[j] = np.inf
        j = int(np.argmin(dist))
        if np.isfinite(dist[j]):
            _draw_segment(out, end, ends[j])
            linked.update((k, j))
        else:
            free_ends.append(end)
    points = np.argwhere(skeleton)
    point_labels = labels[points[:, 0], points[:, 1]]
    # Extend every free end along its local direction until it leaves the tissue.
    for end in free_ends:
        own = labels[end[0], end[1]]
        near = points[(point_labels == own) & (np.hypot(*(points - end).T) <= 8)]
        direction = end - near.mean(axis=0)
        norm = np.hypot(*direction)
        if norm < 1e-6:
            continue
        direction = direction / norm
        position = end.astype(float)
        for _ in range(int(4 * gap_px) + 10):
            position = position + direction
            r, c = round(position[0]), round(position[1])
            if not (0 <= r < out.shape[0] and 0 <= c < out.shape[1]) or not tissue[r, c]:
                break
            out[r, c] = True
    return out


def _draw_segment(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> None:
    n = int(np.ceil(np.hypot(*(stop - start)))) + 1
    rows = np.round(np.linspace(start[0], stop[0], n)).astype(int)
    cols = np.round(np.linspace(start[1], stop[1], n)).astype(int)
    mask[rows, cols] = True
