"""Equipment health in credit risk: PD overlay, collateral LGD and downtime cash flow.

LENDING.md lets equipment health enter credit risk three ways; this module provides all three and
the services choose which to switch on per product:

1. PD overlay: logit PD = logit PD_financial + g (HI_ref - HI_smoothed), with the move capped at
   ``max_grade_move`` grades per review unless a covenant is breached. The health index is oriented
   so that higher means healthier; an index that rises with damage is passed negated (or with a
   negative g). The index is EWMA-smoothed first and the overlay is meant to act only on
   persistent moves (``persistent_health_move``). Logit overlays of this kind are the usual way to
   add a qualitative/expert factor to a statistical PD (e.g. Siddiqi, "Intelligent Credit
   Scoring", 2nd ed. 2017, ch. on overrides; Baesens, Roesch & Scheule, "Credit Risk Analytics",
   2016, ch. 6).
2. Collateral: a press in worse condition is worth less at liquidation, so its haircut grows with
   its condition level and the facility's LGD rises (structure of Basel F-IRB LGD* for physical
   collateral, Basel Framework CRE32).
3. Cash flow: expected downtime lowers EBITDA and so the debt-service cover.

Recommended combination: a financial scorecard PD with the logit overlay for health, the
condition haircut in LGD and the downtime-adjusted cash flow in the limit and DSCR. When the
scorecard itself is fitted with health covariates (``scorecard.VariableSpec("health_index")``),
do not apply the PD overlay as well: that would count the same information twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter
from scipy.special import expit, logit

from lending.core._numeric import require_in_range, scalar_or_array
from lending.core.financials import debt_service_coverage_ratio
from lending.core.grades import DEFAULT_GRADE_UPPER_PD, pd_to_grade, validated_grade_bands

LOGIT_PD_CLIP = 1e-9
"""PDs are clipped to [1e-9, 1 - 1e-9] before taking the logit so that 0 and 1 stay finite."""

DEFAULT_CONDITION_HAIRCUTS = (0.40, 0.50, 0.60, 0.80)
"""Collateral haircut by press condition level 0 normal, 1 watch, 2 warning, 3 critical.
Level 0 is the Basel F-IRB haircut for other physical collateral (40 %, CRE32); the steeper
haircuts for worse condition are illustrative policy values to calibrate on recovery data."""

DEFAULT_UNSECURED_LGD = 0.45
"""LGD of the unsecured part: Basel II F-IRB senior unsecured corporate claims (paragraph 287)."""

DEFAULT_SECURED_LGD = 0.25
"""LGD of the part covered by haircut collateral value: Basel F-IRB other physical collateral
(CRE32 as revised in December 2017)."""


@dataclass(frozen=True)
class HealthOverlayResult:
    """Outcome of the health overlay (floats/ints/bools for scalar inputs, arrays otherwise).

    pd               overlaid PD after the grade cap (fraction).
    pd_uncapped      PD from the logit shift alone.
    logit_shift      g (HI_ref - HI_smoothed), added to logit PD_financial.
    grade            master-scale grade of ``pd``.
    reference_grade  grade the cap is measured from (previous review's grade, or the grade of the
                     financial PD when no previous grade is given).
    capped           True where the cap changed the PD.
    """

    pd: float | np.ndarray
    pd_uncapped: float | np.ndarray
    logit_shift: float | np.ndarray
    grade: int | np.ndarray
    reference_grade: int | np.ndarray
    capped: bool | np.ndarray


def health_overlay_pd(
    pd_financial,
    health_index_smoothed,
    hi_ref,
    g,
    max_grade_move: int = 1,
    covenant_breached=False,
    grade_bands=DEFAULT_GRADE_UPPER_PD,
    previous_grade=None,
) -> HealthOverlayResult:
    """Apply the equipment-health logit overlay to a financial PD, capped in grades per review.

    logit PD = logit PD_financial + g (HI_ref - HI_smoothed)            (LENDING.md)

    Inputs (scalars or broadcastable arrays):
      pd_financial           PD from the financial scorecard, fraction in [0, 1].
      health_index_smoothed  EWMA-smoothed health index (higher = healthier), any unit.
      hi_ref                 reference (healthy) level of the index, same unit.
      g                      sensitivity, logit units per index unit (> 0 raises PD as health falls).
      max_grade_move         largest grade change allowed in one review (>= 0).
      covenant_breached      when True the cap does not apply (the full overlay is taken).
      grade_bands            upper PD bounds of the master scale (see ``lending.core.grades``).
      previous_grade         grade at the previous review; the cap is measured from it. When None,
                             it is measured from the grade of ``pd_financial``, so the overlay
                             alone never moves the borrower by more than ``max_grade_move``.
    Output: ``HealthOverlayResult``. A capped PD is set to the edge of the furthest allowed grade
    (its upper bound when worsening, just above its lower bound when improving).
    """
    if max_grade_move < 0 or int(max_grade_move) != max_grade_move:
        raise ValueError("max_grade_move must be a non-negative whole number")
    bounds = validated_grade_bands(grade_bands)
    pd_financial = require_in_range("pd_financial", pd_financial, 0.0, 1.0)
    health = np.asarray(health_index_smoothed, dtype=float)
    if np.any(~np.isfinite(health)):
        raise ValueError("health_index_smoothed must be finite")
    logit_shift = np.asarray(g, dtype=float) * (np.asarray(hi_ref, dtype=float) - health)
    clipped_pd = np.clip(pd_financial, LOGIT_PD_CLIP, 1.0 - LOGIT_PD_CLIP)
    pd_uncapped = expit(logit(clipped_pd) + logit_shift)

    if previous_grade is None:
        reference_grade = np.asarray(pd_to_grade(pd_financial, bounds))
    else:
        reference_grade = np.asarray(previous_grade, dtype=int)
        if np.any(reference_grade < 1) or np.any(reference_grade > bounds.size):
            raise ValueError(f"previous_grade must be in 1..{bounds.size}")
    lower_bounds = np.concatenate(([0.0], bounds[:-1]))
    best_allowed = np.clip(reference_grade - max_grade_move, 1, bounds.size)
    worst_allowed = np.clip(reference_grade + max_grade_move, 1, bounds.size)
    # Grade k covers (lower_k, upper_k]: the smallest PD inside the best allowed grade is the next
    # float above its lower bound.
    pd_min_allowed = np.nextafter(lower_bounds[best_allowed - 1], 1.0)
    pd_max_allowed = bounds[worst_allowed - 1]
    pd_capped = np.clip(pd_uncapped, pd_min_allowed, pd_max_allowed)
    breached = np.asarray(covenant_breached, dtype=bool)
    overlaid_pd = np.where(breached, pd_uncapped, pd_capped)
    capped = overlaid_pd != pd_uncapped

    grade = pd_to_grade(overlaid_pd, bounds)
    scalar = np.ndim(overlaid_pd) == 0
    return HealthOverlayResult(
        pd=scalar_or_array(overlaid_pd),
        pd_uncapped=scalar_or_array(pd_uncapped),
        logit_shift=scalar_or_array(logit_shift),
        grade=grade,
        reference_grade=int(reference_grade)
        if scalar
        else np.broadcast_to(reference_grade, np.shape(overlaid_pd)),
        capped=bool(capped) if scalar else capped,
    )


def ewma_smooth(values, smoothing_factor: float) -> np.ndarray:
    """Exponentially weighted moving average of a health-index series.

    s_0 = x_0, s_t = a x_t + (1 - a) s_{t-1}, with a = ``smoothing_factor`` in (0, 1] (a = 1 is no
    smoothing). Input: 1-D finite series in time order; output: array of the same length.
    Method: EWMA (Roberts, "Control chart tests based on geometric moving averages",
    Technometrics 1959), computed as a first-order recursive filter.
    """
    series = np.asarray(values, dtype=float)
    if series.ndim != 1 or series.size == 0:
        raise ValueError("values must be a non-empty 1-D series")
    if np.any(~np.isfinite(series)):
        raise ValueError("values must be finite (drop or impute missing readings first)")
    if not 0.0 < smoothing_factor <= 1.0:
        raise ValueError("smoothing_factor must lie in (0, 1]")
    decay = 1.0 - smoothing_factor
    smoothed, _ = lfilter([smoothing_factor], [1.0, -decay], series, zi=[decay * series[0]])
    return smoothed


def persistent_health_move(smoothed_health_index, hi_ref: float, tolerance: float, min_periods: int) -> int:
    """Whether the smoothed health index has moved persistently away from its reference.

    Returns -1 when each of the last ``min_periods`` smoothed values lies below hi_ref - tolerance
    (persistent deterioration), +1 when each lies above hi_ref + tolerance (persistent recovery),
    and 0 otherwise (no action: noise or a move too recent to act on). Higher index = healthier.
    """
    series = np.asarray(smoothed_health_index, dtype=float)
    if min_periods < 1:
        raise ValueError("min_periods must be at least 1")
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    if series.size < min_periods:
        return 0
    recent = series[-min_periods:]
    if np.all(recent < hi_ref - tolerance):
        return -1
    if np.all(recent > hi_ref + tolerance):
        return 1
    return 0


def collateral_advance_value(
    collateral_values, condition_levels, haircuts=DEFAULT_CONDITION_HAIRCUTS
) -> float:
    """Lendable value of collateral: sum of value_i (1 - haircut[condition_i]), currency units.

    Inputs: ``collateral_values`` market (or appraised) values, currency units, >= 0;
    ``condition_levels`` integer condition of each asset, indexing ``haircuts`` (0 = best);
    ``haircuts`` fractions in [0, 1], non-decreasing with the level (worse condition, larger
    haircut). Method: haircut-based collateral valuation (Basel Framework CRE22/CRE32).
    """
    values = np.atleast_1d(np.asarray(collateral_values, dtype=float))
    levels = np.atleast_1d(np.asarray(condition_levels))
    haircut_table = require_in_range("haircuts", haircuts, 0.0, 1.0)
    if np.any(np.diff(haircut_table) < 0):
        raise ValueError("haircuts must not decrease as condition worsens")
    if values.shape != levels.shape:
        raise ValueError("collateral_values and condition_levels must have the same length")
    if np.any(~np.isfinite(values)) or np.any(values < 0):
        raise ValueError("collateral_values must be finite and non-negative")
    if (
        not np.issubdtype(levels.dtype, np.integer)
        or np.any(levels < 0)
        or np.any(levels >= haircut_table.size)
    ):
        raise ValueError(f"condition_levels must be integers in 0..{haircut_table.size - 1}")
    return float(np.sum(values * (1.0 - haircut_table[levels])))


def collateral_lgd(
    ead: float,
    collateral_values,
    condition_levels,
    haircuts=DEFAULT_CONDITION_HAIRCUTS,
    unsecured_lgd: float = DEFAULT_UNSECURED_LGD,
    secured_lgd: float = DEFAULT_SECURED_LGD,
) -> float:
    """LGD of a facility secured by presses, with haircuts that grow as their condition worsens.

    LGD = (secured_lgd E_S + unsecured_lgd E_U) / EAD, with E_S = min(sum C_i (1 - H_i), EAD) the
    part covered by the haircut collateral value and E_U = EAD - E_S (structure of the Basel F-IRB
    LGD* for physical collateral, Basel Framework CRE32). Inputs: ``ead`` currency units (> 0);
    collateral values (currency units) and integer condition levels (0 = best) per asset; haircut
    per level; the two LGDs as fractions. Output: LGD fraction in [secured_lgd, unsecured_lgd].
    """
    if not np.isfinite(ead) or ead <= 0:
        raise ValueError("ead must be a positive amount")
    require_in_range("unsecured_lgd", unsecured_lgd, 0.0, 1.0)
    require_in_range("secured_lgd", secured_lgd, 0.0, 1.0)
    covered = min(collateral_advance_value(collateral_values, condition_levels, haircuts), ead)
    return (secured_lgd * covered + unsecured_lgd * (ead - covered)) / ead


@dataclass(frozen=True)
class DowntimeCashFlowEffect:
    """Expected effect of press downtime on a year's cash flow (currency units per year).

    expected_downtime_days  failure probability x downtime days per failure.
    lost_ebitda             expected lost contribution plus expected repair cost.
    ebitda_after_downtime   annual EBITDA - lost_ebitda.
    dscr_before, dscr_after debt-service cover on EBITDA before and after the expected loss.
    """

    expected_downtime_days: float | np.ndarray
    lost_ebitda: float | np.ndarray
    ebitda_after_downtime: float | np.ndarray
    dscr_before: float | np.ndarray
    dscr_after: float | np.ndarray


def downtime_cash_flow_effect(
    annual_ebitda,
    annual_revenue,
    annual_debt_service,
    failure_probability,
    downtime_days_per_failure,
    press_revenue_share=1.0,
    contribution_margin_fraction=0.3,
    repair_cost_per_failure=0.0,
    operating_days_per_year: float = 250.0,
) -> DowntimeCashFlowEffect:
    """Expected EBITDA lost to press downtime over the next year and the resulting DSCR.

    lost EBITDA = p_fail (revenue x press share x downtime days / operating days x contribution
    margin + repair cost); DSCR = EBITDA / debt service before and after. Inputs broadcast:
    annual amounts in currency units; ``failure_probability`` (e.g. the federated model's failure
    risk over the year) fraction; ``press_revenue_share`` fraction of revenue that depends on the
    press; ``contribution_margin_fraction`` of lost revenue that is lost EBITDA (variable costs are
    saved). Method: expected downtime cost in maintenance economics (Jardine & Tsang, "Maintenance,
    Replacement, and Reliability", 2nd ed. 2013, ch. 2).
    """
    probability = require_in_range("failure_probability", failure_probability, 0.0, 1.0)
    share = require_in_range("press_revenue_share", press_revenue_share, 0.0, 1.0)
    margin = require_in_range("contribution_margin_fraction", contribution_margin_fraction, 0.0, 1.0)
    downtime_days = np.asarray(downtime_days_per_failure, dtype=float)
    repair_cost = np.asarray(repair_cost_per_failure, dtype=float)
    revenue = np.asarray(annual_revenue, dtype=float)
    if np.any(downtime_days < 0) or np.any(downtime_days > operating_days_per_year):
        raise ValueError("downtime_days_per_failure must lie in [0, operating_days_per_year]")
    if np.any(repair_cost < 0) or np.any(revenue < 0):
        raise ValueError("annual_revenue and repair_cost_per_failure must not be negative")
    ebitda = np.asarray(annual_ebitda, dtype=float)
    lost_contribution = revenue * share * downtime_days / operating_days_per_year * margin
    lost_ebitda = probability * (lost_contribution + repair_cost)
    ebitda_after = ebitda - lost_ebitda
    return DowntimeCashFlowEffect(
        expected_downtime_days=scalar_or_array(probability * downtime_days),
        lost_ebitda=scalar_or_array(lost_ebitda),
        ebitda_after_downtime=scalar_or_array(ebitda_after),
        dscr_before=debt_service_coverage_ratio(ebitda, annual_debt_service),
        dscr_after=debt_service_coverage_ratio(ebitda_after, annual_debt_service),
    )
