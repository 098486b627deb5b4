"""Between frozen portal rows and the ABS engine (``lending.core.abs``): plain dicts in, plain dicts out.

No Django here: the services hand in the frozen facility rows of a pool version (``PoolFacility`` values) or a
run's ``inputs`` snapshot, and store what comes back.

Obligors, not facilities, are the engine's rows. The copula draws one latent variable per row, so a borrower
with two facilities in the pool must be one row (``lending.core.abs.pool``): its balance is the sum of the
drawn balances, and its PD (12 months), LGD, remaining term and coupon are balance-weighted over its
facilities; its repayment profile is that of its largest facility. Stratification is by facility (what was
picked); concentration is by obligor (what can default).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from .core.abs import Pool, Shock, simulate_deal, size_tranches, stratify, structure_from_dict, what_if
from .core.abs.closed_form import one_factor_loss_distribution
from .core.abs.pool import pool_summary, top_obligor_concentration, weighted_average_coupon, weighted_average_life_years
from .core.abs.ratings import ILLUSTRATIVE_RATING_TABLE, band_target, rating_table
from .core.abs.whatif import DEFAULT_ALARM_PD_MULTIPLIERS

HISTOGRAM_BINS = 60
CLOSED_FORM_LOSS_STEP = 2.5e-4
NO_PLEDGED_PRESS = -1  # the alarm "level" of an obligor with no pledged press: a health shock leaves it alone
TOP_OBLIGORS = 10
STRATA = ("sector", "region", "pd_band", "health_band", "remaining_term", "collateral_type")


# --- Frozen facility rows → strata keys -----------------------------------------------------------------

def health_band(row: Mapping) -> str:
    """``level-0`` .. ``level-3`` (worst shared pledged press), ``not-shared`` or ``unsecured``."""
    if not row["pledged_presses"]:
        return "unsecured"
    if row["health_level"] is None:
        return "not-shared"
    return f"level-{int(row['health_level'])}"


def term_bucket(months: int) -> str:
    """12-month buckets of the remaining term: ``1-12``, ``13-24`` ..."""
    low = (int(months) - 1) // 12 * 12
    return f"{low + 1}-{low + 12}"


def stratum_key(row: Mapping, by: str) -> str:
    if by == "sector":
        return row["sector"] or "unassigned"
    if by == "region":
        return row["region"] or "unassigned"
    if by == "pd_band":
        return f"grade {int(row['grade'])}"
    if by == "health_band":
        return health_band(row)
    if by == "remaining_term":
        return term_bucket(row["remaining_months"])
    if by == "collateral_type":
        return "pledged-presses" if row["pledged_presses"] else "unsecured"
    raise ValueError(f"unknown stratum {by!r}")


def _facility_pool(rows: list[Mapping], category: Iterable[str] | None = None) -> Pool:
    """The pool of facilities (one row each), with ``category`` in the sector column for stratification."""
    return Pool.from_arrays(
        ids=[row["reference"] for row in rows], balance=[float(row["balance"]) for row in rows],
        lgd=[row["lgd"] for row in rows], maturity_months=[row["remaining_months"] for row in rows],
        pd_annual=[row["pd_annual"] for row in rows], rate=[float(row["annual_rate"]) for row in rows],
        amortisation=[row["amortisation"] for row in rows],
        sector=list(category) if category is not None else [row["sector"] for row in rows])


# --- Obligor rows (the engine's) ---------------------------------------------------------------------------

def engine_rows(rows: list[Mapping]) -> list[dict]:
    """One row per borrower (see the module docstring), ordered by borrower id (the order fixes the draws)."""
    by_borrower: dict[int, list[Mapping]] = {}
    for row in rows:
        by_borrower.setdefault(int(row["borrower_id"]), []).append(row)
    obligors = []
    for borrower_id in sorted(by_borrower):
        group = sorted(by_borrower[borrower_id], key=lambda r: r["reference"])
        weights = np.array([float(r["balance"]) for r in group])
        total = float(weights.sum())
        w = weights / total

        def wavg(key):
            return float(np.dot(w, [float(r[key]) for r in group]))

        largest = group[int(np.argmax(weights))]
        levels = [int(r["condition_level"]) for r in group if r["pledged_presses"]]
        obligors.append({
            "id": str(borrower_id), "name": group[0]["borrower_name"], "balance": total,
            "pd_annual": wavg("pd_annual"), "lgd": wavg("lgd"),
            "maturity_months": max(1, int(round(wavg("remaining_months")))), "rate": wavg("annual_rate"),
            "amortisation": largest["amortisation"], "sector": group[0]["sector"] or "unassigned",
            "condition_level": max(levels) if levels else NO_PLEDGED_PRESS,
            "facilities": [r["reference"] for r in group],
        })
    return obligors


def engine_pool(obligors: list[Mapping]) -> Pool:
    return Pool.from_arrays(
        ids=[o["id"] for o in obligors], balance=[o["balance"] for o in obligors], lgd=[o["lgd"] for o in obligors],
        maturity_months=[o["maturity_months"] for o in obligors], pd_annual=[o["pd_annual"] for o in obligors],
        rate=[o["rate"] for o in obligors], amortisation=[o["amortisation"] for o in obligors],
        sector=[o["sector"] for o in obligors])


def engine_structure(definition: Mapping):
    """The validated ``Structure`` (raises ``StructureError`` naming the tranche and field)."""
    return structure_from_dict(definition)


# --- Pool analysis -----------------------------------------------------------------------------------------

def pool_analysis(rows: list[Mapping]) -> dict:
    """Stratification by facility (count, balance, share, weighted PD (12 months) and LGD, coupon, remaining
    term) for every stratum in ``STRATA``; concentration by obligor; weighted averages (coupon, life, PD, LGD).
    Money in the pool's currency units, rates and probabilities as fractions, life in years."""
    facilities = _facility_pool(rows)
    strata = {}
    for by in STRATA:
        keys = [stratum_key(row, by) for row in rows]
        table = stratify(_facility_pool(rows, keys), "sector")
        strata[by] = [{"key": key, **{name: value for name, value in values.items() if name != "weighted_pd"}}
                      for key, values in table.items()]
    obligors = engine_rows(rows)
    obligor_pool = engine_pool(obligors)
    names = {o["id"]: o["name"] for o in obligors}
    concentration = top_obligor_concentration(obligor_pool, top_n=TOP_OBLIGORS)
    concentration["largest_name"] = names[concentration["largest_id"]]
    for entry in concentration["top"]:
        entry["name"] = names[entry["id"]]
    shares = facilities.balance / facilities.total_balance
    return {
        "strata": strata,
        "concentration": concentration,
        "weighted": {
            "coupon": weighted_average_coupon(facilities),
            "life_years": weighted_average_life_years(facilities, cpr=0.0),
            "pd_annual": float(np.dot(shares, facilities.pd_annual)),
            "lgd": float(np.dot(shares, facilities.lgd)),
            "remaining_months": float(np.dot(shares, facilities.maturity_months)),
        },
        "longest_remaining_months": int(facilities.max_maturity_months),
    }


