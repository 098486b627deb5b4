"""Monthly amortisation schedules and annuity arithmetic.

Conventions: ``annual_rate`` is a nominal rate per year as a fraction (0.05 = 5 %) compounded
monthly, so the monthly rate is annual_rate / 12; amounts are float64 currency units (the portal
converts to ``Decimal`` at its boundary); periods are months, numbered from 1.
Method: standard level-payment (annuity) mortgage mathematics, e.g. Kellison, "The Theory of
Interest", 3rd ed., chapter 5 (amortisation schedules).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from lending.core._numeric import scalar_or_array

MONTHS_PER_YEAR = 12


class RepaymentKind(StrEnum):
    """How principal is repaid: level instalments, equal principal parts, or all at maturity."""

    ANNUITY = "annuity"
    LINEAR = "linear"
    BULLET = "bullet"


def annuity_payment(principal, annual_rate, tenor_months) -> float | np.ndarray:
    """Level monthly instalment that repays ``principal`` over ``tenor_months``.

    A = P r / (1 - (1 + r)^-n) with r = annual_rate / 12; A = P / n when r = 0.
    Inputs broadcast (scalars or arrays): principal in currency units (>= 0), annual_rate fraction
    per year (> -1200 %), tenor_months >= 1. Output: instalment in currency units per month.
    """
    principal = np.asarray(principal, dtype=float)
    monthly_rate = np.asarray(annual_rate, dtype=float) / MONTHS_PER_YEAR
    months = np.asarray(tenor_months, dtype=float)
    if np.any(months < 1):
        raise ValueError("tenor_months must be at least 1")
    if np.any(principal < 0):
        raise ValueError("principal must not be negative")
    if np.any(monthly_rate <= -1):
        raise ValueError("annual_rate must exceed -1200 %")
    # expm1/log1p keep the formula accurate for rates near zero.
    discount_sum = np.where(
        np.abs(monthly_rate) < 1e-12,
        months,
        -np.expm1(-months * np.log1p(monthly_rate)) / np.where(monthly_rate == 0, 1.0, monthly_rate),
    )
    return scalar_or_array(principal / discount_sum)


def annuity_present_value(monthly_payment, annual_rate, tenor_months) -> float | np.ndarray:
    """Principal that a level monthly payment repays over ``tenor_months`` at ``annual_rate``.

    PV = A (1 - (1 + r)^-n) / r, r = annual_rate / 12 (PV = A n when r = 0). Inverse of
    ``annuity_payment``. Inputs broadcast; output in currency units.
    """
    payment = np.asarray(monthly_payment, dtype=float)
    unit_payment = np.asarray(annuity_payment(1.0, annual_rate, tenor_months), dtype=float)
    return scalar_or_array(payment / unit_payment)


@dataclass(frozen=True)
class AmortisationSchedule:
    """Per-month cash flows of a loan, all arrays of length ``tenor_months``.

    ``period`` 1..n; ``instalment`` = ``interest`` + ``principal`` paid in that month;
    ``balance`` outstanding after the month's payment (0 after the last). Currency units.
    """

    period: np.ndarray
    instalment: np.ndarray
    interest: np.ndarray
    principal: np.ndarray
    balance: np.ndarray

    @property
    def total_interest(self) -> float:
        """Sum of the interest parts, currency units."""
        return float(self.interest.sum())

    @property
    def total_paid(self) -> float:
        """Sum of all instalments (interest + principal), currency units."""
        return float(self.instalment.sum())

    def as_rows(self) -> list[dict[str, float | int]]:
        """The schedule as a list of plain dicts (JSON-able) for previews and snapshots."""
        return [
            {
                "period": int(period),
                "instalment": float(instalment),
                "interest": float(interest),
                "principal": float(principal),
                "balance": float(balance),
            }
            for period, instalment, interest, principal, balance in zip(
                self.period, self.instalment, self.interest, self.principal, self.balance, strict=True
            )
        ]


def amortisation_schedule(
    principal: float,
    annual_rate: float,
    tenor_months: int,
    kind: RepaymentKind | str = RepaymentKind.ANNUITY,
    interest_only_months: int = 0,
) -> AmortisationSchedule:
    """Monthly schedule for an annuity, linear (equal principal) or bullet loan.

    Inputs: principal (currency units, >= 0); annual_rate (nominal fraction per year, >= 0,
    compounded monthly); tenor_months (>= 1); kind ("annuity", "linear", "bullet");
    interest_only_months: leading grace months in which only interest is paid (must leave at
    least one repayment month; ignored for bullet loans, which are interest-only anyway).
    Output: ``AmortisationSchedule``; the final balance is exactly 0 (the last principal part
    absorbs floating-point residue).
    Method: interest_k = r * balance_{k-1}; annuity instalment from ``annuity_payment`` over the
    repayment months; linear principal = P / repayment months; bullet repays P in the last month.
    """
    kind = RepaymentKind(kind)
    if tenor_months < 1 or int(tenor_months) != tenor_months:
        raise ValueError("tenor_months must be a whole number of months >= 1")
    if principal < 0 or not np.isfinite(principal):
        raise ValueError("principal must be a non-negative finite amount")
    if annual_rate < 0 or not np.isfinite(annual_rate):
        raise ValueError("annual_rate must be a non-negative finite fraction per year")
    if interest_only_months < 0 or interest_only_months >= tenor_months:
        raise ValueError("interest_only_months must be in [0, tenor_months - 1]")
    tenor_months = int(tenor_months)
    monthly_rate = annual_rate / MONTHS_PER_YEAR
    period = np.arange(1, tenor_months + 1)

    if kind is RepaymentKind.BULLET:
        opening_balance = np.full(tenor_months, float(principal))
        principal_part = np.zeros(tenor_months)
        principal_part[-1] = principal
    else:
        grace = int(interest_only_months)
        repayment_months = tenor_months - grace
        elapsed = np.clip(period - 1 - grace, 0, None)  # repayment months completed before month k
        if kind is RepaymentKind.ANNUITY:
            level_payment = float(annuity_payment(principal, annual_rate, repayment_months))
            if monthly_rate == 0:
                opening_balance = principal - level_payment * elapsed
            else:
                growth = (1.0 + monthly_rate) ** elapsed
                opening_balance = principal * growth - level_payment * (growth - 1.0) / monthly_rate
        else:
            opening_balance = principal * (1.0 - elapsed / repayment_months)
        opening_balance = np.maximum(opening_balance, 0.0)
        closing_balance = np.append(opening_balance[1:], 0.0)
        principal_part = opening_balance - closing_balance

    interest = monthly_rate * opening_balance
    balance = opening_balance - principal_part
    balance[-1] = 0.0
    return AmortisationSchedule(
        period=period,
        instalment=interest + principal_part,
        interest=interest,
        principal=principal_part,
        balance=balance,
    )
