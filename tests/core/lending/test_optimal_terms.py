"""Optimal terms: interior optimum, binding constraints, agreement with a plain loop."""

import dataclasses
import math
import time
from statistics import NormalDist

import numpy as np
import pytest

from lending.core.optimal_terms import (
    BorrowerRiskProfile,
    CurrentTerms,
    FundingEconomics,
    TermsMenu,
    TermsPolicy,
    optimal_terms,
    pd_given_dscr,
)

CURRENT = CurrentTerms(annual_rate=0.06, limit=1_000_000.0, tenor_months=60)
BORROWER = BorrowerRiskProfile(
    pd_at_current_terms=0.02,
    lgd=0.40,
    annual_cash_flow_available=400_000.0,
    existing_annual_debt_service=50_000.0,
    dscr_pd_elasticity=3.0,
)
POLICY = TermsPolicy(
    pd_appetite=0.05,
    min_dscr=1.25,
    capital_allocation=200_000.0,
    limit_cap=2_000_000.0,
    product_min_rate=0.03,
    product_max_rate=0.12,
    product_min_limit=100_000.0,
    product_max_limit=5_000_000.0,
    product_min_tenor_months=12,
    product_max_tenor_months=120,
    max_rate_move_bps=50.0,
    max_limit_move_fraction=0.30,
    remaining_useful_life_months=84,
)
ECONOMICS = FundingEconomics(
    funding_cost=0.03, hurdle_return=0.12, risk_free_return=0.03, operating_cost=0.005
)
SMALL_MENU = TermsMenu(
    rate_span_bps=100, limit_span_fraction=0.4, tenor_options_months=(36, 48, 60, 72, 84, 96)
)


STANDARD_NORMAL = NormalDist()


def plain_irb_capital(pd, lgd, maturity_years):
    """Basel II paragraph 272 written out with the standard library (PD >= 0.03 %, M in [1, 5])."""
    pd = max(pd, 0.0003)
    maturity_years = min(max(maturity_years, 1.0), 5.0)
    weight = (1 - math.exp(-50 * pd)) / (1 - math.exp(-50))
    correlation = 0.12 * weight + 0.24 * (1 - weight)
    slope = (0.11852 - 0.05478 * math.log(pd)) ** 2
    conditional_pd = STANDARD_NORMAL.cdf(
        STANDARD_NORMAL.inv_cdf(pd) / math.sqrt(1 - correlation)
        + math.sqrt(correlation / (1 - correlation)) * STANDARD_NORMAL.inv_cdf(0.999)
    )
    return (lgd * conditional_pd - pd * lgd) * (1 + (maturity_years - 2.5) * slope) / (1 - 1.5 * slope)


def plain_evaluation(rate, limit, tenor, borrower=BORROWER, policy=POLICY, current=CURRENT):
    """The documented model, one point at a time: (risk-adjusted return, pd, feasible)."""

    def dscr_of(rate, limit, tenor):
        monthly_rate = rate / 12
        instalment = limit * monthly_rate / (1 - (1 + monthly_rate) ** -tenor)
        return borrower.annual_cash_flow_available / (borrower.existing_annual_debt_service + 12 * instalment)

    dscr_now = dscr_of(current.annual_rate, current.limit, current.tenor_months)
    dscr = dscr_of(rate, limit, tenor)
    odds_now = borrower.pd_at_current_terms / (1 - borrower.pd_at_current_terms)
    odds = odds_now * (dscr_now / dscr) ** borrower.dscr_pd_elasticity
    pd = odds / (1 + odds)
    k = plain_irb_capital(pd, borrower.lgd, (tenor + 1) / 24)
    rar = limit * (
        rate
        - ECONOMICS.funding_cost
        - pd * borrower.lgd
        - ECONOMICS.operating_cost
        - k * (ECONOMICS.hurdle_return - ECONOMICS.risk_free_return)
    )
    feasible = (
        pd <= policy.pd_appetite
        and dscr >= policy.min_dscr
        and k * limit <= policy.capital_allocation
        and limit <= policy.limit_cap
        and policy.product_min_rate <= rate <= policy.product_max_rate
        and policy.product_min_limit <= limit <= policy.product_max_limit
        and policy.product_min_tenor_months <= tenor <= policy.product_max_tenor_months
        and abs(rate - current.annual_rate) <= policy.max_rate_move_bps / 10_000 + 1e-12
        and abs(limit / current.limit - 1) <= policy.max_limit_move_fraction + 1e-12
        and tenor <= policy.remaining_useful_life_months
    )
    return rar, pd, feasible


def test_pd_link_hand_computed():
    assert pd_given_dscr(0.02, 1.5, 1.5, 2.0) == pytest.approx(0.02)
    # Halving the DSCR with elasticity 2 multiplies the odds of default by 2^2 = 4.
    odds = 4 * 0.02 / 0.98
    assert pd_given_dscr(0.02, 1.5, 0.75, 2.0) == pytest.approx(odds / (1 + odds))
    with pytest.raises(ValueError):
        pd_given_dscr(0.02, 1.5, 0.0, 2.0)


