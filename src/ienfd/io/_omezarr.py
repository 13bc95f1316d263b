"""OME-Zarr (OME-NGFF 0.4 and 0.5) through zarr.

The metadata is JSON that the NGFF specification defines field by field
(``multiscales``: ``axes`` with ``type`` and ``unit``, ``datasets`` with
``coordinateTransformations``; ``omero``: channel ``label`` and ``color``);
it is read here directly, with every field checked, and the arrays through
zarr (which reads zarr v2 and v3 stores), so no other package is needed.

What is read: the multiscale image's levels (``datasets``, finest first), its
axes (``t``, ``c``, ``z``, ``y``, ``x``), channel labels from ``omero``, and
the pixel size from the ``scale`` of the first dataset (times the
multiscale's own ``scale``, if any) in the space axes' ``unit``. A
``bioformats2raw`` container's images (``0/``, ``1/``, ...) are its scenes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ienfd.io._source import FORMATS_EXTRA, ImageSource, choose_scene
from ienfd.io._tiffmeta import Layout, check_pixel_size
from ienfd.io._types import ImageReadError, PixelSize

if TYPE_CHECKING:
    import dask.array

__all__: list[str] = []  # private module

# NGFF units are UDUNITS-2 names; micrometres per unit.
_UNIT_UM: dict[str, float] = {
    "angstrom": 1e-4,
    "attometer": 1e-12,
    "centimeter": 1e4,
    "decimeter": 1e5,
    "exameter": 1e24,
    "femtometer": 1e-9,
    "foot": 304800.0,
    "gigameter": 1e15,
    "hectometer": 1e8,
    "inch": 25400.0,
    "kilometer": 1e9,
    "megameter": 1e12,
    "meter": 1e6,
    "micrometer": 1.0,
    "mile": 1.609344e9,
    "millimeter": 1e3,
    "nanometer": 1e-3,
    "parsec": 3.0857e22,
    "petameter": 1e21,
    "picometer": 1e-6,
    "terameter": 1e18,
    "yard": 914400.0,
    "yoctometer": 1e-18,
    "yottameter": 1e30,
    "zeptometer": 1e-15,
    "zettameter": 1e27,
}
_AXIS_CODES = {"t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}
_RGB_COLOURS = ("FF0000", "00FF00", "0000FF")
_RGB_LABELS = ("red", "green", "blue")


def _zarr(path: str) -> Any:
    try:
        import zarr
    except ImportError:
        raise ImageReadError(
            path, f"reading OME-Zarr needs the zarr package: {FORMATS_EXTRA}"
        ) from None
    return zarr


def is_zarr(path: str) -> bool:
    """True for a directory holding a zarr group (``zarr.json``, ``.zattrs`` or ``.zgroup``)."""
    return os.path.isdir(path) and any(
        os.path.exists(os.path.join(path, name)) for name in ("zarr.json", ".zattrs", ".zgroup")
    )


def _ome(attrs: dict[str, Any]) -> dict[str, Any]:
    """The OME attributes: under ``ome`` (0.5) or at the top level (0.4 and older)."""
    ome = attrs.get("ome")
    return ome if isinstance(ome, dict) else attrs


class OmeZarrSource(ImageSource):
    """One multiscale image of an OME-Zarr."""

    format_name = "OME-Zarr"

    def __init__(self, path: str, scene: int | str | None) -> None:
        self.path = path
        self.notes = []
        zarr = _zarr(path)
        try:
            root = zarr.open_group(path, mode="r")
            attrs = dict(root.attrs)
        except Exception as exc:
            raise ImageReadError(
                path, f"corrupt OME-Zarr: zarr cannot open the group ({type(exc).__name__}: {exc})"
            ) from exc
        ome = _ome(attrs)
        if "plate" in ome or "well" in ome:
            raise ImageReadError(
                path,
                "an OME-Zarr high-content plate or well: give the path of one image in it "
                "(plate/row/column/field)",
            )
        if "multiscales" in ome:
            group, scenes = root, ("image",)
        elif "bioformats2raw.layout" in ome:
            keys = sorted((k for k in root.group_keys() if k.isdigit()), key=int)
            if not keys:
                raise ImageReadError(
                    path, "corrupt OME-Zarr: a bioformats2raw layout without images"
                )
            scenes = tuple(keys)
            group = None
        else:
            raise ImageReadError(
                path,
                "not an OME-Zarr image: the zarr group has no 'multiscales' metadata",
            )
        self.scenes = self._scene_names(root, scenes) if group is None else scenes
        self.scene = choose_scene(path, self.scenes, scene)
        if group is None:
            group = root[scenes[self.scene]]
            ome = _ome(dict(group.attrs))
        self._describe(group, ome)

    def _scene_names(self, root: Any, keys: tuple[str, ...]) -> tuple[str, ...]:
        names = []
        for key in keys:
            try:
                ms = _ome(dict(root[key].attrs)).get("multiscales") or [{}]
                names.append(str(ms[0].get("name") or key))
            except Exception:
                names.append(key)
        return tuple(names)

    def _fail(self, what: str) -> ImageReadError:
        return ImageReadError(self.path, f"invalid OME-Zarr metadata: {what}")

    def _describe(self, group: Any, ome: dict[str, Any]) -> None:
        multiscales = ome.get("multiscales")
        if not isinstance(multiscales, list) or not multiscales:
            raise self._fail("'multiscales' is not a non-empty list")
        ms = multiscales[0]
        if len(multiscales) > 1:
            self.notes.append(f"{len(multiscales)} multiscale images; read the first")
        axes_meta = ms.get("axes")
        datasets = ms.get("datasets")
        if not isinstance(datasets, list) or not datasets:
            raise self._fail("'datasets' is not a non-empty list")
        if axes_meta is None:  # NGFF 0.1-0.2: always 5D tczyx
            axes_meta = list("tczyx")
        names: list[str] = []
        units: list[Any] = []
        for ax in axes_meta:
            if isinstance(ax, str):
                names.append(ax.lower())
                units.append(None)
            elif isinstance(ax, dict) and isinstance(ax.get("name"), str):
                names.append(ax["name"].lower())
                units.append(ax.get("unit"))
            else:
                raise self._fail(f"axis {ax!r} has no name")
        codes = []
        for name in names:
            if name not in _AXIS_CODES:
                raise ImageReadError(
                    self.path,
                    f"unsupported layout: an OME-Zarr axis {name!r}; ienfd reads t (of length "
                    "1), c, z, y and x",
                )
            codes.append(_AXIS_CODES[name])
        self._all_axes = "".join(codes)

        arrays, scales = [], []
        for ds in datasets:
            key = ds.get("path") if isinstance(ds, dict) else None
            if not isinstance(key, str):
                raise self._fail(f"dataset {ds!r} has no path")
            try:
                arr = group[key]
            except Exception as exc:
                raise ImageReadError(
                    self.path,
                    f"corrupt or incomplete OME-Zarr: level {key!r} cannot be opened "
                    f"({type(exc).__name__}: {exc})",
                ) from exc
            if arr.ndim != len(codes):
                raise self._fail(
                    f"level {key!r} has {arr.ndim} dimensions but {len(codes)} axes are named"
                )
            arrays.append(arr)
            scales.append(self._scale(ds.get("coordinateTransformations"), len(codes), key))
        self._arrays = arrays
        outer = ms.get("coordinateTransformations")
        outer_scale = (
            self._scale(outer, len(codes), "the multiscale") if outer else [1.0] * len(codes)
        )

        shapes = []
        for arr in arrays:
            shapes.append(tuple(int(n) for n in arr.shape))
        # length-1 axes other than Y and X are dropped (the same ones on every level)
        keep = [i for i, a in enumerate(codes) if shapes[0][i] > 1 or a in "YX"]
        self._keep = tuple(keep)
        self._axes = "".join(codes[i] for i in keep)
        self.level_shapes = tuple(tuple(s[i] for i in keep) for s in shapes)
        self._dtype = np.dtype(arrays[0].dtype)

        omero = ome.get("omero") if isinstance(ome.get("omero"), dict) else {}
        channels = omero.get("channels") if isinstance(omero, dict) else None
        n_c = shapes[0][codes.index("C")] if "C" in codes else 1
        labels: list[str] = []
        colours: list[str] = []
        if isinstance(channels, list) and len(channels) == n_c:
            labels = [str(ch.get("label") or "").strip() for ch in channels if isinstance(ch, dict)]
            colours = [
                str(ch.get("color") or "").upper() for ch in channels if isinstance(ch, dict)
            ]
        self._rgb = (
            n_c == 3
            and self._dtype in (np.dtype(np.uint8), np.dtype(np.uint16))
            and (
                tuple(colours) == _RGB_COLOURS or tuple(x.casefold() for x in labels) == _RGB_LABELS
            )
        )
        if self._rgb:
            self.channel_names = _RGB_LABELS
        elif len(labels) == n_c and all(labels):
            self.channel_names = tuple(labels)
        else:
            self.channel_names = ()

        y, x = codes.index("Y"), codes.index("X")
        self.pixel_size = self.metadata_pixel_size(
            lambda: self._pixel_size(
                scales[0][y] * outer_scale[y], scales[0][x] * outer_scale[x], units[y], units[x]
            )
        )

    def _scale(self, transforms: Any, n: int, key: str) -> list[float]:
        if not isinstance(transforms, list):
            raise self._fail(f"{key}: 'coordinateTransformations' is not a list")
        for tr in transforms:
            if isinstance(tr, dict) and tr.get("type") == "scale":
                scale = tr.get("scale")
                if scale is None and "path" in tr:
                    raise self._fail(f"{key}: a scale stored in a file ({tr['path']!r})")
                if (
                    not isinstance(scale, list)
                    or len(scale) != n
                    or not all(isinstance(v, (int, float)) for v in scale)
                ):
                    raise self._fail(f"{key}: scale {scale!r} is not {n} numbers")
                return [float(v) for v in scale]
        raise self._fail(f"{key}: no 'scale' coordinate transformation")

    def _pixel_size(self, row: float, col: float, row_unit: Any, col_unit: Any) -> PixelSize | None:
        if row_unit is None or col_unit is None:
            self.notes.append(
                "the OME-Zarr y/x axes have no unit, so their scale is not a physical size"
            )
            return None
        factors = []
        for unit in (row_unit, col_unit):
            if not isinstance(unit, str) or unit.lower() not in _UNIT_UM:
                raise ImageReadError(
                    self.path,
                    f"OME-Zarr axis unit {unit!r} is not a length unit of the NGFF "
                    "specification; pass pixel_size_um",
                    remedy="pixel_size_um",
                )
            factors.append(_UNIT_UM[unit.lower()])
        row_um, col_um = row * factors[0], col * factors[1]
        where = f"OME-Zarr scale y = {row:g} {row_unit}, x = {col:g} {col_unit}"
        check_pixel_size(self.path, row_um, col_um, "ome-zarr", where)
        return PixelSize(row_um, col_um, "ome-zarr")

    def layout(self, level: int) -> Layout:
        return self.level_layout(level, self._axes, self._dtype, rgb=self._rgb)

    def _index(self) -> tuple[Any, ...]:
        return tuple(slice(None) if i in self._keep else 0 for i in range(len(self._all_axes)))

    def read(self, level: int) -> np.ndarray:
        self.layout(level)
        arr = self._arrays[level]
        try:
            data = np.asarray(arr[self._index()])
        except MemoryError:
            raise
        except Exception as exc:  # codecs and stores raise many kinds
            raise ImageReadError(
                self.path,
                f"corrupt or truncated OME-Zarr: level {level} cannot be decoded "
                f"({type(exc).__name__}: {exc})",
            ) from exc
        self._note_missing(level)
        return data

    def _note_missing(self, level: int) -> None:
        arr = self._arrays[level]
        try:
            stored, total = int(arr.nchunks_initialized), int(arr.nchunks)
        except Exception:
            return
        if stored < total:
            self.notes.append(
                f"OME-Zarr level {level}: {total - stored} of {total} chunks are not stored "
                f"and read as the fill value {arr.fill_value!r} (empty chunks are left out by "
                "writers; an incomplete copy looks the same)"
            )

    def lazy(self, level: int) -> dask.array.Array:
        import dask.array as da

        self.layout(level)
        data = da.from_zarr(self._arrays[level])
        return data[self._index()]
