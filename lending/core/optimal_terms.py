"""Optimal loan terms: a vectorised search of a discrete menu of (rate, limit, tenor).

Objective: the risk-adjusted return (economic profit) per year,
    RAR = limit [rate - funding - PD LGD - operating cost - K (hurdle - risk-free)],
i.e. the exposure times the margin over the break-even risk-based rate (``pricing``), with the
facility assumed fully drawn (EAD = limit, a conservative 100 % conversion factor).

How the terms move the PD (the link that makes the optimum interior). The instalment sets the
debt service and so the debt-service cover:
    DSCR(terms) = annual cash flow available / (existing debt service + 12 x annuity instalment),
and the PD responds to the DSCR through a logit elasticity anchored at the current assessment:
    logit PD(terms) = logit PD_now + elasticity (ln DSCR_now - ln DSCR(terms)).
A higher rate, a larger limit or a shorter tenor raises the instalment, lowers the DSCR and
raises the PD, so expected loss and capital grow faster than linearly with the limit and the
profit peaks inside the menu. DSCR is among the strongest drivers of corporate and SME default
(e.g. Altman & Sabato, "Modelling credit risk for SMEs", Abacus 2007; the "ability to pay" factor
of Basel specialised-lending slotting, BCBS 2006 Annex 6). The elasticity is a calibrated input:
the slope of the PD model's logit in ln DSCR (e.g. coefficient x WoE slope of a DSCR variable of
the scorecard); the default 2.0 means a 10 % lower DSCR multiplies the odds of default by ~1.23.

Capital K is the Basel IRB K (``capital.irb_capital``) at the terms' PD, the LGD and the effective
maturity of the amortising loan, (n + 1) / 24 years for n monthly instalments, clamped to [1, 5].

Constraints (each reported by name): PD <= appetite, DSCR >= minimum, K x limit <= capital
allocation, limit <= limit cap, product bounds on rate, limit and tenor, the largest rate and limit
moves per review, and tenor <= the financed press's remaining useful life.

The menu: rates in ``rate_step_bps`` steps and limits in ``limit_step_fraction`` steps of the
current limit around the current terms, and a list of tenors; all points are evaluated at once
with numpy broadcasting over a (rate, limit, tenor) grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit

from lending.core.amortisation import MONTHS_PER_YEAR, annuity_payment
from lending.core.capital import amortising_effective_maturity_years, effective_maturity_years, irb_capital
from lending.core.pricing import raroc, risk_adjusted_return

BASIS_POINTS_PER_UNIT = 10_000.0

TERMS_CONSTRAINTS = (
    "pd_appetite",
    "min_dscr",
    "capital_allocation",
    "limit_cap",
    "product_rate_bounds",
    "product_limit_bounds",
    "product_tenor_bounds",
    "max_rate_move",
    "max_limit_move",
    "remaining_useful_life",
)
"""Names of the constraints of the terms search, in reporting order."""


@dataclass(frozen=True)
class CurrentTerms:
    """The facility's terms today: rate (fraction per year), limit (currency units), tenor (months)."""

    annual_rate: float
    limit: float
    tenor_months: int


@dataclass(frozen=True)
class BorrowerRiskProfile:
    """Risk inputs of the borrower at the current terms.

    pd_at_current_terms          one-year PD (after any health overlay), fraction.
    lgd                          loss given default, fraction (e.g. ``collateral_lgd``).
    annual_cash_flow_available   cash flow available for debt service per year, currency units,
                                 > 0 (e.g. EBITDA after expected downtime).
    existing_annual_debt_service other debt service per year, currency units.
    dscr_pd_elasticity           d logit PD / d(-ln DSCR), >= 0 (see module docstring).
    sales_eur_m                  annual sales in EUR millions for the SME capital adjustment.
    """

    pd_at_current_terms: float
    lgd: float
    annual_cash_flow_available: float
    existing_annual_debt_service: float = 0.0
    dscr_pd_elasticity: float = 2.0
    sales_eur_m: float | None = None


