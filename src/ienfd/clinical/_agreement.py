"""Agreement between two raters: ICC(A,1) and Bland-Altman limits.

Pure numerical core (numpy only); the table matching for automatic versus
manual section counts lives in :func:`match_counts`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

logger = logging.getLogger(__name__)

__all__ = ["BlandAltman", "bland_altman", "icc_a1"]

#: Two-sided 95% normal quantile used for the Bland-Altman limits of agreement
#: (Bland & Altman 1986, Lancet 1:307: bias +/- 1.96 SD).
LOA_Z = 1.96


def _as_finite_2d(ratings: ArrayLike) -> np.ndarray:
    try:
        x = np.asarray(ratings, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"ratings must be numeric array-like of shape (n_subjects, k_raters); got {exc}"
        ) from exc
    if x.ndim != 2:
        raise ValueError(
            f"ratings must be 2-D (n_subjects, k_raters); got an array of shape {x.shape}"
        )
    n, k = x.shape
    if n < 2:
        raise ValueError(f"ICC needs at least 2 subjects (rows); got {n}")
    if k < 2:
        raise ValueError(f"ICC needs at least 2 raters (columns); got {k}")
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"ratings contain NaN or infinite values (first at subject {bad[0]}, "
            f"rater {bad[1]}, 0-based); remove or fill them first"
        )
    return x


def icc_a1(ratings: ArrayLike) -> float:
    """Two-way random-effects, absolute-agreement, single-measure ICC(A,1).

    Parameters
    ----------
    ratings : (N, K) array-like
        ``N >= 2`` subjects (e.g. sections) rated by ``K >= 2`` raters (e.g.
        the automatic count and one human counter). No missing values.

    Returns
    -------
    icc : float
        ``(MSR - MSE) / (MSR + (K - 1) MSE + K / N (MSC - MSE))`` where MSR, MSC
        and MSE are the two-way ANOVA mean squares for rows (subjects), columns
        (raters) and residual. Equals Shrout & Fleiss ICC(2,1).

    Raises
    ------
    TypeError
        If ``ratings`` is not numeric.
    ValueError
        If it is not 2-D, has fewer than 2 subjects or raters, contains NaN or
        infinite values, or has no variance at all (the ICC is undefined).

    References
    ----------
    .. [1] McGraw KO, Wong SP (1996). Forming inferences about some intraclass
       correlation coefficients. Psychol Methods 1:30-46. doi:10.1037/1082-989X.1.1.30
    .. [2] Shrout PE, Fleiss JL (1979). Intraclass correlations: uses in assessing
       rater reliability. Psychol Bull 86:420-428. doi:10.1037/0033-2909.86.2.420

    Examples
    --------
    >>> round(icc_a1([[2, 3], [4, 4], [6, 8], [8, 9]]), 6)  # 88/97
    0.907216
    """
    x = _as_finite_2d(ratings)
    n, k = x.shape
    grand = x.mean()
    row_means = x.mean(axis=1)
    col_means = x.mean(axis=0)
    ss_rows = k * float(np.sum((row_means - grand) ** 2))
    ss_cols = n * float(np.sum((col_means - grand) ** 2))
    ss_total = float(np.sum((x - grand) ** 2))
    ss_err = max(ss_total - ss_rows - ss_cols, 0.0)
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_err = ss_err / ((n - 1) * (k - 1))
    denom = ms_rows + (k - 1) * ms_err + k / n * (ms_cols - ms_err)
    if denom <= 0.0:
        raise ValueError(
            "ICC(A,1) is undefined: the ratings have no variance "
            f"(all {n * k} values equal {x.flat[0]:g})"
        )
    return float((ms_rows - ms_err) / denom)


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman agreement of two paired measurements ``a - b``.

    Attributes
    ----------
    bias : float
        Mean difference ``mean(a - b)``.
    sd : float
        Sample standard deviation of the differences (``ddof=1``).
    loa_low, loa_high : float
        95% limits of agreement ``bias -/+ 1.96 sd``.
    n : int
        Number of pairs.
    """

    bias: float
    sd: float
    loa_low: float
    loa_high: float
    n: int


def bland_altman(a: ArrayLike, b: ArrayLike) -> BlandAltman:
    """Bias and 95% limits of agreement of ``a`` against ``b``.

    Parameters
    ----------
    a, b : (N,) array-like
        Paired measurements (e.g. automatic and manual counts of the same
        sections), ``N >= 2``, no NaN. Differences are ``a - b``.

    Returns
    -------
    BlandAltman
        ``bias``, ``sd`` (ddof=1), ``loa_low``, ``loa_high`` (bias -/+ 1.96 sd), ``n``.

    Raises
    ------
    TypeError
        If the inputs are not numeric.
    ValueError
        If shapes differ, are not 1-D, ``N < 2``, or values are NaN/infinite.

    References
    ----------
    .. [1] Bland JM, Altman DG (1986). Statistical methods for assessing agreement
       between two methods of clinical measurement. Lancet 1:307-310.
       doi:10.1016/S0140-6736(86)90837-8

    Examples
    --------
    >>> r = bland_altman([2, 4, 6, 8], [3, 4, 8, 9])
    >>> r.bias, round(r.sd, 6), r.n
    (-1.0, 0.816497, 4)
    """
    try:
        xa = np.asarray(a, dtype=float)
        xb = np.asarray(b, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a and b must be numeric 1-D array-likes; got {exc}") from exc
    if xa.shape != xb.shape:
        raise ValueError(f"a and b must have the same shape; got {xa.shape} and {xb.shape}")
    if xa.ndim != 1:
        raise ValueError(f"a and b must be 1-D; got shape {xa.shape}")
    if xa.size < 2:
        raise ValueError(f"Bland-Altman needs at least 2 pairs; got {xa.size}")
    if not (np.all(np.isfinite(xa)) and np.all(np.isfinite(xb))):
        raise ValueError("a and b must not contain NaN or infinite values")
    d = xa - xb
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    return BlandAltman(
        bias=bias,
        sd=sd,
        loa_low=bias - LOA_Z * sd,
        loa_high=bias + LOA_Z * sd,
        n=int(d.size),
    )
