"""Shared builders for the ABS engine tests (no database, no Django)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lending.core.abs.pool import Pool
from lending.core.abs.structure import Assumptions, CopulaSpec, ReserveSpec, Structure, Tranche

DATA = Path(__file__).parent / "data"


def homogeneous_pool(n: int, pd: float, *, lgd: float = 1.0, maturity: int = 12, sector: str = "all") -> Pool:
    """n identical bullet facilities of balance 1 with horizon PD ``pd``."""
    return Pool.from_arrays(ids=[f"H{k}" for k in range(n)], balance=np.ones(n), pd=np.full(n, pd),
                            lgd=np.full(n, lgd), maturity_months=np.full(n, maturity), sector=[sector] * n,
                            amortisation=["bullet"] * n)


def mixed_pool(n: int = 120, seed: int = 7, *, pd_scale: float = 1.0) -> Pool:
    """A heterogeneous pool: three sectors, all amortisation types, spread rates and maturities."""
    rng = np.random.default_rng(seed)
    return Pool.from_arrays(
        ids=[f"M{k:03d}" for k in range(n)], balance=rng.lognormal(11.5, 0.7, n),
        pd=np.minimum(rng.uniform(0.02, 0.25, n) * pd_scale, 0.95), lgd=rng.uniform(0.3, 0.7, n),
        maturity_months=rng.integers(6, 72, n), sector=rng.choice(["stamping", "forging", "machining"], n),
        rate=rng.uniform(0.0, 0.12, n), amortisation=rng.choice(["annuity", "linear", "bullet"], n))


def stressed_structure(waterfall: str = "sequential", **changes) -> Structure:
    """A three-class deal with thin spread, fees, a reserve and OC/IC tests, so that every branch of the
    waterfall (reserve draws, diversions, cures, write-downs) is exercised on ``mixed_pool``."""
    base = dict(
        tranches=(Tranche("A", 0.25, 1.0, 0.055), Tranche("B", 0.12, 0.25, 0.09), Tranche("E", 0.0, 0.12)),
        waterfall=waterfall, horizon_months=60, senior_fee_rate=0.01,
        reserve=ReserveSpec(target_fraction=0.02, floor_fraction=0.005, initial_fraction=0.015),
        oc_triggers={"A": 1.25, "B": 1.10}, ic_triggers={"A": 1.05},
        assumptions=Assumptions(cpr=0.08, recovery_lag_months=4, copula=CopulaSpec(rho=0.25)))
    base.update(changes)
    return Structure(**base)