@dataclass(frozen=True)
class TermsPolicy:
    """The lender's constraints for this facility (rates as fractions per year, amounts in
    currency units, moves per review)."""

    pd_appetite: float
    min_dscr: float
    capital_allocation: float
    limit_cap: float
    product_min_rate: float
    product_max_rate: float
    product_min_limit: float
    product_max_limit: float
    product_min_tenor_months: int
    product_max_tenor_months: int
    max_rate_move_bps: float
    max_limit_move_fraction: float
    remaining_useful_life_months: int


@dataclass(frozen=True)
class FundingEconomics:
    """Cost side of the return, fractions per year: cost of funds, required return on equity,
    risk-free return earned on the capital held, operating cost per unit of exposure."""

    funding_cost: float
    hurdle_return: float
    risk_free_return: float
    operating_cost: float


@dataclass(frozen=True)
class TermsMenu:
    """The discrete menu searched: rates current +/- ``rate_span_bps`` in ``rate_step_bps`` steps;
    limits current x (1 +/- ``limit_span_fraction``) in ``limit_step_fraction`` steps; the listed
    tenors (the current tenor is always added). Spans wider than the per-review moves let the
    search show when a move limit is what binds."""

    rate_step_bps: float = 5.0
    rate_span_bps: float = 300.0
    limit_step_fraction: float = 0.01
    limit_span_fraction: float = 0.5
    tenor_options_months: tuple[int, ...] = (12, 24, 36, 48, 60, 72, 84, 96, 108, 120)


@dataclass(frozen=True)
class TermsEvaluation:
    """One point of the menu and its numbers.

    label                     "chosen", "current terms", "keep current rate", ...
    annual_rate, rate_change_bps, limit, limit_change_fraction, tenor_months  the terms.
    monthly_instalment        annuity instalment on the full limit, currency units.
    dscr, pd, k               cover, PD (fraction), IRB capital per unit exposure (fraction).
    effective_maturity_years  M used for K.
    expected_loss_per_year    PD LGD limit; capital: K limit (currency units).
    risk_adjusted_return_per_year  the objective, currency units per year.
    raroc                     (rate - funding - PD LGD - opex + K rf) / K, fraction per year.
    violated_constraints      names from ``TERMS_CONSTRAINTS`` this point breaks (empty if feasible).
    """

    label: str
    annual_rate: float
    rate_change_bps: float
    limit: float
    limit_change_fraction: float
    tenor_months: int
    monthly_instalment: float
    dscr: float
    pd: float
    k: float
    effective_maturity_years: float
    expected_loss_per_year: float
    capital: float
    risk_adjusted_return_per_year: float
    raroc: float
    violated_constraints: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """Plain JSON-able dict for snapshots and the UI."""
        values = dict(self.__dict__)
        values["violated_constraints"] = list(self.violated_constraints)
        return values


@dataclass(frozen=True)
class OptimalTermsResult:
    """Outcome of ``optimal_terms``.

    chosen               the best feasible menu point, or None when no point is feasible.
    current              the current terms evaluated the same way (with any violations).
    alternatives         up to three other feasible points: best keeping the current rate, the
                         current limit, the current tenor, or at another tenor.
    binding_constraints  constraints that, relaxed alone, would allow a better menu point (or,
                         with no feasible point, would make one feasible).
    menu_edges           menu bounds the chosen point sits on ("rate_lower", "limit_upper", ...);
                         empty when the optimum is interior to the menu.
    excluded_by          number of menu points each constraint excludes.
    menu_size, feasible_count  points searched and points feasible.
    """

    chosen: TermsEvaluation | None
    current: TermsEvaluation
    alternatives: list[TermsEvaluation]
    binding_constraints: tuple[str, ...]
    menu_edges: tuple[str, ...]
    excluded_by: dict[str, int]
    menu_size: int
    feasible_count: int
    assumptions: dict[str, float] = field(default_factory=dict)


