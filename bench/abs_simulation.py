"""Benchmark: ABS deal simulation, 100,000 scenarios × 2,000 facilities × 60 monthly periods.

Run from the repository root: ``.venv/bin/python bench/abs_simulation.py`` (``--scenarios``,
``--facilities``, ``--write PATH`` to save a markdown summary). Measures, in one process:

1. raw draws: numpy generating scenarios × facilities standard normals (PCG64, into a reused buffer of
   4,096 rows: the cheapest way numpy can produce them, so the ratio below is conservative);
2. the pool-loss path alone (``simulate_pool_losses``: copula defaults, no timing or cash flows);
3. the full deal (``simulate_deal``: copula defaults with default months, pool cash flows per month,
   the waterfall month by month for every scenario, tranche results);
4. the same full deal again under ``tracemalloc`` for the peak of Python-tracked (numpy) memory.
Process peak RSS (``resource.getrusage``) is reported as well.

The whole benchmark is single-threaded: BLAS threads are pinned to 1 before numpy loads (the engine's
only BLAS calls are tiny, and the draws it is compared with are single-threaded).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lending.core.abs.copula import DEFAULT_CHUNK_SCENARIOS, simulate_pool_losses  # noqa: E402
from lending.core.abs.deal import simulate_deal  # noqa: E402
from lending.core.abs.pool import Pool  # noqa: E402
from lending.core.abs.structure import Assumptions, CopulaSpec, ReserveSpec, Structure, Tranche  # noqa: E402


def benchmark_pool(n: int, seed: int = 2026) -> Pool:
    """A synthetic SME equipment-loan pool: lognormal balances, annual PDs 0.3 %..6 % (log-uniform),
    LGD 25..60 %, terms 12..60 months, rates 3..12 % in basis points, 60 % annuities, five sectors."""
    rng = np.random.default_rng(seed)
    return Pool.from_arrays(
        ids=[f"F{k:05d}" for k in range(n)], balance=np.round(rng.lognormal(12.0, 0.8, n), 2),
        pd_annual=np.exp(rng.uniform(np.log(0.003), np.log(0.06), n)), lgd=rng.uniform(0.25, 0.60, n),
        maturity_months=rng.integers(12, 61, n), sector=rng.choice(["stamping", "forging", "machining",
                                                                      "casting", "assembly"], n),
        rate=np.round(rng.uniform(0.03, 0.12, n), 4),
        amortisation=rng.choice(["annuity", "linear", "bullet"], n, p=[0.6, 0.3, 0.1]))


def benchmark_structure() -> Structure:
    """Four classes, sequential, fees, reserve, OC tests on A and B, IC test on A, CPR 5 %, 6-month lag,
    sector correlations around a global factor."""
    return Structure(
        tranches=(Tranche("A", 0.14, 1.0, 0.040), Tranche("B", 0.09, 0.14, 0.060),
                  Tranche("C", 0.05, 0.09, 0.085), Tranche("Equity", 0.0, 0.05)),
        waterfall="sequential", horizon_months=60, senior_fee_rate=0.005,
        reserve=ReserveSpec(target_fraction=0.015, floor_fraction=0.005, initial_fraction=0.01),
        oc_triggers={"A": 1.12, "B": 1.06}, ic_triggers={"A": 1.25},
        assumptions=Assumptions(cpr=0.05, recovery_lag_months=6, copula=CopulaSpec(
            rho=0.15, sector_rho={"forging": 0.20, "casting": 0.22}, global_factor_weight=0.8)))


def time_raw_draws(scenarios: int, facilities: int, seed: int = 0) -> float:
    rng = np.random.Generator(np.random.PCG64(seed))
    rows = DEFAULT_CHUNK_SCENARIOS
    buffer = np.empty((rows, facilities))
    start = time.perf_counter()
    for first in range(0, scenarios, rows):
        rng.standard_normal(out=buffer[: min(rows, scenarios - first)])
    return time.perf_counter() - start


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--facilities", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", type=Path, default=None, help="write a markdown summary here")
    args = parser.parse_args()

    pool, structure = benchmark_pool(args.facilities), benchmark_structure()
    horizon = structure.horizon_months
    print(f"ABS simulation benchmark: {args.scenarios:,} scenarios × {pool.size:,} facilities × {horizon} months "
          f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"numpy {np.__version__})")
    rss_start = max_rss_mib()

    draws = time_raw_draws(args.scenarios, pool.size, args.seed)
    print(f"raw numpy draws ({args.scenarios:,} × {pool.size:,} standard normals): {draws:.2f} s")

    start = time.perf_counter()
    losses = simulate_pool_losses(pool, structure.assumptions.copula, horizon_months=horizon,
                                  scenarios=args.scenarios, seed=args.seed)
    loss_only = time.perf_counter() - start
    print(f"pool losses only (copula defaults):   {loss_only:.2f} s  ({loss_only / draws:.2f}× raw draws)")

    start = time.perf_counter()
    result = simulate_deal(pool, structure, scenarios=args.scenarios, seed=args.seed)
    full = time.perf_counter() - start
    rss_after = max_rss_mib()
    print(f"full deal (defaults, timing, cash flows, waterfall): {full:.2f} s  ({full / draws:.2f}× raw draws)")
    assert np.array_equal(losses, result.pool_loss)

    tracemalloc.start()
    start = time.perf_counter()
    simulate_deal(pool, structure, scenarios=args.scenarios, seed=args.seed)
    traced_time = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak traced memory of the full deal: {peak / 2**20:.0f} MiB (run under tracemalloc: "
          f"{traced_time:.2f} s); process peak RSS {rss_after:.0f} MiB (before the runs {rss_start:.0f} MiB)")

    stats = result.pool_results()
    defaults_per_scenario = stats["expected_loss"] / float((pool.balance * pool.lgd).sum() / pool.total_balance)
    print(f"pool EL {stats['expected_loss']:.4%}, VaR 99.9% {stats['var_999']:.4%}; about "
          f"{defaults_per_scenario * pool.size:.0f} defaults per scenario")
    for row in result.tranche_results():
        print(f"  {row['name']:<7} EL {row['expected_loss']:.4%}  P(loss) {row['probability_of_loss']:.4%}  "
              f"WAL {row['wal_years']:.2f} y")
    met = "met" if full < 30 and full < 5 * draws else "NOT met"
    print(f"target: full run < 30 s and < 5× raw draws -> {met}")

    if args.write:
        load = os.getloadavg()
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("\n".join([
            "# ABS simulation benchmark",
            "",
            f"Command: `.venv/bin/python bench/abs_simulation.py {' '.join(sys.argv[1:])}`  ",
            f"Machine: {os.cpu_count()}-core {platform.machine()} ({cpu_model()}), "
            f"Python {platform.python_version()}, numpy {np.__version__}; single-threaded (BLAS pinned to 1). "
            f"Load average at the end of the run: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
            "(other CPU-heavy jobs were running, so timings are noisy).",
            "",
            f"Workload: {args.scenarios:,} scenarios × {pool.size:,} facilities × {horizon} monthly periods, "
            "4 classes, sequential waterfall with fees, reserve, OC/IC tests; sector copula.",
            "",
            "| measurement | value |",
            "|---|---|",
            f"| raw numpy draws, {args.scenarios:,} × {pool.size:,} standard normals | {draws:.2f} s |",
            f"| pool losses only (copula defaults) | {loss_only:.2f} s ({loss_only / draws:.2f}× draws) |",
            f"| full deal: defaults, default months, cash flows, waterfall | {full:.2f} s "
            f"({full / draws:.2f}× draws) |",
            f"| peak traced (tracemalloc) memory, full deal | {peak / 2**20:.0f} MiB |",
            f"| process peak RSS | {rss_after:.0f} MiB |",
            "",
            f"Target (full run < 30 s and < 5× the raw draws): {met}.",
            "",
        ]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
