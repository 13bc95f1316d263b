"""Synthetic PGP 9.5 skin sections with exactly known truth.

Pure functions, no file I/O: :func:`random_spec` draws a plausible
:class:`SectionSpec`, :func:`generate_section` renders it into a
:class:`SyntheticSection` (image + truth); :func:`score_section` compares an
analysis with the truth.  Write the results with
:func:`ienfd.io.write_section_tiff` and :func:`ienfd.io.write_json`.
"""

from ienfd.synthetic._generate import SyntheticSection, generate_section
from ienfd.synthetic._scoring import SectionScore, score_section
from ienfd.synthetic._spec import GENERATOR_VERSION, SectionSpec, estimate_shape, random_spec

__all__ = [
    "GENERATOR_VERSION",
    "SectionScore",
    "SectionSpec",
    "SyntheticSection",
    "estimate_shape",
    "generate_section",
    "random_spec",
    "score_section",
]
