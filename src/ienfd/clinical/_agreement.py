"""Agreement between two raters: ICC(A,1) and Bland-Altman limits, with 95 % CIs.

Pure numerical core (numpy and scipy's F and t distributions); the table
matching for automatic versus manual section counts lives in
:func:`match_counts`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ienfd.clinical._errors import ClinicalInputError
from ienfd.clinical._sections import image_key

logger = logging.getLogger(__name__)

__all__ = [
    "AgreementSummary",
    "AgreementTable",
    "BlandAltman",
    "bland_altman",
    "icc_a1",
    "icc_a1_ci",
    "match_counts",
    "summarize_agreement",
]

#: Two-sided 95% normal quantile used for the Bland-Altman limits of agreement
#: (Bland & Altman 1986, Lancet 1:307: bias +/- 1.96 SD).
LOA_Z = 1.96
#: Confidence level of every interval reported here.
CONFIDENCE = 0.95


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
    n, k, ms_rows, ms_cols, ms_err = _mean_squares(ratings)
    return _icc_from_mean_squares(n, k, ms_rows, ms_cols, ms_err)


def _mean_squares(ratings: ArrayLike) -> tuple[int, int, float, float, float]:
    """n, k and the two-way ANOVA mean squares for rows, columns and residual."""
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
    return n, k, ms_rows, ms_cols, ms_err


def _icc_from_mean_squares(n: int, k: int, msr: float, msc: float, mse: float) -> float:
    return float((msr - mse) / (msr + (k - 1) * mse + k / n * (msc - mse)))


def icc_a1_ci(ratings: ArrayLike, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Confidence interval of ICC(A,1) from the F distribution (McGraw & Wong 1996).

    The two-way random-effects, absolute-agreement interval of McGraw & Wong
    (1996, Table 7, case 2A, single measure): with the sample ICC ``p``,
    ``a = k p / (n (1 - p))``, ``b = 1 + k p (n - 1) / (n (1 - p))`` and
    Satterthwaite's degrees of freedom
    ``v = (a MSC + b MSE)^2 / ((a MSC)^2 / (k - 1) + (b MSE)^2 / ((n - 1)(k - 1)))``,

    * lower = ``n (MSR - F1 MSE) / (F1 (k MSC + (k n - k - n) MSE) + n MSR)``,
      ``F1`` the upper ``(1 - confidence) / 2`` quantile of ``F(n - 1, v)``;
    * upper = ``n (F2 MSR - MSE) / (k MSC + (k n - k - n) MSE + n F2 MSR)``,
      ``F2`` the same quantile of ``F(v, n - 1)``.

    Parameters
    ----------
    ratings : (N, K) array-like
        As for :func:`icc_a1`.
    confidence : float, optional
        Two-sided confidence level, in (0, 1); default 0.95.

    Returns
    -------
    low, high : float
        The interval. With no residual and no rater difference at all (every
        rater gives every subject the same value) the ICC is exactly 1 and so
        is the interval.

    Raises
    ------
    TypeError, ValueError
        As for :func:`icc_a1`; ValueError also for a `confidence` outside (0, 1).

    References
    ----------
    .. [1] McGraw KO, Wong SP (1996). Forming inferences about some intraclass
       correlation coefficients. Psychol Methods 1:30-46 (correction 1:390).
       doi:10.1037/1082-989X.1.1.30

    Examples
    --------
    >>> low, high = icc_a1_ci([[2, 3], [4, 4], [6, 8], [8, 9]])
    >>> round(low, 3), round(high, 3)
    (0.082, 0.994)
    """
    if not (isinstance(confidence, (int, float)) and 0.0 < float(confidence) < 1.0):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    n, k, msr, msc, mse = _mean_squares(ratings)
    p = _icc_from_mean_squares(n, k, msr, msc, mse)
    if mse == 0.0 and msc == 0.0:
        return 1.0, 1.0
    alpha = 1.0 - float(confidence)
    if p >= 1.0:  # no residual but a rater offset: p < 1 then; guard rounding
        p = 1.0 - 1e-12
    a = k * p / (n * (1.0 - p))
    b = 1.0 + k * p * (n - 1) / (n * (1.0 - p))
    v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
    from scipy import stats  # here: importing ienfd.clinical stays light

    f1 = float(stats.f.ppf(1.0 - alpha / 2.0, n - 1, v))
    f2 = float(stats.f.ppf(1.0 - alpha / 2.0, v, n - 1))
    rest = k * msc + (k * n - k - n) * mse
    low = n * (msr - f1 * mse) / (f1 * rest + n * msr)
    high = n * (f2 * msr - mse) / (rest + n * f2 * msr)
    return float(low), float(high)


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
    bias_ci : tuple of float
        95 % CI of the bias: ``bias -/+ t sd / sqrt(n)``, ``t`` the 0.975
        quantile of Student's t with ``n - 1`` degrees of freedom.
    loa_low_ci, loa_high_ci : tuple of float
        95 % CI of each limit: ``limit -/+ t se``, with
        ``se = sd sqrt(1/n + 1.96^2 / (2 (n - 1)))`` (Bland & Altman 1999).
    """

    bias: float
    sd: float
    loa_low: float
    loa_high: float
    n: int
    bias_ci: tuple[float, float]
    loa_low_ci: tuple[float, float]
    loa_high_ci: tuple[float, float]


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
        ``bias``, ``sd`` (ddof=1), ``loa_low``, ``loa_high`` (bias -/+ 1.96 sd),
        ``n``, and the 95 % CIs ``bias_ci``, ``loa_low_ci``, ``loa_high_ci``.

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
    .. [2] Bland JM, Altman DG (1999). Measuring agreement in method comparison
       studies. Stat Methods Med Res 8:135-160 (section 2.2: the standard error
       of the limits of agreement). doi:10.1177/096228029900800204

    Examples
    --------
    >>> r = bland_altman([2, 4, 6, 8], [3, 4, 8, 9])
    >>> r.bias, round(r.sd, 6), r.n
    (-1.0, 0.816497, 4)
    >>> [round(x, 2) for x in r.bias_ci]
    [-2.3, 0.3]
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
    n = int(d.size)
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    from scipy import stats

    t = float(stats.t.ppf(0.5 + CONFIDENCE / 2.0, n - 1))
    se_bias = sd / float(np.sqrt(n))
    se_loa = sd * float(np.sqrt(1.0 / n + LOA_Z**2 / (2.0 * (n - 1))))
    loa_low, loa_high = bias - LOA_Z * sd, bias + LOA_Z * sd
    return BlandAltman(
        bias=bias,
        sd=sd,
        loa_low=loa_low,
        loa_high=loa_high,
        n=n,
        bias_ci=(bias - t * se_bias, bias + t * se_bias),
        loa_low_ci=(loa_low - t * se_loa, loa_low + t * se_loa),
        loa_high_ci=(loa_high - t * se_loa, loa_high + t * se_loa),
    )


def _pick(cols: list[str], options: tuple[str, ...]) -> str | None:
    for o in options:
        if o in cols:
            return o
    return None


def match_counts(
    auto: pd.DataFrame,
    manual: pd.DataFrame,
    *,
    auto_source: str = "AUTO",
    manual_source: str = "MANUAL",
    auto_column: str | None = None,
    manual_column: str | None = None,
) -> AgreementTable:
    """Pair automatic and manual counts of the same sections.

    Parameters
    ----------
    auto : pandas.DataFrame
        Text table with ``image`` (or ``section_id``) and a count. The count
        column is ``auto_column`` if given, else ``count_auto`` when present
        (the batch table's automatic count, before any human correction), else
        ``count``. Rows whose ``status`` is not ``ok`` are left out (and listed).
    manual : pandas.DataFrame
        Text table with ``image`` (or ``section_id``) and ``manual_count``,
        ``final_count`` or ``count`` (first found; or ``manual_column``), e.g.
        from :func:`ienfd.clinical.read_correction_sidecars`.
    auto_source, manual_source : str
        Names for messages.
    auto_column, manual_column : str, optional
        Override the count columns.

    Returns
    -------
    AgreementTable

    Raises
    ------
    ClinicalInputError
        On a missing key or count column, an empty key, a missing, negative,
        non-whole or non-numeric count, or a key appearing twice in one table
        (naming the table, the 1-based data row and the column).
    """
    use_id = "section_id" in auto.columns and "section_id" in manual.columns
    key_col = "section_id" if use_id else "image"
    prepared = []
    for table, source, override, options in (
        (auto, auto_source, auto_column, ("count_auto", "count")),
        (manual, manual_source, manual_column, ("manual_count", "final_count", "count")),
    ):
        cols = [str(c) for c in table.columns]
        if key_col not in cols:
            raise ClinicalInputError(
                f"missing column {key_col!r} to match sections by (need 'image' or "
                "'section_id' in both tables)",
                source=source,
                column=key_col,
            )
        count_col = override if override is not None else _pick(cols, options)
        if count_col is None or count_col not in cols:
            raise ClinicalInputError(
                f"missing count column; expected one of {list(options)}",
                source=source,
                column=override or options[-1],
            )
        records = []
        skipped = []
        seen: dict[str, int] = {}
        for i, (_, rec) in enumerate(table.iterrows(), start=1):
            if "status" in cols and str(rec["status"]).strip().lower() != "ok":
                skipped.append(str(rec[key_col]))
                continue
            raw_key = str(rec[key_col]).strip()
            if not raw_key:
                raise ClinicalInputError(
                    f"{key_col} is empty", source=source, row=i, column=key_col
                )
            key = raw_key if use_id else image_key(raw_key)
            if key in seen:
                raise ClinicalInputError(
                    f"section {key!r} appears twice (also data row {seen[key]})",
                    source=source,
                    row=i,
                    column=key_col,
                )
            seen[key] = i
            raw = str(rec[count_col]).strip()
            try:
                value = float(raw)
            except ValueError:
                raise ClinicalInputError(
                    f"count {raw!r} is not a number" if raw else "count is missing",
                    source=source,
                    row=i,
                    column=count_col,
                ) from None
            if not np.isfinite(value) or value < 0:
                raise ClinicalInputError(
                    f"count {raw!r} must be a finite number >= 0",
                    source=source,
                    row=i,
                    column=count_col,
                )
            if value != round(value):
                raise ClinicalInputError(
                    f"count {raw!r} is not a whole number (fibres are counted one by one)",
                    source=source,
                    row=i,
                    column=count_col,
                )
            records.append({"key": key, "image": raw_key, "count": int(value), "row": i})
        frame = pd.DataFrame(records, columns=["key", "image", "count", "row"])
        prepared.append((frame.astype({"count": "int64", "row": "int64"}), skipped))
    (a, a_skipped), (m, _) = prepared
    merged = a.merge(m, on="key", how="inner", suffixes=("_auto", "_manual"))
    matched = pd.DataFrame(
        {
            "section": merged["key"],
            "image": merged["image_auto"],
            "auto_count": merged["count_auto"],
            "manual_count": merged["count_manual"],
            "difference": merged["count_auto"] - merged["count_manual"],
            "mean": (merged["count_auto"] + merged["count_manual"]) / 2.0,
        }
    )
    only_auto = sorted(set(a["key"]) - set(m["key"]))
    only_manual = sorted(set(m["key"]) - set(a["key"]))
    if only_auto or only_manual:
        logger.warning(
            "%d section(s) only in %s, %d only in %s (listed in the output)",
            len(only_auto),
            auto_source,
            len(only_manual),
            manual_source,
        )
    return AgreementTable(
        matched=matched,
        only_auto=tuple(only_auto),
        only_manual=tuple(only_manual),
        not_ok_auto=tuple(a_skipped),
    )


@dataclass(frozen=True)
class AgreementTable:
    """Paired counts and what could not be paired.

    Attributes
    ----------
    matched : pandas.DataFrame
        ``section, image, auto_count, manual_count, difference (auto - manual), mean``;
        the counts and their difference are integers, the mean a float.
    only_auto, only_manual : tuple of str
        Section keys present in one table only.
    not_ok_auto : tuple of str
        AUTO rows left out because their status was not ``ok``.
    """

    matched: pd.DataFrame
    only_auto: tuple[str, ...]
    only_manual: tuple[str, ...]
    not_ok_auto: tuple[str, ...]


@dataclass(frozen=True)
class AgreementSummary:
    """ICC(A,1) and Bland-Altman statistics of paired counts, with 95 % CIs.

    ``icc_a1_ci`` is McGraw & Wong's (1996) F-based interval (:func:`icc_a1_ci`);
    the Bland-Altman CIs are in :class:`BlandAltman`.
    """

    n: int
    icc_a1: float
    bland_altman: BlandAltman
    mean_auto: float
    mean_manual: float
    icc_a1_ci: tuple[float, float]

    def as_dict(self) -> dict[str, float | int]:
        """Flat dictionary (for JSON or a one-row table)."""
        ba = self.bland_altman
        return {
            "n_sections": self.n,
            "icc_a1": self.icc_a1,
            "icc_a1_ci_low": self.icc_a1_ci[0],
            "icc_a1_ci_high": self.icc_a1_ci[1],
            "bias": ba.bias,
            "bias_ci_low": ba.bias_ci[0],
            "bias_ci_high": ba.bias_ci[1],
            "sd_difference": ba.sd,
            "loa_low": ba.loa_low,
            "loa_low_ci_low": ba.loa_low_ci[0],
            "loa_low_ci_high": ba.loa_low_ci[1],
            "loa_high": ba.loa_high,
            "loa_high_ci_low": ba.loa_high_ci[0],
            "loa_high_ci_high": ba.loa_high_ci[1],
            "confidence": CONFIDENCE,
            "mean_auto": self.mean_auto,
            "mean_manual": self.mean_manual,
        }


def summarize_agreement(table: AgreementTable) -> AgreementSummary:
    """ICC(A,1) of (auto, manual) and Bland-Altman of auto - manual, with 95 % CIs.

    Raises
    ------
    ValueError
        With fewer than 2 paired sections, or no variance at all.
    """
    m = table.matched
    if len(m) < 2:
        raise ValueError(
            f"only {len(m)} section(s) could be paired between the two tables; need at least 2 "
            "(rows are matched by image file stem, or by section_id when both tables have it)"
        )
    a = m["auto_count"].to_numpy(dtype=float)
    b = m["manual_count"].to_numpy(dtype=float)
    ratings = np.column_stack([a, b])
    return AgreementSummary(
        n=len(m),
        icc_a1=icc_a1(ratings),
        icc_a1_ci=icc_a1_ci(ratings),
        bland_altman=bland_altman(a, b),
        mean_auto=float(a.mean()),
        mean_manual=float(b.mean()),
    )
