"""Amortisation schedules and annuity arithmetic."""

import numpy as np
import pytest

from lending.core.amortisation import amortisation_schedule, annuity_payment, annuity_present_value


def test_annuity_payment_hand_computed():
    # 100,000 at 6 % a year over 12 months: r = 0.005, A = P r / (1 - 1.005^-12).
    expected = 100_000 * 0.005 / (1 - 1.005**-12)
    assert annuity_payment(100_000, 0.06, 12) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(8_606.64, abs=0.01)
    assert annuity_payment(120_000, 0.0, 12) == pytest.approx(10_000.0)


def test_present_value_inverts_payment_and_is_vectorised():
    rates = np.array([0.0, 0.03, 0.08])
    tenors = np.array([12, 60, 120])
    payments = annuity_payment(250_000, rates, tenors)
    np.testing.assert_allclose(annuity_present_value(payments, rates, tenors), 250_000, rtol=1e-12)


def test_annuity_schedule_balances_to_zero_with_level_instalments():
    schedule = amortisation_schedule(100_000, 0.06, 12, "annuity")
    assert schedule.period.tolist() == list(range(1, 13))
    np.testing.assert_allclose(schedule.instalment, annuity_payment(100_000, 0.06, 12), rtol=1e-10)
    assert schedule.interest[0] == pytest.approx(500.0)  # 0.5 % of 100,000
    assert schedule.principal.sum() == pytest.approx(100_000, rel=1e-12)
    assert schedule.balance[-1] == 0.0
    np.testing.assert_allclose(schedule.interest + schedule.principal, schedule.instalment)
    assert np.all(np.diff(schedule.balance) < 0)


def test_linear_schedule_hand_computed():
    schedule = amortisation_schedule(1_200, 0.12, 3, "linear")
    np.testing.assert_allclose(schedule.principal, [400, 400, 400])
    np.testing.assert_allclose(schedule.interest, [12.0, 8.0, 4.0])  # 1 % of 1200, 800, 400
    np.testing.assert_allclose(schedule.balance, [800, 400, 0])


def test_bullet_schedule_pays_interest_then_principal():
    schedule = amortisation_schedule(50_000, 0.048, 6, "bullet")
    np.testing.assert_allclose(schedule.interest, 200.0)
    np.testing.assert_allclose(schedule.principal, [0, 0, 0, 0, 0, 50_000])
    np.testing.assert_allclose(schedule.balance, [50_000] * 5 + [0])
    assert schedule.total_interest == pytest.approx(1_200.0)


def test_interest_only_grace_then_annuity():
    schedule = amortisation_schedule(10_000, 0.12, 6, "annuity", interest_only_months=2)
    np.testing.assert_allclose(schedule.principal[:2], 0.0)
    np.testing.assert_allclose(schedule.interest[:2], 100.0)
    np.testing.assert_allclose(schedule.instalment[2:], annuity_payment(10_000, 0.12, 4), rtol=1e-10)
    assert schedule.balance[-1] == 0.0


def test_rows_are_plain_json_values():
    rows = amortisation_schedule(1_000, 0.05, 2).as_rows()
    assert rows[0]["period"] == 1 and isinstance(rows[0]["interest"], float)
    assert len(rows) == 2


@pytest.mark.parametrize(
    "arguments",
    [
        dict(principal=-1, annual_rate=0.05, tenor_months=12),
        dict(principal=1_000, annual_rate=-0.01, tenor_months=12),
        dict(principal=1_000, annual_rate=0.05, tenor_months=0),
        dict(principal=1_000, annual_rate=0.05, tenor_months=12, interest_only_months=12),
        dict(principal=1_000, annual_rate=0.05, tenor_months=12, kind="balloon"),
    ],
)
def test_rejects_impossible_schedules(arguments):
    with pytest.raises(ValueError):
        amortisation_schedule(**arguments)
