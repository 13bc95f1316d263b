"""The plugin's readers and sample data: what they claim, scale in µm, channels as layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "napari", reason='the napari plugin tests need napari (pip install "ienfd[napari]")'
)

from ienfd.io import ImageReadError, read_section
from ienfd.napari._reader import get_reader

from .conftest import SAMPLES

pytestmark = pytest.mark.napari


def test_manifest_validates_with_imports():
    done = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "--imports", "ienfd"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout


def test_package_root_does_not_import_napari_or_qt():
    code = (
        "import sys, ienfd, ienfd.io, ienfd.core, ienfd.review; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('napari', 'qtpy', 'PyQt6', 'vispy')); print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_reader_returns_none_for_what_it_cannot_read(tmp_path, results_folder):
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG")
    other_json = tmp_path / "settings.json"
    other_json.write_text('{"a": 1}')
    empty = tmp_path / "empty"
    empty.mkdir()
    for path in (png, other_json, empty, tmp_path / "missing.tif"):
        assert get_reader(str(path)) is None, path
    sidecar = results_folder / "brightfield_sg.correction.json"
    assert get_reader(str(sidecar)) is None
    assert get_reader(str(SAMPLES / "brightfield_sg.ome.tif")) is not None
    assert get_reader(str(results_folder / "brightfield_sg.json")) is not None
    assert get_reader(str(results_folder)) is not None


def test_a_broken_tiff_the_user_opens_is_an_error_naming_it(tmp_path):
    broken = tmp_path / "broken.tif"
    broken.write_bytes((SAMPLES / "brightfield_sg.ome.tif").read_bytes()[:5000])
    reader = get_reader(str(broken))
    assert reader is not None  # a .tif is claimed ...
    with pytest.raises(ImageReadError, match=r"broken\.tif"):
        reader(str(broken))  # ... and reading it says which file is broken


def test_result_whose_image_is_gone_is_an_error_naming_the_result(tmp_path, results_folder):
    record = (results_folder / "brightfield_sg.json").read_text()
    moved = tmp_path / "leg.json"
    moved.write_text(record.replace("images/brightfield_sg.ome.tif", "nowhere/gone.tif"))
    with pytest.raises(ImageReadError, match=r"leg\.json.*gone\.tif"):
        get_reader(str(moved))(str(moved))


def test_open_sets_um_scale_and_channel_layers(make_napari_viewer):
    viewer = make_napari_viewer()
    bf = viewer.open(SAMPLES / "brightfield_sg.ome.tif", plugin="ienfd")
    fl = viewer.open(SAMPLES / "fluorescence_imagej_rot200_flip.tif", plugin="ienfd")
    assert len(bf) == 1 and bf[0].rgb
    np.testing.assert_allclose(bf[0].scale, [0.5, 0.5])
    truth = read_section(SAMPLES / "fluorescence_imagej_rot200_flip.tif")
    assert [layer.colormap.name for layer in fl] == ["magenta", "green"]
    assert all(layer.blending == "additive" for layer in fl)
    assert {layer.metadata["ienfd"]["role"] for layer in fl} == {"fibre", "membrane"}
    np.testing.assert_array_equal(fl[1].data, truth.fibre)
    for layer in [*bf, *fl]:
        assert [str(u) for u in layer.units] == ["micrometer", "micrometer"]
    np.testing.assert_allclose(fl[0].scale, [truth.pixel_size_um] * 2)
    # napari's own measurement: first to last pixel centre, in µm
    extent = fl[1].extent.world[1] - fl[1].extent.world[0]
    np.testing.assert_allclose(extent, (np.array(truth.shape) - 1) * truth.pixel_size_um)


def test_open_sample_gives_a_brightfield_and_a_fluorescence_section(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("ienfd", "brightfield")
    viewer.open_sample("ienfd", "fluorescence")
    kinds = [(layer.rgb, layer.metadata["ienfd"]["role"]) for layer in viewer.layers]
    assert kinds == [(True, "image"), (False, "membrane"), (False, "fibre")]
    for layer in viewer.layers:
        assert Path(layer.metadata["ienfd"]["path"]).is_file()
        np.testing.assert_allclose(layer.scale, [0.5, 0.5])


def test_result_with_a_broken_sidecar_is_an_error_naming_the_sidecar(tmp_path, results_folder):
    from ienfd.io import CorrectionError

    result = tmp_path / "leg.json"
    result.write_text((results_folder / "brightfield_sg.json").read_text())
    (tmp_path / "leg.correction.json").write_text('{"format": "ienfd-correction/1", "image": ')
    with pytest.raises(CorrectionError, match=r"leg\.correction\.json: not valid JSON"):
        get_reader(str(result))(str(result))
