"""Pipeline files: every analysis parameter of a validated setting, in one JSON file.

A pipeline is what a lab validates once (against its own counters, with
``ienfd agreement``) and then runs as it is: its modality, the length basis
of the density, and a value for **every** field of
:class:`ienfd.core.AnalysisParameters`. A file that lacks a field is refused
(a default the lab never validated would otherwise slip in); refresh the
files with :func:`update_pipeline_file` (``python pipelines/update.py``)
when the core gains or loses parameters.

The format is JSON rather than TOML: it is read by the standard library on
every supported Python (``tomllib`` needs 3.11, and ``requires-python`` is
3.10), it is the format ``ienfd analyze --params`` already reads (a pipeline
file works there too: its ``parameters`` object is used), and it is written
by the same atomic :func:`ienfd.io.write_json`.

A pipeline may name a lab's pixel model (``ienfd train``): its ``pixel_model``
object gives the model file, relative to the pipeline file, and the file's
SHA-256, checked whenever the pipeline is read. Every section is then counted
across the junction of the model's epidermis instead of the junction search.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from ienfd.core import AnalysisParameters
from ienfd.io import FileError, Modality, file_sha256, parse_format_json, write_json

__all__ = [
    "PIPELINE_FORMAT",
    "Pipeline",
    "PipelineError",
    "PixelModelRef",
    "default_pipeline",
    "read_parameters",
    "read_pipeline",
    "save_trained_pipeline",
    "update_pipeline_file",
    "write_pipeline",
]

#: Value of the ``format`` key of a pipeline file.
PIPELINE_FORMAT = "ienfd-pipeline/1"
_REQUIRED = ("name", "version", "modality", "description", "length_basis", "validated_on")


class PipelineError(FileError):
    """A pipeline file that cannot be used, naming the file and the reason."""


@dataclass(frozen=True)
class PixelModelRef:
    """A pipeline's pixel model file.

    Attributes
    ----------
    file : str
        As the pipeline names it (relative to the pipeline file, or absolute).
    path : str
        Where it is (``file`` resolved against the pipeline file's folder).
    sha256 : str
        SHA-256 of the model file's bytes, as recorded in the pipeline.
    lab : str
        The lab's name stored with the model.
    trained_on : list of dict
        What the model was trained on (image sha256s, pixel sizes, label counts).
    """

    file: str
    path: str
    sha256: str
    lab: str = ""
    trained_on: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as the pipeline file holds it."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "lab": self.lab,
            "trained_on": [dict(t) for t in self.trained_on],
        }


@dataclass(frozen=True)
class Pipeline:
    """A validated analysis setting.

    Attributes
    ----------
    name, version : str
        Identify the setting in every output.
    modality : {'brightfield', 'fluorescence'} or None
        Images must be of this modality (None: detected per image; only the
        built-in default pipeline).
    description : str
        What it is for: stain, chromogen, channels, magnification.
    length_basis : {'dej', 'surface'}
        What ``density_per_mm`` is per mm of.
    validated_on : str
        Where, on what and against whom the setting was validated.
    parameters : AnalysisParameters
        Every analysis parameter.
    overlay : bool
        Draw QC overlays.
    source : str or None
        The file it was read from.
    sha256 : str or None
        SHA-256 of that file's bytes.
    pixel_model : PixelModelRef or None
        A lab's pixel model (``ienfd train``) whose epidermis replaces the
        junction search.
    """

    name: str
    version: str
    modality: Modality | None
    description: str
    length_basis: Literal["dej", "surface"]
    validated_on: str
    parameters: AnalysisParameters
    overlay: bool = True
    source: str | None = None
    sha256: str | None = None
    pixel_model: PixelModelRef | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the file layout (without ``source``/``sha256``)."""
        data = {
            "format": PIPELINE_FORMAT,
            "name": self.name,
            "version": self.version,
            "modality": self.modality,
            "description": self.description,
            "length_basis": self.length_basis,
            "overlay": self.overlay,
            "validated_on": self.validated_on,
            "parameters": self.parameters.to_dict(),
        }
        if self.pixel_model is not None:
            data["pixel_model"] = self.pixel_model.to_dict()
        return data

    def record(self) -> dict[str, Any]:
        """What outputs record: the file content plus where it came from."""
        return {**self.to_dict(), "source": self.source, "sha256": self.sha256}


def default_pipeline() -> Pipeline:
    """The built-in setting: modality detected per image, DEJ basis, default parameters."""
    return Pipeline(
        name="default",
        version=_version(),
        modality=None,
        description="ienfd's default parameters; modality detected per image",
        length_basis="dej",
        validated_on="the synthetic validation set of this ienfd version (docs/validation.md)",
        parameters=AnalysisParameters(),
    )


def _version() -> str:
    from ienfd import __version__

    return __version__


def read_pipeline(path: str | os.PathLike[str]) -> Pipeline:
    """Read and check a pipeline file.

    Parameters
    ----------
    path : str or os.PathLike
        A ``pipelines/*.json`` file.

    Returns
    -------
    Pipeline

    Raises
    ------
    PipelineError
        The file is not JSON, not a pipeline (``format``), lacks a key, has a
        bad modality or length basis, or its ``parameters`` lack a field of
        :class:`~ienfd.core.AnalysisParameters` (or have an unknown one); the
        message names the file and the key.
    OSError
        The file cannot be opened.
    """
    p = Path(path)
    raw = p.read_bytes()
    data = parse_format_json(p, raw, PipelineError, expected_format=PIPELINE_FORMAT)
    missing = [k for k in (*_REQUIRED, "parameters") if k not in data]
    if missing:
        raise PipelineError(p, f"missing key(s) {missing}")
    unknown = sorted(set(data) - {"format", "overlay", "parameters", "pixel_model", *_REQUIRED})
    if unknown:
        raise PipelineError(p, f"unknown key(s) {unknown}")
    if data["modality"] not in ("brightfield", "fluorescence"):
        raise PipelineError(
            p, f"modality {data['modality']!r}; expected 'brightfield' or 'fluorescence'"
        )
    if data["length_basis"] not in ("dej", "surface"):
        raise PipelineError(
            p, f"length_basis {data['length_basis']!r}; expected 'dej' or 'surface'"
        )
    overlay = data.get("overlay", True)
    if not isinstance(overlay, bool):
        raise PipelineError(p, f"overlay {overlay!r}; expected true or false")
    values = data["parameters"]
    if not isinstance(values, dict):
        raise PipelineError(p, "parameters must be a JSON object")
    known = [f.name for f in fields(AnalysisParameters)]
    absent = [k for k in known if k not in values]
    if absent:
        raise PipelineError(
            p,
            f"parameters lack {absent}: a pipeline holds every analysis parameter; "
            "refresh it with `python pipelines/update.py FILE` and validate the new values",
        )
    try:
        parameters = AnalysisParameters.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise PipelineError(p, f"parameters: {exc}") from None
    pixel_model = _pixel_model_ref(p, data.get("pixel_model"), data["modality"])
    return Pipeline(
        name=str(data["name"]),
        version=str(data["version"]),
        modality=data["modality"],
        description=str(data["description"]),
        length_basis=data["length_basis"],
        validated_on=str(data["validated_on"]),
        parameters=parameters,
        overlay=overlay,
        source=str(p),
        sha256=hashlib.sha256(raw).hexdigest(),
        pixel_model=pixel_model,
    )


def _pixel_model_ref(pipeline: Path, entry: Any, modality: str) -> PixelModelRef | None:
    """The pipeline's pixel model, its file found and its bytes checked against the sha256."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise PipelineError(pipeline, "pixel_model must be an object with a 'file' string")
    recorded = entry.get("sha256")
    if not isinstance(recorded, str) or len(recorded) != 64:
        raise PipelineError(pipeline, "pixel_model needs the 'sha256' of its file (64 hex digits)")
    unknown = sorted(set(entry) - {"file", "sha256", "lab", "trained_on"})
    if unknown:
        raise PipelineError(pipeline, f"pixel_model: unknown key(s) {unknown}")
    path = pipeline.parent / entry["file"]
    if not path.is_file():
        raise PipelineError(
            pipeline,
            f"its pixel model {path} does not exist (the path is relative to the pipeline "
            "file; keep the two files together)",
        )
    actual = file_sha256(path)[0]
    if actual != recorded.lower():
        raise PipelineError(
            pipeline,
            f"its pixel model {path} has sha256 {actual}, the pipeline records {recorded}: "
            "the model was changed or replaced since the pipeline was saved",
        )
    from ienfd.learn import PixelModelError, read_pixel_model

    try:
        model = read_pixel_model(path)
    except PixelModelError as exc:
        raise PipelineError(pipeline, f"its pixel model {exc}") from None
    if model.spec.modality != modality:
        raise PipelineError(
            pipeline,
            f"its pixel model {path} is for {model.spec.modality} images, the "
            f"pipeline for {modality}",
        )
    trained_on = entry.get("trained_on", [])
    return PixelModelRef(
        file=entry["file"],
        path=str(path),
        sha256=actual,
        lab=str(entry.get("lab", model.lab)),
        trained_on=tuple(t for t in trained_on if isinstance(t, dict)),
    )


def read_parameters(path: str | os.PathLike[str]) -> AnalysisParameters:
    """Read analysis parameters from a JSON file (``ienfd analyze --params``).

    Unlike a pipeline, the file may give only some parameters; the others
    keep their defaults. A file with a ``parameters`` object (a pipeline, or
    an earlier result JSON) gives those.

    Parameters
    ----------
    path : str or os.PathLike
        The JSON file.

    Returns
    -------
    AnalysisParameters

    Raises
    ------
    ValueError
        The file is not JSON, not a JSON object, or names an unknown
        parameter or a bad value.
    TypeError
        A value of the wrong kind.
    OSError
        The file cannot be opened.
    """
    with open(path, encoding="utf-8") as fh:
        try:
            values = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"not a JSON file ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                "expected a JSON object of analysis parameters"
            ) from None
    if isinstance(values, dict) and isinstance(values.get("parameters"), dict):
        values = values["parameters"]
    if not isinstance(values, dict):
        raise ValueError(f"expected a JSON object of parameters, got {type(values).__name__}")
    return AnalysisParameters.from_dict(values)


def write_pipeline(path: str | os.PathLike[str], pipeline: Pipeline) -> Path:
    """Write a pipeline file atomically; :func:`read_pipeline` reads it back."""
    target = Path(path)
    write_json(target, pipeline.to_dict())
    return target


def update_pipeline_file(path: str | os.PathLike[str], *, defaults: bool = False) -> list[str]:
    """Bring a pipeline file's ``parameters`` in line with the current core.

    Values of parameters the core still has are kept; parameters the core
    gained are added with their defaults; parameters it lost are dropped.
    Every other key is kept as it is. With ``defaults=True`` every value is
    set to the core's current default instead (after the defaults were
    validated again).

    Returns
    -------
    list of str
        One line per change (empty when the file was already current). A
        changed pipeline must be validated again before clinical use.

    Raises
    ------
    PipelineError
        The file is not a pipeline JSON object.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(p, f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise PipelineError(p, "expected a JSON object with a 'parameters' object")
    old = data["parameters"]
    current = AnalysisParameters().to_dict()
    changes = []
    new: dict[str, Any] = {}
    for name, value in current.items():
        if name not in old:
            new[name] = value
            changes.append(f"added {name} = {value!r} (the core's default)")
        elif defaults and old[name] != value:
            new[name] = value
            changes.append(f"{name}: {old[name]!r} -> {value!r} (the core's default)")
        else:
            new[name] = old[name]
    changes += [f"removed {name} (no longer a parameter)" for name in old if name not in current]
    if changes:
        data["parameters"] = new
        AnalysisParameters.from_dict(new)  # still valid values
        write_json(p, data)
    return changes


def save_trained_pipeline(
    path: str | os.PathLike[str],
    model: Any,
    *,
    name: str | None = None,
    length_basis: Literal["dej", "surface"] = "dej",
) -> Pipeline:
    """Save a trained pixel model and the pipeline that uses it, side by side.

    Writes ``<stem>.model.npz`` beside the pipeline file ``path`` (both
    atomically) and returns the pipeline as :func:`read_pipeline` reads it
    back, so that the recorded sha256 is checked at once.

    Parameters
    ----------
    path : str or os.PathLike
        The pipeline file to write (``lab.json``).
    model : ienfd.learn.PixelModel
    name : str, optional
        The pipeline's name (default: the model's lab, else the file's stem).
    length_basis : {'dej', 'surface'}

    Returns
    -------
    Pipeline
    """
    from ienfd.learn import write_pixel_model

    target = Path(path)
    model_path = target.with_name(f"{target.stem}.model.npz")
    write_pixel_model(model_path, model)
    lab = model.lab or target.stem
    trained_on = tuple(dict(t) for t in model.metadata.get("trained_on", ()))
    sections = ", ".join(f"{t['name']} (sha256 {t['sha256'][:12]})" for t in trained_on)
    base = default_pipeline()
    pipeline = Pipeline(
        name=name or lab,
        version=base.version,
        modality=model.spec.modality,
        description=(
            f"{lab}: ienfd's default parameters, with the epidermis found by a pixel model "
            f"trained on {len(trained_on)} painted section(s) of the lab's own stain"
        ),
        length_basis=length_basis,
        validated_on=(
            f"NOT VALIDATED: trained by painting on {sections or 'no recorded section'}; "
            "compare its counts with your counters (ienfd agreement) before clinical use"
        ),
        parameters=base.parameters,
        pixel_model=PixelModelRef(
            file=model_path.name,
            path=str(model_path),
            sha256=file_sha256(model_path)[0],
            lab=lab,
            trained_on=trained_on,
        ),
    )
    write_pipeline(target, pipeline)
    return read_pipeline(target)
