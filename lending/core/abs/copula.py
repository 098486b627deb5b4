"""Monte Carlo default simulation under the Gaussian copula (Li 2000), vectorised over scenarios.

Facility i in sector k has latent variable X_i = sqrt(rho_k)·Y_k + sqrt(1 - rho_k)·e_i, with the sector
factor Y_k = sqrt(w_k)·Z + sqrt(1 - w_k)·eta_k (Z global; w_k = 1 gives the one-factor model of
Vasicek 2002), and defaults within the horizon when X_i < G(PD_i). Its default TIME follows Li (2000):
u_i = N(X_i) is mapped through the constant-hazard default-time distribution F_i(t) = 1 - exp(-lambda_i·t),
lambda_i = -ln(1 - PD_i) / life_i, so tau_i = -ln(1 - u_i) / lambda_i and the default month is ceil(tau_i)
(life_i = min(maturity, horizon) months). A facility cannot default after it matures.

Random numbers: scenarios are drawn in fixed blocks of ``RNG_BLOCK_SCENARIOS``; block b uses its own
PCG64 stream seeded by ``SeedSequence(seed, spawn_key=(b,))`` and draws Z, then eta, then e row by row.
A scenario's draws therefore depend only on (seed, scenario index): results do not change with the chunk
size, and a what-if run with the same seed uses the same draws (common random numbers).
Only the (scenario, facility) pairs that default are kept; nothing of size scenarios × facilities is
materialised beyond a cache-sized block of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from scipy import special

from .pool import Pool
from .structure import CopulaSpec

RNG_BLOCK_SCENARIOS = 1024
DEFAULT_CHUNK_SCENARIOS = 4096
# Rows of idiosyncratic draws handled at once: about 1 MiB of float64, so a row block stays in L2 cache
# between drawing it, comparing it with the thresholds and picking out the defaults.
_ROW_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class DefaultEvents:
    """Defaults of a chunk of scenarios.

    ``first_scenario``: global index of the chunk's first scenario; ``n_scenarios``: its length;
    ``scenario`` (local index, ascending), ``facility`` (index into the pool, input order) and ``month``
    (1-based default month) describe one default each.
    """

    first_scenario: int
    n_scenarios: int
    scenario: np.ndarray
    facility: np.ndarray
    month: np.ndarray


class CopulaModel:
    """Per-facility constants of the copula for one pool, copula spec and horizon (built once per run)."""

    def __init__(self, pool: Pool, copula: CopulaSpec, horizon_months: int) -> None:
        self.horizon_months = int(horizon_months)
        # Facilities are grouped by sector so that each sector's factor is added to a contiguous block.
        sectors = np.asarray(pool.sector, dtype=str)
        self.sector_names, sector_index = np.unique(sectors, return_inverse=True)
        self.order = np.argsort(sector_index, kind="stable")
        bounds = np.searchsorted(sector_index[self.order], np.arange(len(self.sector_names) + 1))
        self.sector_slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        pd = pool.horizon_pd(self.horizon_months)[self.order]
        rho = copula.rho_for(self.sector_names)
        weight = copula.global_weight_for(self.sector_names)
        rho_f = rho[sector_index[self.order]]
        self.sqrt_rho = np.sqrt(rho)                      # per sector
        self.factor_loading = -np.sqrt(rho / (1.0 - rho))  # per sector: threshold = a_i + loading·Y_k
        self.sqrt_w, self.sqrt_1mw = np.sqrt(weight), np.sqrt(1.0 - weight)
        self.g = special.ndtri(pd)
        self.sqrt_1mrho_f = np.sqrt(1.0 - rho_f)
        self.intercept = self.g / self.sqrt_1mrho_f
        self.life = pool.life_months(self.horizon_months)[self.order]
        self.hazard = -np.log1p(-pd) / self.life
        self.n_facilities = pool.size

    def factors(self, rng: np.random.Generator, rows: int) -> np.ndarray:
        """Draw Z then eta for ``rows`` scenarios and return the sector factors Y, shape (rows, sectors)."""
        z = rng.standard_normal(rows)
        eta = rng.standard_normal((rows, len(self.sector_names)))
        return self.sqrt_w * z[:, None] + self.sqrt_1mw * eta

    def block_defaults(self, rng: np.random.Generator, rows: int, with_timing: bool = True):
        """Simulate one RNG block of ``rows`` scenarios: returns (scenario, facility-in-sorted-order, month)."""
        # Factors are drawn for a whole block even when fewer rows are used, so that a scenario's draws
        # do not depend on how many scenarios the run has.
        y = self.factors(rng, RNG_BLOCK_SCENARIOS)[:rows]
        shift = y * self.factor_loading                   # (rows, sectors)
        n = self.n_facilities
        step = max(1, min(rows, _ROW_BLOCK_BYTES // (8 * n)))
        draws = np.empty((step, n))
        threshold = np.empty((step, n))
        below = np.empty((step, n), dtype=bool)
        out_s, out_i, out_m = [], [], []
        for start in range(0, rows, step):
            r = min(step, rows - start)
            e, c, m = draws[:r], threshold[:r], below[:r]
            rng.standard_normal(out=e)
            for k, cols in enumerate(self.sector_slices):
                np.add(self.intercept[cols], shift[start:start + r, k:k + 1], out=c[:, cols])
            np.less(e, c, out=m)
            s_loc, i_loc = np.nonzero(m)
            if with_timing:
                # X - G(PD) = sqrt(1 - rho)·(e - threshold) < 0 for a defaulter; u = N(X) < PD.
                x = self.g[i_loc] + self.sqrt_1mrho_f[i_loc] * (e[s_loc, i_loc] - c[s_loc, i_loc])
                tau = -np.log1p(-special.ndtr(x)) / self.hazard[i_loc]
                month = np.clip(np.ceil(tau), 1, self.life[i_loc]).astype(np.int64)
                out_m.append(month)
            out_s.append(s_loc + start)
            out_i.append(i_loc)
        month = np.concatenate(out_m) if with_timing else None
        return np.concatenate(out_s), np.concatenate(out_i), month


def simulate_default_events(pool: Pool, copula: CopulaSpec, *, horizon_months: int, scenarios: int,
                            seed: int, chunk_scenarios: int | None = None,
                            with_timing: bool = True) -> Iterator[DefaultEvents]:
    """Yield the defaults of ``scenarios`` copula scenarios, chunk by chunk (see the module docstring).

    ``chunk_scenarios`` (rounded up to a multiple of ``RNG_BLOCK_SCENARIOS``) bounds memory; it does not
    change the results. With ``with_timing`` False the default month is not computed (``month`` None).
    """
    if scenarios <= 0:
        raise ValueError(f"scenarios {scenarios!r} must be > 0")
    model = CopulaModel(pool, copula, horizon_months)
    chunk = chunk_scenarios or DEFAULT_CHUNK_SCENARIOS
    blocks_per_chunk = max(1, -(-int(chunk) // RNG_BLOCK_SCENARIOS))
    n_blocks = -(-int(scenarios) // RNG_BLOCK_SCENARIOS)
    for first_block in range(0, n_blocks, blocks_per_chunk):
        parts_s, parts_i, parts_m = [], [], []
        first = first_block * RNG_BLOCK_SCENARIOS
        for b in range(first_block, min(first_block + blocks_per_chunk, n_blocks)):
            rows = min(RNG_BLOCK_SCENARIOS, scenarios - b * RNG_BLOCK_SCENARIOS)
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(b,))))
            s, i, m = model.block_defaults(rng, rows, with_timing)
            parts_s.append(s + (b * RNG_BLOCK_SCENARIOS - first))
            parts_i.append(model.order[i])
            parts_m.append(m)
        n_here = min(first + blocks_per_chunk * RNG_BLOCK_SCENARIOS, scenarios) - first
        yield DefaultEvents(first_scenario=first, n_scenarios=n_here, scenario=np.concatenate(parts_s),
                            facility=np.concatenate(parts_i),
                            month=np.concatenate(parts_m) if with_timing else None)


def simulate_pool_losses(pool: Pool, copula: CopulaSpec, *, horizon_months: int, scenarios: int = 100_000,
                         seed: int = 0, chunk_scenarios: int | None = None) -> np.ndarray:
    """Pool loss per scenario over the horizon, L = sum_i EAD_i·LGD_i·1{default_i} / sum_i EAD_i.

    Same draws as ``simulate_deal`` with the same seed (its ``pool_loss``), without timing or cash flows.
    Returns an array of ``scenarios`` fractions of the pool.
    """
    weight = pool.balance * pool.lgd / pool.total_balance
    losses = np.empty(int(scenarios))
    for events in simulate_default_events(pool, copula, horizon_months=horizon_months, scenarios=scenarios,
                                          seed=seed, chunk_scenarios=chunk_scenarios, with_timing=False):
        losses[events.first_scenario: events.first_scenario + events.n_scenarios] = np.bincount(
            events.scenario, weights=weight[events.facility], minlength=events.n_scenarios)
    return losses
