"""PressTrust ABS engine: pool losses under a Gaussian copula, cash-flow waterfall, tranche sizing.

Pure numpy/scipy (no Django). Layers, each usable on its own:

* ``pool``        facilities, validation (``PoolError``), amortisation schedules, stratification;
* ``structure``   tranches, waterfall rules, reserve, tests, assumptions, validation (``StructureError``);
* ``copula``      Monte Carlo defaults and default months (one-factor / sector Gaussian copula, Li 2000);
* ``cashflows``   pool cash flows per scenario and month; ``waterfall`` the priority of payments;
* ``deal``        ``simulate_deal``: all of the above in memory-bounded chunks, with tranche results;
* ``closed_form`` Vasicek large pool, exact finite homogeneous pool, mixed-pool recursion;
* ``metrics``     tranche loss payoff, EL / probability of loss / loss given loss, VaR, ES;
* ``sizing``      ``size_tranches`` to probability-of-loss or expected-loss targets;
* ``whatif``      correlation / PD / health shocks with deltas; ``ratings`` the ILLUSTRATIVE tables;
* ``cli``         ``run_from_files`` (POOL.csv + STRUCTURE.json → dict) and ``format_report``; import
                  them from ``lending.core.abs.cli`` (kept out of this namespace so ``python -m`` runs it cleanly).

Units: balances in currency units, rates and probabilities as fractions, time in months (WAL in years),
losses as fractions of the pool (pool measures) or of the tranche (tranche measures).
"""

from .closed_form import (
    LossDistribution,
    finite_homogeneous_default_distribution,
    one_factor_loss_distribution,
    vasicek_cdf,
    vasicek_quantile,
    vasicek_tranche_metrics,
)
from .copula import simulate_default_events, simulate_pool_losses
from .deal import DealResult, simulate_deal
from .errors import PoolError, StructureError
from .metrics import pool_loss_statistics, static_tranche_metrics, tranche_loss_fraction
from .pool import (
    Pool,
    read_pool_csv,
    stratify,
    top_obligor_concentration,
    weighted_average_coupon,
    weighted_average_life_years,
)
from .ratings import ILLUSTRATIVE_RATING_TABLE, implied_rating, rating_table
from .sizing import TrancheSizing, size_tranches
from .structure import (
    Assumptions,
    CopulaSpec,
    ReserveSpec,
    Structure,
    Tranche,
    read_structure_json,
    structure_from_dict,
)
from .waterfall import WaterfallResult, run_waterfall
from .whatif import Shock, apply_shock, what_if

__all__ = [
    "Assumptions", "CopulaSpec", "DealResult", "ILLUSTRATIVE_RATING_TABLE", "LossDistribution", "Pool",
    "PoolError", "ReserveSpec", "Shock", "Structure", "StructureError", "Tranche", "TrancheSizing",
    "WaterfallResult", "apply_shock", "finite_homogeneous_default_distribution", "format_report",
    "implied_rating", "one_factor_loss_distribution", "pool_loss_statistics", "rating_table", "read_pool_csv",
    "read_structure_json", "run_waterfall", "simulate_deal", "simulate_default_events",
    "simulate_pool_losses", "size_tranches", "static_tranche_metrics", "stratify", "structure_from_dict",
    "top_obligor_concentration", "tranche_loss_fraction", "vasicek_cdf", "vasicek_quantile",
    "vasicek_tranche_metrics", "weighted_average_coupon", "weighted_average_life_years", "what_if",
]
