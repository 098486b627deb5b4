"""Equipment-health overlay: logit shift, grade cap, EWMA, collateral LGD, downtime cash flow."""

import math

import numpy as np
import pytest

from lending.core.grades import DEFAULT_GRADE_UPPER_PD, grade_pd_interval, pd_to_grade
from lending.core.health_overlay import (
    collateral_advance_value,
    collateral_lgd,
    downtime_cash_flow_effect,
    ewma_smooth,
    health_overlay_pd,
    persistent_health_move,
)


def test_small_shift_is_the_plain_logit_overlay():
    # logit(1.5 %) + 2 x (0.80 - 0.75) -> PD = 1 / (1 + exp(-(ln(0.015/0.985) + 0.1)))
    expected = 1 / (1 + math.exp(-(math.log(0.015 / 0.985) + 0.1)))
    result = health_overlay_pd(0.015, 0.75, 0.80, 2.0)
    assert result.logit_shift == pytest.approx(0.1)
    assert result.pd == pytest.approx(expected, rel=1e-12)
    assert result.capped is False
    assert result.grade == pd_to_grade(expected)


def test_large_deterioration_is_capped_at_one_grade_unless_covenant_breached():
    pd_financial = 0.015  # grade 5: (1 %, 2 %]
    assert pd_to_grade(pd_financial) == 5
    capped = health_overlay_pd(pd_financial, 0.30, 0.80, 4.0)  # shift +2.0 -> PD about 10 %
    assert capped.pd_uncapped > 0.08
    assert capped.capped is True
    assert capped.grade == 6
    assert capped.pd == pytest.approx(grade_pd_interval(6)[1])  # the worst PD of grade 6
    breached = health_overlay_pd(pd_financial, 0.30, 0.80, 4.0, covenant_breached=True)
    assert breached.capped is False
    assert breached.pd == pytest.approx(capped.pd_uncapped)
    assert breached.grade == pd_to_grade(capped.pd_uncapped)


def test_large_recovery_is_capped_one_grade_up_and_previous_grade_is_the_reference():
    improved = health_overlay_pd(0.015, 1.5, 0.80, 4.0)  # shift -2.8
    assert improved.capped is True and improved.grade == 4
    lower, _ = grade_pd_interval(4)
    assert lower < improved.pd <= lower * (1 + 1e-12)
    two_grades = health_overlay_pd(0.015, 0.30, 0.80, 4.0, max_grade_move=2)
    assert two_grades.grade == 7
    from_previous = health_overlay_pd(0.015, 0.30, 0.80, 4.0, previous_grade=6)
    assert from_previous.reference_grade == 6 and from_previous.grade == 7


def test_overlay_is_vectorised():
    result = health_overlay_pd(
        np.array([0.015, 0.015, 0.015]),
        np.array([0.79, 0.30, 0.30]),
        0.80,
        4.0,
        covenant_breached=np.array([False, False, True]),
    )
    assert result.capped.tolist() == [False, True, False]
    assert result.grade.tolist() == [5, 6, pd_to_grade(result.pd_uncapped[2])]


def test_ewma_hand_computed_and_persistence():
    smoothed = ewma_smooth([1.0, 0.0, 0.0], 0.5)
    np.testing.assert_allclose(smoothed, [1.0, 0.5, 0.25])
    np.testing.assert_allclose(ewma_smooth([3.0, 4.0], 1.0), [3.0, 4.0])
    series = ewma_smooth([0.8] * 5 + [0.5] * 10, 0.4)
    assert persistent_health_move(series, hi_ref=0.8, tolerance=0.05, min_periods=3) == -1
    assert persistent_health_move(series[:7], hi_ref=0.8, tolerance=0.05, min_periods=3) == 0  # too recent
    assert persistent_health_move([0.9, 0.95, 0.92], hi_ref=0.8, tolerance=0.05, min_periods=3) == 1
    with pytest.raises(ValueError):
        ewma_smooth([0.8, float("nan")], 0.3)


def test_collateral_lgd_hand_computed_and_rises_as_condition_worsens():
    # Two presses worth 600k and 400k against 1m. Condition normal (40 % haircut) and warning (60 %):
    # advance value 360k + 160k = 520k; LGD = (0.25 x 520k + 0.45 x 480k) / 1m = 0.346.
    assert collateral_advance_value([600_000, 400_000], [0, 2]) == pytest.approx(520_000)
    assert collateral_lgd(1_000_000, [600_000, 400_000], [0, 2]) == pytest.approx(0.346)
    lgds = [collateral_lgd(1_000_000, [600_000, 400_000], [level, level]) for level in range(4)]
    assert lgds == sorted(lgds) and lgds[0] < lgds[-1]
    # Ample collateral: the whole exposure is secured.
    assert collateral_lgd(100_000, [600_000], [0]) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        collateral_lgd(1_000_000, [600_000], [4])
    with pytest.raises(ValueError):
        collateral_advance_value([1.0, 2.0], [0, 1], haircuts=(0.5, 0.3))


def test_downtime_lowers_ebitda_and_dscr_hand_computed():
    # 20 % failure risk x (10m revenue x 50 % share x 25/250 days x 40 % margin + 100k repair) = 60k.
    effect = downtime_cash_flow_effect(
        annual_ebitda=1_500_000,
        annual_revenue=10_000_000,
        annual_debt_service=1_000_000,
        failure_probability=0.2,
        downtime_days_per_failure=25,
        press_revenue_share=0.5,
        contribution_margin_fraction=0.4,
        repair_cost_per_failure=100_000,
    )
    assert effect.lost_ebitda == pytest.approx(60_000)
    assert effect.expected_downtime_days == pytest.approx(5.0)
    assert effect.dscr_before == pytest.approx(1.5)
    assert effect.dscr_after == pytest.approx(1.44)


def test_grade_scale_boundaries():
    assert pd_to_grade(0.01) == 4 and pd_to_grade(0.0100001) == 5
    assert pd_to_grade(1.0) == len(DEFAULT_GRADE_UPPER_PD)
    assert pd_to_grade(0.0) == 1