def pd_given_dscr(pd_reference, dscr_reference, dscr, elasticity) -> np.ndarray:
    """PD at another debt-service cover: logit PD = logit PD_ref + elasticity (ln DSCR_ref - ln DSCR).

    Inputs broadcast; DSCRs must be positive; PD fractions. Output: PD array. See the module
    docstring for the rationale of this link.
    """
    dscr = np.asarray(dscr, dtype=float)
    if np.any(dscr <= 0) or np.any(np.asarray(dscr_reference) <= 0):
        raise ValueError("DSCR must be positive for the PD link (no cash flow means no capacity)")
    reference = np.clip(np.asarray(pd_reference, dtype=float), 1e-9, 1 - 1e-9)
    return expit(
        logit(reference) + np.asarray(elasticity, dtype=float) * (np.log(dscr_reference) - np.log(dscr))
    )


class _TermsModel:
    """Evaluates arrays of terms for one borrower and cost structure (see the module docstring)."""

    def __init__(self, current: CurrentTerms, borrower: BorrowerRiskProfile, economics: FundingEconomics):
        self.borrower = borrower
        self.economics = economics
        self.dscr_now = self.dscr(current.annual_rate, current.limit, current.tenor_months)

    def dscr(self, rate, limit, tenor_months) -> np.ndarray:
        """Cash flow available / (existing debt service + 12 x annuity instalment on the limit)."""
        instalment = np.asarray(annuity_payment(limit, rate, tenor_months))
        annual_debt_service = self.borrower.existing_annual_debt_service + MONTHS_PER_YEAR * instalment
        return self.borrower.annual_cash_flow_available / annual_debt_service

    def evaluate(self, rate, limit, tenor_months) -> dict[str, np.ndarray]:
        """Every quantity of ``TermsEvaluation`` for broadcastable arrays of terms."""
        rate, limit, tenor_months = np.broadcast_arrays(
            np.asarray(rate, dtype=float),
            np.asarray(limit, dtype=float),
            np.asarray(tenor_months, dtype=float),
        )
        borrower, economics = self.borrower, self.economics
        dscr = self.dscr(rate, limit, tenor_months)
        pd = pd_given_dscr(borrower.pd_at_current_terms, self.dscr_now, dscr, borrower.dscr_pd_elasticity)
        maturity = np.asarray(effective_maturity_years(amortising_effective_maturity_years(tenor_months)))
        k = np.asarray(irb_capital(pd, borrower.lgd, maturity, borrower.sales_eur_m))
        return {
            "rate": rate,
            "limit": limit,
            "tenor_months": tenor_months,
            "monthly_instalment": np.asarray(annuity_payment(limit, rate, tenor_months)),
            "dscr": dscr,
            "pd": pd,
            "k": k,
            "effective_maturity_years": maturity,
            "expected_loss_per_year": pd * borrower.lgd * limit,
            "capital": k * limit,
            "risk_adjusted_return_per_year": np.asarray(
                risk_adjusted_return(
                    rate,
                    pd,
                    borrower.lgd,
                    k,
                    limit,
                    economics.funding_cost,
                    economics.hurdle_return,
                    economics.risk_free_return,
                    economics.operating_cost,
                )
            ),
            "raroc": np.asarray(
                raroc(
                    rate,
                    pd,
                    borrower.lgd,
                    k,
                    economics.funding_cost,
                    economics.risk_free_return,
                    economics.operating_cost,
                )
            ),
        }


def _constraint_masks(
    values: dict[str, np.ndarray],
    rate_steps: np.ndarray,
    limit_steps: np.ndarray,
    menu: TermsMenu,
    policy: TermsPolicy,
) -> dict[str, np.ndarray]:
    """Feasibility of each point for each constraint (True = satisfied). Move limits compare the
    integer step counts so that a move of exactly the allowed size is not lost to rounding."""
    rate, limit, tenor = values["rate"], values["limit"], values["tenor_months"]
    tolerance = 1e-9
    return {
        "pd_appetite": values["pd"] <= policy.pd_appetite,
        "min_dscr": values["dscr"] >= policy.min_dscr,
        "capital_allocation": values["capital"] <= policy.capital_allocation * (1 + tolerance),
        "limit_cap": limit <= policy.limit_cap * (1 + tolerance),
        "product_rate_bounds": (rate >= policy.product_min_rate - tolerance)
        & (rate <= policy.product_max_rate + tolerance),
        "product_limit_bounds": (limit >= policy.product_min_limit * (1 - tolerance))
        & (limit <= policy.product_max_limit * (1 + tolerance)),
        "product_tenor_bounds": (tenor >= policy.product_min_tenor_months)
        & (tenor <= policy.product_max_tenor_months),
        "max_rate_move": np.abs(rate_steps) * menu.rate_step_bps <= policy.max_rate_move_bps + tolerance,
        "max_limit_move": np.abs(limit_steps) * menu.limit_step_fraction
        <= policy.max_limit_move_fraction + tolerance,
        "remaining_useful_life": tenor <= policy.remaining_useful_life_months,
    }


