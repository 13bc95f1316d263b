"""The committed real-tissue crop the default gets wrong, with strokes painted from its trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests._scripts import script

ROOT = Path(__file__).resolve().parents[2]
CROP = ROOT / "tests" / "data" / "real_skin" / "W0043340_crop.jpg"


def painted_crop() -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """RGB, painted labels and junction record of the W0043340 test crop."""
    from PIL import Image

    rts = script("real_tissue_sections")
    entry = rts.load_junctions(CROP.with_name("W0043340_crop.junction.json"))[0]
    with Image.open(CROP) as im:
        rgb = np.asarray(im.convert("RGB"))
    labels = script("validate_training").paint_strokes(
        rgb, entry["dej"], entry["surface"], entry["pixel_size_um"]
    )
    return rgb, labels, entry
