"""The image-analysis core: pure functions on arrays, no file I/O.

The steps, each usable on its own: :func:`segment_tissue`, the epidermis
(:func:`segment_epidermis_brightfield`, :func:`segment_epidermis_fluorescence`),
:func:`trace_junction` (or a junction drawn by a person,
:class:`GivenJunction`), :func:`enhance_fibres` / :func:`segment_fibres`,
:func:`count_crossings`; :func:`analyze_section` chains them and checks its
own result (``qc``, ``needs_review``); :func:`assess_consistency` analyses a
section turned, flipped and rescaled, and compares.
"""

from ienfd.core._analyze import AnalysisError, AnalysisParameters, SectionResult, analyze_section
from ienfd.core._consistency import ConsistencyReport, assess_consistency, with_consistency
from ienfd.core._counting import CrossingCount, count_crossings
from ienfd.core._epidermis import segment_epidermis_brightfield, segment_epidermis_fluorescence
from ienfd.core._fibres import enhance_fibres, iter_blocks, segment_fibres
from ienfd.core._given import GivenJunction
from ienfd.core._junction import JunctionTrace, refine_junction, trace_junction
from ienfd.core._polyline import polyline_length
from ienfd.core._recount import FibreTrace, JunctionBasis, Recount, recount_section
from ienfd.core._tissue import segment_tissue

__all__ = [
    "AnalysisError",
    "AnalysisParameters",
    "ConsistencyReport",
    "CrossingCount",
    "FibreTrace",
    "GivenJunction",
    "JunctionBasis",
    "JunctionTrace",
    "Recount",
    "SectionResult",
    "analyze_section",
    "assess_consistency",
    "count_crossings",
    "enhance_fibres",
    "iter_blocks",
    "polyline_length",
    "recount_section",
    "refine_junction",
    "segment_epidermis_brightfield",
    "segment_epidermis_fluorescence",
    "segment_fibres",
    "segment_tissue",
    "trace_junction",
    "with_consistency",
]