def _evaluation_at(
    values: dict[str, np.ndarray], masks: dict[str, np.ndarray], index, label: str, current: CurrentTerms
) -> TermsEvaluation:
    rate = float(values["rate"][index])
    limit = float(values["limit"][index])
    return TermsEvaluation(
        label=label,
        annual_rate=rate,
        rate_change_bps=round((rate - current.annual_rate) * BASIS_POINTS_PER_UNIT, 6),
        limit=limit,
        limit_change_fraction=round(limit / current.limit - 1.0, 9),
        tenor_months=int(values["tenor_months"][index]),
        monthly_instalment=float(values["monthly_instalment"][index]),
        dscr=float(values["dscr"][index]),
        pd=float(values["pd"][index]),
        k=float(values["k"][index]),
        effective_maturity_years=float(values["effective_maturity_years"][index]),
        expected_loss_per_year=float(values["expected_loss_per_year"][index]),
        capital=float(values["capital"][index]),
        risk_adjusted_return_per_year=float(values["risk_adjusted_return_per_year"][index]),
        raroc=float(values["raroc"][index]),
        violated_constraints=tuple(name for name in TERMS_CONSTRAINTS if not masks[name][index]),
    )


def _validate_inputs(current: CurrentTerms, borrower: BorrowerRiskProfile, menu: TermsMenu) -> None:
    if current.limit <= 0 or current.tenor_months < 1 or current.annual_rate < 0:
        raise ValueError("current terms need a positive limit, a tenor of at least one month and a rate >= 0")
    if not 0 <= borrower.pd_at_current_terms <= 1 or not 0 <= borrower.lgd <= 1:
        raise ValueError("pd_at_current_terms and lgd must be fractions in [0, 1]")
    if borrower.annual_cash_flow_available <= 0:
        raise ValueError("annual_cash_flow_available must be positive to size any debt service")
    if borrower.dscr_pd_elasticity < 0:
        raise ValueError("dscr_pd_elasticity must not be negative")
    if menu.rate_step_bps <= 0 or menu.limit_step_fraction <= 0:
        raise ValueError("menu steps must be positive")
    if any(tenor < 1 for tenor in menu.tenor_options_months):
        raise ValueError("tenor options must be at least one month")


