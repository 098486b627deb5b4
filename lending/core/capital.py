"""Basel IRB capital for corporate exposures.

Implements the risk-weight function of the Basel II framework (BCBS, "International Convergence of
Capital Measurement and Capital Standards: A Revised Framework", June 2006, paragraphs 272-273 for the
corporate formula and the SME firm-size adjustment, 318-320 for effective maturity), as summarised in
LENDING.md, and explained in BCBS, "An Explanatory Note on the Basel II IRB Risk Weight Functions"
(July 2005). The 1.06 scaling factor of paragraph 14 is a portfolio-level calibration applied to total
RWA and is not part of K here (Annex 5's illustrative risk weights exclude it too).

All functions accept Python floats or numpy arrays (broadcast together) and return a float for
scalar input, an array otherwise. PD, LGD and K are fractions (0.01 = 1 %); maturity in years;
sales in EUR millions; EAD and RWA in currency units.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from lending.core._numeric import require_in_range, scalar_or_array

PD_FLOOR = 0.0003
"""Minimum PD for corporate exposures (Basel II paragraph 285): 0.03 %."""

CONFIDENCE_LEVEL = 0.999
"""Confidence level of the Vasicek single-factor loss quantile in the IRB formula."""

SME_SALES_MIN_EUR_M = 5.0
SME_SALES_MAX_EUR_M = 50.0
MATURITY_MIN_YEARS = 1.0
MATURITY_MAX_YEARS = 5.0
RWA_MULTIPLIER = 12.5
"""Reciprocal of the 8 % minimum capital ratio: RWA = 12.5 * K * EAD."""


def floored_pd(pd) -> np.ndarray:
    """PD floored at 0.03 % (Basel II paragraph 285).

    Input: PD as a fraction in [0, 1] (scalar or array). Output: float array.
    Raises ``ValueError`` when a PD lies outside [0, 1] or is NaN.
    """
    pd_array = require_in_range("pd", pd, 0.0, 1.0)
    return np.maximum(pd_array, PD_FLOOR)


def asset_correlation(pd, sales_eur_m=None) -> float | np.ndarray:
    """Asset correlation R of the IRB corporate formula.

    R = 0.12 w + 0.24 (1 - w), w = (1 - exp(-50 PD)) / (1 - exp(-50)), PD floored at 0.03 %;
    for SMEs the firm-size adjustment subtracts 0.04 (1 - (S - 5) / 45) with the annual sales S in
    EUR millions clamped to [5, 50] (Basel II paragraphs 272-273).

    Inputs: ``pd`` fraction; ``sales_eur_m`` None (no SME adjustment) or annual sales in EUR
    millions, where NaN entries of an array also mean "no adjustment".
    Output: R as a fraction (about 0.12..0.24, down to 0.08 for small SMEs).
    """
    pd_array = floored_pd(pd)
    weight = (1.0 - np.exp(-50.0 * pd_array)) / (1.0 - np.exp(-50.0))
    correlation = 0.12 * weight + 0.24 * (1.0 - weight)
    if sales_eur_m is not None:
        sales = np.asarray(sales_eur_m, dtype=float)
        if np.any(sales[~np.isnan(sales)] < 0):
            raise ValueError("sales_eur_m must not be negative")
        clamped_sales = np.clip(sales, SME_SALES_MIN_EUR_M, SME_SALES_MAX_EUR_M)
        sme_reduction = 0.04 * (1.0 - (clamped_sales - SME_SALES_MIN_EUR_M) / 45.0)
        correlation = correlation - np.where(np.isnan(sales), 0.0, sme_reduction)
    return scalar_or_array(correlation)


def maturity_adjustment(pd) -> float | np.ndarray:
    """Maturity-adjustment slope b = (0.11852 - 0.05478 ln PD)^2, PD floored at 0.03 %.

    Input: PD fraction. Output: b (dimensionless), used as (1 + (M - 2.5) b) / (1 - 1.5 b).
    Source: Basel II paragraph 272.
    """
    pd_array = floored_pd(pd)
    return scalar_or_array((0.11852 - 0.05478 * np.log(pd_array)) ** 2)


def effective_maturity_years(maturity_years) -> float | np.ndarray:
    """Effective maturity M clamped to [1, 5] years as Basel II paragraph 320 requires."""
    maturity = np.asarray(maturity_years, dtype=float)
    if np.any(np.isnan(maturity)) or np.any(maturity < 0):
        raise ValueError("maturity_years must be a non-negative number")
    return scalar_or_array(np.clip(maturity, MATURITY_MIN_YEARS, MATURITY_MAX_YEARS))


def irb_capital(pd, lgd, maturity_years=2.5, sales_eur_m=None) -> float | np.ndarray:
    """Capital requirement K per unit of EAD for a non-defaulted corporate exposure (Basel IRB).

    K = [LGD N( G(PD)/sqrt(1-R) + sqrt(R/(1-R)) G(0.999) ) - PD LGD] (1 + (M-2.5) b) / (1 - 1.5 b)

    Inputs (scalars or broadcastable arrays):
      pd             one-year probability of default, fraction in [0, 1]; floored at 0.03 %.
      lgd            loss given default, fraction in [0, 1].
      maturity_years effective maturity M in years, clamped to [1, 5] (paragraph 320).
      sales_eur_m    annual sales in EUR millions for the SME correlation adjustment, or None.
    Output: K as a fraction of EAD (0.0739 for PD 1 %, LGD 45 %, M 2.5, i.e. a 92.32 % risk
    weight in Annex 5 of Basel II). A PD of 1 (defaulted) gives K = 0 from this formula; the
    capital of defaulted exposures (LGD minus best-estimate EL) is outside its scope.
    Source: Basel II paragraphs 272-273.
    """
    pd_array = floored_pd(pd)
    lgd_array = require_in_range("lgd", lgd, 0.0, 1.0)
    maturity = np.asarray(effective_maturity_years(maturity_years), dtype=float)
    correlation = np.asarray(asset_correlation(pd_array, sales_eur_m), dtype=float)
    slope = np.asarray(maturity_adjustment(pd_array), dtype=float)

    defaulted = pd_array >= 1.0
    # Keep G(PD) finite where PD = 1; those entries are overwritten with K = 0 below.
    safe_pd = np.where(defaulted, 0.5, pd_array)
    conditional_pd = norm.cdf(
        norm.ppf(safe_pd) / np.sqrt(1.0 - correlation)
        + np.sqrt(correlation / (1.0 - correlation)) * norm.ppf(CONFIDENCE_LEVEL)
    )
    unexpected_loss = lgd_array * conditional_pd - pd_array * lgd_array
    capital = unexpected_loss * (1.0 + (maturity - 2.5) * slope) / (1.0 - 1.5 * slope)
    capital = np.where(defaulted, 0.0, capital)
    return scalar_or_array(capital)


def risk_weight(k) -> float | np.ndarray:
    """Risk weight as a fraction of EAD, 12.5 K (0.9232 means 92.32 %)."""
    return scalar_or_array(RWA_MULTIPLIER * np.asarray(k, dtype=float))


def risk_weighted_assets(k, ead) -> float | np.ndarray:
    """Risk-weighted assets RWA = 12.5 K EAD (Basel II paragraph 272).

    Inputs: ``k`` capital per unit EAD (fraction), ``ead`` exposure at default in currency units.
    Output: RWA in the same currency units.
    """
    ead_array = np.asarray(ead, dtype=float)
    if np.any(np.isnan(ead_array)) or np.any(ead_array < 0):
        raise ValueError("ead must be a non-negative amount")
    return scalar_or_array(RWA_MULTIPLIER * np.asarray(k, dtype=float) * ead_array)


def amortising_effective_maturity_years(tenor_months) -> float | np.ndarray:
    """Effective maturity of a level-instalment (annuity) loan, in years, before the [1, 5] clamp.

    Basel II paragraph 320 defines M = sum_t t CF_t / sum_t CF_t over the contractual cash flows
    (t in years). With n equal monthly instalments this is sum_k (k/12) / n = (n + 1) / 24.
    """
    tenor = np.asarray(tenor_months, dtype=float)
    if np.any(np.isnan(tenor)) or np.any(tenor < 1):
        raise ValueError("tenor_months must be at least 1")
    return scalar_or_array((tenor + 1.0) / 24.0)
