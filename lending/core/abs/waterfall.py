"""Priority of payments, run month by month and vectorised across scenarios.

Each month, with arrays over scenarios (loops only over months and tranches):

Revenue (interest) waterfall, funded by interest collections plus any reserve above its target:
  1. senior fees (``senior_fee_rate``/12 × performing balance at the start of the month);
  2. class interest, senior first (coupon/12 × the class balance at the start of the month); senior fees
     and class interest short of revenue are drawn from the reserve; what is still unpaid is recorded
     as a shortfall and not carried forward;
     after each class's interest its tests run: over-collateralisation
     OC = (performing balance + pending recoveries + this month's principal collections) / (balances of
     the class and those above it, less cash already diverted) and interest cover
     IC = (interest collections - senior fees due) / (interest due on the class and those above it).
     A failed OC test diverts revenue to pay down the senior notes by just enough to restore the ratio;
     a failed IC test diverts all remaining revenue;
  3. reserve top-up to its target;
  4. cure of the month's principal deficiency (the net loss of the month's defaults) with excess spread;
  5. residual to the equity holder.
Write-down: the uncured part of the deficiency writes down the most junior class first (a loss larger
than all notes, possible once the notes are over-collateralised, is recorded as absorbed by
over-collateralisation).
Principal waterfall: diverted revenue pays the classes sequentially from the top; principal collections
plus cures pay sequentially (A until zero, then B, ...), or, for ``pro_rata``, in proportion to the class
balances until the first month in which any test fails or a loss is not cured, after which the deal is
sequential for good (a sticky trigger). Principal left once every class is repaid joins the residual.
In the last month the reserve target is zero: the reserve is released into revenue.

Cash is conserved by construction and checked by ``WaterfallResult.cash_conservation_error``:
collections = senior fees + class interest + class principal + change in reserve + residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cashflows import PoolCashflows
from .structure import Structure


@dataclass(frozen=True)
class WaterfallResult:
    """Per-month waterfall arrays, currency units. Shapes: (S, T) for deal-level items, (J, S, T) for
    per-class items (classes senior first), (J, S, T+1) for class balances and (S, T+1) for the reserve
    (index 0 = closing)."""

    tranche_names: tuple[str, ...]
    collections: np.ndarray
    senior_fees_due: np.ndarray
    senior_fees_paid: np.ndarray
    interest_due: np.ndarray
    interest_paid: np.ndarray
    principal_paid: np.ndarray
    writedowns: np.ndarray
    balances: np.ndarray
    reserve_balance: np.ndarray
    reserve_draws: np.ndarray
    cures: np.ndarray
    diverted: np.ndarray
    residual: np.ndarray
    absorbed_loss: np.ndarray
    test_failed: np.ndarray
    net_loss: np.ndarray

    @property
    def reserve_change(self) -> np.ndarray:
        """Reserve balance at the end of the month minus at the start, (S, T)."""
        return np.diff(self.reserve_balance, axis=1)

    def cash_conservation_error(self) -> np.ndarray:
        """collections - (fees + interest + principal + change in reserve + residual), per scenario and
        month (S, T); zero up to rounding."""
        paid = self.senior_fees_paid + self.interest_paid.sum(axis=0) + self.principal_paid.sum(axis=0)
        return self.collections - paid - self.reserve_change - self.residual


def run_waterfall(cashflows: PoolCashflows, structure: Structure) -> WaterfallResult:
    """Run the priority of payments (module docstring) over every scenario and month of ``cashflows``.

    Tranche notionals at closing are (detachment - attachment) × the pool's closing balance. Returns a
    ``WaterfallResult`` with every per-month array.
    """
    # Month-major internally ((T, S) and (J, T, S)) so each month's slice is contiguous; the result
    # exposes transposed views with the documented (S, T) and (J, S, T) shapes.
    interest = cashflows.interest.T
    principal = cashflows.principal_collections.T
    net_loss = cashflows.net_loss.T
    performing = cashflows.performing_balance.T
    collateral_base = performing + cashflows.pending_recoveries.T + principal
    T, n_s = interest.shape
    tranches = structure.tranches
    J = len(tranches)
    b0 = cashflows.initial_balance
    coupons = np.array([t.coupon for t in tranches]) / 12.0
    oc = [structure.oc_triggers.get(t.name) for t in tranches]
    ic = [structure.ic_triggers.get(t.name) for t in tranches]
    fee_rate = structure.senior_fee_rate / 12.0
    spec = structure.reserve

    balances = np.empty((J, T + 1, n_s))
    balances[:, 0, :] = np.array([t.size * b0 for t in tranches])[:, None]
    reserve = np.empty((T + 1, n_s))
    reserve[0] = spec.initial_fraction * b0
    out = {name: np.zeros((T, n_s)) for name in ("fees_due", "fees_paid", "draws", "cures", "diverted",
                                                  "residual", "absorbed")}
    interest_due, interest_paid, principal_paid, writedowns = (np.zeros((J, T, n_s)) for _ in range(4))
    test_failed = np.zeros((T, n_s), dtype=bool)
    sequential = np.full(n_s, structure.waterfall == "sequential")
    start_balance = np.full(n_s, b0)

    for t in range(T):
        bal = balances[:, t, :].copy()
        res = reserve[t].copy()
        rev = interest[t].copy()
        last = t == T - 1
        target = (np.zeros(n_s) if last
                  else np.maximum(spec.target_fraction * performing[t], spec.floor_fraction * b0))
        release = np.maximum(res - target, 0.0)
        res -= release
        rev += release
        draws = np.zeros(n_s)

        def pay(due):
            """Pay ``due`` from revenue, then from the reserve; return what was paid."""
            nonlocal rev, res, draws
            from_rev = np.minimum(due, rev)
            rev = rev - from_rev
            from_res = np.minimum(due - from_rev, res)
            res = res - from_res
            draws = draws + from_res
            return from_rev + from_res

        fees_due = fee_rate * start_balance
        out["fees_due"][t] = fees_due
        out["fees_paid"][t] = pay(fees_due)
        collateral = collateral_base[t]
        senior_balance = np.zeros(n_s)
        senior_due = np.zeros(n_s)
        diverted = np.zeros(n_s)
        failed = np.zeros(n_s, dtype=bool)
        for j in range(J):
            due = bal[j] * coupons[j]
            interest_due[j, t] = due
            interest_paid[j, t] = pay(due)
            senior_balance += bal[j]
            senior_due += due
            if oc[j] is not None:
                notes = senior_balance - diverted
                breach = collateral < oc[j] * notes
                cure = np.minimum(np.maximum(notes - collateral / oc[j], 0.0), rev)
                rev -= cure
                diverted += cure
                failed |= breach
            if ic[j] is not None:
                breach = (interest[t] - fees_due) < ic[j] * senior_due
                cure = np.where(breach, np.minimum(rev, np.maximum(senior_balance - diverted, 0.0)), 0.0)
                rev -= cure
                diverted += cure
                failed |= breach
        top_up = np.minimum(rev, np.maximum(target - res, 0.0))
        rev -= top_up
        res += top_up
        cure = np.minimum(rev, net_loss[t])
        rev -= cure
        residual = rev

        uncured = net_loss[t] - cure
        for j in range(J - 1, -1, -1):
            w = np.minimum(uncured, bal[j])
            bal[j] -= w
            writedowns[j, t] = w
            uncured = uncured - w
        sequential |= failed | (net_loss[t] - cure > 0)

        paid = principal_paid[:, t]
        _pay_sequential(diverted, bal, paid)
        regular = principal[t] + cure
        if structure.waterfall == "pro_rata":
            outstanding = bal.sum(axis=0)
            share = np.divide(regular, outstanding, out=np.ones(n_s), where=outstanding > 0)
            pro_rata = bal * np.minimum(share, 1.0)
            pro_rata[:, sequential] = 0.0
            regular = regular - pro_rata.sum(axis=0)
            bal -= pro_rata
            paid += pro_rata
        leftover = _pay_sequential(regular, bal, paid)
        balances[:, t + 1] = bal
        reserve[t + 1] = res
        out["draws"][t] = draws
        out["cures"][t] = cure
        out["diverted"][t] = diverted
        out["residual"][t] = residual + leftover
        out["absorbed"][t] = uncured
        test_failed[t] = failed
        start_balance = performing[t]

    per_class = (0, 2, 1)
    return WaterfallResult(
        tranche_names=tuple(t.name for t in tranches), collections=(interest + principal).T,
        senior_fees_due=out["fees_due"].T, senior_fees_paid=out["fees_paid"].T,
        interest_due=interest_due.transpose(per_class), interest_paid=interest_paid.transpose(per_class),
        principal_paid=principal_paid.transpose(per_class), writedowns=writedowns.transpose(per_class),
        balances=balances.transpose(per_class), reserve_balance=reserve.T, reserve_draws=out["draws"].T,
        cures=out["cures"].T, diverted=out["diverted"].T, residual=out["residual"].T,
        absorbed_loss=out["absorbed"].T, test_failed=test_failed.T, net_loss=net_loss.T)


def _pay_sequential(cash: np.ndarray, balances: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """Pay ``cash`` to the classes in order (senior first), reducing ``balances`` and adding to ``paid``
    in place; returns the cash left once every class is repaid."""
    cash = cash.copy()
    for j in range(balances.shape[0]):
        x = np.minimum(cash, balances[j])
        balances[j] -= x
        paid[j] += x
        cash -= x
    return cash