def optimal_terms(
    current: CurrentTerms,
    borrower: BorrowerRiskProfile,
    policy: TermsPolicy,
    economics: FundingEconomics,
    menu: TermsMenu | None = None,
) -> OptimalTermsResult:
    """Best risk-adjusted terms on a discrete menu, with alternatives and binding constraints.

    Inputs: the current terms, the borrower's risk profile at those terms, the lender's policy,
    its costs, and the menu (defaults: 5 bp rate steps +/- 300 bp, 1 % limit steps +/- 50 %, tenors
    12..120 months). Output: ``OptimalTermsResult``. Method: exhaustive evaluation of the
    (rate x limit x tenor) grid with numpy broadcasting, the PD-DSCR link and objective described
    in the module docstring; "binding" means that relaxing that constraint alone admits a menu
    point with a higher risk-adjusted return.
    """
    menu = menu or TermsMenu()
    _validate_inputs(current, borrower, menu)
    model = _TermsModel(current, borrower, economics)

    rate_span_steps = round(menu.rate_span_bps / menu.rate_step_bps)
    rate_steps = np.arange(-rate_span_steps, rate_span_steps + 1)
    rates = current.annual_rate + rate_steps * menu.rate_step_bps / BASIS_POINTS_PER_UNIT
    rate_steps, rates = rate_steps[rates >= 0], rates[rates >= 0]
    limit_span_steps = round(menu.limit_span_fraction / menu.limit_step_fraction)
    limit_steps = np.arange(-limit_span_steps, limit_span_steps + 1)
    limits = current.limit * (1.0 + limit_steps * menu.limit_step_fraction)
    limit_steps, limits = limit_steps[limits > 0], limits[limits > 0]
    tenors = np.unique(np.append(np.asarray(menu.tenor_options_months, dtype=int), current.tenor_months))

    grid_shape = (rates.size, limits.size, tenors.size)
    values = model.evaluate(rates[:, None, None], limits[None, :, None], tenors[None, None, :])
    rate_step_grid = np.broadcast_to(rate_steps[:, None, None], grid_shape)
    limit_step_grid = np.broadcast_to(limit_steps[None, :, None], grid_shape)
    masks = _constraint_masks(values, rate_step_grid, limit_step_grid, menu, policy)
    objective = values["risk_adjusted_return_per_year"]

    mask_stack = np.stack([masks[name] for name in TERMS_CONSTRAINTS])
    feasible = mask_stack.all(axis=0)
    excluded_by = {name: int((~masks[name]).sum()) for name in TERMS_CONSTRAINTS}

    current_values = model.evaluate(current.annual_rate, current.limit, current.tenor_months)
    current_masks = _constraint_masks(current_values, np.asarray(0), np.asarray(0), menu, policy)
    current_evaluation = _evaluation_at(current_values, current_masks, (), "current terms", current)

    def best_index(mask: np.ndarray):
        if not mask.any():
            return None
        return np.unravel_index(int(np.argmax(np.where(mask, objective, -np.inf))), grid_shape)

    chosen_index = best_index(feasible)
    binding = []
    for position, name in enumerate(TERMS_CONSTRAINTS):
        others_hold = np.delete(mask_stack, position, axis=0).all(axis=0)
        relaxed_index = best_index(others_hold)
        if relaxed_index is None:
            continue
        improves = chosen_index is None or objective[relaxed_index] > objective[chosen_index] + 1e-9 * max(
            1.0, abs(objective[chosen_index])
        )
        if improves:
            binding.append(name)

    if chosen_index is None:
        return OptimalTermsResult(
            chosen=None,
            current=current_evaluation,
            alternatives=[],
            binding_constraints=tuple(binding),
            menu_edges=(),
            excluded_by=excluded_by,
            menu_size=int(objective.size),
            feasible_count=0,
            assumptions={"dscr_at_current_terms": float(model.dscr_now)},
        )

    chosen = _evaluation_at(values, masks, chosen_index, "chosen", current)
    rate_index, limit_index, tenor_index = chosen_index
    menu_edges = tuple(
        label
        for label, at_edge in (
            ("rate_lower", rate_index == 0),
            ("rate_upper", rate_index == rates.size - 1),
            ("limit_lower", limit_index == 0),
            ("limit_upper", limit_index == limits.size - 1),
            ("tenor_lower", tenor_index == 0),
            ("tenor_upper", tenor_index == tenors.size - 1),
        )
        if at_edge
    )

    rate_grid, limit_grid, tenor_grid = np.meshgrid(rate_steps, limit_steps, tenors, indexing="ij")
    alternative_masks = (
        ("keep current rate", rate_grid == 0),
        ("keep current limit", limit_grid == 0),
        ("keep current tenor", tenor_grid == current.tenor_months),
        ("best at another tenor", tenor_grid != tenors[tenor_index]),
    )
    alternatives, seen = [], {chosen_index}
    for label, restriction in alternative_masks:
        index = best_index(feasible & restriction)
        if index is None or index in seen:
            continue
        seen.add(index)
        alternatives.append(_evaluation_at(values, masks, index, label, current))
        if len(alternatives) == 3:
            break

    return OptimalTermsResult(
        chosen=chosen,
        current=current_evaluation,
        alternatives=alternatives,
        binding_constraints=tuple(binding),
        menu_edges=menu_edges,
        excluded_by=excluded_by,
        menu_size=int(objective.size),
        feasible_count=int(feasible.sum()),
        assumptions={"dscr_at_current_terms": float(model.dscr_now)},
    )