# --- Simulation ------------------------------------------------------------------------------------------

def horizon_of(structure, pool: Pool) -> int:
    return structure.horizon_for(pool.max_maturity_months)


def simulate(inputs: Mapping, *, on_stage: Callable[[str, int], None] = lambda stage, progress: None) -> dict:
    """The results of a simulation run from its ``inputs`` snapshot: ``DealResult.to_dict`` (pool loss
    statistics and histogram, per-tranche results with expected cash flows, the illustrative rating table)
    plus the pool summary and the noise-free one-factor closed form (like ``lending.core.abs.cli``)."""
    pool = engine_pool(inputs["obligors"])
    structure = engine_structure(inputs["structure"])
    horizon = horizon_of(structure, pool)
    on_stage("simulating", 10)
    deal = simulate_deal(pool, structure, scenarios=int(inputs["scenarios"]), seed=int(inputs["seed"]))
    on_stage("summarising", 80)
    result = deal.to_dict(bins=HISTOGRAM_BINS)
    result["pool"]["summary"] = pool_summary(pool, horizon_months=horizon, cpr=structure.assumptions.cpr)
    closed = None
    if structure.assumptions.copula.is_one_factor:
        on_stage("closed form", 90)
        closed = one_factor_loss_distribution(pool, structure.assumptions.copula, horizon,
                                              loss_step=CLOSED_FORM_LOSS_STEP)
    result["pool"]["closed_form"] = None if closed is None else {**closed.statistics(),
                                                                 "loss_step": CLOSED_FORM_LOSS_STEP}
    for row, tranche in zip(result["tranches"], structure.tranches):
        row["closed_form"] = None if closed is None else closed.tranche_metrics(tranche.attachment,
                                                                                tranche.detachment)
    result["horizon_months"] = horizon
    result["obligors"] = len(inputs["obligors"])
    return result


