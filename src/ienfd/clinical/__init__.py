"""Clinical layer: per-biopsy density, normative limits, pattern and agreement.

Everything here works on tables already read into memory (pandas DataFrames)
or on arrays; reading and writing files is confined to
:mod:`ienfd.clinical._io` and :mod:`ienfd.clinical._report`.
"""

from ienfd.clinical._agreement import BlandAltman, bland_altman, icc_a1
from ienfd.clinical._errors import ClinicalInputError

__all__ = ["BlandAltman", "ClinicalInputError", "bland_altman", "icc_a1"]
