"""Credit limit: the smallest of the cash-flow, collateral, risk-budget and policy caps.

LENDING.md: limit = min( what cash flow supports at the minimum debt-service cover, the collateral's
advance value, the expected-loss budget / (PD LGD), the capital allocation / K, the single-name
concentration cap, the product maximum ). The cash-flow capacity is the present value, at the
loan rate over the tenor, of the monthly instalment that keeps DSCR at its minimum (debt-capacity
sizing as in project and leveraged finance, e.g. Yescombe, "Principles of Project Finance", 2nd
ed. 2014, ch. 12). Amounts are float64 currency units; rates are fractions per year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lending.core.amortisation import MONTHS_PER_YEAR, annuity_present_value

LIMIT_CONSTRAINTS = (
    "cash_flow_capacity",
    "collateral_advance_value",
    "expected_loss_budget",
    "capital_allocation",
    "concentration_cap",
    "product_maximum",
)
"""Names of the limit constraints, in the order they are reported."""


def cash_flow_capacity(
    annual_cash_flow_available, min_dscr, annual_rate, tenor_months, existing_annual_debt_service=0.0
) -> float | np.ndarray:
    """Largest annuity loan whose debt service keeps DSCR at ``min_dscr``, currency units.

    Affordable new debt service per year = cash flow available / min DSCR - existing debt service
    (floored at 0); the loan is the present value of that as level monthly instalments at
    ``annual_rate`` (fraction per year, monthly compounding) over ``tenor_months``. Inputs
    broadcast (scalars or arrays).
    """
    dscr_floor = np.asarray(min_dscr, dtype=float)
    if np.any(dscr_floor <= 0):
        raise ValueError("min_dscr must be positive")
    affordable_annual = np.maximum(
        np.asarray(annual_cash_flow_available, dtype=float) / dscr_floor
        - np.asarray(existing_annual_debt_service, dtype=float),
        0.0,
    )
    return annuity_present_value(affordable_annual / MONTHS_PER_YEAR, annual_rate, tenor_months)


@dataclass(frozen=True)
class CreditLimitResult:
    """A credit limit and why.

    limit                the smallest candidate, currency units (>= 0).
    binding_constraint   name of the first constraint (in ``LIMIT_CONSTRAINTS`` order) that equals it.
    binding_constraints  every constraint within a relative 1e-9 of the limit (ties).
    candidates           each constraint's own cap, currency units (inf when it does not bind at all).
    """

    limit: float
    binding_constraint: str
    binding_constraints: tuple[str, ...]
    candidates: dict[str, float]


def credit_limit(
    *,
    annual_cash_flow_available: float,
    min_dscr: float,
    annual_rate: float,
    tenor_months: int,
    collateral_advance_value: float,
    expected_loss_budget: float,
    pd: float,
    lgd: float,
    capital_allocation: float,
    k: float,
    concentration_cap: float,
    product_maximum: float,
    existing_annual_debt_service: float = 0.0,
) -> CreditLimitResult:
    """Credit limit as the minimum of six caps, with the binding one named.

    Inputs (currency units unless stated):
      annual_cash_flow_available  cash flow available for debt service per year (e.g. EBITDA after
                                  expected downtime, less maintenance capex and tax).
      min_dscr                    minimum debt-service cover (e.g. 1.25).
      annual_rate, tenor_months   rate (fraction per year) and tenor of the facility.
      existing_annual_debt_service  other debt service per year already carried by the borrower.
      collateral_advance_value    haircut collateral value (``health_overlay.collateral_advance_value``).
      expected_loss_budget        expected loss per year the lender allows this name; cap = budget/(PD LGD).
      pd, lgd                     fractions; capital_allocation, k: capital allotted to the name and
                                  IRB capital per unit exposure; cap = allocation / K.
      concentration_cap           single-name limit; product_maximum: product's largest facility.
    Pass ``math.inf`` for a cap that does not apply. Output: ``CreditLimitResult``.
    """
    if not 0 <= pd <= 1 or not 0 <= lgd <= 1:
        raise ValueError("pd and lgd must be fractions in [0, 1]")
    for name, value in (
        ("collateral_advance_value", collateral_advance_value),
        ("expected_loss_budget", expected_loss_budget),
        ("capital_allocation", capital_allocation),
        ("concentration_cap", concentration_cap),
        ("product_maximum", product_maximum),
        ("k", k),
    ):
        if math.isnan(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
    unit_expected_loss = pd * lgd
    candidates = {
        "cash_flow_capacity": float(
            cash_flow_capacity(
                annual_cash_flow_available, min_dscr, annual_rate, tenor_months, existing_annual_debt_service
            )
        ),
        "collateral_advance_value": float(collateral_advance_value),
        "expected_loss_budget": (
            expected_loss_budget / unit_expected_loss if unit_expected_loss > 0 else math.inf
        ),
        "capital_allocation": capital_allocation / k if k > 0 else math.inf,
        "concentration_cap": float(concentration_cap),
        "product_maximum": float(product_maximum),
    }
    limit = min(candidates.values())
    binding = tuple(
        name
        for name in LIMIT_CONSTRAINTS
        if math.isclose(candidates[name], limit, rel_tol=1e-9, abs_tol=1e-9)
    )
    return CreditLimitResult(
        limit=float(limit), binding_constraint=binding[0], binding_constraints=binding, candidates=candidates
    )
