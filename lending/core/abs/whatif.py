"""What-if analysis: re-run a deal with changed correlation, scaled PDs or an equipment-health shock.

Simulation what-ifs reuse the seed, so base and shocked runs share their random draws (common random
numbers; see ``copula``) and the deltas carry far less noise than two independent runs. Closed-form
what-ifs use the one-factor recursion (``closed_form.one_factor_loss_distribution``) and are noise-free,
for the static tranche measures and pool statistics.

A health shock moves each facility's PD by the alarm level of its equipment: either a number of grades on
the illustrative master scale (``ratings.shift_annual_pd_by_grades``) or a PD multiplier per alarm level
(``DEFAULT_ALARM_PD_MULTIPLIERS``, illustrative).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from .closed_form import one_factor_loss_distribution
from .deal import DEFAULT_SCENARIOS, simulate_deal
from .pool import Pool
from .ratings import shift_annual_pd_by_grades
from .structure import Assumptions, Structure

#: Illustrative PD multipliers by equipment alarm level (0 = no alarm .. 3 = critical).
DEFAULT_ALARM_PD_MULTIPLIERS: Mapping[int, float] = {0: 1.0, 1: 1.5, 2: 2.5, 3: 4.0}
PD_CAP = 0.999

_POOL_KEYS = ("expected_loss", "var_99", "var_999", "expected_shortfall_99")
_SIM_TRANCHE_KEYS = ("expected_loss", "probability_of_loss", "loss_given_loss", "wal_years")
_STATIC_KEYS = ("expected_loss", "probability_of_loss", "loss_given_loss")


@dataclass(frozen=True)
class Shock:
    """Changes to apply to a deal's inputs.

    ``correlation``: new asset correlation for every sector (None keeps the spec); ``pd_multiplier``:
    factor on every horizon PD; ``grade_shift``: notches on the illustrative master scale (an int, or one
    per facility), positive = worse; ``alarm_levels``: one alarm level per facility, whose PD is then
    multiplied by ``alarm_pd_multipliers[level]``. PDs are capped at ``PD_CAP``. Applied in that order:
    grade shift, multiplier, alarm multipliers.
    """

    correlation: float | None = None
    pd_multiplier: float = 1.0
    grade_shift: int | Sequence[int] = 0
    alarm_levels: Sequence[int] | None = None
    alarm_pd_multipliers: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_ALARM_PD_MULTIPLIERS))

    def describe(self) -> dict:
        """The shock as plain data."""
        return {"correlation": self.correlation, "pd_multiplier": self.pd_multiplier,
                "grade_shift": np.asarray(self.grade_shift).tolist(),
                "alarm_levels": None if self.alarm_levels is None else np.asarray(self.alarm_levels).tolist(),
                "alarm_pd_multipliers": {int(k): float(v) for k, v in self.alarm_pd_multipliers.items()}}


def apply_shock(pool: Pool, assumptions: Assumptions, shock: Shock, horizon_months: int) -> tuple[Pool, Assumptions]:
    """The shocked pool (horizon PDs replaced) and assumptions (correlation replaced), per ``Shock``."""
    if not shock.pd_multiplier > 0:
        raise ValueError(f"pd_multiplier {shock.pd_multiplier!r} must be > 0")
    pd = pool.horizon_pd(horizon_months)
    grades = np.broadcast_to(np.asarray(shock.grade_shift, dtype=int), (pool.size,))
    if grades.any():
        life_years = pool.life_months(horizon_months) / 12.0
        annual = shift_annual_pd_by_grades(pool.annualised_pd(horizon_months), grades)
        pd = -np.expm1(life_years * np.log1p(-annual))
    pd = pd * shock.pd_multiplier
    if shock.alarm_levels is not None:
        levels = np.asarray(shock.alarm_levels, dtype=int)
        if levels.shape != (pool.size,):
            raise ValueError(f"alarm_levels has {levels.size} values for {pool.size} facilities")
        unknown = sorted(set(levels.tolist()) - set(shock.alarm_pd_multipliers))
        if unknown:
            raise ValueError(f"alarm level {unknown[0]} has no PD multiplier "
                             f"(known: {sorted(shock.alarm_pd_multipliers)})")
        pd = pd * np.array([shock.alarm_pd_multipliers[level] for level in levels.tolist()])
    shocked_pool = pool.with_horizon_pd(np.minimum(pd, PD_CAP))
    copula = assumptions.copula if shock.correlation is None else assumptions.copula.with_correlation(shock.correlation)
    return shocked_pool, replace(assumptions, copula=copula)


def what_if(pool: Pool, structure: Structure, shock: Shock, *, method: str = "simulation",
            scenarios: int = DEFAULT_SCENARIOS, seed: int = 0, loss_step: float = 1e-4) -> dict:
    """Base and shocked results and their deltas (shocked - base), per tranche and for the pool.

    ``method="simulation"``: ``simulate_deal`` twice with the same seed; tranche measures are the
    waterfall's (expected loss, probability of loss, loss given loss, WAL) plus the static tranching ones
    under ``tranching``. ``method="closed_form"``: static tranche measures and pool statistics from the
    one-factor recursion on a grid of ``loss_step`` (noise-free; needs a one-factor copula).
    Returns ``{"method", "shock", "pool": {"base", "shocked", "delta"}, "tranches": [{"name", "base",
    "shocked", "delta"}]}`` with fractions as everywhere in the engine.
    """
    horizon = structure.horizon_for(pool.max_maturity_months)
    shocked_pool, shocked_assumptions = apply_shock(pool, structure.assumptions, shock, horizon)
    if method == "simulation":
        runs = [simulate_deal(p, structure, assumptions=a, scenarios=scenarios, seed=seed)
                for p, a in ((pool, structure.assumptions), (shocked_pool, shocked_assumptions))]
        pools = [{k: run.pool_results()[k] for k in _POOL_KEYS} for run in runs]
        tranches = [[{**{k: row[k] for k in _SIM_TRANCHE_KEYS}, "tranching": row["tranching"]}
                     for row in run.tranche_results()] for run in runs]
    elif method == "closed_form":
        dists = [one_factor_loss_distribution(p, a.copula, horizon, loss_step=loss_step)
                 for p, a in ((pool, structure.assumptions), (shocked_pool, shocked_assumptions))]
        pools = [d.statistics() for d in dists]
        tranches = [[d.tranche_metrics(t.attachment, t.detachment) for t in structure.tranches] for d in dists]
    else:
        raise ValueError(f"method {method!r} unknown; expected 'simulation' or 'closed_form'")
    return {
        "method": method, "shock": shock.describe(),
        "pool": {"base": pools[0], "shocked": pools[1], "delta": _delta(pools[0], pools[1])},
        "tranches": [{"name": t.name, "base": b, "shocked": s, "delta": _delta(b, s)}
                     for t, b, s in zip(structure.tranches, tranches[0], tranches[1])],
    }


def _delta(base: dict, shocked: dict) -> dict:
    """shocked - base for every number, recursively through nested dicts (None stays None)."""
    out = {}
    for key, value in base.items():
        other = shocked[key]
        if isinstance(value, dict):
            out[key] = _delta(value, other)
        elif value is None or other is None:
            out[key] = None
        else:
            out[key] = float(other) - float(value)
    return out
