"""Appearance sets of :func:`random_spec`: what ``"wide"`` and ``"stress"`` draw.

The ``"classic"`` set is generator 1.0.0's draw.  ``"wide"`` is the tuning
space: broad ranges of stains, counterstains, epidermis and corneum looks,
fibre width and contrast, superficial trunks and vessels, tears, folds,
optics and fluorescence dynamics, all kept inside ranges where the image is
still a routine one.  ``"stress"`` draws a wide section and then pushes one to
three *stress factors* outside the wide ranges (H&E counterstain, thin or
faint fibres, a pale epidermis, strong JPEG compression, ...), so that
accuracy out of the tuning distribution can be measured factor by factor.

Every factor is a plain :class:`SectionSpec` field, so the values actually
drawn are in ``truth["spec"]``; :func:`stress_factors` names the factors of a
spec that lie outside the wide ranges (also in ``truth["appearance"]``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ienfd.synthetic._spec import SectionSpec

__all__ = ["STRESS_FACTORS", "WIDE_RANGES", "draw_appearance", "stress_factors"]

#: The wide (tuning) ranges of the continuous appearance factors, as drawn by
#: ``random_spec(appearance="wide")``.  ``rete_amplitude_um`` is a fraction of
#: the epidermal thickness; ``fluorescence_scale`` is drawn log-uniformly.
WIDE_RANGES: dict[str, tuple[float, float]] = {
    "chromogen_hue_deg": (-15.0, 15.0),
    "chromogen_strength": (0.6, 1.6),
    "counterstain_strength": (0.4, 1.2),
    "epidermis_contrast": (0.3, 1.8),
    "epidermis_texture": (0.3, 2.0),
    "corneum_density": (0.4, 2.5),
    "corneum_detachment": (0.0, 1.0),
    "fibre_width_um": (0.85, 1.75),
    "fibre_contrast": (0.4, 1.5),
    "p_beaded": (0.0, 1.0),
    "rete_amplitude_um": (0.05, 0.6),
    "rete_wavelength_um": (50.0, 200.0),
    "rete_width_factor": (0.6, 1.4),
    "superficial_trunks_per_mm": (0.0, 2.0),
    "superficial_vessels_per_mm": (0.0, 3.0),
    "superficial_gap_um": (10.0, 30.0),
    "tears_per_mm": (0.3, 2.0),
    "folds_per_mm": (0.3, 1.5),
    "jpeg_quality": (60.0, 90.0),
    "defocus_sigma_um": (0.0, 1.2),
    "illumination_gradient": (0.0, 0.4),
    "vignetting": (0.0, 0.4),
    "noise": (0.005, 0.06),
    "dermis_autofluorescence": (0.5, 3.0),
    "fluorescence_scale": (2500.0, 20000.0),
}

#: Stress factors and the modality they apply to ('both', 'brightfield' or
#: 'fluorescence'), in the order :func:`stress_factors` reports them.
STRESS_FACTORS: dict[str, str] = {
    "counterstain_he": "brightfield",
    "thin_fibres": "both",
    "faint_fibres": "both",
    "pale_epidermis": "both",
    "jpeg_low_quality": "brightfield",
    "dotted_membrane": "fluorescence",
    "touching_trunks": "both",
    "low_dynamic_range": "fluorescence",
    "strong_autofluorescence": "fluorescence",
    "heavy_blur": "both",
    "narrow_deep_rete": "both",
}


def _uniform(rng: np.random.Generator, name: str) -> float:
    lo, hi = WIDE_RANGES[name]
    return float(rng.uniform(lo, hi))


def _draw_wide(rng: np.random.Generator, modality: str, thickness: float) -> dict[str, Any]:
    """The wide set.  Draws every value for either modality (a fixed number of draws)."""
    bf = modality == "brightfield"
    d: dict[str, Any] = {
        name: _uniform(rng, name)
        for name in (
            "epidermis_contrast",
            "epidermis_texture",
            "corneum_density",
            "corneum_detachment",
            "fibre_width_um",
            "fibre_contrast",
            "p_beaded",
            "rete_wavelength_um",
            "rete_width_factor",
            "superficial_trunks_per_mm",
            "superficial_vessels_per_mm",
            "superficial_gap_um",
            "defocus_sigma_um",
            "illumination_gradient",
            "vignetting",
            "noise",
        )
    }
    d["rete_amplitude_um"] = _uniform(rng, "rete_amplitude_um") * thickness
    d["corneum_style"] = "compact" if rng.random() < 0.5 else "basket-weave"
    d["fibre_routing"] = "below-ridges"
    tears, folds = _uniform(rng, "tears_per_mm"), _uniform(rng, "folds_per_mm")
    d["tears_per_mm"] = tears if rng.random() < 0.5 else 0.0
    d["folds_per_mm"] = folds if rng.random() < 0.4 else 0.0
    # bright-field only
    hue, strength = _uniform(rng, "chromogen_hue_deg"), _uniform(rng, "chromogen_strength")
    haematoxylin, cs = rng.random() < 0.6, _uniform(rng, "counterstain_strength")
    jpeg = rng.random() < 0.5
    q_lo, q_hi = (int(q) for q in WIDE_RANGES["jpeg_quality"])
    quality = int(rng.integers(q_lo, q_hi + 1))
    d["chromogen_hue_deg"] = hue if bf else 0.0
    d["chromogen_strength"] = strength if bf else 1.0
    d["counterstain"] = "haematoxylin" if bf and haematoxylin else "none"
    d["counterstain_strength"] = cs if bf and haematoxylin else 1.0
    d["jpeg_quality"] = quality if bf and jpeg else 0
    # fluorescence only
    autofluorescence = _uniform(rng, "dermis_autofluorescence")
    lo, hi = WIDE_RANGES["fluorescence_scale"]
    scale = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    membrane_draw = rng.random()
    d["dermis_autofluorescence"] = 1.0 if bf else autofluorescence
    d["fluorescence_scale"] = 0.0 if bf else scale
    d["membrane_style"] = "continuous"
    if not bf:  # as the classic draw, with absent and weak membranes a little more often
        if membrane_draw < 0.6:
            d["membrane_strength"] = 1.0
        elif membrane_draw < 0.85:
            d["membrane_strength"] = float(rng.uniform(0.15, 0.4))
        else:
            d["membrane_strength"] = 0.0
    return d


def _draw_stress(rng: np.random.Generator, factor: str, thickness: float) -> dict[str, Any]:
    """Values of one stress factor, outside the wide ranges."""
    if factor == "counterstain_he":
        return {"counterstain": "he", "counterstain_strength": float(rng.uniform(0.6, 1.3))}
    if factor == "thin_fibres":
        return {"fibre_width_um": float(rng.uniform(0.5, 0.7))}
    if factor == "faint_fibres":
        return {"fibre_contrast": float(rng.uniform(0.1, 0.3))}
    if factor == "pale_epidermis":
        return {"epidermis_contrast": float(rng.uniform(0.03, 0.2))}
    if factor == "jpeg_low_quality":
        return {"jpeg_quality": int(rng.integers(40, 60))}
    if factor == "dotted_membrane":
        return {"membrane_style": "dotted", "membrane_strength": float(rng.uniform(0.5, 1.2))}
    if factor == "touching_trunks":
        return {
            "superficial_trunks_per_mm": float(rng.uniform(1.5, 4.0)),
            "superficial_vessels_per_mm": float(rng.uniform(0.0, 3.0)),
            "superficial_gap_um": float(rng.uniform(0.5, 3.0)),
        }
    if factor == "low_dynamic_range":
        return {"fluorescence_scale": float(math.exp(rng.uniform(math.log(400), math.log(2000))))}
    if factor == "strong_autofluorescence":
        return {
            "dermis_autofluorescence": float(rng.uniform(3.5, 6.0)),
            "corneum_density": float(rng.uniform(2.5, 4.0)),
        }
    if factor == "heavy_blur":
        return {"defocus_sigma_um": float(rng.uniform(1.5, 2.5))}
    if factor == "narrow_deep_rete":
        return {
            "rete_amplitude_um": float(rng.uniform(0.62, 0.8)) * thickness,
            "rete_width_factor": float(rng.uniform(0.3, 0.5)),
            "rete_wavelength_um": float(rng.uniform(60.0, 140.0)),
        }
    raise ValueError(f"unknown stress factor {factor!r}; accepted: {list(STRESS_FACTORS)}")


def draw_appearance(
    rng: np.random.Generator, appearance: str, *, modality: str, thickness: float
) -> dict[str, Any]:
    """Appearance parameters of the ``"wide"`` or ``"stress"`` set.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (drawn after the classic parameters).
    appearance : {'wide', 'stress'}
        The set.
    modality : {'brightfield', 'fluorescence'}
        Factors of the other modality keep their defaults.
    thickness : float
        Epidermal thickness in µm (the rete depth is drawn relative to it).

    Returns
    -------
    values : dict
        :class:`SectionSpec` field names and values.

    Raises
    ------
    ValueError
        If `appearance` is not ``'wide'`` or ``'stress'``.
    """
    if appearance not in ("wide", "stress"):
        raise ValueError(f"appearance={appearance!r} is not one of ('wide', 'stress')")
    values = _draw_wide(rng, modality, thickness)
    if appearance == "stress":
        candidates = [f for f, m in STRESS_FACTORS.items() if m in ("both", modality)]
        k = int(rng.integers(1, 4))
        for i in sorted(rng.choice(len(candidates), size=k, replace=False)):
            values.update(_draw_stress(rng, candidates[int(i)], thickness))
    return values


def stress_factors(spec: SectionSpec) -> list[str]:
    """Names of the appearance factors of `spec` that lie outside the wide ranges.

    Empty for every spec that ``random_spec(appearance="classic")`` or
    ``random_spec(appearance="wide")`` draws.

    Parameters
    ----------
    spec : SectionSpec
        The section parameters.

    Returns
    -------
    factors : list of str
        Keys of :data:`STRESS_FACTORS`, in that order.

    Examples
    --------
    >>> from ienfd.synthetic import SectionSpec
    >>> stress_factors(SectionSpec(counterstain="he", fibre_contrast=0.2))
    ['counterstain_he', 'faint_fibres']
    """
    bf = spec.modality == "brightfield"
    superficial = spec.superficial_trunks_per_mm > 0 or spec.superficial_vessels_per_mm > 0
    rete_depth = spec.rete_amplitude_um / spec.epidermis_thickness_um
    present = {
        "counterstain_he": bf and spec.counterstain == "he",
        "thin_fibres": 0 < spec.fibre_width_um < WIDE_RANGES["fibre_width_um"][0],
        "faint_fibres": spec.fibre_contrast < WIDE_RANGES["fibre_contrast"][0],
        "pale_epidermis": spec.epidermis_contrast < WIDE_RANGES["epidermis_contrast"][0],
        "jpeg_low_quality": bf and 0 < spec.jpeg_quality < WIDE_RANGES["jpeg_quality"][0],
        "dotted_membrane": not bf and spec.membrane_style == "dotted",
        "touching_trunks": superficial
        and spec.superficial_gap_um < WIDE_RANGES["superficial_gap_um"][0],
        "low_dynamic_range": not bf
        and 0 < spec.fluorescence_scale < WIDE_RANGES["fluorescence_scale"][0],
        "strong_autofluorescence": not bf
        and spec.dermis_autofluorescence > WIDE_RANGES["dermis_autofluorescence"][1],
        "heavy_blur": spec.defocus_sigma_um > WIDE_RANGES["defocus_sigma_um"][1],
        "narrow_deep_rete": spec.rete_width_factor < WIDE_RANGES["rete_width_factor"][0]
        or rete_depth > WIDE_RANGES["rete_amplitude_um"][1],
    }
    return [name for name in STRESS_FACTORS if present[name]]
