"""Reading a drawn junction: QuPath GeoJSON and label TIFFs, and every bad file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
import tifffile

from ienfd.core import analyze_section
from ienfd.io import JunctionFileError, read_junction
from ienfd.synthetic import SectionSpec, generate_section, score_section

SHAPE = (300, 500)


def _feature(geometry: dict[str, Any], name: str | None) -> dict[str, Any]:
    properties: dict[str, Any] = {"objectType": "annotation"}
    if name is not None:
        properties["classification"] = {"name": name, "color": [255, 0, 0]}
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _line(points_rc: np.ndarray) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": np.asarray(points_rc)[:, ::-1].tolist()}


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def _collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


DEJ = np.array([[150.0, 0.0], [160.0, 250.0], [150.0, 499.0]])
SURFACE = np.array([[60.0, 0.0], [60.0, 499.0]])


def test_dej_and_surface_lines_come_back_in_row_col(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "j.geojson",
        _collection(
            _feature(_line(DEJ), "DEJ"),
            _feature(_line(SURFACE), "Surface"),
            _feature(_line(np.array([[1.0, 1.0], [2.0, 2.0]])), None),  # unclassified: ignored
        ),
    )
    given = read_junction(path, shape=SHAPE, pixel_size_um=0.5)
    assert len(given.dej) == 1 and len(given.surface) == 1
    np.testing.assert_allclose(given.dej[0], DEJ)
    np.testing.assert_allclose(given.surface[0], SURFACE)
    assert given.epidermis is None
    assert given.source == hashlib.sha256(path.read_bytes()).hexdigest()


def test_qupath_list_export_multilines_and_class_case(tmp_path: Path) -> None:
    # QuPath also exports a bare list of features; a DEJ in two pieces is a MultiLineString.
    multi = {
        "type": "MultiLineString",
        "coordinates": [DEJ[:2, ::-1].tolist(), DEJ[1:, ::-1].tolist()],
    }
    path = _write(tmp_path / "j.json", [_feature(multi, "dej")])
    given = read_junction(path, shape=SHAPE, pixel_size_um=0.5)
    assert len(given.dej) == 2


def test_epidermis_polygon(tmp_path: Path) -> None:
    ring = [[0, 60], [499, 60], [499, 155], [0, 155], [0, 60]]  # x, y
    path = _write(
        tmp_path / "epi.geojson",
        _collection(_feature({"type": "Polygon", "coordinates": [ring]}, "Epidermis")),
    )
    given = read_junction(path, shape=SHAPE, pixel_size_um=0.5)
    assert isinstance(given.epidermis, shapely.Polygon)
    # (row, col): the polygon spans rows 60-155.
    assert given.epidermis.bounds == (60.0, 0.0, 155.0, 499.0)
    assert not given.dej


def test_label_tiff(tmp_path: Path) -> None:
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[60:155] = 2
    tifffile.imwrite(tmp_path / "labels.tif", labels)
    given = read_junction(tmp_path / "labels.tif", shape=SHAPE, pixel_size_um=0.5)
    assert isinstance(given.epidermis, np.ndarray)
    assert given.epidermis.sum() == 95 * 500


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("garbage.geojson", b"\x00\x01not json", "not GeoJSON"),
        ("obj.geojson", {"type": "Topology"}, "not a GeoJSON FeatureCollection"),
        ("features.geojson", {"type": "FeatureCollection", "features": 3}, "must be a list"),
        ("empty.geojson", _collection(), "no feature classified DEJ .* found no features"),
        (
            "other.geojson",
            _collection(_feature(_line(DEJ), "Tumor"), _feature(_line(DEJ), None)),
            r"no feature classified DEJ .* found \(unclassified\), Tumor",
        ),
        (
            "outside.geojson",
            _collection(_feature(_line(DEJ + [0, 400]), "DEJ")),
            r"feature 1 reaches x 400\.\.899.*outside the image \(x 0\.\.500, y 0\.\.300\)",
        ),
        (
            "short.geojson",
            _collection(_feature(_line(np.array([[150.0, 0.0], [150.0, 150.0]])), "DEJ")),
            "DEJ line 1 is 75 µm long; .* at least 100 µm",
        ),
        (
            "point.geojson",
            _collection(_feature({"type": "Point", "coordinates": [3, 4]}, "DEJ")),
            "classified DEJ is a Point, not a line",
        ),
        (
            "epi_line.geojson",
            _collection(_feature(_line(DEJ), "Epidermis")),
            "classified Epidermis is a LineString, not a polygon",
        ),
        (
            "nogeom.geojson",
            _collection({"type": "Feature", "properties": {"classification": {"name": "DEJ"}}}),
            "feature 1 .* has no valid geometry|feature 1 has no coordinates",
        ),
    ],
)
def test_bad_geojson_names_the_file_and_reason(
    tmp_path: Path, name: str, content: Any, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _write(path, content)
    with pytest.raises(JunctionFileError, match=message) as info:
        read_junction(path, shape=SHAPE, pixel_size_um=0.5)
    assert str(path) in str(info.value)


def test_bad_label_tiffs(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "small.tif", np.ones((10, 10), dtype=np.uint8))
    with pytest.raises(JunctionFileError, match=r"shape \(10, 10\).*image's shape \(300, 500\)"):
        read_junction(tmp_path / "small.tif", shape=SHAPE, pixel_size_um=0.5)
    tifffile.imwrite(tmp_path / "zero.tif", np.zeros(SHAPE, dtype=np.uint8))
    with pytest.raises(JunctionFileError, match="no epidermis"):
        read_junction(tmp_path / "zero.tif", shape=SHAPE, pixel_size_um=0.5)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00" + b"\xff" * 20)
    with pytest.raises(JunctionFileError, match="not a readable label TIFF"):
        read_junction(tmp_path / "broken.tif", shape=SHAPE, pixel_size_um=0.5)
    with pytest.raises(JunctionFileError, match="cannot be read"):
        read_junction(tmp_path / "missing.geojson", shape=SHAPE, pixel_size_um=0.5)


def test_a_qupath_file_of_the_true_junction_counts_the_true_fibres(tmp_path: Path) -> None:
    section = generate_section(SectionSpec(seed=5, length_um=500, pixel_size_um=0.6))
    truth = section.truth
    path = _write(
        tmp_path / "truth.geojson",
        _collection(
            _feature(_line(np.asarray(truth["dej"])), "DEJ"),
            _feature(_line(np.asarray(truth["surface"])), "Surface"),
        ),
    )
    given = read_junction(path, shape=section.image.shape[:2], pixel_size_um=0.6)
    result = analyze_section(section.image, spacing=0.6, junction=given)
    score = score_section(result.crossings, result.dej_length_um, truth)
    assert result.to_dict()["junction_source"] == given.source
    assert score.matched >= truth["count"] - 1
    assert result.count <= truth["count"] + 1
