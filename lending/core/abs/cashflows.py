"""Pool cash flows per scenario and month from simulated default events.

Each facility follows its scheduled balance s_i(t) (``pool.scheduled_balance_table``), scaled by the
prepayment survival q^t, q = (1 - CPR)^(1/12) (a constant prepayment rate re-amortises each loan over its
remaining term). A facility that defaults in month m pays nothing from month m on; its balance at default
q^(m-1)·s_i(m-1) leaves the performing pool, LGD of it is the loss (the period's principal deficiency)
and the rest is recovered ``recovery_lag_months`` later (recoveries due after the horizon are collected in
the last month). At the horizon the remaining performing balance is realised at par (clean-up call).

Month t (1..T) of a scenario, with V(t) = sum over facilities defaulted by t of s_i(t) and D(t) = sum over
facilities defaulting in t of s_i(t-1):
  performing balance at the start  P(t-1) = q^(t-1)·(S(t-1) - V(t-1))        S = sum_i s_i
  defaulted balance                DB(t)  = q^(t-1)·D(t)
  interest                         q^(t-1)·(R(t-1) - RV(t-1) - RD(t)) / 12    (R, RV, RD rate-weighted)
  scheduled principal              q^(t-1)·[(S(t-1) - V(t-1) - D(t)) - (S(t) - V(t))]
  prepayment                       q^(t-1)·(1 - q)·(S(t) - V(t))
so that P(t) = P(t-1) - DB(t) - scheduled - prepayment exactly.

V(t) is aggregated without a scenarios × facilities × months array. Every balance curve continued past
maturity (bullet: B, straight line: B·(1 - t/n), annuity: B·(A^n - A^t)/(A^n - 1)) lies, after division by
B, in a space of low dimension spanned by 1, t and the annuity factors A^t; an orthonormal basis phi of
that span (singular value decomposition) gives s_i(t) = sum_k c_ik·phi_k(t) for t < n_i, checked against
the schedule to 1e-10 of the balance (a pool of bullets and straight lines has rank 2; annuities with rates spread over a
few points add about six more). A curve the basis cannot follow (see ``_balance_basis``) is summed
directly, month by month. Then V(t) = sum_k phi_k(t)·C_k(t), where C_k(t) is a running
sum over months of +c_ik at each facility's default month and -c_ik at its maturity: one sparse
(events × facilities) product with the coefficient matrix, a cumulative sum over months and a contraction
with phi. Cost O(defaults × rank) plus O(scenarios × months × rank), against O(defaults × months) for the
direct sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .copula import DefaultEvents
from .pool import Pool, monthly_prepayment_survival, scheduled_balance_table

# Singular values of the representative curves below this (relative) are dropped, and a facility's
# curve may miss the basis by at most _BASIS_CHECK of its balance before it is summed directly.
_SVD_TOLERANCE = 1e-13
_BASIS_CHECK = 1e-10
_RATE_NODES = 40


@dataclass(frozen=True)
class PoolCashflows:
    """Pool cash flows of a chunk of scenarios, each an array of shape (scenarios, months), currency units.

    ``collections`` = interest + principal_collections is the cash entering the waterfall; the principal
    collections are scheduled principal + prepayments + recoveries + the clean-up at the horizon.
    ``performing_balance`` and ``pending_recoveries`` are end-of-month values before the clean-up.
    """

    interest: np.ndarray
    scheduled_principal: np.ndarray
    prepayments: np.ndarray
    recoveries: np.ndarray
    cleanup: np.ndarray
    defaulted_balance: np.ndarray
    net_loss: np.ndarray
    performing_balance: np.ndarray
    pending_recoveries: np.ndarray
    initial_balance: float

    @property
    def principal_collections(self) -> np.ndarray:
        """Scheduled principal + prepayments + recoveries + clean-up, per scenario and month."""
        return self.scheduled_principal + self.prepayments + self.recoveries + self.cleanup

    @property
    def collections(self) -> np.ndarray:
        """All cash collected in the month: interest plus principal collections."""
        return self.interest + self.principal_collections


class CashflowModel:
    """Per-pool constants for turning default events into ``PoolCashflows`` (built once per run)."""

    def __init__(self, pool: Pool, horizon_months: int, *, cpr: float, recovery_lag_months: int) -> None:
        self.horizon = int(horizon_months)
        self.q = monthly_prepayment_survival(cpr)
        self.lag = int(recovery_lag_months)
        self.rate = pool.rate
        self.lgd = pool.lgd
        self.maturity = pool.maturity_months
        self.table = scheduled_balance_table(pool, self.horizon)               # (N, T+1)
        self.baseline = self.table.sum(axis=0)                                  # S(t)
        self.baseline_rate = (pool.rate[:, None] * self.table).sum(axis=0)      # R(t)
        coef, self.phi, self.direct = _balance_basis(pool, self.horizon, self.table)
        self.rank = coef.shape[1]
        self.coef = np.ascontiguousarray(np.hstack((coef, pool.rate[:, None] * coef)))   # value | rate-weighted

    def basis_balance(self) -> np.ndarray:
        """s_i(t) as the engine represents it for t < maturity (0 after), shape (N, T+1): the basis
        expansion, or the table for facilities summed directly. Equals ``table`` to rounding; exposed so
        tests can check the expansion."""
        t = np.arange(self.horizon + 1)
        out = self.coef[:, : self.rank] @ self.phi.T
        out[self.direct] = self.table[self.direct]
        out[t[None, :] >= self.maturity[:, None]] = 0.0
        return out

    def cashflows(self, events: DefaultEvents) -> PoolCashflows:
        """Aggregate one chunk of default events into per-scenario, per-month pool cash flows.

        Arrays are computed month-major (months × scenarios) so that a month's values are contiguous
        for the waterfall; ``PoolCashflows`` exposes them transposed, as (scenarios, months).
        """
        n_s, T = events.n_scenarios, self.horizon
        s, i, m = events.scenario, events.facility, events.month
        # V(t) and RV(t) from the basis: +c at the default month, -c at maturity (if inside the horizon).
        ends = self.maturity[i] <= T
        running = self._month_sums(s, m, i, n_s)
        running -= self._month_sums(s[ends], self.maturity[i[ends]], i[ends], n_s)
        for t in range(1, T + 1):
            running[t] += running[t - 1]
        value = np.einsum("tsk,tk->ts", running[:, :, : self.rank], self.phi)
        rated = np.einsum("tsk,tk->ts", running[:, :, self.rank:], self.phi)
        if self.direct.any():
            self._add_direct(value, rated, s, i, m)
        # Balances at default: s_i(m - 1), plain, rate- and LGD-weighted, summed per (month, scenario).
        at_default = self.table[i, m - 1]
        flat = (m - 1) * n_s + s
        dflt, dflt_rate, dflt_loss = (
            np.bincount(flat, weights=w, minlength=T * n_s).reshape(T, n_s)
            for w in (at_default, at_default * self.rate[i], at_default * self.lgd[i]))

        qpow = (self.q ** np.arange(T))[:, None]                              # q^(t-1), t = 1..T
        start = self.baseline[:-1, None] - value[:-1] - dflt                 # scheduled, paying in t
        end = self.baseline[1:, None] - value[1:]
        interest = qpow * (self.baseline_rate[:-1, None] - rated[:-1] - dflt_rate) / 12.0
        scheduled = qpow * (start - end)
        prepay = qpow * (1.0 - self.q) * end
        performing = qpow * self.q * end
        defaulted = qpow * dflt
        net_loss = qpow * dflt_loss
        recoverable = defaulted - net_loss
        recoveries = np.zeros((T, n_s))
        if self.lag < T:
            recoveries[self.lag:] = recoverable[: T - self.lag]
        recoveries[-1] += recoverable[max(T - self.lag, 0):].sum(axis=0)
        pending = np.cumsum(recoverable - recoveries, axis=0)
        cleanup = np.zeros((T, n_s))
        cleanup[-1] = performing[-1]
        return PoolCashflows(interest=interest.T, scheduled_principal=scheduled.T, prepayments=prepay.T,
                             recoveries=recoveries.T, cleanup=cleanup.T, defaulted_balance=defaulted.T,
                             net_loss=net_loss.T, performing_balance=performing.T, pending_recoveries=pending.T,
                             initial_balance=float(self.baseline[0]))

    def _add_direct(self, value, rated, s, i, m) -> None:
        """Add V(t) and RV(t) of the facilities flagged ``direct``, month by month from the table."""
        chosen = self.direct[i]
        s, i, m = s[chosen], i[chosen], m[chosen]
        end = self.maturity[i]
        n_s = value.shape[1]
        for t in range(1, self.horizon + 1):
            active = (m <= t) & (t < end)
            if active.any():
                balance = self.table[i[active], t]
                value[t] += np.bincount(s[active], weights=balance, minlength=n_s)
                rated[t] += np.bincount(s[active], weights=balance * self.rate[i[active]], minlength=n_s)

    def _month_sums(self, scenario: np.ndarray, month: np.ndarray, facility: np.ndarray, n_s: int) -> np.ndarray:
        """sum of coef[facility] per (month, scenario) of the events, shape (T+1, n_s, 2·rank).

        ``scenario`` must be ascending: a stable sort by month (a radix sort for 16-bit keys) then groups
        the events by (month, scenario), the row order of the sparse events matrix.
        """
        width = self.horizon + 1
        order = np.argsort(month.astype(np.int16), kind="stable")
        rows = month[order] * n_s + scenario[order]
        indptr = np.zeros(width * n_s + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=width * n_s), out=indptr[1:])
        events_matrix = sparse.csr_matrix((np.ones(rows.size), facility[order], indptr),
                                          shape=(width * n_s, self.coef.shape[0]))
        return (events_matrix @ self.coef).reshape(width, n_s, 2 * self.rank)


def _balance_basis(pool: Pool, horizon: int, table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Low-rank basis of the scheduled balance curves continued past maturity (module docstring).

    Returns (coef (N, r), phi (T+1, r), direct (N,) bool): (coef @ phi.T)[i, t] equals the scheduled
    balance ``table[i, t]`` for 0 <= t < min(n_i, T+1) to within ``_BASIS_CHECK`` of the balance, phi
    having orthonormal columns.
    The span is found from the SVD of a few representative curves (1, t and A^t at up to ``_RATE_NODES``
    Chebyshev nodes across the annuities' rate range; A^t is analytic in the rate, so these nodes capture
    the span), which keeps the decomposition tiny. A curve the basis misses on its window (an annuity
    whose A^t grows by many orders of magnitude between its maturity and the horizon, e.g. a very high
    rate on a short loan in a long deal) is flagged ``direct``, gets zero coefficients, and is summed
    directly instead.
    """
    t = np.arange(horizon + 1, dtype=float)
    n = pool.maturity_months.astype(float)[:, None]
    curves = np.where(pool.amortisation[:, None] == "bullet", 1.0, 1.0 - t[None, :] / n)
    annuity = (pool.amortisation == "annuity") & (pool.rate > 0)     # a 0 % annuity is straight-line
    representatives = [np.ones_like(t), t]
    if annuity.any():
        g, nn = np.log1p(pool.rate[annuity] / 12.0)[:, None], n[annuity]
        curves[annuity] = (np.expm1(g * nn) - np.expm1(g * t[None, :])) / np.expm1(g * nn)
        distinct = np.unique(g)
        if distinct.size > _RATE_NODES:
            nodes = np.cos(np.pi * (np.arange(_RATE_NODES) + 0.5) / _RATE_NODES)
            distinct = 0.5 * (distinct[0] + distinct[-1]) + 0.5 * (distinct[-1] - distinct[0]) * nodes
        representatives.extend(np.exp(distinct[:, None] * t[None, :]))
    phi = _row_space(np.array(representatives))
    coef = curves @ phi
    scale = np.where(pool.balance > 0, pool.balance, 1.0)[:, None]
    miss = np.abs(coef @ phi.T - table / scale) * (t[None, :] < n)
    direct = miss.max(axis=1) > _BASIS_CHECK
    coef[direct] = 0.0
    return pool.balance[:, None] * coef, phi, direct


def _row_space(rows: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of the span of ``rows`` (each scaled to unit norm first), keeping the
    singular values above ``_SVD_TOLERANCE`` relative to the largest."""
    scaled = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    _, sigma, right = np.linalg.svd(scaled, full_matrices=False)
    rank = max(1, int((sigma > _SVD_TOLERANCE * sigma[0]).sum()))
    return np.ascontiguousarray(right[:rank].T)
