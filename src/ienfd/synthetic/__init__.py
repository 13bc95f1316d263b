"""Synthetic PGP 9.5 skin sections with exactly known truth.

Pure functions, no file I/O: :func:`random_spec` draws a plausible
:class:`SectionSpec`, :func:`generate_section` renders it into a
:class:`SyntheticSection` (image + truth); :func:`score_section` compares an
analysis with the truth.  ``random_spec(seed, appearance="wide")`` widens the
look (stains, counterstains, epidermis, fibres, artefacts, optics) for tuning;
``appearance="stress"`` pushes one to three factors beyond that, and
:func:`stress_factors` names them.  Write the results with
:func:`ienfd.io.write_section_tiff` and :func:`ienfd.io.write_json`, or many
sections with their truth files at once with
:func:`ienfd.workflow.write_synthetic_sections` (what ``ienfd synth`` runs).
"""

from ienfd.synthetic._appearance import STRESS_FACTORS, WIDE_RANGES, stress_factors
from ienfd.synthetic._generate import SyntheticSection, generate_section
from ienfd.synthetic._scoring import SectionScore, score_section
from ienfd.synthetic._spec import (
    APPEARANCE_FIELDS,
    GENERATOR_VERSION,
    SectionSpec,
    estimate_shape,
    is_classic_appearance,
    random_spec,
)

__all__ = [
    "APPEARANCE_FIELDS",
    "GENERATOR_VERSION",
    "STRESS_FACTORS",
    "WIDE_RANGES",
    "SectionScore",
    "SectionSpec",
    "SyntheticSection",
    "estimate_shape",
    "generate_section",
    "is_classic_appearance",
    "random_spec",
    "score_section",
    "stress_factors",
]