def health_shock_multipliers() -> dict[int, float]:
    """PD multiplier for an obligor whose worst pledged press is at each level when every pledged press worsens
    by one alarm level: the ratio of the illustrative per-level multipliers of ``core.abs.whatif`` (the PD
    already reflects the current level); level 3 cannot worsen; no pledged press, no change."""
    levels = sorted(DEFAULT_ALARM_PD_MULTIPLIERS)
    top = levels[-1]
    ratios = {level: DEFAULT_ALARM_PD_MULTIPLIERS[min(level + 1, top)] / DEFAULT_ALARM_PD_MULTIPLIERS[level]
              for level in levels}
    ratios[NO_PLEDGED_PRESS] = 1.0
    return ratios


def shock_from_spec(spec: Mapping, obligors: list[Mapping]) -> Shock:
    """The engine's ``Shock`` from a what-if spec ``{"correlation", "pd_multiplier", "grade_shift",
    "health_notches"}`` (health_notches 0 or 1: every pledged press one alarm level worse)."""
    levels = None
    if int(spec.get("health_notches") or 0):
        levels = [int(o["condition_level"]) for o in obligors]
    correlation = spec.get("correlation")
    return Shock(correlation=None if correlation is None else float(correlation),
                 pd_multiplier=float(spec.get("pd_multiplier") or 1.0), grade_shift=int(spec.get("grade_shift") or 0),
                 alarm_levels=levels, alarm_pd_multipliers=health_shock_multipliers())


def simulate_what_if(inputs: Mapping, *, on_stage: Callable[[str, int], None] = lambda stage, progress: None) -> dict:
    """Base and shocked runs with the same seed (common random numbers) and their deltas
    (``lending.core.abs.what_if``), plus the pool's weighted horizon PD before and after the shock."""
    from .core.abs.whatif import apply_shock

    pool = engine_pool(inputs["obligors"])
    structure = engine_structure(inputs["structure"])
    shock = shock_from_spec(inputs["shock"], inputs["obligors"])
    horizon = horizon_of(structure, pool)
    on_stage("simulating", 10)
    result = what_if(pool, structure, shock, method="simulation", scenarios=int(inputs["scenarios"]),
                     seed=int(inputs["seed"]))
    on_stage("summarising", 90)
    shocked_pool, shocked_assumptions = apply_shock(pool, structure.assumptions, shock, horizon)
    weights = pool.balance / pool.total_balance
    result["weighted_horizon_pd"] = {"base": float(np.dot(weights, pool.horizon_pd(horizon))),
                                     "shocked": float(np.dot(weights, shocked_pool.horizon_pd(horizon)))}
    result["correlation"] = {"base": structure.assumptions.copula.rho,
                             "shocked": shocked_assumptions.copula.rho}
    result.update(scenarios=int(inputs["scenarios"]), seed=int(inputs["seed"]), horizon_months=horizon)
    return result


# --- Sizing ------------------------------------------------------------------------------------------------

