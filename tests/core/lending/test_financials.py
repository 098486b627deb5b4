"""Financial statement validation and ratios."""

import math
from dataclasses import replace
from datetime import date

import pytest

from lending.core.financials import (
    FinancialsError,
    FinancialStatement,
    debt_service_coverage_ratio,
    debt_to_ebitda,
    financial_ratios,
    financial_statement_from_mapping,
)

VALID = dict(
    period_start=date(2024, 1, 1),
    period_end=date(2024, 12, 31),
    revenue=10_000_000.0,
    ebitda=1_500_000.0,
    interest_expense=200_000.0,
    total_debt=4_500_000.0,
    current_assets=3_000_000.0,
    current_liabilities=2_000_000.0,
    cash=500_000.0,
    scheduled_principal=800_000.0,
)


def test_ratios_of_an_annual_statement_hand_computed():
    ratios = financial_ratios(FinancialStatement(**VALID))
    assert ratios.debt_to_ebitda == pytest.approx(3.0)  # 4.5m / 1.5m
    assert ratios.interest_cover == pytest.approx(7.5)  # 1.5m / 0.2m
    assert ratios.current_ratio == pytest.approx(1.5)  # 3m / 2m
    assert ratios.dscr == pytest.approx(1.5)  # 1.5m / (0.2m + 0.8m)


def test_quarterly_flows_are_annualised():
    quarter = FinancialStatement(
        **{
            **VALID,
            "period_start": date(2024, 4, 1),
            "period_end": date(2024, 6, 30),
            "revenue": 2_500_000.0,
            "ebitda": 375_000.0,
            "interest_expense": 50_000.0,
            "scheduled_principal": 200_000.0,
        }
    )
    assert quarter.period_months == 3
    ratios = financial_ratios(quarter)
    assert ratios.annual_ebitda == pytest.approx(1_500_000.0)
    assert ratios.debt_to_ebitda == pytest.approx(3.0)
    assert ratios.dscr == pytest.approx(1.5)


def test_degenerate_ratios():
    assert debt_to_ebitda(1_000.0, -50.0) == math.inf
    assert debt_to_ebitda(0.0, -50.0) == 0.0
    assert debt_service_coverage_ratio(100.0, 0.0) == math.inf
    assert debt_service_coverage_ratio(-100.0, 50.0) == pytest.approx(-2.0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"revenue": -1.0}, "revenue"),
        ({"ebitda": 10_000_001.0}, "ebitda"),
        ({"total_debt": -5.0}, "total_debt"),
        ({"interest_expense": -5.0}, "interest_expense"),
        ({"current_assets": -5.0, "cash": 0.0}, "current_assets"),
        ({"current_liabilities": -5.0}, "current_liabilities"),
        ({"cash": 3_000_001.0}, "cash"),
        ({"cash": -1.0}, "cash"),
        ({"scheduled_principal": -1.0}, "scheduled_principal"),
        ({"period_end": date(2023, 12, 31)}, "period_end"),
        ({"period_end": date(2024, 1, 1)}, "period_end"),
        ({"ebitda": float("nan")}, "ebitda"),
        ({"revenue": "lots"}, "revenue"),
        ({"period_start": "2024-01-01"}, "period_start"),
    ],
)
def test_impossible_values_raise_naming_the_field(changes, field):
    with pytest.raises(FinancialsError) as error:
        FinancialStatement(**{**VALID, **changes})
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}:")


def test_negative_ebitda_is_allowed_but_not_above_revenue():
    statement = FinancialStatement(**{**VALID, "ebitda": -200_000.0})
    assert financial_ratios(statement).debt_to_ebitda == math.inf
    with pytest.raises(FinancialsError, match="ebitda"):
        replace(statement, ebitda=statement.revenue + 1)


def test_from_mapping_parses_strings_and_names_bad_fields():
    raw = {
        key: str(value) if not isinstance(value, date) else value.isoformat() for key, value in VALID.items()
    }
    statement = financial_statement_from_mapping(raw)
    assert statement.total_debt == 4_500_000.0 and statement.period_end == date(2024, 12, 31)
    with pytest.raises(FinancialsError) as error:
        financial_statement_from_mapping({**raw, "total_debt": "n/a"})
    assert error.value.field == "total_debt"
    incomplete = dict(raw)
    del incomplete["cash"]
    with pytest.raises(FinancialsError) as error:
        financial_statement_from_mapping(incomplete)
    assert error.value.field == "cash"
    with pytest.raises(FinancialsError) as error:
        financial_statement_from_mapping({**raw, "period_start": "31/12/2024"})
    assert error.value.field == "period_start"
