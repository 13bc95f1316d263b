"""Age- and sex-specific lower normal limits from a laboratory's own controls.

Linear quantile regression (Koenker & Bassett 1978) solved exactly as a linear
programme with :func:`scipy.optimize.linprog` (HiGHS), the method used for the
IENFD norms of Lauria et al. 2010 (J Peripher Nerv Syst 15:202).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ienfd.clinical._norms import NormRow, NormsTable

logger = logging.getLogger(__name__)

__all__ = ["MIN_CONTROLS", "build_norms", "fit_quantile_line"]

#: Fewest controls per (site, sex, modality) group: with fewer than 1/q points
#: a q = 0.05 line rests on the single lowest value. ienfd default, not a
#: published figure; change with ``min_controls``.
MIN_CONTROLS = 20


def fit_quantile_line(
    age: ArrayLike, density: ArrayLike, *, quantile: float = 0.05
) -> tuple[float, float]:
    """Fit ``density = a + b * age`` at the given quantile (check-loss minimum).

    Solves ``min sum(q u_i + (1 - q) v_i)`` subject to
    ``a + b age_i + u_i - v_i = y_i``, ``u, v >= 0`` exactly with HiGHS.

    Parameters
    ----------
    age, density : (N,) array-like
        Ages in years and densities in fibres/mm, ``N >= 3``, finite.
    quantile : float
        In (0, 1); default 0.05 (the 5th percentile).

    Returns
    -------
    intercept, slope : float
        ``slope`` in fibres/mm per year.

    Raises
    ------
    ValueError
        On mismatched or too short inputs, non-finite values, a quantile outside
        (0, 1), all ages equal, or if the solver fails.

    References
    ----------
    .. [1] Koenker R, Bassett G (1978). Regression quantiles. Econometrica 46:33-50.
       doi:10.2307/1913643
    .. [2] Lauria G et al. (2010). Intraepidermal nerve fiber density at the distal
       leg: a worldwide normative reference study. J Peripher Nerv Syst 15:202-207.
       doi:10.1111/j.1529-8027.2010.00271.x

    Examples
    --------
    >>> a, b = fit_quantile_line([20, 40, 60], [10.0, 8.0, 6.0], quantile=0.5)
    >>> round(a, 6), round(b, 6)
    (12.0, -0.1)
    """
    x = np.asarray(age, dtype=float)
    y = np.asarray(density, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"age and density must be 1-D of equal length; got {x.shape}, {y.shape}")
    if x.size < 3:
        raise ValueError(f"need at least 3 controls to fit a line; got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("age and density must be finite")
    if not (0.0 < quantile < 1.0):
        raise ValueError(f"quantile must be in (0, 1); got {quantile!r}")
    if np.ptp(x) == 0:
        raise ValueError(f"all controls have the same age ({x[0]:g}); cannot fit an age slope")
    n = x.size
    # centre age for conditioning; variables [a, b, u_1..u_n, v_1..v_n]
    xc = x - x.mean()
    c = np.concatenate([[0.0, 0.0], np.full(n, quantile), np.full(n, 1.0 - quantile)])
    a_eq = np.hstack([np.ones((n, 1)), xc[:, None], np.eye(n), -np.eye(n)])
    bounds = [(None, None), (None, None)] + [(0.0, None)] * (2 * n)
    from scipy.optimize import linprog  # imported when norms are fitted, not with ienfd.clinical

    res = linprog(c, A_eq=a_eq, b_eq=y, bounds=bounds, method="highs")
    if not res.success:
        raise ValueError(f"quantile regression failed: {res.message}")
    a_c, slope = float(res.x[0]), float(res.x[1])
    return a_c - slope * float(x.mean()), slope


def build_norms(
    controls: pd.DataFrame,
    *,
    quantile: float = 0.05,
    by_sex: bool = True,
    min_controls: int = MIN_CONTROLS,
    source_label: str = "controls",
) -> NormsTable:
    """Fit lower-limit lines per site, sex and modality from healthy controls.

    Parameters
    ----------
    controls : pandas.DataFrame
        One row per control and site, as returned by
        :func:`ienfd.clinical.aggregate_sections`: ``age, sex, site, modality,
        density_per_mm`` (rows with missing age or sex are an error).
    quantile : float
        Quantile of the limit; default 0.05.
    by_sex : bool
        Separate lines for women and men (default), else one line with sex ``any``.
    min_controls : int
        Fewest controls per group; groups with fewer raise.
    source_label : str
        Name of the controls (file) written into each row's ``source``.

    Returns
    -------
    NormsTable
        One line row per group over the controls' whole-year age range, with
        ``source`` naming the data, n, the quantile and the method.

    Raises
    ------
    ValueError
        On missing age/sex, or a group with fewer than ``min_controls`` controls.
    """
    required = {"age", "sex", "site", "modality", "density_per_mm"}
    missing = required - set(controls.columns)
    if missing:
        raise ValueError(f"controls lack columns {sorted(missing)}")
    if controls["age"].isna().any():
        pid = controls.loc[controls["age"].isna()].iloc[0].get("patient_id", "?")
        raise ValueError(f"control {pid!r} has no age; every control needs age and sex")
    if by_sex and controls["sex"].isna().any():
        pid = controls.loc[controls["sex"].isna()].iloc[0].get("patient_id", "?")
        raise ValueError(f"control {pid!r} has no sex; every control needs age and sex")
    if min_controls < 3:
        raise ValueError(f"min_controls must be >= 3; got {min_controls}")
    data = controls.copy()
    data["modality"] = data["modality"].where(data["modality"].notna(), "")
    if not by_sex:
        data["sex"] = "any"
    today = _dt.date.today().isoformat()
    rows: list[NormRow] = []
    for (site, sex, modality), grp in data.groupby(["site", "sex", "modality"], sort=True):
        if len(grp) < min_controls:
            raise ValueError(
                f"only {len(grp)} controls for {site}, {sex}, {modality or 'any modality'}; "
                f"need at least {min_controls} (pass a smaller min_controls at your own risk)"
            )
        a, b = fit_quantile_line(grp["age"], grp["density_per_mm"], quantile=quantile)
        lo = math.floor(float(grp["age"].min()))
        hi = math.floor(float(grp["age"].max()))
        if a + b * lo <= 0 or a + b * hi <= 0:
            raise ValueError(
                f"the fitted {quantile:g}-quantile line for {site}, {sex} is <= 0 within "
                f"ages {lo}-{hi} ({a:.4g} + {b:.4g} * age); more controls are needed"
            )
        src = (
            f"ienfd norms build from {source_label} on {today}: linear quantile regression "
            f"(q={quantile:g}; Koenker & Bassett 1978; method of Lauria et al. 2010) on "
            f"n={len(grp)} controls aged {lo}-{hi}"
        )
        rows.append(NormRow(str(site), str(sex), lo, hi, str(modality) or None, None, a, b, src))
        logger.info("%s %s: %d controls, limit = %.4f %+.5f * age", site, sex, len(grp), a, b)
    return NormsTable(rows=tuple(rows), name=source_label, builtin=False)
