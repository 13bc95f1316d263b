"""Clinical layer: per-biopsy density, normative limits, pattern and agreement.

The cores work on tables already in memory (pandas DataFrames read with every
column as text, so that errors can name row and column) or on arrays. Files
are read and written only by :mod:`._io`, :mod:`._report` and the
:mod:`._workflows` behind the command line. See ``docs/clinical.md``.
"""

from ienfd.clinical._agreement import (
    AgreementSummary,
    AgreementTable,
    BlandAltman,
    bland_altman,
    icc_a1,
    icc_a1_ci,
    match_counts,
    summarize_agreement,
)
from ienfd.clinical._classify import (
    PATIENT_COLUMNS,
    PATTERNS,
    ClassificationRules,
    PatientResult,
    SiteResult,
    classify_patients,
    classify_pattern,
    classify_site,
    cohort_summary,
    patients_frame,
    sites_frame,
)
from ienfd.clinical._errors import ClinicalInputError
from ienfd.clinical._io import (
    read_correction_sidecars,
    read_norms,
    read_table,
    write_norms,
)
from ienfd.clinical._norms import (
    NORMS_COLUMNS,
    NormLookup,
    NormRow,
    NormsTable,
    builtin_norms,
    find_norm,
    validate_norms,
)
from ienfd.clinical._quantreg import build_norms, fit_quantile_line
from ienfd.clinical._sections import (
    DISTAL_SITE,
    KNOWN_SITES,
    MIN_SECTIONS,
    PROXIMAL_SITE,
    DensityEstimate,
    PreparedSections,
    aggregate_sections,
    density_ci,
    normalize_sex,
    normalize_site,
    prepare_sections,
)
from ienfd.clinical._workflows import (
    ClassifyOutputs,
    run_agreement,
    run_classify,
    run_norms_build,
)

__all__ = [
    "DISTAL_SITE",
    "KNOWN_SITES",
    "MIN_SECTIONS",
    "NORMS_COLUMNS",
    "PATIENT_COLUMNS",
    "PATTERNS",
    "PROXIMAL_SITE",
    "AgreementSummary",
    "AgreementTable",
    "BlandAltman",
    "ClassificationRules",
    "ClassifyOutputs",
    "ClinicalInputError",
    "DensityEstimate",
    "NormLookup",
    "NormRow",
    "NormsTable",
    "PatientResult",
    "PreparedSections",
    "SiteResult",
    "aggregate_sections",
    "bland_altman",
    "build_norms",
    "builtin_norms",
    "classify_patients",
    "classify_pattern",
    "classify_site",
    "cohort_summary",
    "density_ci",
    "find_norm",
    "fit_quantile_line",
    "icc_a1",
    "icc_a1_ci",
    "match_counts",
    "normalize_sex",
    "normalize_site",
    "patients_frame",
    "prepare_sections",
    "read_correction_sidecars",
    "read_norms",
    "read_table",
    "run_agreement",
    "run_classify",
    "run_norms_build",
    "sites_frame",
    "summarize_agreement",
    "validate_norms",
    "write_norms",
]
