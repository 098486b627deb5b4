"""Waterfall: hand-worked cases for each rule, then identities in every month of every scenario."""

from __future__ import annotations

import numpy as np
import pytest

from lending.core.abs.cashflows import PoolCashflows
from lending.core.abs.deal import simulate_deal
from lending.core.abs.metrics import tranche_loss_fraction
from lending.core.abs.structure import ReserveSpec, Structure, Tranche
from lending.core.abs.waterfall import run_waterfall

from .builders import mixed_pool, stressed_structure


def flows(**months) -> PoolCashflows:
    """One scenario; each keyword a list of monthly values (missing ones are zero)."""
    T = max(len(v) for v in months.values())
    names = ("interest", "scheduled_principal", "prepayments", "recoveries", "cleanup", "defaulted_balance",
             "net_loss", "performing_balance", "pending_recoveries")
    arrays = {k: np.array([months.get(k, [0.0] * T)], dtype=float) for k in names}
    return PoolCashflows(**arrays, initial_balance=100.0)


def test_sequential_cure_and_junior_write_down():
    structure = Structure(tranches=(Tranche("A", 0.2, 1.0, 0.12), Tranche("E", 0.0, 0.2)))
    cf = flows(interest=[2.0, 1.6], scheduled_principal=[10.0, 0.0], recoveries=[0.0, 5.0], cleanup=[0.0, 80.0],
               defaulted_balance=[10.0, 0.0], net_loss=[5.0, 0.0], performing_balance=[80.0, 80.0],
               pending_recoveries=[5.0, 0.0])
    w = run_waterfall(cf, structure)
    # Month 1: A interest 0.8; excess spread 1.2 cures part of the 5.0 loss; 3.8 writes down the equity.
    assert w.interest_paid[0, 0, 0] == pytest.approx(0.8)
    assert w.cures[0, 0] == pytest.approx(1.2)
    assert w.writedowns[:, 0, 0] == pytest.approx([0.0, 3.8])
    assert w.principal_paid[:, 0, 0] == pytest.approx([11.2, 0.0])      # collections + cure, A first
    assert w.balances[:, 0, 1] == pytest.approx([68.8, 16.2])
    # Month 2: A interest on 68.8, the rest of revenue is residual; clean-up + recoveries retire both.
    assert w.interest_paid[0, 0, 1] == pytest.approx(0.688)
    assert w.residual[0, 1] == pytest.approx(1.6 - 0.688)
    assert w.principal_paid[:, 0, 1] == pytest.approx([68.8, 16.2])
    assert np.allclose(w.balances[:, 0, 2], 0.0)
    assert np.abs(w.cash_conservation_error()).max() < 1e-12


def test_write_down_order_for_a_large_loss():
    structure = Structure(tranches=(Tranche("A", 0.3, 1.0), Tranche("B", 0.1, 0.3), Tranche("E", 0.0, 0.1)))
    cf = flows(net_loss=[25.0, 0.0], defaulted_balance=[25.0, 0.0], cleanup=[0.0, 75.0],
               performing_balance=[75.0, 75.0])
    w = run_waterfall(cf, structure)
    assert w.writedowns[:, 0, 0] == pytest.approx([0.0, 15.0, 10.0])
    assert w.principal_paid[:, 0, 1] == pytest.approx([70.0, 5.0, 0.0])


def test_oc_failure_diverts_interest_to_the_senior_class():
    structure = Structure(tranches=(Tranche("A", 0.3, 1.0), Tranche("B", 0.1, 0.3), Tranche("E", 0.0, 0.1)),
                          oc_triggers={"A": 1.5})
    cf = flows(interest=[10.0, 0.0], cleanup=[0.0, 100.0], performing_balance=[100.0, 100.0])
    w = run_waterfall(cf, structure)
    need = 70.0 - 100.0 / 1.5                                   # restores collateral / A notes to 1.5
    assert w.test_failed[0, 0]
    assert w.diverted[0, 0] == pytest.approx(need)
    assert w.principal_paid[:, 0, 0] == pytest.approx([need, 0.0, 0.0])
    assert w.residual[0, 0] == pytest.approx(10.0 - need)
    assert 100.0 / w.balances[0, 0, 1] == pytest.approx(1.5)
    passing = run_waterfall(cf, Structure(tranches=structure.tranches, oc_triggers={"A": 1.4}))
    assert not passing.test_failed[0, 0] and passing.diverted[0, 0] == 0.0


def test_ic_failure_diverts_all_remaining_interest():
    structure = Structure(tranches=(Tranche("A", 0.5, 1.0, 0.12), Tranche("E", 0.0, 0.5)), ic_triggers={"A": 2.0})
    cf = flows(interest=[0.9, 0.0], cleanup=[0.0, 100.0], performing_balance=[100.0, 100.0])
    w = run_waterfall(cf, structure)                            # 0.9 < 2.0 × 0.5 due
    assert w.test_failed[0, 0]
    assert w.interest_paid[0, 0, 0] == pytest.approx(0.5)
    assert w.diverted[0, 0] == pytest.approx(0.4) and w.residual[0, 0] == pytest.approx(0.0)


