"""What-if deltas: closed-form ones are noise-free and move the right way; simulated ones share draws."""

from __future__ import annotations

import numpy as np
import pytest

from lending.core.abs.structure import Assumptions, CopulaSpec
from lending.core.abs.whatif import Shock, apply_shock, what_if

from .builders import mixed_pool, stressed_structure


def test_pd_multiplier_scales_expected_loss_exactly_in_closed_form():
    pool, structure = mixed_pool(), stressed_structure()
    result = what_if(pool, structure, Shock(pd_multiplier=1.5), method="closed_form", loss_step=1e-3)
    pool_row = result["pool"]
    assert pool_row["delta"]["expected_loss"] == pytest.approx(0.5 * pool_row["base"]["expected_loss"], rel=1e-9)
    assert pool_row["delta"]["var_99"] > 0
    for row in result["tranches"]:
        assert row["delta"]["expected_loss"] > 0 and row["delta"]["probability_of_loss"] > 0


def test_higher_correlation_fattens_the_tail_but_keeps_the_mean():
    pool, structure = mixed_pool(), stressed_structure()
    result = what_if(pool, structure, Shock(correlation=0.45), method="closed_form", loss_step=1e-3)
    assert result["pool"]["delta"]["expected_loss"] == pytest.approx(0.0, abs=1e-12)
    assert result["pool"]["delta"]["var_999"] > 0
    senior, equity = result["tranches"][0], result["tranches"][-1]
    assert senior["delta"]["expected_loss"] > 0 > equity["delta"]["expected_loss"]


def test_simulated_what_if_uses_common_random_numbers():
    pool, structure = mixed_pool(), stressed_structure()
    unchanged = what_if(pool, structure, Shock(alarm_levels=np.zeros(pool.size, int)), scenarios=2000, seed=5)
    assert all(v == 0.0 for v in unchanged["pool"]["delta"].values())
    for row in unchanged["tranches"]:
        assert all(v == 0.0 for k, v in row["delta"].items() if k != "tranching")
    levels = np.zeros(pool.size, int)
    levels[:40] = 3
    shocked = what_if(pool, structure, Shock(alarm_levels=levels), scenarios=2000, seed=5)
    assert shocked["pool"]["delta"]["expected_loss"] > 0
    assert shocked["tranches"][-1]["delta"]["expected_loss"] > 0
    assert shocked["shock"]["alarm_levels"][:3] == [3, 3, 3]


def test_health_shock_moves_pds_by_grade_or_alarm_multiplier():
    pool = mixed_pool()
    assumptions = Assumptions(copula=CopulaSpec(rho=0.2))
    base_annual = pool.annualised_pd(60)
    one_grade, _ = apply_shock(pool, assumptions, Shock(grade_shift=1), 60)
    ratio = one_grade.annualised_pd(60) / base_annual
    assert np.all(ratio >= 1.0) and 1.5 < np.median(ratio) < 3.5
    levels = np.arange(pool.size) % 4
    alarmed, _ = apply_shock(pool, assumptions, Shock(alarm_levels=levels), 60)
    multipliers = np.array([1.0, 1.5, 2.5, 4.0])[levels]
    assert np.allclose(alarmed.horizon_pd(60), np.minimum(pool.horizon_pd(60) * multipliers, 0.999))
    _, correlated = apply_shock(pool, assumptions, Shock(correlation=0.3), 60)
    assert correlated.copula.rho == 0.3


def test_bad_shocks():
    pool, structure = mixed_pool(), stressed_structure()
    with pytest.raises(ValueError, match="alarm level 7"):
        apply_shock(pool, structure.assumptions, Shock(alarm_levels=np.full(pool.size, 7)), 60)
    with pytest.raises(ValueError, match="pd_multiplier"):
        apply_shock(pool, structure.assumptions, Shock(pd_multiplier=0.0), 60)
    with pytest.raises(ValueError, match="method"):
        what_if(pool, structure, Shock(), method="guess")
