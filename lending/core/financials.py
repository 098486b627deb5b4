"""Financial statements of a borrower: validation and credit ratios.

Ratios follow standard corporate credit analysis (e.g. Ganguin & Bilardello, "Fundamentals of
Corporate Credit Analysis", 2005; S&P "Corporate Methodology: Ratios and Adjustments", 2013):
leverage debt / EBITDA, interest cover EBITDA / interest, current ratio, and the debt-service
coverage ratio DSCR = cash flow available for debt service / (interest + scheduled principal).

Amounts are float64 currency units of one currency; the portal converts from ``Decimal``.
Flows (revenue, EBITDA, interest, principal) cover the statement period and are annualised by
12 / (period length in whole months) for the ratios; stocks (debt, assets, cash) are period-end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from lending.core._numeric import scalar_or_array

AVERAGE_DAYS_PER_MONTH = 365.25 / 12


class FinancialsError(ValueError):
    """An impossible or malformed value in a financial statement; ``field`` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FinancialStatement:
    """One reporting period of a borrower's accounts (validated on construction).

    period_start, period_end  first and last day of the period (inclusive), ``date``.
    revenue                   net sales over the period, >= 0.
    ebitda                    earnings before interest, tax, depreciation, amortisation; <= revenue
                              (may be negative).
    interest_expense          interest paid or accrued over the period, >= 0.
    total_debt                interest-bearing debt at period end, >= 0.
    current_assets            at period end, >= cash.
    current_liabilities       at period end, >= 0.
    cash                      cash and equivalents at period end, >= 0.
    scheduled_principal       principal repayments due over the period, >= 0 (for the DSCR).
    """

    period_start: date
    period_end: date
    revenue: float
    ebitda: float
    interest_expense: float
    total_debt: float
    current_assets: float
    current_liabilities: float
    cash: float
    scheduled_principal: float = 0.0

    def __post_init__(self) -> None:
        validate_financial_statement(self)

    @property
    def period_months(self) -> int:
        """Length of the period in whole months (a calendar quarter is 3, a year 12)."""
        days = (self.period_end - self.period_start).days + 1
        return round(days / AVERAGE_DAYS_PER_MONTH)

    @property
    def annualisation_factor(self) -> float:
        """12 / period_months: scales the period's flows to one year."""
        return 12.0 / self.period_months


_AMOUNT_FIELDS = (
    "revenue",
    "ebitda",
    "interest_expense",
    "total_debt",
    "current_assets",
    "current_liabilities",
    "cash",
    "scheduled_principal",
)
_NON_NEGATIVE_FIELDS = tuple(name for name in _AMOUNT_FIELDS if name != "ebitda")


