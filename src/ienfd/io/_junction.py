"""Read a junction drawn elsewhere: QuPath GeoJSON or a label TIFF.

The drawn junction replaces the junction search (:class:`ienfd.core.GivenJunction`).
Two kinds of file are read:

- a GeoJSON ``FeatureCollection`` (or a list of features, or one feature, as
  QuPath's "Export objects as GeoJSON" writes them) in pixel coordinates of the
  full-resolution image, x = column and y = row, holding a ``LineString`` or
  ``MultiLineString`` classified ``DEJ`` (``properties.classification.name``),
  optionally another classified ``Surface``, or a ``Polygon`` /
  ``MultiPolygon`` classified ``Epidermis``;
- a label TIFF of the image's shape, the epidermis > 0.

QuPath puts pixel corners at integer coordinates and ienfd pixel centres; the
half-pixel difference (a quarter of a micrometre at 0.5 µm per pixel) is
ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.errors
import shapely.geometry
import tifffile

from ienfd.core import GivenJunction, polyline_length
from ienfd.io._types import FileError

__all__ = ["JunctionFileError", "read_junction"]

# A drawn DEJ line shorter than this is not a junction to count across (the
# shortest junction the analysis itself accepts, AnalysisParameters.min_junction_um).
MIN_LINE_UM = 100.0
# Vertices may lie this many pixels past the image's edge (QuPath draws on the
# edge itself, at coordinate = width).
_EDGE_PX = 1.0
_CLASSES = {"dej": "DEJ", "surface": "Surface", "epidermis": "Epidermis"}
_TIFF_SUFFIXES = (".tif", ".tiff")


class JunctionFileError(FileError):
    """A junction file that cannot be used, with the file and the reason."""


def read_junction(
    path: str | os.PathLike[str], *, shape: tuple[int, int], pixel_size_um: float
) -> GivenJunction:
    """Read a drawn junction for an image of ``shape`` (rows, columns).

    Parameters
    ----------
    path : path-like
        A GeoJSON file (``.geojson``, ``.json``) or a label TIFF (``.tif``, ``.tiff``).
    shape : (int, int)
        The full-resolution image's (rows, columns).
    pixel_size_um : float
        The image's pixel size, to check that the DEJ is long enough.

    Returns
    -------
    GivenJunction
        Its ``source`` is the file's sha256.

    Raises
    ------
    JunctionFileError
        Naming the file and the reason: not a GeoJSON or label TIFF; no feature
        classified DEJ or Epidermis; vertices outside the image; a DEJ line
        shorter than 100 µm; a label TIFF of another shape or with no
        epidermis.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> feature = {"type": "Feature", "properties": {"classification": {"name": "DEJ"}},
    ...            "geometry": {"type": "LineString", "coordinates": [[0, 50], [399, 60]]}}
    >>> _ = (folder / "dej.geojson").write_text(
    ...     json.dumps({"type": "FeatureCollection", "features": [feature]}))
    >>> given = read_junction(folder / "dej.geojson", shape=(200, 400), pixel_size_um=0.5)
    >>> given.dej[0].tolist()  # (row, col)
    [[50.0, 0.0], [60.0, 399.0]]
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JunctionFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    source = hashlib.sha256(raw).hexdigest()
    if path.suffix.lower() in _TIFF_SUFFIXES or raw[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00"):
        given = _read_labels(path, shape)
    else:
        given = _read_geojson(path, raw, shape, pixel_size_um)
    return GivenJunction(
        dej=given.dej, surface=given.surface, epidermis=given.epidermis, source=source
    )


def _read_labels(path: Path, shape: tuple[int, int]) -> GivenJunction:
    try:
        labels = tifffile.imread(path)
    except Exception as exc:  # tifffile raises many types for a bad file
        raise JunctionFileError(path, f"not a readable label TIFF ({exc})") from None
    labels = np.squeeze(labels)
    if labels.size == 0:
        raise JunctionFileError(path, "not a readable label TIFF (no image in the file)")
    if labels.shape != tuple(shape):
        raise JunctionFileError(
            path,
            f"label image has shape {labels.shape}; it must have the image's shape {tuple(shape)} "
            "(one plane, the epidermis > 0)",
        )
    epidermis = labels > 0
    if not epidermis.any():
        raise JunctionFileError(path, "label image has no epidermis (no pixel > 0)")
    return GivenJunction(epidermis=epidermis)


def _read_geojson(
    path: Path, raw: bytes, shape: tuple[int, int], pixel_size_um: float
) -> GivenJunction:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JunctionFileError(
            path, f"not GeoJSON ({exc}); expected a QuPath GeoJSON export or a label TIFF"
        ) from None
    features = _features(path, data)
    found: dict[str, list[shapely.Geometry]] = {key: [] for key in _CLASSES}
    seen = []
    for index, feature in enumerate(features, start=1):
        name = _classification(feature)
        seen.append(name or "(unclassified)")
        key = name.lower() if name else ""
        if key not in _CLASSES:
            continue
        try:
            geometry = shapely.geometry.shape(feature.get("geometry") or {})
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
            raise JunctionFileError(
                path, f"feature {index} ({_CLASSES[key]}) has no valid geometry"
            ) from None
        _check_inside(path, index, geometry, shape)
        found[key].append(geometry)
    if not found["dej"] and not found["epidermis"]:
        raise JunctionFileError(
            path,
            "no feature classified DEJ (a line) or Epidermis (a polygon); found "
            + (", ".join(sorted(set(seen))) if seen else "no features"),
        )
    dej = _lines(path, found["dej"], "DEJ")
    surface = _lines(path, found["surface"], "Surface")
    for k, line in enumerate(dej, start=1):
        length = polyline_length(line) * pixel_size_um
        if length < MIN_LINE_UM:
            raise JunctionFileError(
                path,
                f"DEJ line {k} is {length:.0f} µm long; a junction to count across must be "
                f"at least {MIN_LINE_UM:g} µm",
            )
    epidermis = None
    if found["epidermis"]:
        polygons = []
        for geometry in found["epidermis"]:
            if not isinstance(geometry, shapely.Polygon | shapely.MultiPolygon):
                raise JunctionFileError(
                    path, f"a feature classified Epidermis is a {geometry.geom_type}, not a polygon"
                )
            polygons.append(shapely.make_valid(_swap(geometry)))
        epidermis = shapely.union_all(polygons)
    return GivenJunction(dej=tuple(dej), surface=tuple(surface), epidermis=epidermis)


def _features(path: Path, data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
    elif isinstance(data, dict) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, list):
        features = data
    else:
        raise JunctionFileError(
            path, "not a GeoJSON FeatureCollection, Feature or list of features"
        )
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise JunctionFileError(path, "GeoJSON 'features' must be a list of objects")
    return features


def _classification(feature: dict[str, Any]) -> str:
    """QuPath's class name: ``properties.classification.name`` (or a plain string)."""
    properties = feature.get("properties") or {}
    value = properties.get("classification") if isinstance(properties, dict) else None
    if isinstance(value, dict):
        value = value.get("name")
    return value.strip() if isinstance(value, str) else ""


def _check_inside(
    path: Path, index: int, geometry: shapely.Geometry, shape: tuple[int, int]
) -> None:
    xy = shapely.get_coordinates(geometry)
    if not len(xy):
        raise JunctionFileError(path, f"feature {index} has no coordinates")
    low = xy.min(axis=0)
    high = xy.max(axis=0)
    rows, cols = shape
    if (
        low[0] < -_EDGE_PX
        or low[1] < -_EDGE_PX
        or high[0] > cols + _EDGE_PX
        or high[1] > rows + _EDGE_PX
    ):
        raise JunctionFileError(
            path,
            f"feature {index} reaches x {low[0]:.0f}..{high[0]:.0f}, "
            f"y {low[1]:.0f}..{high[1]:.0f}, outside the image "
            f"(x 0..{cols}, y 0..{rows}); coordinates must be full-resolution pixels of this image",
        )


def _lines(path: Path, geometries: list[shapely.Geometry], name: str) -> list[np.ndarray]:
    lines = []
    for geometry in geometries:
        parts = getattr(geometry, "geoms", [geometry])
        for part in parts:
            if not isinstance(part, shapely.LineString):
                raise JunctionFileError(
                    path, f"a feature classified {name} is a {part.geom_type}, not a line"
                )
            lines.append(shapely.get_coordinates(part)[:, ::-1].astype(float))
    return lines


def _swap(geometry: shapely.Geometry) -> shapely.Geometry:
    """(x, y) = (column, row) to ienfd's (row, column)."""
    return shapely.transform(geometry, lambda xy: xy[:, ::-1])