def size(obligors: list[Mapping], base_definition: Mapping, *, tranches: list[Mapping], equity_name: str,
         metric: str, scenarios: int, seed: int) -> tuple[dict, dict]:
    """Size the senior tranches (senior first) to their targets and return ``(definition, sizing)``.

    ``tranches``: ``[{"name", "target", "coupon"}]`` with ``target`` a band of the illustrative rating table
    ("AAA") or a fraction of the tranche; the equity takes what is left below. ``base_definition`` gives the
    waterfall, reserve, tests and assumptions (its own tranches are ignored); the pool losses come from the
    copula of its assumptions over its horizon (``size_tranches`` with a ``Pool``), with ``scenarios`` and
    ``seed``: re-simulating with the same seed gives the same losses, on which each attachment meets its target
    and the next lower point would not. A tranche with no room left (its target cannot be met below the one
    above) gets no width and is left out, with a note.
    """
    pool = engine_pool(obligors)
    probe = engine_structure({**base_definition,
                              "tranches": [{"name": "probe", "attachment": 0.0, "detachment": 1.0}],
                              "oc": {}, "ic": {}})
    horizon = horizon_of(probe, pool)
    result = size_tranches(pool, [t["target"] for t in tranches], metric=metric, copula=probe.assumptions.copula,
                           horizon_months=horizon, scenarios=int(scenarios), seed=int(seed))
    rows, notes = [], []
    for spec, attachment, detachment, achieved, target in zip(tranches, result.attachments, result.detachments,
                                                              result.achieved, result.targets):
        if not detachment - attachment > 0:
            notes.append({"tranche": spec["name"], "note": "no room"})
            continue
        rows.append({"name": spec["name"], "attachment": attachment, "detachment": detachment,
                     "coupon": float(spec.get("coupon") or 0.0)})
    bottom = result.attachments[-1] if result.attachments else 1.0
    if bottom > 0:
        rows.append({"name": equity_name, "attachment": 0.0, "detachment": bottom, "coupon": 0.0})
    names = {row["name"] for row in rows}
    definition = {**{k: v for k, v in base_definition.items() if k not in ("tranches", "oc", "ic")},
                  "tranches": rows,
                  "oc": {k: v for k, v in (base_definition.get("oc") or {}).items() if k in names},
                  "ic": {k: v for k, v in (base_definition.get("ic") or {}).items() if k in names}}
    sizing = {"metric": metric, "scenarios": int(scenarios), "seed": int(seed), "horizon_months": horizon,
              "rating_table": rating_table()["label"],
              "tranches": [{"name": spec["name"], "target": spec["target"], "target_value": target,
                            "attachment": attachment, "detachment": detachment, "achieved": achieved}
                           for spec, attachment, detachment, achieved, target in
                           zip(tranches, result.attachments, result.detachments, result.achieved, result.targets)],
              "notes": notes}
    return definition, sizing


def rating_bands() -> list[str]:
    return [row["band"] for row in ILLUSTRATIVE_RATING_TABLE]


def band_value(band: str, metric: str) -> float:
    """The largest ``metric`` a tranche may have in ``band`` of the illustrative rating table."""
    return band_target(band, metric)


def normalised_definition(structure) -> dict:
    """The STRUCTURE.json layout of a validated ``Structure``: tranches senior first with their attachment
    points snapped to the exact tiling, and every default written out (so a stored version says everything)."""
    assumptions, copula = structure.assumptions, structure.assumptions.copula
    definition = {
        "tranches": [{"name": t.name, "attachment": t.attachment, "detachment": t.detachment, "coupon": t.coupon}
                     for t in structure.tranches],
        "waterfall": structure.waterfall, "senior_fee_rate": structure.senior_fee_rate,
        "reserve": {"target_fraction": structure.reserve.target_fraction,
                    "floor_fraction": structure.reserve.floor_fraction,
                    "initial_fraction": structure.reserve.initial_fraction},
        "oc": dict(structure.oc_triggers), "ic": dict(structure.ic_triggers),
        "assumptions": {"cpr": assumptions.cpr, "recovery_lag_months": int(assumptions.recovery_lag_months),
                        "correlation": copula.rho, "sector_correlation": dict(copula.sector_rho),
                        "global_factor_weight": copula.global_factor_weight,
                        "sector_global_weight": dict(copula.sector_global_weight)},
    }
    if structure.horizon_months is not None:
        definition["horizon_months"] = int(structure.horizon_months)
    return definition
