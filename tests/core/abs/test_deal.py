"""Pool cash flows against a direct per-facility computation; determinism; tranche results."""

from __future__ import annotations

import numpy as np
import pytest

from lending.core.abs.cashflows import CashflowModel
from lending.core.abs.copula import RNG_BLOCK_SCENARIOS, simulate_default_events, simulate_pool_losses
from lending.core.abs.deal import simulate_deal
from lending.core.abs.pool import Pool
from lending.core.abs.structure import CopulaSpec

from .builders import mixed_pool, stressed_structure


def direct_cashflows(pool, events, horizon, q, lag):
    """The same cash flows by looping over scenarios, facilities and months (slow, obviously right)."""
    table = CashflowModel(pool, horizon, cpr=0.0, recovery_lag_months=0).table
    S, T = events.n_scenarios, horizon
    default_month = np.full((S, pool.size), 10**9)
    default_month[events.scenario, events.facility] = events.month
    out = {k: np.zeros((S, T)) for k in ("interest", "scheduled", "prepay", "defaulted", "net_loss", "recoveries")}
    for s in range(S):
        for i in range(pool.size):
            for t in range(1, T + 1):
                start = q ** (t - 1) * table[i, t - 1]
                if default_month[s, i] == t:
                    out["defaulted"][s, t - 1] += start
                    out["net_loss"][s, t - 1] += pool.lgd[i] * start
                    out["recoveries"][s, min(t - 1 + lag, T - 1)] += (1 - pool.lgd[i]) * start
                if default_month[s, i] <= t:
                    continue
                out["interest"][s, t - 1] += start * pool.rate[i] / 12
                out["scheduled"][s, t - 1] += q ** (t - 1) * (table[i, t - 1] - table[i, t])
                out["prepay"][s, t - 1] += q ** (t - 1) * (1 - q) * table[i, t]
    return out


def extreme_rate_pool():
    """Annuities the low-rank basis cannot follow (tiny or very high rates), next to ordinary ones."""
    pool = mixed_pool(40, seed=1, pd_scale=2.0)
    rate = pool.rate.copy()
    rate[:6] = [1e-9, 1e-7, 0.9, 0.95, 1.0, 0.8]
    return Pool.from_arrays(ids=pool.ids, balance=pool.balance, lgd=pool.lgd, maturity_months=pool.maturity_months,
                            pd=pool.pd, sector=pool.sector, rate=rate,
                            amortisation=["annuity"] * 6 + list(pool.amortisation[6:]))


@pytest.mark.parametrize("cpr, lag, horizon, extreme", [(0.0, 0, 60, False), (0.12, 5, 48, False),
                                                         (0.05, 70, 36, False), (0.05, 3, 120, True)])
def test_pool_cashflows_match_a_direct_computation(cpr, lag, horizon, extreme):
    pool = extreme_rate_pool() if extreme else mixed_pool(40, seed=1, pd_scale=2.0)
    model = CashflowModel(pool, horizon, cpr=cpr, recovery_lag_months=lag)
    assert model.direct.any() == extreme            # facilities summed directly rather than by the basis
    assert np.abs(model.basis_balance() - model.table).max() <= 1e-10 * pool.balance.max()
    events = next(simulate_default_events(pool, CopulaSpec(rho=0.3), horizon_months=horizon, scenarios=40,
                                          seed=9))
    assert events.month.min() >= 1 and np.all(events.month <= pool.life_months(horizon)[events.facility])
    got = model.cashflows(events)
    want = direct_cashflows(pool, events, horizon, model.q, lag)
    tol = 1e-9 * pool.total_balance
    for ours, theirs in (("interest", "interest"), ("scheduled_principal", "scheduled"), ("prepayments", "prepay"),
                         ("defaulted_balance", "defaulted"), ("net_loss", "net_loss"), ("recoveries", "recoveries")):
        assert np.abs(getattr(got, ours) - want[theirs]).max() <= tol, ours
    # Everything is collected or lost by the horizon: closing balance = principal collections + defaults.
    total = got.principal_collections.sum(axis=1) + got.net_loss.sum(axis=1)
    assert np.allclose(total, pool.total_balance, rtol=0, atol=tol)


