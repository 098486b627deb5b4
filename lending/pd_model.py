"""The PD model: a WoE scorecard trained on the German credit data, applied to firms through proxies.

No Django here: plain values in, plain values out (the services read rows and call these).

Training (``train_pd_model``): ``lending.core.scorecard.fit_scorecard`` on a seeded stratified 70 % split of
the Statlog German credit data (Hofmann 1994, UCI, CC BY 4.0), validated on the held-out 30 % (AUC, Gini, KS,
calibration by grade: ``lending.core.validation``), plus the mean AUC over five further seeded splits. The
stored model is the one fitted on the training split, so the stored validation figures are that model's own.

Which attributes, and why: the scorecard uses only the German attributes that have a firm-level analogue a
lender actually observes (``VARIABLES``); protected attributes (sex, nationality) and personal ones (housing,
telephone, dependants, job, age, residence) are left out. Each attribute is fed by a documented proxy
(``applicant_values``): e.g. the checking-account status by the current ratio (overdrawn ~ current ratio
below 1), the credit amount by leverage (debt in years of EBITDA x 1000 DM), the instalment burden by the
debt-service cover. These are proxies, not a calibrated corporate model; they are shown on the model page.

Calibration: the German sample holds 30 % bads, far above a lender's 12-month default rate, so the log-odds
are shifted by the prior correction ln(odds_sample / odds_target) (King & Zeng, "Logistic regression in rare
events data", Political Analysis 2001) to the portfolio's long-run default rate (``TARGET_DEFAULT_RATE``).
This moves every PD without changing the ranking, so AUC and KS are unaffected.

Equipment health is not a scorecard variable (the German data has no presses); it enters afterwards through
the logit overlay of ``lending.core.health_overlay`` (see ``lending.services``), never twice.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from lending.core.german_credit import CODE_LABELS, NUMERIC_ATTRIBUTES, load_german_credit
from lending.core.scorecard import Scorecard, VariableSpec, fit_scorecard
from lending.core.validation import calibration_by_grade, gini_coefficient, ks_statistic, roc_auc, stratified_split

MODEL_NAME = "German-credit scorecard with firm proxies"
TARGET_DEFAULT_RATE = 0.02
TEST_FRACTION = 0.3
SPLIT_SEED = 0
EXTRA_SEEDS = (1, 2, 3, 4, 5)


def gettext_noop(message: str) -> str:
    """Marks a string for translation (``makemessages`` extracts it) without importing Django; the portal
    translates it when it shows it."""
    return message


# (German attribute, monotone trend for numeric ones, what it means there, the firm proxy that feeds it)
VARIABLES: tuple[tuple[str, str, str, str], ...] = (
    ("checking_account_status", "", gettext_noop("Checking account balance"),
     gettext_noop("Liquidity: current ratio < 1 → overdrawn (A11), 1–1.5 → low balance (A12), ≥ 1.5 → healthy "
                  "balance (A13)")),
    ("duration_months", "decreasing", gettext_noop("Loan duration (months)"),
     gettext_noop("The facility's tenor in months")),
    ("credit_history", "", gettext_noop("Credit history"),
     gettext_noop("The lender's record of the borrower's repayments (A30–A34)")),
    ("purpose", "", gettext_noop("Purpose"),
     gettext_noop("Equipment loan → equipment (A42); term loan and revolving line → business (A49)")),
    ("credit_amount_dm", "decreasing", gettext_noop("Credit amount (DM)"),
     gettext_noop("Leverage: total debt / annual EBITDA × 1000 (no or negative EBITDA → 20000)")),
    ("savings_account", "", gettext_noop("Savings"),
     gettext_noop("Cash buffer: cash / current liabilities < 0.05 (A61), < 0.15 (A62), < 0.30 (A63), ≥ 0.30 "
                  "(A64)")),
    ("employment_since", "", gettext_noop("Employed since"),
     gettext_noop("Years in business: < 1 (A72), 1–4 (A73), 4–7 (A74), ≥ 7 (A75)")),
    ("instalment_rate_pct_income", "decreasing",
     # xgettext:no-python-format
     gettext_noop("Instalment as % of income (1–4)"),
     gettext_noop("Debt-service burden from the DSCR: ≥ 3 → 1, 2–3 → 2, 1.25–2 → 3, < 1.25 → 4")),
    ("property", "", gettext_noop("Property"),
     gettext_noop("Pledged presses: appraised value ≥ limit → A122, some collateral → A123, none → A124")),
    ("other_instalment_plans", "", gettext_noop("Other instalment plans"),
     gettext_noop("Debt at other lenders (total debt above what this lender has drawn) → bank (A141), else none "
                  "(A143)")),
)

REPAYMENT_HISTORY_CODES = {
    "no_credits": "A30", "all_paid_here": "A31", "paid_duly": "A32", "past_delays": "A33", "critical": "A34"}
PURPOSE_CODES = {"equipment_loan": "A42", "term_loan": "A49", "revolving_line": "A49"}
NO_EBITDA_LEVERAGE_AMOUNT = 20000.0


def variable_specs() -> list[VariableSpec]:
    specs = []
    for name, monotone, _meaning, _proxy in VARIABLES:
        if name in NUMERIC_ATTRIBUTES:
            specs.append(VariableSpec(name, monotone=monotone or "auto"))
        else:
            specs.append(VariableSpec(name, kind="categorical"))
    return specs


def variable_map() -> list[dict]:
    return [{"variable": name, "meaning": meaning, "proxy": proxy} for name, _m, meaning, proxy in VARIABLES]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def prior_correction_shift(sample_default_rate: float, target_default_rate: float) -> float:
    """ln(odds_sample / odds_target): added to ln(odds of good) to move PDs to the target default rate."""
    sample_odds = sample_default_rate / (1 - sample_default_rate)
    target_odds = target_default_rate / (1 - target_default_rate)
    return math.log(sample_odds / target_odds)


def train_pd_model(path: str | Path, *, seed: int = SPLIT_SEED, test_fraction: float = TEST_FRACTION,
                   target_default_rate: float = TARGET_DEFAULT_RATE) -> dict:
    """Fit, validate and describe the scorecard; returns a JSON-able document for a ``PdModel`` row."""
    data = load_german_credit(path)
    specs = variable_specs()
    train_index, test_index = stratified_split(data.defaulted, test_fraction, seed=seed)
    train, test = data.subset(train_index), data.subset(test_index)
    scorecard = fit_scorecard(train.columns, train.defaulted, specs)
    predicted = scorecard.predict_pd(test.columns)
    auc = roc_auc(test.defaulted, predicted)
    further = []
    for extra_seed in EXTRA_SEEDS:
        extra_train, extra_test = stratified_split(data.defaulted, test_fraction, seed=extra_seed)
        model = fit_scorecard(data.subset(extra_train).columns, data.subset(extra_train).defaulted, specs)
        further.append(roc_auc(data.subset(extra_test).defaulted, model.predict_pd(data.subset(extra_test).columns)))
    sample_rate = float(train.defaulted.mean())
    validation = {
        "auc": auc,
        "gini": gini_coefficient(test.defaulted, predicted),
        "ks": ks_statistic(test.defaulted, predicted),
        "calibration": [vars(row) for row in calibration_by_grade(predicted, test.defaulted)],
        "split_seed": seed,
        "test_fraction": test_fraction,
        "train_size": int(train_index.size),
        "test_size": int(test_index.size),
        "test_default_rate": float(test.defaulted.mean()),
        "auc_other_splits": {str(s): a for s, a in zip(EXTRA_SEEDS, further, strict=True)},
        "auc_other_splits_mean": float(np.mean(further)),
    }
    calibration = {
        "method": "prior correction of the log-odds (King & Zeng 2001)",
        "sample_default_rate": sample_rate,
        "target_default_rate": target_default_rate,
        "log_odds_good_shift": prior_correction_shift(sample_rate, target_default_rate),
    }
    return {
        "name": MODEL_NAME,
        "scorecard": scorecard.to_dict(),
        "validation": validation,
        "calibration": calibration,
        "variable_map": variable_map(),
        "data_source": "UCI Statlog German Credit Data (Hofmann 1994), CC BY 4.0: german.data",
        "data_sha256": file_sha256(path),
    }


# --- Applying the model to a firm -------------------------------------------------------------------

@dataclass(frozen=True)
class FirmProfile:
    """What the proxies need; None where unknown (no statement yet): the scorecard's missing bin."""

    tenor_months: int
    facility_type: str
    repayment_history: str
    years_in_business: float
    collateral_coverage: float  # appraised value of pledged presses / limit
    current_ratio: float | None = None
    cash_ratio: float | None = None
    debt_to_ebitda: float | None = None
    dscr: float | None = None
    debt_at_other_lenders: bool | None = None


