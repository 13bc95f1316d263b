"""Parameters of a synthetic skin section: :class:`SectionSpec` and :func:`random_spec`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ienfd.synthetic._appearance import draw_appearance

__all__ = [
    "APPEARANCE_FIELDS",
    "GENERATOR_VERSION",
    "SectionSpec",
    "estimate_shape",
    "is_classic_appearance",
    "random_spec",
]

#: Version of the generator; stored in every truth dict.  Bump it whenever the
#: same spec would give a different image or truth.
GENERATOR_VERSION = "1.0.0"

MODALITIES = ("brightfield", "fluorescence")
CHROMOGENS = ("sg", "dab")
COUNTERSTAINS = ("none", "haematoxylin", "he")
CORNEUM_STYLES = ("basket-weave", "compact")
MEMBRANE_STYLES = ("continuous", "dotted")
FIBRE_ROUTINGS = ("follow-dej", "below-ridges")
APPEARANCES = ("classic", "wide", "stress")

# Accepted closed ranges of the numeric parameters.
_RANGES: dict[str, tuple[float, float]] = {
    "pixel_size_um": (0.2, 1.0),
    "length_um": (100.0, 5000.0),
    "epidermis_thickness_um": (30.0, 150.0),
    "rete_amplitude_um": (0.0, 80.0),
    "rete_wavelength_um": (30.0, 400.0),
    "corneum_thickness_um": (0.0, 50.0),
    "corneum_detachment": (0.0, 1.0),
    "dermis_depth_um": (60.0, 800.0),
    "waviness_um": (0.0, 100.0),
    "density_per_mm": (0.0, 60.0),
    "p_epidermal_branch": (0.0, 1.0),
    "p_dermal_branch": (0.0, 1.0),
    "fragments_per_mm": (0.0, 50.0),
    "short_fibres_per_mm": (0.0, 50.0),
    "parallel_dermal_per_mm": (0.0, 50.0),
    "plexus_fibres_per_mm": (0.0, 50.0),
    "nerve_bundles_per_mm": (0.0, 20.0),
    "vessels_per_mm": (0.0, 60.0),
    "sweat_glands_per_mm": (0.0, 5.0),
    "p_beaded": (0.0, 1.0),
    "defocus_sigma_um": (0.0, 5.0),
    "illumination_gradient": (0.0, 0.8),
    "noise": (0.0, 0.3),
    "rotation_deg": (0.0, 360.0),
    "membrane_strength": (0.0, 2.0),
    "debris_per_mm2": (0.0, 200.0),
    # appearance (domain randomisation); the defaults reproduce generator 1.0.0
    "chromogen_hue_deg": (-40.0, 40.0),
    "chromogen_strength": (0.2, 3.0),
    "counterstain_strength": (0.0, 2.0),
    "epidermis_contrast": (0.0, 2.0),
    "epidermis_texture": (0.0, 3.0),
    "corneum_density": (0.0, 5.0),
    "fibre_contrast": (0.05, 3.0),
    "rete_width_factor": (0.3, 2.0),
    "superficial_trunks_per_mm": (0.0, 10.0),
    "superficial_vessels_per_mm": (0.0, 20.0),
    "superficial_gap_um": (0.5, 60.0),
    "tears_per_mm": (0.0, 10.0),
    "folds_per_mm": (0.0, 10.0),
    "vignetting": (0.0, 0.8),
    "dermis_autofluorescence": (0.0, 8.0),
}

# Parameters whose value 0 means "as in generator 1.0.0" and that otherwise
# take a value in a range.
_ZERO_OR_RANGE: dict[str, tuple[float, float]] = {
    "fibre_width_um": (0.3, 2.5),
    "fluorescence_scale": (200.0, 60000.0),
}
# Integer parameter: 0 = no JPEG compression, else the JPEG quality.
_JPEG_RANGE = (10, 100)

# Option parameters and their accepted values.
_OPTIONS: dict[str, tuple[str, ...]] = {
    "modality": MODALITIES,
    "chromogen": CHROMOGENS,
    "counterstain": COUNTERSTAINS,
    "corneum_style": CORNEUM_STYLES,
    "membrane_style": MEMBRANE_STYLES,
    "fibre_routing": FIBRE_ROUTINGS,
}

# Margin of glass kept around the tissue in the final frame, and the top margin
# of the canonical frame, in µm.  Shared with the generator for size estimates.
FRAME_MARGIN_UM = 20.0


@dataclass(frozen=True)
class SectionSpec:
    """Every parameter of one synthetic PGP 9.5 skin section.

    All physical sizes are in micrometres (µm); rates ``*_per_mm`` are
    expected numbers per millimetre of section length (realised numbers are
    Poisson draws, reported in the truth).  The instance is validated on
    construction.

    The appearance parameters (Other Parameters below: domain randomisation)
    reproduce generator 1.0.0 exactly at their defaults; none of them moves a
    counted fibre, a crossing, the DEJ or the surface (``fibre_width_um``
    changes fibre radii and hence the swelling count; ``rete_width_factor``
    is geometry).  Bright-field-only parameters are ignored for fluorescence
    and vice versa.

    Parameters
    ----------
    modality : {'brightfield', 'fluorescence'}
        Bright-field immunohistochemistry (RGB) or two-channel
        immunofluorescence (PGP 9.5 + collagen IV).
    chromogen : {'sg', 'dab'}
        Bright-field chromogen: SG (blue-grey/black) or DAB (brown).  Ignored
        for fluorescence.
    pixel_size_um : float
        Pixel size of the rendered image, 0.2-1.0 µm (typical 0.25-0.65).
    length_um : float
        Nominal section length along the surface (cut edge to cut edge).
    epidermis_thickness_um : float
        Mean thickness of the living epidermis (top of the stratum granulosum
        to the DEJ), 30-150 µm (typical 50-100).
    rete_amplitude_um, rete_wavelength_um : float
        Typical depth and spacing of the rete ridges (irregular: each ridge
        draws its own depth, width and spacing around these values).
        ``rete_amplitude_um`` must not exceed 0.8 x ``epidermis_thickness_um``.
    corneum_thickness_um : float
        Thickness of the stratum corneum (0 = none).
    corneum_detachment : float
        Fraction (0-1) of the surface where the stratum corneum is lifted off
        the living epidermis by a cleft.
    dermis_depth_um : float
        Depth of dermis below the mean DEJ down to the deep cut edge.
    waviness_um : float
        Standard deviation of a slow (~0.5 mm) vertical undulation of the
        whole band: free-floating sections are rarely straight.
    density_per_mm : float
        Target intraepidermal nerve fibre density: the counted number is
        ``round(density_per_mm * surface_length_um / 1000)``.
    p_epidermal_branch : float
        Probability that a counted fibre carries secondary branches inside
        the epidermis (these do not add to the count).
    p_dermal_branch : float
        Probability that a counted crossing belongs to a pair of fibres that
        branch in the dermis and cross the DEJ separately (each counts).
    fragments_per_mm : float
        Epidermal fragments (never connected to the DEJ, >= 5 µm from it).
    short_fibres_per_mm : float
        Fibres that rise from the plexus and stop 2-10 µm below the DEJ.
    parallel_dermal_per_mm : float
        Dermal fibres running along the DEJ 2-8 µm below it without crossing.
    plexus_fibres_per_mm : float
        Fibres of the subepidermal plexus (5-40 µm below the DEJ).
    nerve_bundles_per_mm : float
        Thick dermal nerve bundles (6-25 µm wide) in the deeper dermis.
    vessels_per_mm : float
        Blood vessels (papillary capillaries and deeper vessels).
    sweat_glands_per_mm : float
        Sweat-gland coils (innervated) near the deep edge.
    p_beaded : float
        Probability that a fibre is beaded (varicosities; about a third of
        the swellings of a beaded fibre exceed 1.5 µm in diameter).
    defocus_sigma_um : float
        Standard deviation of the Gaussian defocus blur.
    illumination_gradient : float
        Relative amplitude of uneven illumination and vignetting (0 = flat).
    noise : float
        Relative camera noise at full signal (shot noise plus read noise).
    rotation_deg : float
        Counter-clockwise rotation of the section as displayed (rows down),
        0-360 degrees, applied after ``flip``.
    flip : bool
        Mirror the section left-right (in its canonical frame) before rotating.
    membrane_strength : float
        Fluorescence only: collagen IV basement-membrane brightness
        (1 normal, ~0.2 weak with gaps, 0 absent).
    debris_per_mm2 : float
        Dust and debris specks per mm^2 of frame.
    seed : int
        Seed of every random draw; the same spec gives the same section.

    Other Parameters
    ----------------
    chromogen_hue_deg : float
        Bright-field: rotation of the chromogen's optical-density colour about
        the grey axis, -40 to 40 degrees (SG towards violet or green-grey, DAB
        towards red-brown or olive).
    chromogen_strength : float
        Bright-field: multiplies the optical density of everything the
        chromogen stains (fibres and nerve bundles), 0.2-3.
    counterstain : {'none', 'haematoxylin', 'he'}
        Bright-field counterstain: haematoxylin stains nuclei blue-purple
        (keratinocytes with a dense basal layer, fibroblasts, endothelium,
        Schwann cells); ``'he'`` adds eosin (pink dermis with collagen texture,
        paler pink epidermis, pink stratum corneum).
    counterstain_strength : float
        Optical density scale of the counterstain, 0-2 (1 = a usual light
        counterstain for immunohistochemistry).
    epidermis_contrast : float
        How much denser (bright-field) or more autofluorescent (fluorescence)
        the living epidermis is than the papillary dermis, 0-2; 1 = generator
        1.0.0, near 0 = a pale epidermis only slightly darker than the dermis
        (through its texture alone).
    epidermis_texture : float
        Strength of the keratinocyte texture (cell borders, nuclei, mottling),
        0-3.
    corneum_style : {'basket-weave', 'compact'}
        Stratum corneum as loose wavy lamellae or as a dense homogeneous band.
        Detachment is ``corneum_detachment``.
    corneum_density : float
        Optical density (bright-field) or autofluorescence (fluorescence) of
        the stratum corneum relative to generator 1.0.0, 0-5.
    fibre_width_um : float
        Mean width of the fine nerve fibres; each fibre's width is this times
        0.83-1.14 (beads stay 1.6-2.5 µm where large).  0 keeps generator
        1.0.0 (widths 0.5-1.1 µm); otherwise 0.3-2.5.
    fibre_contrast : float
        Multiplies the fine fibres' stain optical density (bright-field) or
        fluorescence, 0.05-3.  Away from the classic defaults a floor keeps
        every counted fibre visible: near its crossing its added optical
        density is >= 0.08 (bright-field) or its signal is >= 0.5 x the
        local autofluorescence and >= 5 noise standard deviations
        (fluorescence).
    rete_width_factor : float
        Multiplies the width of every rete ridge, 0.3-2 (small = narrow
        pegs; with a large ``rete_amplitude_um``, deep and narrow).
    fibre_routing : {'follow-dej', 'below-ridges'}
        How dermal fibres run: parallel to the DEJ outline at every depth
        (generator 1.0.0, which mirrors narrow ridges deep into the dermis), or
        leaving the outline within ~8 µm below the DEJ for a smooth floor under
        the ridge tips (the plexus runs below that floor too).  Geometry: it
        changes the fibres drawn, though never how the truth is defined.
    superficial_trunks_per_mm : float
        Thick nerve trunks (8-24 µm) running just below the DEJ, at
        ``superficial_gap_um`` from it.  They keep >= 5 µm from every counted
        crossing and short-fibre end (bending deeper there).
    superficial_vessels_per_mm : float
        Large vessels (10-30 µm) at ``superficial_gap_um`` below the DEJ, also
        >= 5 µm from every counted crossing.
    superficial_gap_um : float
        Typical gap between the DEJ and those trunks and vessels, 0.5-60 µm
        (each structure draws 0.7-1.3 x this).
    tears_per_mm : float
        Tears: gaps in the dermis (no tissue), >= 8 µm below the DEJ.
    folds_per_mm : float
        Folds: bands of doubled tissue with a crease in the dermis, >= 8 µm
        below the DEJ.
    jpeg_quality : int
        Bright-field: 0 = no compression (generator 1.0.0), otherwise the
        image goes through JPEG at this quality, 10-100.
    vignetting : float
        Radial fall-off of the illumination towards the frame corners, 0-0.8
        (relative loss at the corners), on top of ``illumination_gradient``.
    membrane_style : {'continuous', 'dotted'}
        Fluorescence: the collagen IV line as a continuous line or as a row of
        dots (punctate staining).
    dermis_autofluorescence : float
        Fluorescence: multiplies the diffuse dermal autofluorescence in the
        PGP 9.5 channel, 0-8.
    fluorescence_scale : float
        Fluorescence: camera counts of a bright fibre; 0 keeps generator
        1.0.0 (9,000-15,000), otherwise 200-60,000 (e.g. 1,500 gives a 16-bit
        image whose maximum is about 2,000).
    """

    modality: str = "brightfield"
    chromogen: str = "sg"
    pixel_size_um: float = 0.5
    length_um: float = 800.0
    epidermis_thickness_um: float = 70.0
    rete_amplitude_um: float = 25.0
    rete_wavelength_um: float = 100.0
    corneum_thickness_um: float = 15.0
    corneum_detachment: float = 0.3
    dermis_depth_um: float = 220.0
    waviness_um: float = 8.0
    density_per_mm: float = 10.0
    p_epidermal_branch: float = 0.3
    p_dermal_branch: float = 0.15
    fragments_per_mm: float = 4.0
    short_fibres_per_mm: float = 3.0
    parallel_dermal_per_mm: float = 3.0
    plexus_fibres_per_mm: float = 8.0
    nerve_bundles_per_mm: float = 2.0
    vessels_per_mm: float = 10.0
    sweat_glands_per_mm: float = 0.6
    p_beaded: float = 0.6
    defocus_sigma_um: float = 0.3
    illumination_gradient: float = 0.1
    noise: float = 0.02
    rotation_deg: float = 0.0
    flip: bool = False
    membrane_strength: float = 1.0
    debris_per_mm2: float = 5.0
    seed: int = 0
    chromogen_hue_deg: float = 0.0
    chromogen_strength: float = 1.0
    counterstain: str = "none"
    counterstain_strength: float = 1.0
    epidermis_contrast: float = 1.0
    epidermis_texture: float = 1.0
    corneum_style: str = "basket-weave"
    corneum_density: float = 1.0
    fibre_width_um: float = 0.0
    fibre_contrast: float = 1.0
    rete_width_factor: float = 1.0
    fibre_routing: str = "follow-dej"
    superficial_trunks_per_mm: float = 0.0
    superficial_vessels_per_mm: float = 0.0
    superficial_gap_um: float = 15.0
    tears_per_mm: float = 0.0
    folds_per_mm: float = 0.0
    jpeg_quality: int = 0
    vignetting: float = 0.0
    membrane_style: str = "continuous"
    dermis_autofluorescence: float = 1.0
    fluorescence_scale: float = 0.0

    def __post_init__(self) -> None:
        for name, options in _OPTIONS.items():
            if getattr(self, name) not in options:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {options}")
        if not isinstance(self.flip, (bool, np.bool_)):
            raise TypeError(f"flip={self.flip!r} must be a bool")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"seed={self.seed!r} must be an int")
        if self.seed < 0:
            raise ValueError(f"seed={self.seed} must be >= 0")
        for name, (lo, hi) in _RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"{name}={value!r} must be a number in [{lo}, {hi}]")
            if not (math.isfinite(float(value)) and lo <= float(value) <= hi):
                raise ValueError(f"{name}={value!r} is outside the accepted range [{lo}, {hi}]")
        for name, (lo, hi) in _ZERO_OR_RANGE.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise TypeError(f"{name}={value!r} must be a number: 0 or in [{lo}, {hi}]")
            if not (float(value) == 0.0 or lo <= float(value) <= hi):
                raise ValueError(
                    f"{name}={value!r} is outside the accepted values: 0 or [{lo}, {hi}]"
                )
        q = self.jpeg_quality
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)):
            raise TypeError(f"jpeg_quality={q!r} must be an int: 0 (no JPEG) or {_JPEG_RANGE}")
        if not (q == 0 or _JPEG_RANGE[0] <= q <= _JPEG_RANGE[1]):
            raise ValueError(
                f"jpeg_quality={q!r} is outside the accepted values: 0 (no JPEG) or "
                f"{_JPEG_RANGE[0]}-{_JPEG_RANGE[1]}"
            )
        if self.rete_amplitude_um > 0.8 * self.epidermis_thickness_um:
            raise ValueError(
                f"rete_amplitude_um={self.rete_amplitude_um} exceeds 0.8 x "
                f"epidermis_thickness_um={self.epidermis_thickness_um}; accepted: "
                f"<= {0.8 * self.epidermis_thickness_um:g}"
            )


#: The appearance parameters (domain randomisation); their defaults give the 1.0.0 look.
APPEARANCE_FIELDS = (
    "chromogen_hue_deg",
    "chromogen_strength",
    "counterstain",
    "counterstain_strength",
    "epidermis_contrast",
    "epidermis_texture",
    "corneum_style",
    "corneum_density",
    "fibre_width_um",
    "fibre_contrast",
    "rete_width_factor",
    "fibre_routing",
    "superficial_trunks_per_mm",
    "superficial_vessels_per_mm",
    "superficial_gap_um",
    "tears_per_mm",
    "folds_per_mm",
    "jpeg_quality",
    "vignetting",
    "membrane_style",
    "dermis_autofluorescence",
    "fluorescence_scale",
)


def is_classic_appearance(spec: SectionSpec) -> bool:
    """True if every appearance parameter of `spec` has its default value.

    Such a section is rendered exactly as generator 1.0.0 rendered it.

    Examples
    --------
    >>> is_classic_appearance(SectionSpec()), is_classic_appearance(SectionSpec(vignetting=0.2))
    (True, False)
    """
    defaults = {f.name: f.default for f in dataclasses.fields(SectionSpec)}
    return all(getattr(spec, name) == defaults[name] for name in APPEARANCE_FIELDS)


def estimate_shape(spec: SectionSpec) -> tuple[int, int]:
    """Approximate (rows, cols) of the image :func:`generate_section` makes for `spec`.

    Parameters
    ----------
    spec : SectionSpec
        The section parameters.

    Returns
    -------
    shape : tuple of int
        Estimated image plane shape, within a few percent.
    """
    height_um = (
        spec.corneum_thickness_um * 1.3
        + 14.0 * spec.corneum_detachment
        + 10.0
        + spec.epidermis_thickness_um
        + spec.dermis_depth_um
        + 20.0
        + 5.0 * spec.waviness_um
    )
    width_um = spec.length_um + 20.0
    theta = math.radians(spec.rotation_deg)
    c, s = abs(math.cos(theta)), abs(math.sin(theta))
    rows = (height_um * c + width_um * s + 2 * FRAME_MARGIN_UM) / spec.pixel_size_um
    cols = (height_um * s + width_um * c + 2 * FRAME_MARGIN_UM) / spec.pixel_size_um
    return math.ceil(rows), math.ceil(cols)


def random_spec(
    rng_or_seed: np.random.Generator | int | None = None,
    *,
    appearance: str = "classic",
    max_megapixels: float = 16.0,
    **overrides: Any,
) -> SectionSpec:
    """Draw a varied but plausible :class:`SectionSpec`.

    Mixes modalities and chromogens, pixel sizes 0.25-0.7 µm, any rotation,
    flips, densities 2-20 fibres/mm and lengths 500-1500 µm; the section is
    shortened when needed to keep the image under `max_megapixels` (unless
    ``length_um`` is overridden).

    Parameters
    ----------
    rng_or_seed : numpy.random.Generator or int or None
        Source of randomness; an int seeds a new generator.
    appearance : {'classic', 'wide', 'stress'}, optional
        Which appearance set to draw from (see ``docs/synthetic.md``,
        "Appearance sets").  ``'classic'`` is generator 1.0.0's draw, value
        for value; ``'wide'`` draws the same anatomy parameters and then broad
        ranges of stains, counterstains, epidermis, corneum, fibre width and
        contrast, superficial trunks and vessels, tears, folds and optics
        (the tuning space); ``'stress'`` draws a wide section and pushes one
        to three factors outside the wide ranges (out-of-distribution
        testing).
    max_megapixels : float, optional
        Upper bound on rows x cols of the image, in millions of pixels.
    **overrides
        Any :class:`SectionSpec` field, fixed instead of drawn.

    Returns
    -------
    spec : SectionSpec

    Raises
    ------
    TypeError
        If an override names no field of :class:`SectionSpec`.
    ValueError
        If an override is out of range, or `appearance` is not one of the sets.

    Examples
    --------
    >>> spec = random_spec(3, modality="fluorescence")
    >>> spec.modality
    'fluorescence'
    >>> random_spec(3, appearance="stress").seed == random_spec(3).seed
    True
    """
    if appearance not in APPEARANCES:
        raise ValueError(f"appearance={appearance!r} is not one of {APPEARANCES}")
    fields = {f.name for f in dataclasses.fields(SectionSpec)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"random_spec got unknown parameters {unknown}; accepted: {sorted(fields)}")
    rng = (
        rng_or_seed
        if isinstance(rng_or_seed, np.random.Generator)
        else np.random.default_rng(rng_or_seed)
    )
    thickness = float(rng.uniform(50.0, 100.0))
    membrane_draw = rng.random()
    if membrane_draw < 0.7:
        membrane = 1.0
    elif membrane_draw < 0.9:
        membrane = float(rng.uniform(0.15, 0.4))
    else:
        membrane = 0.0
    drawn: dict[str, Any] = {
        "modality": MODALITIES[int(rng.integers(2))],
        "chromogen": CHROMOGENS[int(rng.integers(2))],
        "pixel_size_um": float(rng.uniform(0.25, 0.7)),
        "length_um": float(rng.uniform(500.0, 1500.0)),
        "epidermis_thickness_um": thickness,
        "rete_amplitude_um": float(rng.uniform(0.05, 0.4) * thickness),
        "rete_wavelength_um": float(rng.uniform(70.0, 180.0)),
        "corneum_thickness_um": float(rng.uniform(5.0, 30.0)),
        "corneum_detachment": float(rng.uniform(0.0, 0.6)),
        "dermis_depth_um": float(rng.uniform(120.0, 320.0)),
        "waviness_um": float(rng.uniform(0.0, 25.0)),
        "density_per_mm": float(rng.uniform(2.0, 20.0)),
        "p_epidermal_branch": float(rng.uniform(0.0, 0.5)),
        "p_dermal_branch": float(rng.uniform(0.0, 0.3)),
        "fragments_per_mm": float(rng.uniform(0.0, 10.0)),
        "short_fibres_per_mm": float(rng.uniform(0.0, 6.0)),
        "parallel_dermal_per_mm": float(rng.uniform(0.0, 6.0)),
        "plexus_fibres_per_mm": float(rng.uniform(3.0, 15.0)),
        "nerve_bundles_per_mm": float(rng.uniform(0.0, 4.0)),
        "vessels_per_mm": float(rng.uniform(3.0, 20.0)),
        "sweat_glands_per_mm": float(rng.uniform(0.0, 1.2)),
        "p_beaded": float(rng.uniform(0.2, 0.9)),
        "defocus_sigma_um": float(rng.uniform(0.0, 1.0)),
        "illumination_gradient": float(rng.uniform(0.0, 0.3)),
        "noise": float(rng.uniform(0.005, 0.05)),
        "rotation_deg": float(rng.uniform(0.0, 360.0)),
        "flip": bool(rng.random() < 0.5),
        "membrane_strength": membrane,
        "debris_per_mm2": float(rng.uniform(0.0, 20.0)),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }
    if appearance != "classic":  # drawn after the classic values, which it leaves as they were
        drawn.update(
            draw_appearance(
                rng,
                appearance,
                modality=str(overrides.get("modality", drawn["modality"])),
                thickness=float(overrides.get("epidermis_thickness_um", thickness)),
            )
        )
    drawn.update(overrides)
    spec = SectionSpec(**drawn)
    if "length_um" not in overrides:
        while True:
            rows, cols = estimate_shape(spec)
            if rows * cols <= max_megapixels * 1e6 or spec.length_um <= 150.0:
                break
            spec = dataclasses.replace(spec, length_um=max(150.0, spec.length_um * 0.92))
    return spec
