"""Risk-based pricing and the credit limit: hand-computed examples."""

import math

import numpy as np
import pytest

from lending.core.limits import LIMIT_CONSTRAINTS, cash_flow_capacity, credit_limit
from lending.core.pricing import raroc, risk_adjusted_return, risk_based_rate, risk_based_rate_breakdown

PRICING = dict(funding_cost=0.03, hurdle_return=0.12, risk_free_return=0.03, operating_cost=0.005)


def test_risk_based_rate_hand_computed():
    # 3 % funding + 2 % x 40 % EL + 8 % x (12 % - 3 %) capital + 0.5 % opex + 0.25 % margin
    expected = 0.03 + 0.008 + 0.0072 + 0.005 + 0.0025
    assert risk_based_rate(0.02, 0.40, 0.08, margin=0.0025, **PRICING) == pytest.approx(expected, abs=1e-15)
    assert expected == pytest.approx(0.0527)
    breakdown = risk_based_rate_breakdown(0.02, 0.40, 0.08, margin=0.0025, **PRICING)
    assert breakdown.expected_loss == pytest.approx(0.008)
    assert breakdown.capital_charge == pytest.approx(0.0072)
    assert breakdown.rate == pytest.approx(expected)


def test_risk_based_rate_is_vectorised():
    rates = risk_based_rate(np.array([0.01, 0.02]), 0.4, np.array([0.06, 0.08]), margin=0.0, **PRICING)
    np.testing.assert_allclose(rates, [0.03 + 0.004 + 0.0054 + 0.005, 0.03 + 0.008 + 0.0072 + 0.005])


def test_risk_adjusted_return_and_raroc_agree_on_the_hurdle():
    break_even = risk_based_rate(0.02, 0.4, 0.08, margin=0.0, **PRICING)
    assert risk_adjusted_return(break_even, 0.02, 0.4, 0.08, 1_000_000, **PRICING) == pytest.approx(
        0.0, abs=1e-9
    )
    at_break_even = raroc(break_even, 0.02, 0.4, 0.08, 0.03, 0.03, 0.005)
    assert at_break_even == pytest.approx(PRICING["hurdle_return"])
    # 100 bp above break-even on 1,000,000 earns 10,000 a year of economic profit.
    assert risk_adjusted_return(break_even + 0.01, 0.02, 0.4, 0.08, 1_000_000, **PRICING) == pytest.approx(
        10_000
    )


LIMIT_INPUTS = dict(
    annual_cash_flow_available=500_000.0,
    min_dscr=1.25,
    existing_annual_debt_service=100_000.0,
    annual_rate=0.06,
    tenor_months=60,
    collateral_advance_value=1_500_000.0,
    expected_loss_budget=20_000.0,
    pd=0.02,
    lgd=0.40,
    capital_allocation=150_000.0,
    k=0.08,
    concentration_cap=3_000_000.0,
    product_maximum=5_000_000.0,
)


def test_credit_limit_hand_computed_cash_flow_binds():
    # 500k / 1.25 - 100k = 300k a year = 25k a month; PV over 60 months at 0.5 % a month.
    expected_capacity = 25_000 * (1 - 1.005**-60) / 0.005
    result = credit_limit(**LIMIT_INPUTS)
    assert result.candidates["cash_flow_capacity"] == pytest.approx(expected_capacity, rel=1e-12)
    assert expected_capacity == pytest.approx(1_293_140.0, abs=1.0)
    assert result.candidates["expected_loss_budget"] == pytest.approx(2_500_000.0)  # 20k / (2 % x 40 %)
    assert result.candidates["capital_allocation"] == pytest.approx(1_875_000.0)  # 150k / 8 %
    assert result.limit == pytest.approx(expected_capacity)
    assert result.binding_constraint == "cash_flow_capacity"
    assert set(result.candidates) == set(LIMIT_CONSTRAINTS)


@pytest.mark.parametrize(
    ("changes", "binding", "limit"),
    [
        ({"collateral_advance_value": 1_000_000.0}, "collateral_advance_value", 1_000_000.0),
        ({"expected_loss_budget": 8_000.0}, "expected_loss_budget", 1_000_000.0),
        ({"capital_allocation": 40_000.0}, "capital_allocation", 500_000.0),
        ({"concentration_cap": 900_000.0}, "concentration_cap", 900_000.0),
        ({"product_maximum": 750_000.0}, "product_maximum", 750_000.0),
    ],
)
def test_credit_limit_names_the_binding_constraint(changes, binding, limit):
    result = credit_limit(**{**LIMIT_INPUTS, **changes})
    assert result.binding_constraint == binding
    assert result.limit == pytest.approx(limit)


def test_ties_report_every_binding_constraint_and_inf_means_not_applicable():
    result = credit_limit(**{**LIMIT_INPUTS, "concentration_cap": 800_000.0, "product_maximum": 800_000.0})
    assert result.binding_constraints == ("concentration_cap", "product_maximum")
    unsecured = credit_limit(**{**LIMIT_INPUTS, "collateral_advance_value": math.inf, "pd": 0.0})
    assert unsecured.candidates["expected_loss_budget"] == math.inf
    assert unsecured.binding_constraint == "cash_flow_capacity"


def test_cash_flow_capacity_is_zero_when_existing_debt_uses_it_up():
    assert cash_flow_capacity(100_000, 1.25, 0.05, 60, existing_annual_debt_service=90_000) == 0.0
    capacities = cash_flow_capacity(500_000, 1.25, np.array([0.04, 0.08]), np.array([60, 60]))
    assert capacities[0] > capacities[1]


def test_credit_limit_rejects_impossible_inputs():
    with pytest.raises(ValueError):
        credit_limit(**{**LIMIT_INPUTS, "pd": 1.5})
    with pytest.raises(ValueError, match="capital_allocation"):
        credit_limit(**{**LIMIT_INPUTS, "capital_allocation": -1.0})
