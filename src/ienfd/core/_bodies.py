"""Dense bodies joined to the epidermis beneath its junction: found and left out.

A nerve trunk, a vessel wall or a gland lying against the basal side of the
epidermis is as dense as the epidermis in the stain, and the epidermis mask
takes it in: one piece, whose "junction" is traced round the body and meets
every fibre of the trunk (independent development sections 219, 256 and 288:
20, 21 and 92 crossings counted for 1, 14 and 1). A body lying apart from
the epidermis is a piece of its own, left out by
:func:`ienfd.core._junction.pieces_at_surface`; a joined one has to be cut
off first.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage import morphology, segmentation

from ienfd.core._junction import _BENEATH_END_UM, JunctionTrace
from ienfd.core._morphology import binary_opening
from ienfd.core._polyline import away_from_ends, directions
from ienfd.core._tissue import fill_holes

__all__ = ["without_attached_bodies"]


def without_attached_bodies(
    epidermis: np.ndarray,
    tissue: np.ndarray,
    pieces: list[JunctionTrace],
    *,
    spacing: float,
    min_width_um: float = 20.0,
    min_elongation: float = 2.0,
    max_angle_deg: float = 30.0,
    min_beneath: float = 0.5,
) -> tuple[np.ndarray, list[float]]:
    """The epidermis less the bodies joined to it beneath its junction.

    The mask is opened with a disk ``min_width_um`` across: what is left are
    the cores of the parts at least that wide, apart wherever they were
    joined by a narrower neck. Every pixel of the mask is given to the core
    it is nearest to within the mask (a watershed on a flat image). The parts
    that hold the surface of a kept piece are the epidermis; a run of other
    parts is a body to leave out when all of these hold:

    * it is elongated (the ratio of its principal axes' lengths is at least
      ``min_elongation``)
    * and lies along the surface (its long axis within ``max_angle_deg`` of
      the surface's direction at the surface points nearest to it): a rete
      ridge, however deep or club-shaped, points away from the surface;
    * and lies beneath the epidermis, not beside it: for at least
      ``min_beneath`` of its pixels the straight way to the nearest glass
      crosses the rest of the epidermis, or for at least that share the
      nearest surface point lies more than 50 µm from the surface's ends (a
      body near the deep cut edge is nearer that edge's glass than the
      surface's). The next stretch of epidermis, past a narrowing, lies
      beside: neither holds. With no glass in the image (the tissue fills
      the frame) only the second test is made.

    Parameters
    ----------
    epidermis, tissue : (m, n) ndarray of bool
        The epidermis (its holes filled) and the tissue, low resolution.
    pieces : list of JunctionTrace
        The pieces of ``epidermis`` kept (:func:`ienfd.core._junction.pieces_at_surface`).
    spacing : float
        Pixel size in µm.
    min_width_um, min_elongation, max_angle_deg, min_beneath : float
        The rules above.

    Returns
    -------
    epidermis : (m, n) ndarray of bool
        ``epidermis`` less the bodies (the same array when there are none).
    areas_um2 : list of float
        The area of each body left out.

    Examples
    --------
    A band along glass, and a trunk joined beneath it by a neck 10 µm wide:

    >>> from ienfd.core._junction import pieces_at_surface, trace_junction
    >>> tissue = np.zeros((200, 300), bool); tissue[20:, :] = True
    >>> epidermis = np.zeros_like(tissue); epidermis[20:60, :] = True
    >>> epidermis[75:105, 60:240] = True; epidermis[60:75, 145:155] = True
    >>> pieces = pieces_at_surface(
    ...     trace_junction(epidermis, tissue, spacing=1.0), tissue, spacing=1.0)
    >>> kept, areas = without_attached_bodies(epidermis, tissue, pieces, spacing=1.0)
    >>> bool(kept[90, 150]), bool(kept[40, 150]), areas
    (False, True, [5480.0])
    """
    epidermis = np.asarray(epidermis, dtype=bool)
    surfaces = [p.surface for p in pieces if len(p.surface) >= 3]
    if not surfaces:
        return epidermis, []
    radius = max(1, round(min_width_um / 2 / spacing))
    cores, n = ndi.label(binary_opening(epidermis, morphology.disk(radius)))
    if n < 2:
        return epidermis, []
    parts = segmentation.watershed(np.zeros(epidermis.shape, np.float32), cores, mask=epidermis)
    points = np.concatenate(surfaces)
    at = np.clip(np.round(points).astype(int), 0, np.array(epidermis.shape) - 1)
    # The part nearest each surface vertex (the outline runs between pixels).
    _, (near_r, near_c) = ndi.distance_transform_edt(parts == 0, return_indices=True)
    band = np.zeros(n + 1, dtype=bool)
    band[parts[near_r[at[:, 0], at[:, 1]], near_c[at[:, 0], at[:, 1]]]] = True
    band[0] = False
    components, _ = ndi.label(epidermis)
    with_band = np.zeros(components.max() + 1, dtype=bool)
    with_band[components[band[parts]]] = True
    candidates = ~band[parts] & (parts > 0) & with_band[components]
    bodies, n_bodies = ndi.label(candidates)
    if n_bodies == 0:
        return epidermis, []

    # The surface's direction at each vertex (over about 20 µm), and whether
    # the vertex lies away from the surface's ends.
    step = max(1, round(10.0 / spacing))
    direction = np.concatenate([directions(surface, step) for surface in surfaces])
    is_interior = np.concatenate(
        [away_from_ends(surface, _BENEATH_END_UM / spacing) for surface in surfaces]
    )
    tree = cKDTree(points)
    filled = fill_holes(np.asarray(tissue, dtype=bool))
    glass_seen = not filled.all()
    if glass_seen:
        _, (glass_r, glass_c) = ndi.distance_transform_edt(filled, return_indices=True)
    rest = epidermis & ~candidates

    drop = np.zeros(n_bodies + 1, dtype=bool)
    areas = []
    for label, where in enumerate(ndi.find_objects(bodies), start=1):
        offset = np.array([where[0].start, where[1].start])
        pts = np.argwhere(bodies[where] == label) + offset
        if len(pts) < 10:  # pixels: too few for a direction
            continue
        centred = pts - pts.mean(axis=0)
        values, vectors = np.linalg.eigh(centred.T @ centred / len(pts))
        if values[1] < min_elongation**2 * max(values[0], 1e-9):
            continue
        axis = vectors[:, 1]
        _, nearest = tree.query(pts)
        # The surface's main direction there: the principal axis of its
        # directions' orientation tensor (a direction and its reverse agree).
        local = direction[nearest]
        along = np.linalg.eigh(local.T @ local)[1][:, 1]
        if abs(along @ axis) < np.cos(np.radians(max_angle_deg)):
            continue
        crosses = np.zeros(len(pts), dtype=bool)
        if glass_seen:
            glass = np.c_[glass_r[pts[:, 0], pts[:, 1]], glass_c[pts[:, 0], pts[:, 1]]]
            # Sampled about every pixel along the longest way.
            steps = int(np.ceil(np.hypot(*(glass - pts).T).max())) + 1
            for f in np.linspace(0.0, 1.0, steps):
                q = np.round(pts + f * (glass - pts)).astype(int)
                crosses |= rest[q[:, 0], q[:, 1]]
        if max(crosses.mean(), is_interior[nearest].mean()) < min_beneath:
            continue
        drop[label] = True
        areas.append(float(len(pts) * spacing**2))
    if not areas:
        return epidermis, []
    return epidermis & ~drop[bodies], areas