def test_default_timing_follows_the_constant_hazard_curve():
    """Default months of a one-name-per-scenario pool follow F(t) = 1 - (1 - PD)^(t/life)."""
    pool = mixed_pool(1, seed=3)
    pool = pool.with_horizon_pd([0.4])
    life = int(pool.life_months(60)[0])
    losses = list(simulate_default_events(pool, CopulaSpec(rho=0.2), horizon_months=60, scenarios=40_000, seed=1))
    months = np.concatenate([e.month for e in losses])
    n = 40_000
    t = np.arange(1, life + 1)
    expected = 1 - (1 - 0.4) ** (t / life)
    observed = np.searchsorted(np.sort(months), t, side="right") / n
    assert np.all(np.abs(observed - expected) <= 4.5 * np.sqrt(expected * (1 - expected) / n) + 1e-12)


def test_same_seed_gives_identical_results_and_chunking_does_not_matter():
    pool, structure = mixed_pool(), stressed_structure()
    a = simulate_deal(pool, structure, scenarios=2500, seed=17)
    b = simulate_deal(pool, structure, scenarios=2500, seed=17, chunk_scenarios=RNG_BLOCK_SCENARIOS)
    c = simulate_deal(pool, structure, scenarios=2500, seed=18)
    for name in ("pool_loss", "cashflow_loss", "principal_loss", "interest_shortfall"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    # Sums over scenarios only differ by the order of additions.
    assert np.allclose(a.expected_principal, b.expected_principal, rtol=1e-12, atol=0)
    assert not np.array_equal(a.pool_loss, c.pool_loss)
    rerun = simulate_deal(pool, structure, scenarios=2500, seed=17)
    assert rerun.tranche_results() == a.tranche_results() and rerun.pool_results() == a.pool_results()
    # The loss-only path uses the same draws.
    horizon = structure.horizon_for(pool.max_maturity_months)
    assert np.array_equal(simulate_pool_losses(pool, structure.assumptions.copula, horizon_months=horizon,
                                               scenarios=2500, seed=17), a.pool_loss)
    # A scenario's draws depend only on (seed, index): a longer run extends a shorter one.
    longer = simulate_pool_losses(pool, structure.assumptions.copula, horizon_months=horizon, scenarios=4000, seed=17)
    assert np.array_equal(longer[:2500], a.pool_loss)


def test_tranche_results_are_consistent():
    pool, structure = mixed_pool(), stressed_structure()
    result = simulate_deal(pool, structure, scenarios=2000, seed=3)
    rows = result.tranche_results()
    assert [r["name"] for r in rows] == ["A", "B", "E"]
    for j, row in enumerate(rows):
        assert row["expected_loss"] == pytest.approx(result.principal_loss[j].mean())
        assert row["probability_of_loss"] == pytest.approx((result.principal_loss[j] > 0).mean())
        if row["probability_of_loss"] > 0:
            assert row["loss_given_loss"] == pytest.approx(row["expected_loss"] / row["probability_of_loss"])
        assert 0 < row["wal_years"] <= 5.0
        flows = row["expected_cashflows"]
        assert len(flows["interest"]) == len(flows["principal"]) == 60
        # Expected principal + expected write-downs = the class notional.
        assert sum(flows["principal"]) + sum(flows["writedowns"]) == pytest.approx(row["notional"], rel=1e-9)
    # Seniority: the senior class loses least, repays first.
    assert rows[0]["expected_loss"] <= rows[1]["expected_loss"] <= rows[2]["expected_loss"]
    assert rows[0]["wal_years"] < rows[1]["wal_years"]
    assert "residual" in rows[-1]["expected_cashflows"]
    pool_stats = result.pool_results()
    assert pool_stats["var_99"] <= pool_stats["expected_shortfall_99"] <= pool_stats["max"]
    assert pool_stats["var_99"] <= pool_stats["var_999"]
    assert sum(pool_stats["loss_distribution"]["counts"]) == 2000
    assert pool_stats["expected_cashflow_loss"] < pool_stats["expected_loss"]   # amortisation before default