def test_interior_optimum_and_binding_constraints():
    result = optimal_terms(CURRENT, BORROWER, POLICY, ECONOMICS)
    chosen = result.chosen
    assert chosen is not None and chosen.violated_constraints == ()
    assert result.menu_edges == ()
    # Rate: held back by the largest move per review; tenor: by the press's remaining useful life.
    assert chosen.rate_change_bps == pytest.approx(50.0)
    assert chosen.tenor_months == 84
    assert "max_rate_move" in result.binding_constraints
    assert "remaining_useful_life" in result.binding_constraints
    # Limit: a genuine interior optimum - no limit constraint binds, both neighbours are feasible and
    # earn less because the larger instalment raises the PD (and K) faster than it adds margin.
    assert abs(chosen.limit_change_fraction) < POLICY.max_limit_move_fraction - 0.01
    for name in ("max_limit_move", "limit_cap", "capital_allocation", "pd_appetite", "min_dscr"):
        assert name not in result.binding_constraints
    for step in (-0.01, 0.01):
        neighbour_limit = chosen.limit + step * CURRENT.limit
        rar, _, feasible = plain_evaluation(chosen.annual_rate, neighbour_limit, chosen.tenor_months)
        assert feasible and rar < chosen.risk_adjusted_return_per_year
    assert chosen.risk_adjusted_return_per_year > result.current.risk_adjusted_return_per_year
    assert result.current.pd == pytest.approx(BORROWER.pd_at_current_terms)


def test_vectorised_search_agrees_with_a_plain_loop():
    result = optimal_terms(CURRENT, BORROWER, POLICY, ECONOMICS, SMALL_MENU)
    best = (-math.inf, None)
    for rate_step in range(-20, 21):
        rate = CURRENT.annual_rate + rate_step * 0.0005
        for limit_step in range(-40, 41):
            limit = CURRENT.limit * (1 + limit_step * 0.01)
            for tenor in SMALL_MENU.tenor_options_months:
                rar, _, feasible = plain_evaluation(rate, limit, tenor)
                if feasible and rar > best[0]:
                    best = (rar, (rate, limit, tenor))
    assert result.menu_size == 41 * 81 * 6
    rate, limit, tenor = best[1]
    assert result.chosen.annual_rate == pytest.approx(rate)
    assert result.chosen.limit == pytest.approx(limit)
    assert result.chosen.tenor_months == tenor
    assert result.chosen.risk_adjusted_return_per_year == pytest.approx(best[0], rel=1e-10)


def test_alternatives_are_feasible_distinct_and_not_better():
    result = optimal_terms(CURRENT, BORROWER, POLICY, ECONOMICS)
    assert 2 <= len(result.alternatives) <= 3
    labels = [alternative.label for alternative in result.alternatives]
    assert labels[0] == "keep current rate"
    points = {(a.annual_rate, a.limit, a.tenor_months) for a in result.alternatives}
    assert len(points) == len(result.alternatives)
    assert (result.chosen.annual_rate, result.chosen.limit, result.chosen.tenor_months) not in points
    for alternative in result.alternatives:
        assert alternative.violated_constraints == ()
        assert alternative.risk_adjusted_return_per_year <= result.chosen.risk_adjusted_return_per_year
    assert result.alternatives[0].rate_change_bps == 0.0


def test_relaxing_the_rate_move_raises_the_rate_and_the_return():
    tight = optimal_terms(CURRENT, BORROWER, POLICY, ECONOMICS)
    loose = optimal_terms(CURRENT, BORROWER, dataclasses.replace(POLICY, max_rate_move_bps=150.0), ECONOMICS)
    assert loose.chosen.annual_rate > tight.chosen.annual_rate
    assert loose.chosen.risk_adjusted_return_per_year > tight.chosen.risk_adjusted_return_per_year


def test_pd_appetite_binds_when_tight():
    policy = dataclasses.replace(POLICY, pd_appetite=0.009)
    result = optimal_terms(CURRENT, BORROWER, policy, ECONOMICS)
    assert result.chosen.pd <= 0.009
    assert "pd_appetite" in result.binding_constraints
    # Only lower instalments are acceptable: a smaller limit or a longer tenor than today.
    assert result.chosen.monthly_instalment < result.current.monthly_instalment


def test_no_feasible_point_reports_what_blocks():
    policy = dataclasses.replace(POLICY, min_dscr=5.0)
    result = optimal_terms(CURRENT, BORROWER, policy, ECONOMICS, SMALL_MENU)
    assert result.chosen is None and result.feasible_count == 0
    assert result.binding_constraints == ("min_dscr",)
    assert "min_dscr" in result.current.violated_constraints


def test_full_menu_is_searched_quickly():
    start = time.perf_counter()
    result = optimal_terms(CURRENT, BORROWER, POLICY, ECONOMICS)
    elapsed = time.perf_counter() - start
    assert result.menu_size > 100_000
    assert elapsed < 2.0, f"menu search took {elapsed:.2f} s"


def test_rejects_borrower_without_cash_flow():
    with pytest.raises(ValueError, match="annual_cash_flow_available"):
        optimal_terms(
            CURRENT, dataclasses.replace(BORROWER, annual_cash_flow_available=0.0), POLICY, ECONOMICS
        )


def test_evaluation_is_json_ready():
    result = optimal_terms(CURRENT, BORROWER, POLICY, ECONOMICS, SMALL_MENU)
    document = result.chosen.as_dict()
    assert document["label"] == "chosen" and isinstance(document["violated_constraints"], list)
    assert np.isfinite(document["raroc"])