def validate_financial_statement(statement: FinancialStatement) -> None:
    """Raise ``FinancialsError`` naming the first impossible field of ``statement``.

    Checks, in order: dates are ``date`` objects and the period ends after it starts and covers
    at least half a month (so it can be annualised); every amount is a finite number; revenue,
    interest, debt, current assets and liabilities, cash and scheduled principal are not
    negative; EBITDA does not exceed revenue; cash does not exceed current assets (cash is one).
    Returns None when the statement is consistent.
    """
    for name in ("period_start", "period_end"):
        value = getattr(statement, name)
        if not isinstance(value, date):
            raise FinancialsError(name, f"must be a date, got {type(value).__name__}")
    if statement.period_end <= statement.period_start:
        raise FinancialsError("period_end", "period must end after it starts")
    if statement.period_months < 1:
        raise FinancialsError("period_end", "period must cover at least half a month")
    for name in _AMOUNT_FIELDS:
        value = getattr(statement, name)
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise FinancialsError(name, f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise FinancialsError(name, "must be a finite number")
    for name in _NON_NEGATIVE_FIELDS:
        if getattr(statement, name) < 0:
            raise FinancialsError(name, "must not be negative")
    if statement.ebitda > statement.revenue:
        raise FinancialsError("ebitda", "EBITDA cannot exceed revenue")
    if statement.cash > statement.current_assets:
        raise FinancialsError("cash", "cash cannot exceed current assets (cash is a current asset)")


def financial_statement_from_mapping(values: dict) -> FinancialStatement:
    """Build a validated ``FinancialStatement`` from a plain mapping (e.g. form or JSON data).

    Amounts may be ``Decimal``, ``int``, ``float`` or numeric strings; a missing required key or
    an unparseable amount raises ``FinancialsError`` naming that field.
    """
    arguments = {}
    for spec in fields(FinancialStatement):
        if spec.name not in values:
            if spec.name == "scheduled_principal":
                continue
            raise FinancialsError(spec.name, "is required")
        raw = values[spec.name]
        if spec.name in _AMOUNT_FIELDS:
            try:
                arguments[spec.name] = float(raw)
            except (TypeError, ValueError):
                raise FinancialsError(spec.name, f"is not a number: {raw!r}") from None
        else:
            if isinstance(raw, str):
                try:
                    raw = date.fromisoformat(raw)
                except ValueError:
                    raise FinancialsError(spec.name, f"is not an ISO date: {raw!r}") from None
            arguments[spec.name] = raw
    return FinancialStatement(**arguments)


def _safe_ratio(numerator, denominator) -> np.ndarray:
    """numerator / denominator with +inf where the denominator is 0 and the numerator positive."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(
        denominator == 0, np.where(numerator > 0, np.inf, np.where(numerator < 0, -np.inf, np.nan)), ratio
    )


def debt_to_ebitda(total_debt, annual_ebitda) -> float | np.ndarray:
    """Leverage: total debt / annual EBITDA (years of EBITDA to repay debt).

    Returns +inf when EBITDA <= 0 and debt > 0 (the debt cannot be repaid from earnings), 0 when
    there is no debt. Inputs in currency units, scalar or arrays.
    """
    debt = np.asarray(total_debt, dtype=float)
    ebitda = np.asarray(annual_ebitda, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        leverage = np.where(ebitda > 0, debt / np.where(ebitda > 0, ebitda, 1.0), np.inf)
    return scalar_or_array(np.where(debt == 0, 0.0, leverage))


def interest_cover(annual_ebitda, annual_interest_expense) -> float | np.ndarray:
    """Interest cover: EBITDA / interest expense (+inf with no interest and positive EBITDA)."""
    return scalar_or_array(_safe_ratio(annual_ebitda, annual_interest_expense))


def current_ratio(current_assets, current_liabilities) -> float | np.ndarray:
    """Current ratio: current assets / current liabilities (+inf with no current liabilities)."""
    return scalar_or_array(_safe_ratio(current_assets, current_liabilities))


def debt_service_coverage_ratio(cash_flow_available_for_debt_service, debt_service) -> float | np.ndarray:
    """DSCR = cash flow available for debt service / debt service (interest + principal).

    Both amounts over the same period (usually a year). +inf when there is nothing to service and
    the cash flow is positive; negative when the cash flow is negative.
    """
    return scalar_or_array(_safe_ratio(cash_flow_available_for_debt_service, debt_service))


@dataclass(frozen=True)
class FinancialRatios:
    """Annualised credit ratios of one statement (see module docstring for definitions)."""

    debt_to_ebitda: float
    interest_cover: float
    current_ratio: float
    dscr: float
    annual_ebitda: float
    annual_debt_service: float


def financial_ratios(statement: FinancialStatement) -> FinancialRatios:
    """Debt/EBITDA, interest cover, current ratio and DSCR of a validated statement.

    Flows are annualised by ``statement.annualisation_factor``; the DSCR uses EBITDA as the cash
    flow available for debt service and interest + scheduled principal as the debt service.
    Infinite ratios are returned as ``math.inf`` (the portal must render them, not store them as
    JSON numbers).
    """
    factor = statement.annualisation_factor
    annual_ebitda = statement.ebitda * factor
    annual_interest = statement.interest_expense * factor
    annual_debt_service = (statement.interest_expense + statement.scheduled_principal) * factor
    return FinancialRatios(
        debt_to_ebitda=float(debt_to_ebitda(statement.total_debt, annual_ebitda)),
        interest_cover=float(interest_cover(annual_ebitda, annual_interest)),
        current_ratio=float(current_ratio(statement.current_assets, statement.current_liabilities)),
        dscr=float(debt_service_coverage_ratio(annual_ebitda, annual_debt_service)),
        annual_ebitda=annual_ebitda,
        annual_debt_service=annual_debt_service,
    )
