"""End-to-end deal simulation: copula defaults → pool cash flows → waterfall → tranche and pool results.

Scenarios are processed in chunks (``chunk_scenarios``, default 4096) so memory stays bounded whatever the
scenario count; per-scenario totals and per-month sums are kept, per-month paths only on request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .cashflows import CashflowModel, PoolCashflows
from .copula import simulate_default_events
from .metrics import loss_metrics, pool_loss_statistics, static_tranche_metrics
from .pool import Pool
from .ratings import implied_rating, rating_table
from .structure import Assumptions, Structure
from .waterfall import WaterfallResult, run_waterfall

DEFAULT_SCENARIOS = 100_000


@dataclass(frozen=True)
class DealResult:
    """Outcome of ``simulate_deal``.

    Per scenario (length S): ``pool_loss`` (horizon loss sum EAD·LGD·1{default} / sum EAD, the copula
    loss the closed forms describe) and ``cashflow_loss`` (net loss on the balances actually outstanding
    at default, after amortisation and prepayment, / closing balance). Per class and scenario (J, S):
    ``principal_loss`` (write-downs / class notional) and ``interest_shortfall`` (unpaid / due interest,
    0 when nothing was due). Expected per-month flows (J, T): ``expected_interest``,
    ``expected_principal``, ``expected_writedowns``; (T,): ``expected_residual``, ``expected_fees``,
    and ``expected_pool_flows`` (dict of (T,) arrays). ``paths`` holds the full per-month
    ``(PoolCashflows, WaterfallResult)`` of every chunk when ``keep_paths`` was set.
    """

    structure: Structure
    scenarios: int
    seed: int
    horizon_months: int
    initial_balance: float
    pool_loss: np.ndarray
    cashflow_loss: np.ndarray
    principal_loss: np.ndarray
    interest_shortfall: np.ndarray
    expected_interest: np.ndarray
    expected_principal: np.ndarray
    expected_writedowns: np.ndarray
    expected_residual: np.ndarray
    expected_fees: np.ndarray
    expected_pool_flows: dict
    paths: tuple[tuple[PoolCashflows, WaterfallResult], ...] | None = None

    def tranche_results(self) -> list[dict]:
        """Per class, senior first: ``name``, ``attachment``, ``detachment``, ``coupon``, ``notional``;
        waterfall results ``expected_loss``, ``probability_of_loss``, ``loss_given_loss`` (principal
        write-down as a fraction of the class), ``expected_interest_shortfall``, ``wal_years`` (weighted
        average life of expected principal, years), ``implied_rating`` (illustrative table);
        ``tranching`` = the same three loss measures of the static slice [A, D] of ``pool_loss``;
        ``expected_cashflows`` = per-month expected ``interest``, ``principal``, ``writedowns`` (and
        ``residual`` for the most junior class)."""
        months = np.arange(1, self.horizon_months + 1) / 12.0
        results = []
        for j, tranche in enumerate(self.structure.tranches):
            metrics = loss_metrics(self.principal_loss[j])
            principal = self.expected_principal[j]
            paid = principal.sum()
            flows = {"interest": self.expected_interest[j].tolist(), "principal": principal.tolist(),
                     "writedowns": self.expected_writedowns[j].tolist()}
            if j == len(self.structure.tranches) - 1:
                flows["residual"] = self.expected_residual.tolist()
            results.append({
                "name": tranche.name, "attachment": tranche.attachment, "detachment": tranche.detachment,
                "coupon": tranche.coupon, "notional": tranche.size * self.initial_balance,
                **metrics,
                "expected_interest_shortfall": float(self.interest_shortfall[j].mean()),
                "wal_years": float(months @ principal / paid) if paid > 0 else None,
                "implied_rating": implied_rating(expected_loss=metrics["expected_loss"],
                                                 probability_of_loss=metrics["probability_of_loss"]),
                "tranching": static_tranche_metrics(self.pool_loss, tranche.attachment, tranche.detachment),
                "expected_cashflows": flows,
            })
        return results

    def pool_results(self, *, bins: int = 50) -> dict:
        """Pool loss statistics (``metrics.pool_loss_statistics`` of ``pool_loss``) plus the expected
        cash-flow loss and the expected pool flows per month."""
        stats = pool_loss_statistics(self.pool_loss, bins=bins)
        stats["expected_cashflow_loss"] = float(self.cashflow_loss.mean())
        stats["initial_balance"] = self.initial_balance
        stats["horizon_months"] = self.horizon_months
        stats["expected_cashflows"] = {k: v.tolist() for k, v in self.expected_pool_flows.items()}
        return stats

    def to_dict(self, *, bins: int = 50) -> dict:
        """``{"pool": pool_results(), "tranches": tranche_results(), "scenarios", "seed", "waterfall",
        "rating_table": the illustrative table used for ``implied_rating``}``."""
        return {"pool": self.pool_results(bins=bins), "tranches": self.tranche_results(),
                "scenarios": self.scenarios, "seed": self.seed, "waterfall": self.structure.waterfall,
                "rating_table": rating_table()}


def simulate_deal(pool: Pool, structure: Structure, *, scenarios: int = DEFAULT_SCENARIOS, seed: int = 0,
                  assumptions: Assumptions | None = None, chunk_scenarios: int | None = None,
                  keep_paths: bool = False) -> DealResult:
    """Simulate ``scenarios`` copula scenarios of the pool and run each through the deal's waterfall.

    ``assumptions`` default to ``structure.assumptions`` (CPR, recovery lag, copula). Deterministic for a
    given ``seed`` and independent of ``chunk_scenarios``. ``keep_paths`` keeps every per-month array
    (memory ~ 8 bytes × scenarios × months × (4·classes + 20)); use it for small runs only.
    Method: Gaussian copula with Li (2000) default times (``copula``), exact scheduled/prepaid balances
    aggregated by basis expansion (``cashflows``), month-by-month priority of payments (``waterfall``).
    """
    assumptions = assumptions or structure.assumptions
    if assumptions is not structure.assumptions:
        structure = replace(structure, assumptions=assumptions)
    horizon = structure.horizon_for(pool.max_maturity_months)
    model = CashflowModel(pool, horizon, cpr=assumptions.cpr, recovery_lag_months=assumptions.recovery_lag_months)
    J, T, S = len(structure.tranches), horizon, int(scenarios)
    b0 = model.baseline[0]
    notionals = np.array([t.size for t in structure.tranches]) * b0
    loss_weight = pool.balance * pool.lgd / pool.total_balance
    pool_loss, cashflow_loss = np.empty(S), np.empty(S)
    principal_loss, shortfall = np.empty((J, S)), np.empty((J, S))
    sums = {"interest": np.zeros((J, T)), "principal": np.zeros((J, T)), "writedowns": np.zeros((J, T)),
            "residual": np.zeros(T), "fees": np.zeros(T)}
    pool_keys = ("interest", "scheduled_principal", "prepayments", "recoveries", "cleanup",
                 "defaulted_balance", "net_loss", "performing_balance")
    pool_sums = {k: np.zeros(T) for k in pool_keys}
    paths = []
    for events in simulate_default_events(pool, assumptions.copula, horizon_months=horizon, scenarios=S,
                                          seed=seed, chunk_scenarios=chunk_scenarios):
        rows = slice(events.first_scenario, events.first_scenario + events.n_scenarios)
        pool_loss[rows] = np.bincount(events.scenario, weights=loss_weight[events.facility],
                                      minlength=events.n_scenarios)
        flows = model.cashflows(events)
        result = run_waterfall(flows, structure)
        cashflow_loss[rows] = flows.net_loss.sum(axis=1) / b0
        principal_loss[:, rows] = result.writedowns.sum(axis=2) / notionals[:, None]
        due = result.interest_due.sum(axis=2)
        unpaid = due - result.interest_paid.sum(axis=2)
        shortfall[:, rows] = np.divide(unpaid, due, out=np.zeros_like(due), where=due > 0)
        sums["interest"] += result.interest_paid.sum(axis=1)
        sums["principal"] += result.principal_paid.sum(axis=1)
        sums["writedowns"] += result.writedowns.sum(axis=1)
        sums["residual"] += result.residual.sum(axis=0)
        sums["fees"] += result.senior_fees_paid.sum(axis=0)
        for k in pool_keys:
            pool_sums[k] += getattr(flows, k).sum(axis=0)
        if keep_paths:
            paths.append((flows, result))
    return DealResult(
        structure=structure, scenarios=S, seed=int(seed), horizon_months=T, initial_balance=float(b0),
        pool_loss=pool_loss, cashflow_loss=cashflow_loss, principal_loss=principal_loss,
        interest_shortfall=shortfall, expected_interest=sums["interest"] / S,
        expected_principal=sums["principal"] / S, expected_writedowns=sums["writedowns"] / S,
        expected_residual=sums["residual"] / S, expected_fees=sums["fees"] / S,
        expected_pool_flows={k: v / S for k, v in pool_sums.items()},
        paths=tuple(paths) if keep_paths else None)
