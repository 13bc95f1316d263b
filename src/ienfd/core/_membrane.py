"""The basement membrane line of a collagen IV channel, and the tissue cut along it."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse import csgraph
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
    cut = _link_line(
        _line_paths(skeleton, spacing=spacing),
        tissue,
        gap_px=gap_um / spacing,
        min_line_px=min_line_um / spacing,
    )
    if cut is None:
        return None
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
    darker = _collagen_free_side(image, regions, big, cut, spacing=spacing)
    if darker is not None:
        epidermis_label = darker
    epidermis = regions == epidermis_label
    # Give the line itself to the epidermis up to its centre: the junction is the
    # membrane's centre line, found again at full resolution by the caller.
    epidermis |= cut & ndi.binary_dilation(epidermis, iterations=2)
    return epidermis


def _collagen_free_side(
    membrane: np.ndarray,
    regions: np.ndarray,
    big: np.ndarray,
    cut: np.ndarray,
    *,
    spacing: float,
    clear_um: float = 10.0,
    ratio: float = 1.5,
) -> int | None:
    """The side of the cut without collagen IV, when the channel says so clearly.

    Collagen IV lies in basement membranes: under the epidermis (the line
    itself) and around the dermis's vessels and nerves, with a diffuse dermal
    level besides; the epidermis above the line has none. Of the two largest
    sides, more than ``clear_um`` from the line, the one whose median collagen
    IV is below ``1 / ratio`` of the other's is the epidermis. Thickness and
    the tissue band can both call the dermis the epidermis when the tissue
    mask has taken in glass beyond the surface (the "epidermis" side then runs
    to the frame). Returns None when the two are closer than that. (A
    ``ratio`` of 2 left the side undecided where such glass, on an uneven
    field, lifted the epidermis side's median to half the dermis's: independent
    generator seed 310, 0.112 against 0.219.)
    """
    labels = np.flatnonzero(big)
    if len(labels) != 2:
        return None
    away = ndi.distance_transform_edt(~cut) * spacing > clear_um
    levels = []
    for label in labels:
        values = membrane[(regions == label) & away]
        if values.size < 50:
            return None
        levels.append(float(np.median(values)))
    low, high = int(np.argmin(levels)), int(np.argmax(levels))
    # Levels on the channel's own scale: 0 is its 2nd percentile (glass or epidermis).
    if levels[high] <= 0 or levels[low] * ratio > levels[high]:
        return None
    return int(labels[low])


def _line_paths(
    skeleton: np.ndarray, *, spacing: float, max_ring_um: float = 5.0
) -> list[np.ndarray]:
    """The pieces of a membrane skeleton that can be parts of the junction line, as paths.

    The basement membrane is one long open curve; vessel walls and the
    perineurium of a nerve trunk are rings. Each skeleton piece at least
    20 µm across is reduced to its longest path (:func:`_main_path`: the
    spurs a wavy or dotted line grows are dropped, so that only the line's
    real ends are linked or extended). A piece is dropped when it encloses
    more than ``max_ring_um`` µm² of area per µm of its path (a ring, not a
    line that a small vessel touches) or when its path is more than three
    times as long as its extent (a tangle, not a wavy line).

    Returns
    -------
    list of (K, 2) int ndarray
        (row, col) pixel chains.
    """
    labels, _ = ndi.label(skeleton, structure=np.ones((3, 3)))
    paths: list[np.ndarray] = []
    for k, box in enumerate(ndi.find_objects(labels)):
        extent = math.hypot(box[0].stop - box[0].start, box[1].stop - box[1].start)
        if extent * spacing < 20.0:
            continue
        piece = labels[box] == k + 1
        path = _main_path(piece)
        length = _path_length(path)
        enclosed = int(ndi.binary_fill_holes(piece).sum() - piece.sum())
        if enclosed * spacing > max_ring_um * max(length, 1.0) or length > 3.0 * extent:
            continue
        paths.append(path + np.array([box[0].start, box[1].start]))
    return paths


def _path_length(path: np.ndarray) -> float:
    return float(np.hypot(*np.diff(path, axis=0).T).sum()) if len(path) > 1 else 0.0


def _main_path(piece: np.ndarray) -> np.ndarray:
    """The longest shortest path through a connected skeleton, as (K, 2) pixel indices.

    Two sweeps of Dijkstra's algorithm over the 8-connected pixel graph (edge
    lengths 1 and sqrt 2): the pixel farthest from any start is one end of
    the longest path (exact on a tree, a close bound with loops), the pixel
    farthest from it the other.
    """
    points = np.argwhere(piece)
    if len(points) < 2:
        return points
    index = np.full(piece.shape, -1, dtype=np.int64)
    index[points[:, 0], points[:, 1]] = np.arange(len(points))
    padded = np.pad(index, 1, constant_values=-1)
    rows, cols, weights = [], [], []
    for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
        other = padded[1 + dr : 1 + dr + piece.shape[0], 1 + dc : 1 + dc + piece.shape[1]]
        both = (index >= 0) & (other >= 0)
        rows.append(index[both])
        cols.append(other[both])
        weights.append(np.full(int(both.sum()), math.hypot(dr, dc)))
    r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(weights)
    graph = sparse.coo_matrix((w, (r, c)), shape=(len(points), len(points))).tocsr()
    first = csgraph.dijkstra(graph, directed=False, indices=0)
    start = int(np.argmax(np.where(np.isfinite(first), first, -1)))
    dist, predecessors = csgraph.dijkstra(
        graph, directed=False, indices=start, return_predecessors=True
    )
    node = int(np.argmax(np.where(np.isfinite(dist), dist, -1)))
    chain = [node]
    while predecessors[node] >= 0:
        node = int(predecessors[node])
        chain.append(node)
    return points[np.array(chain[::-1])]


def _link_line(
    paths: list[np.ndarray],
    tissue: np.ndarray,
    *,
    gap_px: float,
    min_line_px: float,
    reach: int = 8,
) -> np.ndarray | None:
    """Join line paths into chains across gaps; the junction's chains, extended to the tissue edge.

    Ends of different paths closer than ``gap_px`` are joined, each end once
    and never into a loop, when the join leaves each end forward (within 90°
    of the direction of its last ``reach`` pixels): a dotted or broken line
    continues, a ring's end beside it does not join it. Ends up to three
    gaps apart are joined when they point at each other (within 37°): a
    line faded over a longer stretch. An end within half a gap of the
    tissue's edge is joined only so (a line ends there rather than breaks). The cheapest joins
    go first, their length weighted by how far they turn: ``length * (2 -
    cos)``, with ``cos`` the smaller of the two ends' (a vessel's wall
    touching the line does not take the end its next piece continues).
    The chains whose extent (bounding-box diagonal) is at least half the
    largest one's are the junction line, in one or more pieces; the other
    chains (a vessel, a trunk's wall) are dropped. Each free end of a kept
    chain is extended along its direction until it leaves the tissue, at most
    ``2 * gap_px + 10`` pixels: a line fades near the section's edge, but an
    end far inside (a broken ridge) is not carried across the epidermis. An
    end that does not leave the tissue so but lies within half a gap of its
    edge (a line that curls along the edge) is joined to the edge.

    Returns
    -------
    (m, n) ndarray of bool or None
        The cut line, or None when no chain is ``min_line_px`` across.
    """
    if not paths:
        return None
    ends = np.array([p[i] for p in paths for i in (0, -1)], dtype=float)
    # the point ``reach`` pixels back along its path from each end
    back = np.array(
        [q for p in paths for q in (p[min(reach, len(p) - 1)], p[max(len(p) - 1 - reach, 0)])],
        dtype=float,
    )
    outward = ends - back
    outward /= np.maximum(np.hypot(*outward.T), 1e-9)[:, None]
    owner = np.repeat(np.arange(len(paths)), 2)
    group = list(range(len(paths)))

    def root(k: int) -> int:
        while group[k] != k:
            k = group[k]
        return k

    step = ends[None, :, :] - ends[:, None, :]  # from end i to end j
    dist = np.hypot(step[..., 0], step[..., 1])
    unit = step / np.maximum(dist, 1e-9)[..., None]
    forward_i = np.einsum("ijk,ik->ij", unit, outward)
    turn = np.minimum(forward_i, forward_i.T)
    # The nearest pixel outside the tissue (the frame's border counts as outside).
    edge_distance, nearest = ndi.distance_transform_edt(
        np.pad(tissue, 1, constant_values=False), return_indices=True
    )
    end_px = ends.astype(int) + 1
    at_edge = edge_distance[end_px[:, 0], end_px[:, 1]] <= gap_px / 2
    # Near the tissue's edge a line ends rather than breaks: there a join
    # must continue it straight (a trunk's wall beside the line's last
    # stretch also ends at the edge, and would carry the cut around the trunk).
    loose = ~(at_edge[:, None] | at_edge[None, :])
    reachable = ((dist <= gap_px) & (turn >= 0.0) & loose) | ((dist <= 3 * gap_px) & (turn >= 0.8))
    cost = dist * (2.0 - np.clip(turn, 0.0, 1.0))
    allowed = np.triu(reachable | (dist <= 3), k=1) & (owner[:, None] != owner[None, :])
    used = np.zeros(len(ends), dtype=bool)
    links = []
    for i, j in sorted(np.argwhere(allowed).tolist(), key=lambda ij: cost[ij[0], ij[1]]):
        if used[i] or used[j] or root(owner[i]) == root(owner[j]):
            continue
        used[i] = used[j] = True
        group[root(owner[i])] = root(owner[j])
        links.append((i, j))
    chain = np.array([root(k) for k in range(len(paths))])
    extent = {}
    for g in set(chain.tolist()):
        points = np.concatenate([paths[k] for k in np.flatnonzero(chain == g)])
        extent[g] = math.hypot(*(points.max(axis=0) - points.min(axis=0)))
    longest = max(extent.values())
    if longest < min_line_px:
        return None
    keep = {g for g, e in extent.items() if e >= 0.5 * longest}
    out = np.zeros(tissue.shape, dtype=bool)
    for k, path in enumerate(paths):
        if chain[k] in keep:
            out[path[:, 0], path[:, 1]] = True
    for i, j in links:
        if chain[owner[i]] in keep:
            _draw_segment(out, ends[i].astype(int), ends[j].astype(int))
    rows, cols = tissue.shape
    for free in np.flatnonzero(~used).tolist():
        if chain[owner[free]] not in keep:
            continue
        position = ends[free].copy()
        left = False
        for _ in range(int(2 * gap_px) + 10):
            position += outward[free]
            r, c = round(position[0]), round(position[1])
            if not (0 <= r < rows and 0 <= c < cols) or not tissue[r, c]:
                left = True
                break
            out[r, c] = True
        r, c = (int(v) + 1 for v in ends[free])
        if not left and edge_distance[r, c] <= gap_px / 2:
            # An end that curls along the tissue's edge: joined to the edge.
            target = np.clip(nearest[:, r, c] - 1, 0, [rows - 1, cols - 1])
            _draw_segment(out, ends[free].astype(int), target)
    return out


def _draw_segment(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> None:
    n = int(np.ceil(np.hypot(*(stop - start)))) + 1
    rows = np.round(np.linspace(start[0], stop[0], n)).astype(int)
    cols = np.round(np.linspace(start[1], stop[1], n)).astype(int)
    mask[rows, cols] = True
