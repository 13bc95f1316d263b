"""Sample data: a bright-field and a fluorescence synthetic section (File > Open Sample).

Each is generated once by :mod:`ienfd.synthetic` (no download), written as an
OME-TIFF into a cache folder, and opened with the plugin's reader, so that it
has a file, a pixel size and a place for results like any real section.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from ienfd.io import write_json, write_section_tiff
from ienfd.napari._layers import LayerDataTuple
from ienfd.napari._reader import read_image
from ienfd.synthetic import GENERATOR_VERSION, generate_section, random_spec

__all__ = ["brightfield_sample", "fluorescence_sample", "sample_path"]

logger = logging.getLogger(__name__)

#: Fixed parameters of the two samples (the rest drawn from the seed).
SAMPLES: dict[str, dict[str, Any]] = {
    "brightfield": {"seed": 11, "chromogen": "sg"},
    "fluorescence": {"seed": 12, "membrane_strength": 1.0},
}


def sample_folder() -> Path:
    """Where samples are cached: ``$IENFD_SAMPLE_DIR`` or ``<tmp>/ienfd-samples``."""
    folder = Path(
        os.environ.get("IENFD_SAMPLE_DIR") or Path(tempfile.gettempdir()) / "ienfd-samples"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sample_path(modality: Literal["brightfield", "fluorescence"]) -> Path:
    """The sample's OME-TIFF, generated on first use (with its ``.truth.json``)."""
    options = dict(SAMPLES[modality])
    seed = int(options.pop("seed"))
    path = sample_folder() / f"synthetic_{modality}_{GENERATOR_VERSION}.ome.tif"
    if not path.exists():
        spec = random_spec(
            seed,
            modality=modality,
            length_um=600.0,
            pixel_size_um=0.5,
            rotation_deg=0.0,
            flip=False,
            density_per_mm=12.0,
            **options,
        )
        section = generate_section(spec)
        write_section_tiff(
            path, section.image, pixel_size_um=spec.pixel_size_um, kind="ome",
            channel_names=section.channel_names if modality == "fluorescence" else None,
        )  # fmt: skip
        write_json(path.with_name(path.name.replace(".ome.tif", ".truth.json")), section.truth)
        logger.info("wrote the %s sample %s", modality, path)
    return path


def brightfield_sample() -> list[LayerDataTuple]:
    """A synthetic bright-field (SG) section, 0.5 µm pixels."""
    return read_image(sample_path("brightfield"))


def fluorescence_sample() -> list[LayerDataTuple]:
    """A synthetic fluorescence section: PGP 9.5 (green) and collagen IV (magenta)."""
    return read_image(sample_path("fluorescence"))
