"""Run a deal from files: POOL.csv + STRUCTURE.json → a JSON-ready dict and a text report.

The Django management command wraps ``run_from_files``; ``python -m lending.core.abs.cli POOL.csv
STRUCTURE.json`` runs it without Django.

POOL.csv: one facility per row, columns ``id, balance, pd, lgd, maturity_months`` (``pd`` over the deal
horizon, or ``pd_annual`` instead), optional ``sector, rate, amortisation``; see ``lending.core.abs.pool``.

STRUCTURE.json::

    {
      "name": "PressTrust SME 2026-1",              optional, free text (also "description")
      "tranches": [                                 required; any order; must tile [0, 1] exactly
        {"name": "A", "attachment": 0.12, "detachment": 1.0, "coupon": 0.045},
        {"name": "B", "attachment": 0.06, "detachment": 0.12, "coupon": 0.07},
        {"name": "Equity", "attachment": 0.0, "detachment": 0.06}
      ],                                            fractions of the pool; coupon = annual fraction, default 0
      "waterfall": "sequential",                    or "pro_rata" (pro rata until a test fails or a loss
                                                    is not cured, then sequential); default "sequential"
      "horizon_months": 60,                         default: the pool's longest maturity
      "senior_fee_rate": 0.005,                     annual fraction of the performing balance; default 0
      "reserve": {"target_fraction": 0.01,          of the performing balance
                  "floor_fraction": 0.005,          of the closing balance
                  "initial_fraction": 0.01},        funded at closing; all default 0
      "oc": {"A": 1.10, "B": 1.04},                 over-collateralisation triggers by tranche name
      "ic": {"A": 1.20},                            interest-cover triggers by tranche name
      "assumptions": {"cpr": 0.05,                  constant prepayment rate, annual; default 0
                      "recovery_lag_months": 6,     default 6
                      "correlation": 0.15,          asset correlation; default 0.15
                      "sector_correlation": {"stamping": 0.20},
                      "global_factor_weight": 1.0,  1 = one-factor model; < 1 adds sector factors
                      "sector_global_weight": {"stamping": 0.8}}
    }

Unknown keys are rejected; every problem raises ``StructureError`` / ``PoolError`` naming the tranche or
row and the field. Output of ``run_from_files`` (all losses are fractions: of the pool for ``pool``, of
the tranche for ``tranches``)::

    {"pool": {"expected_loss", "var_99", "var_999", "expected_shortfall_99", "std", "max",
              "loss_distribution": {"bin_edges", "counts"}, "expected_cashflow_loss", "expected_cashflows",
              "initial_balance", "horizon_months", "summary", "stratification", "closed_form"},
     "tranches": [{"name", "attachment", "detachment", "coupon", "notional", "expected_loss",
                   "probability_of_loss", "loss_given_loss", "wal_years", "expected_interest_shortfall",
                   "implied_rating", "tranching", "closed_form", "expected_cashflows"}],
     "scenarios", "seed", "waterfall", "rating_table"}

``closed_form`` entries (one-factor copulas only, else null) are the noise-free static measures from
the recursion of ``closed_form.one_factor_loss_distribution``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from .closed_form import one_factor_loss_distribution
from .deal import DEFAULT_SCENARIOS, simulate_deal
from .errors import PoolError, StructureError
from .pool import pool_summary, read_pool_csv, stratify
from .structure import read_structure_json

CLOSED_FORM_LOSS_STEP = 2.5e-4


def run_from_files(pool_csv_path: str | Path, structure_json_path: str | Path, scenarios: int = DEFAULT_SCENARIOS,
                   seed: int = 0, correlation: float | None = None) -> dict:
    """Read and validate the pool and structure, simulate the deal and return the result dict above.

    ``correlation`` overrides every sector's asset correlation. Raises ``PoolError`` or
    ``StructureError`` for bad files, ``ValueError`` for a bad scenario count.
    """
    if int(scenarios) <= 0:
        raise ValueError(f"scenarios {scenarios!r} must be > 0")
    pool = read_pool_csv(pool_csv_path)
    structure = read_structure_json(structure_json_path)
    if correlation is not None:
        copula = structure.assumptions.copula.with_correlation(correlation)
        structure = replace(structure, assumptions=replace(structure.assumptions, copula=copula))
    horizon = structure.horizon_for(pool.max_maturity_months)
    deal = simulate_deal(pool, structure, scenarios=int(scenarios), seed=int(seed))
    result = deal.to_dict()
    result["pool"]["summary"] = pool_summary(pool, horizon_months=horizon, cpr=structure.assumptions.cpr)
    result["pool"]["stratification"] = {"sector": stratify(pool, "sector", horizon_months=horizon),
                                        "pd_grade": stratify(pool, "pd_grade", horizon_months=horizon)}
    closed = None
    if structure.assumptions.copula.is_one_factor:
        closed = one_factor_loss_distribution(pool, structure.assumptions.copula, horizon,
                                              loss_step=CLOSED_FORM_LOSS_STEP)
    result["pool"]["closed_form"] = None if closed is None else {**closed.statistics(),
                                                                 "loss_step": CLOSED_FORM_LOSS_STEP}
    for row, tranche in zip(result["tranches"], structure.tranches):
        row["closed_form"] = (None if closed is None
                              else closed.tranche_metrics(tranche.attachment, tranche.detachment))
    return result


def format_report(result: dict) -> str:
    """Plain-text report of a ``run_from_files`` result: pool statistics, then one line per tranche."""
    pool = result["pool"]
    lines = [f"ABS simulation: {result['scenarios']:,} scenarios, seed {result['seed']}, "
             f"{result['waterfall']} waterfall, horizon {pool['horizon_months']} months",
             f"Pool balance {pool['initial_balance']:,.2f}"]
    summary = pool.get("summary")
    if summary:
        lines.append(f"  {summary['count']} facilities, weighted PD {_pct(summary['weighted_pd'])}, "
                     f"weighted LGD {_pct(summary['weighted_lgd'])}, WAC {_pct(summary['weighted_average_coupon'])}, "
                     f"WAL {summary['weighted_average_life_years']:.2f} y, largest obligor "
                     f"{_pct(summary['concentration']['largest_share'])}")
    lines.append(f"Pool loss (fraction of pool): EL {_pct(pool['expected_loss'])}, VaR 99% {_pct(pool['var_99'])}, "
                 f"VaR 99.9% {_pct(pool['var_999'])}, ES 99% {_pct(pool['expected_shortfall_99'])}; "
                 f"cash-flow loss {_pct(pool['expected_cashflow_loss'])}")
    if pool.get("closed_form"):
        cf = pool["closed_form"]
        lines.append(f"  closed form (one factor): EL {_pct(cf['expected_loss'])}, VaR 99% {_pct(cf['var_99'])}, "
                     f"VaR 99.9% {_pct(cf['var_999'])}, ES 99% {_pct(cf['expected_shortfall_99'])}")
    header = (f"{'tranche':<12}{'attach':>8}{'detach':>8}{'coupon':>8}{'EL':>10}{'P(loss)':>10}{'LGL':>9}"
              f"{'WAL y':>7}{'rating*':>14}{'static EL':>11}{'static PL':>11}")
    lines += ["", "Tranches (losses as fractions of the tranche; waterfall, then static slice of pool loss):",
              header, "-" * len(header)]
    for t in result["tranches"]:
        wal = "-" if t["wal_years"] is None else f"{t['wal_years']:.2f}"
        lines.append(f"{t['name']:<12}{_pct(t['attachment']):>8}{_pct(t['detachment']):>8}{_pct(t['coupon']):>8}"
                     f"{_pct(t['expected_loss'], 3):>10}{_pct(t['probability_of_loss'], 3):>10}"
                     f"{_pct(t['loss_given_loss']):>9}{wal:>7}{t['implied_rating']:>14}"
                     f"{_pct(t['tranching']['expected_loss'], 3):>11}"
                     f"{_pct(t['tranching']['probability_of_loss'], 3):>11}")
    table = result.get("rating_table") or {}
    label = table.get("label", "illustrative rating table") if isinstance(table, dict) else table
    lines += ["", f"* rating band from the {label}."]
    return "\n".join(lines)


def _pct(value: float, digits: int = 2) -> str:
    """A fraction as a percentage string with ``digits`` decimals."""
    return f"{100.0 * value:.{digits}f}%"


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m lending.core.abs.cli POOL.csv STRUCTURE.json [--scenarios N] [--seed S]
    [--correlation RHO] [--json]``; prints the report (or the JSON) and returns the exit status."""
    parser = argparse.ArgumentParser(description="Simulate an ABS deal from POOL.csv and STRUCTURE.json.")
    parser.add_argument("pool")
    parser.add_argument("structure")
    parser.add_argument("--scenarios", type=int, default=DEFAULT_SCENARIOS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--correlation", type=float, default=None)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        result = run_from_files(args.pool, args.structure, scenarios=args.scenarios, seed=args.seed,
                                correlation=args.correlation)
    except (PoolError, StructureError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
