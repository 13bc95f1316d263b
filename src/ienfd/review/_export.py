"""Export reviewed fibres and junction to CSV and to GeoJSON that QuPath opens.

Coordinates in ienfd are (row, col) pixels of the input image with pixel
centres at whole numbers. QuPath measures from the image's top-left corner
(pixel centres at .5) with x = column and y = row, so the GeoJSON geometry is
``[col + 0.5, row + 0.5]``; every feature also states its pixel (row, col)
and its position and length in µm in ``properties``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ienfd.io import write_json, write_text
from ienfd.review._measure import polylines_length_px

__all__ = ["export_csv", "export_geojson", "to_geojson"]

#: QuPath classifications and their colours (RGB).
CLASSES = {
    "fibre": ("IENF crossing", [255, 215, 0]),
    "dej": ("DEJ", [255, 140, 0]),
    "surface": ("Epidermal surface", [0, 200, 255]),
    "fragment": ("IENF fragment (not counted)", [230, 40, 40]),
}
#: QuPath's pixel centres are at .5; ienfd's at whole numbers.
QUPATH_OFFSET = 0.5

CSV_COLUMNS = ("kind", "piece", "index", "source", "row_px", "col_px", "row_um", "col_um")


def _points(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    return np.reshape(np.asarray(points, dtype=float), (-1, 2))


def _rows(
    points: np.ndarray,
    sources: Sequence[str],
    dej: Sequence[np.ndarray],
    surface: Sequence[np.ndarray],
    fragments: np.ndarray,
) -> list[tuple[str, int, int, str, float, float]]:
    rows = [
        ("fibre", 0, i, s, float(r), float(c))
        for i, ((r, c), s) in enumerate(zip(points, sources, strict=True))
    ]
    rows += [("fragment", 0, i, "auto", float(r), float(c)) for i, (r, c) in enumerate(fragments)]
    for kind, lines in (("dej", dej), ("surface", surface)):
        for piece, line in enumerate(lines):
            rows += [
                (kind, piece, i, "", float(r), float(c)) for i, (r, c) in enumerate(_points(line))
            ]
    return rows


def export_csv(
    path: str | os.PathLike[str],
    points: np.ndarray,
    sources: Sequence[str],
    dej: Sequence[np.ndarray],
    surface: Sequence[np.ndarray],
    *,
    pixel_size_um: float,
    fragments: np.ndarray | None = None,
) -> Path:
    """Write fibres, fragments, DEJ and surface vertices to one CSV (atomically).

    Columns: ``kind`` (fibre, fragment, dej, surface), ``piece`` (junction
    piece), ``index`` (order within its kind and piece), ``source`` (auto or
    manual, for fibres), ``row_px``, ``col_px`` (pixels, centres at whole
    numbers) and ``row_um``, ``col_um`` (µm from the top-left pixel centre).

    Raises
    ------
    OSError
        The file cannot be written.
    """
    target = Path(path)
    frag = _points(fragments if fragments is not None else np.empty((0, 2)))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for kind, piece, index, source, r, c in _rows(_points(points), sources, dej, surface, frag):
        writer.writerow(
            [kind, piece, index, source, f"{r:.2f}", f"{c:.2f}",
             f"{r * pixel_size_um:.3f}", f"{c * pixel_size_um:.3f}"]
        )  # fmt: skip
    write_text(target, buffer.getvalue())
    return target


def _feature(geometry: dict[str, Any], kind: str, props: dict[str, Any]) -> dict[str, Any]:
    name, colour = CLASSES[kind]
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "objectType": "annotation",
            "classification": {"name": name, "color": colour},
            **props,
        },
    }


def to_geojson(
    points: np.ndarray,
    sources: Sequence[str],
    dej: Sequence[np.ndarray],
    surface: Sequence[np.ndarray],
    *,
    pixel_size_um: float,
    fragments: np.ndarray | None = None,
    image: str = "",
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the fibres, fragments, DEJ and surface for QuPath.

    Each fibre or fragment is a ``Point`` annotation, each junction or surface
    piece a ``LineString`` annotation, classified (``IENF crossing``, ``IENF
    fragment (not counted)``, ``DEJ``, ``Epidermal surface``). Geometry is in
    QuPath pixel coordinates ``[x, y] = [col + 0.5, row + 0.5]``; properties
    state ``row_px``/``col_px`` (ienfd pixels), ``row_um``/``col_um`` or
    ``length_um``, ``pixel_size_um`` and, for fibres, ``source``; QuPath
    shows the numbers under ``measurements``.

    Examples
    --------
    >>> import numpy as np
    >>> fc = to_geojson(np.array([[10.0, 20.0]]), ["auto"], [], [], pixel_size_um=0.5)
    >>> fc["features"][0]["geometry"]
    {'type': 'Point', 'coordinates': [20.5, 10.5]}
    """
    features = []
    pts = _points(points)
    frag = _points(fragments if fragments is not None else np.empty((0, 2)))
    groups: list[tuple[str, np.ndarray, Sequence[str]]] = [
        ("fibre", pts, sources),
        ("fragment", frag, ["auto"] * len(frag)),
    ]
    for kind, arr, srcs in groups:
        for i, ((r, c), src) in enumerate(zip(arr, srcs, strict=True)):
            r_um, c_um = float(r) * pixel_size_um, float(c) * pixel_size_um
            geometry = {
                "type": "Point",
                "coordinates": [float(c) + QUPATH_OFFSET, float(r) + QUPATH_OFFSET],
            }
            props = {
                "name": f"{kind} {i + 1}",
                "source": src,
                "row_px": round(float(r), 2),
                "col_px": round(float(c), 2),
                "row_um": round(r_um, 3),
                "col_um": round(c_um, 3),
                "pixel_size_um": pixel_size_um,
                "measurements": {"row_um": round(r_um, 3), "col_um": round(c_um, 3)},
            }
            features.append(_feature(geometry, kind, props))
    for kind, lines in (("dej", dej), ("surface", surface)):
        for piece, line in enumerate(lines):
            arr = _points(line)
            if len(arr) < 2:
                continue
            length_um = polylines_length_px([arr]) * pixel_size_um
            coords = (arr[:, ::-1] + QUPATH_OFFSET).round(2).tolist()
            props = {
                "name": f"{CLASSES[kind][0]} piece {piece + 1}",
                "piece": piece,
                "length_um": round(length_um, 3),
                "length_px": round(length_um / pixel_size_um, 2),
                "pixel_size_um": pixel_size_um,
                "measurements": {"length_um": round(length_um, 3)},
            }
            features.append(_feature({"type": "LineString", "coordinates": coords}, kind, props))
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "image": image,
            "pixel_size_um": pixel_size_um,
            "coordinates": "QuPath pixels: x = col + 0.5, y = row + 0.5",
        },
    }


def export_geojson(
    path: str | os.PathLike[str],
    points: np.ndarray,
    sources: Sequence[str],
    dej: Sequence[np.ndarray],
    surface: Sequence[np.ndarray],
    *,
    pixel_size_um: float,
    fragments: np.ndarray | None = None,
    image: str = "",
) -> Path:
    """Write :func:`to_geojson` to `path` atomically.

    Raises
    ------
    OSError
        The file cannot be written.
    """
    target = Path(path)
    fc = to_geojson(
        points, sources, dej, surface, pixel_size_um=pixel_size_um, fragments=fragments, image=image
    )
    write_json(target, fc)
    return target