def applicant_values(profile: FirmProfile) -> dict:
    """The scorecard's inputs (German attribute codes and numbers) for one firm, by the documented proxies."""
    values: dict = {
        "duration_months": float(profile.tenor_months),
        "credit_history": REPAYMENT_HISTORY_CODES[profile.repayment_history],
        "purpose": PURPOSE_CODES[profile.facility_type],
    }
    years = profile.years_in_business
    values["employment_since"] = "A72" if years < 1 else "A73" if years < 4 else "A74" if years < 7 else "A75"
    coverage = profile.collateral_coverage
    values["property"] = "A122" if coverage >= 1 else "A123" if coverage > 0 else "A124"
    current = profile.current_ratio
    values["checking_account_status"] = (None if current is None else
                                         "A11" if current < 1.0 else "A12" if current < 1.5 else "A13")
    cash = profile.cash_ratio
    values["savings_account"] = (None if cash is None else
                                 "A61" if cash < 0.05 else "A62" if cash < 0.15 else "A63" if cash < 0.30 else "A64")
    leverage = profile.debt_to_ebitda
    if leverage is None:
        values["credit_amount_dm"] = math.nan
    elif math.isinf(leverage):
        values["credit_amount_dm"] = NO_EBITDA_LEVERAGE_AMOUNT
    else:
        values["credit_amount_dm"] = min(max(leverage, 0.0) * 1000.0, NO_EBITDA_LEVERAGE_AMOUNT)
    dscr = profile.dscr
    values["instalment_rate_pct_income"] = (math.nan if dscr is None else
                                            1.0 if dscr >= 3 else 2.0 if dscr >= 2 else 3.0 if dscr >= 1.25 else 4.0)
    values["other_instalment_plans"] = (None if profile.debt_at_other_lenders is None else
                                        "A141" if profile.debt_at_other_lenders else "A143")
    return values