def test_reserve_covers_an_interest_shortfall_and_is_released_at_the_end():
    structure = Structure(tranches=(Tranche("A", 0.2, 1.0, 0.12), Tranche("E", 0.0, 0.2)),
                          reserve=ReserveSpec(target_fraction=0.01, initial_fraction=0.01))
    cf = flows(interest=[0.3, 1.0], cleanup=[0.0, 100.0], performing_balance=[100.0, 100.0])
    w = run_waterfall(cf, structure)
    assert w.interest_paid[0, 0, 0] == pytest.approx(0.8)      # 0.3 collected + 0.5 from the reserve
    assert w.reserve_draws[0, 0] == pytest.approx(0.5)
    assert w.reserve_balance[0] == pytest.approx([1.0, 0.5, 0.0])
    assert w.residual[0, 1] == pytest.approx(1.0 + 0.5 - 0.8)   # last month: reserve released
    assert np.abs(w.cash_conservation_error()).max() < 1e-12


def test_pro_rata_until_a_loss_is_not_cured():
    structure = Structure(tranches=(Tranche("A", 0.5, 1.0), Tranche("E", 0.0, 0.5)), waterfall="pro_rata")
    cf = flows(scheduled_principal=[10.0, 10.0, 0.0], net_loss=[0.0, 4.0, 0.0], defaulted_balance=[0.0, 8.0, 0.0],
               recoveries=[0.0, 0.0, 4.0], cleanup=[0.0, 0.0, 72.0], performing_balance=[90.0, 72.0, 72.0],
               pending_recoveries=[0.0, 4.0, 0.0])
    w = run_waterfall(cf, structure)
    assert w.principal_paid[:, 0, 0] == pytest.approx([5.0, 5.0])   # pro rata 45 / 45
    # Month 2: the uncured loss writes down E and switches the deal to sequential for good.
    assert w.writedowns[:, 0, 1] == pytest.approx([0.0, 4.0])
    assert w.principal_paid[:, 0, 1] == pytest.approx([10.0, 0.0])
    assert w.principal_paid[:, 0, 2] == pytest.approx([35.0, 41.0])
    assert np.allclose(w.balances[:, 0, -1], 0.0)


@pytest.fixture(scope="module", params=["sequential", "pro_rata"])
def stressed_run(request):
    structure = stressed_structure(request.param)
    return structure, simulate_deal(mixed_pool(), structure, scenarios=3000, seed=4, keep_paths=True,
                                    chunk_scenarios=1024)


def test_cash_is_conserved_in_every_month_of_every_scenario(stressed_run):
    _, result = stressed_run
    for cashflows, w in result.paths:
        scale = cashflows.initial_balance
        assert w.cash_conservation_error().shape == cashflows.interest.shape
        assert np.abs(w.cash_conservation_error()).max() <= 1e-9 * scale
        # Every branch was exercised, so the identity is tested where it could break.
        assert (w.reserve_draws > 0).any() and (w.diverted > 0).any() and w.test_failed.any()
        assert (w.cures > 0).any() and (w.writedowns > 0).any() and (w.residual > 0).any()


def test_losses_are_cured_or_written_down_and_notes_retire(stressed_run):
    structure, result = stressed_run
    for cashflows, w in result.paths:
        scale = cashflows.initial_balance
        allocated = w.writedowns.sum(axis=(0, 2)) + w.cures.sum(axis=1) + w.absorbed_loss.sum(axis=1)
        assert np.abs(allocated - cashflows.net_loss.sum(axis=1)).max() <= 1e-9 * scale
        assert np.abs(w.balances[:, :, -1]).max() <= 1e-9 * scale
        notional = np.array([t.size for t in structure.tranches]) * scale
        repaid = w.principal_paid.sum(axis=2) + w.writedowns.sum(axis=2)
        assert np.abs(repaid - notional[:, None]).max() <= 1e-9 * scale
        # Principal balance of the pool: P(t-1) = P(t) + defaults + scheduled + prepayments.
        previous = np.hstack((np.full((cashflows.interest.shape[0], 1), scale), cashflows.performing_balance[:, :-1]))
        outflow = cashflows.defaulted_balance + cashflows.scheduled_principal + cashflows.prepayments
        assert np.abs(previous - outflow - cashflows.performing_balance).max() <= 1e-9 * scale


def test_sequential_pays_no_junior_principal_before_seniors_are_repaid():
    structure = stressed_structure("sequential", oc_triggers={}, ic_triggers={})
    result = simulate_deal(mixed_pool(), structure, scenarios=1000, seed=2, keep_paths=True)
    for _, w in result.paths:
        for junior in (1, 2):
            senior_left_after_month = w.balances[:junior, :, 1:].sum(axis=0) > 1e-9
            assert (w.principal_paid[junior] > 1e-9).any()
            assert not (w.principal_paid[junior][senior_left_after_month] > 1e-9).any()


def test_static_tranche_losses_add_up_to_the_pool_loss_in_every_scenario(stressed_run):
    structure, result = stressed_run
    widths = np.array([t.size for t in structure.tranches])
    fractions = np.array([tranche_loss_fraction(result.pool_loss, t.attachment, t.detachment)
                          for t in structure.tranches])
    assert np.abs(widths @ fractions - result.pool_loss).max() < 1e-14
    assert result.pool_loss.max() > structure.tranches[1].attachment   # losses do reach the mezzanine


def test_write_downs_add_up_to_uncured_losses_in_every_scenario(stressed_run):
    structure, result = stressed_run
    notionals = np.array([t.size for t in structure.tranches]) * result.initial_balance
    written = notionals @ result.principal_loss
    cured_or_absorbed = np.concatenate([w.cures.sum(axis=1) + w.absorbed_loss.sum(axis=1) for _, w in result.paths])
    assert np.allclose(written + cured_or_absorbed, result.cashflow_loss * result.initial_balance,
                       rtol=0, atol=1e-9 * result.initial_balance)