def describe_value(value) -> str:
    if isinstance(value, str):
        return f"{value}: {CODE_LABELS.get(value, value)}"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return f"{value:g}"


@dataclass(frozen=True)
class PdResult:
    pd_sample: float  # the scorecard's PD on the German sample's scale
    pd: float  # calibrated 12-month PD
    score: float
    drivers: list[dict]


def explain_pd(scorecard_document: dict, calibration: dict, applicant: dict) -> PdResult:
    """Calibrated PD and each input's contribution (logit and PD change against a population-average input)."""
    scorecard = Scorecard.from_dict(scorecard_document)
    explanation = scorecard.explain(applicant)
    shift = float(calibration.get("log_odds_good_shift", 0.0))
    log_odds = explanation.log_odds_good + shift
    pd = float(expit(-log_odds))
    labels = {name: meaning for name, _m, meaning, _p in VARIABLES}
    drivers = []
    for driver in explanation.drivers:
        pd_without = float(expit(-(log_odds - driver.logit_contribution)))
        drivers.append({
            "variable": driver.variable,
            "label": labels.get(driver.variable, driver.variable),
            "value": describe_value(applicant.get(driver.variable)),
            "bin": driver.bin_label,
            "woe": driver.woe,
            "logit_contribution": driver.logit_contribution,
            "points": driver.points,
            "pd_change": pd - pd_without,
        })
    drivers.sort(key=lambda d: abs(d["pd_change"]), reverse=True)
    return PdResult(pd_sample=explanation.pd, pd=pd, score=explanation.score, drivers=drivers)


def coefficient_table(scorecard_document: dict) -> list[dict]:
    """Per variable: coefficient, information value, and its bins with WoE and points (for the model page)."""
    scorecard = Scorecard.from_dict(scorecard_document)
    labels = {name: meaning for name, _m, meaning, _p in VARIABLES}
    points = scorecard.points_table()
    rows = []
    for binning, coefficient in zip(scorecard.binnings, scorecard.coefficients, strict=True):
        rows.append({
            "variable": binning.name,
            "label": labels.get(binning.name, binning.name),
            "coefficient": coefficient,
            "information_value": binning.information_value,
            "bins": [{"bin": row["bin"], "woe": row["woe"], "points": row["points"]}
                     for row in points if row["variable"] == binning.name],
        })
    return rows
