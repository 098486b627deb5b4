"""Scorecard PD model on a synthetic portfolio with equipment-health covariates."""

import json
import math

import numpy as np
import pytest
from scipy.special import expit

from lending.core.scorecard import (
    Monotonicity,
    Scorecard,
    ScoreScaling,
    VariableSpec,
    bin_variable,
    fit_logistic_l2,
    fit_scorecard,
    weight_of_evidence,
)
from lending.core.validation import roc_auc

HEALTH_SPECS = [
    VariableSpec("income"),
    VariableSpec("health_index", monotone="increasing"),
    VariableSpec("alarm_level", monotone="decreasing"),
    VariableSpec("model_failure_risk", monotone="decreasing"),
    VariableSpec("sector", kind="categorical"),
    VariableSpec("noise"),
]


def synthetic_portfolio(n_borrowers: int, seed: int):
    """Borrowers whose default depends on income and on the health of their press."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(11, 0.5, n_borrowers)
    health = rng.beta(6, 2, n_borrowers)
    alarm = np.digitize(1 - health + rng.normal(0, 0.1, n_borrowers), [0.3, 0.45, 0.6]).astype(float)
    failure_risk = expit(-3 + 5 * (1 - health) + rng.normal(0, 0.5, n_borrowers))
    sector = rng.choice(
        np.array(["stamping", "automotive", "appliances", "aerospace"]), n_borrowers, p=[0.5, 0.3, 0.18, 0.02]
    )
    logit_pd = (
        -1.6
        - 0.9 * (np.log(income) - 11) / 0.5
        + 3.0 * (0.75 - health)
        + 0.3 * alarm
        + 1.0 * failure_risk
        + np.where(sector == "automotive", 0.5, 0.0)
    )
    defaulted = rng.random(n_borrowers) < expit(logit_pd)
    health_reported = np.where(rng.random(n_borrowers) < 0.1, np.nan, health)  # no data-use grant
    data = {
        "income": income,
        "health_index": health_reported,
        "alarm_level": alarm,
        "model_failure_risk": failure_risk,
        "sector": sector,
        "noise": rng.normal(0, 1, n_borrowers),
    }
    return data, defaulted


@pytest.fixture(scope="module")
def portfolio():
    return synthetic_portfolio(4000, seed=7)


@pytest.fixture(scope="module")
def scorecard(portfolio):
    data, defaulted = portfolio
    return fit_scorecard(data, defaulted, HEALTH_SPECS)


def test_weight_of_evidence_and_information_value_hand_computed():
    # goods 60/40, bads 10/30 -> %good 0.6/0.4, %bad 0.25/0.75.
    woe, information_value = weight_of_evidence([60, 40], [10, 30], smoothing=0.0)
    np.testing.assert_allclose(woe, [math.log(0.6 / 0.25), math.log(0.4 / 0.75)])
    assert information_value == pytest.approx(0.35 * math.log(2.4) + 0.35 * math.log(0.75 / 0.4))
    smoothed, _ = weight_of_evidence([5, 0], [0, 5], smoothing=0.5)  # finite despite empty cells
    assert np.all(np.isfinite(smoothed)) and smoothed[0] > 0 > smoothed[1]


def test_requested_monotone_woe_holds(scorecard):
    binnings = {binning.name: binning for binning in scorecard.binnings}
    assert np.all(np.diff(binnings["health_index"].woe) > 0)
    assert np.all(np.diff(binnings["alarm_level"].woe) < 0)
    assert np.all(np.diff(binnings["model_failure_risk"].woe) < 0)
    income = binnings["income"]  # "auto" picks the direction the data supports
    assert income.direction is Monotonicity.INCREASING
    assert np.all(np.diff(income.woe) > 0)


def test_monotone_merging_on_a_non_monotone_variable():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 3000)
    defaulted = rng.random(3000) < np.where((x > 0.4) & (x < 0.6), 0.5, 0.2)  # a hump
    for direction in ("increasing", "decreasing"):
        binning = bin_variable(VariableSpec("hump", monotone=direction), x, defaulted)
        sign = 1 if direction == "increasing" else -1
        assert binning.n_bins == 1 or np.all(sign * np.diff(binning.woe) > 0)
    free = bin_variable(VariableSpec("hump", monotone="none"), x, defaulted)
    assert not np.all(np.diff(free.woe) > 0) and not np.all(np.diff(free.woe) < 0)


def test_health_covariates_enter_the_model_and_noise_is_excluded(scorecard, portfolio):
    assert {"health_index", "alarm_level", "model_failure_risk"} <= set(scorecard.variable_names)
    assert "noise" in scorecard.excluded_variables and scorecard.excluded_variables["noise"] < 0.02
    assert all(coefficient >= 0 for coefficient in scorecard.coefficients)
    data, defaulted = synthetic_portfolio(3000, seed=11)  # fresh sample
    with_health = roc_auc(defaulted, scorecard.predict_pd(data))
    financial_only = fit_scorecard(
        portfolio[0], portfolio[1], [VariableSpec("income"), VariableSpec("sector", kind="categorical")]
    )
    without_health = roc_auc(defaulted, financial_only.predict_pd(data))
    assert with_health > without_health + 0.03


def test_missing_health_index_has_its_own_bin(scorecard):
    binning = next(b for b in scorecard.binnings if b.name == "health_index")
    assert binning.missing_good_count + binning.missing_bad_count > 0
    assert binning.woe_values([np.nan])[0] == pytest.approx(binning.missing_woe)
    assert binning.label_of(float("nan")) == "missing"


def test_scaling_points_and_score_hand_computed(scorecard, portfolio):
    scaling = ScoreScaling(points_to_double_odds=20, base_score=600, base_odds=50)
    assert scaling.factor == pytest.approx(20 / math.log(2))
    assert scaling.offset == pytest.approx(600 - 20 / math.log(2) * math.log(50))
    data = {name: column[:5] for name, column in portfolio[0].items()}
    log_odds = scorecard.log_odds_good(data)
    np.testing.assert_allclose(scorecard.score(data), scaling.offset + scaling.factor * log_odds)
    np.testing.assert_allclose(scorecard.predict_pd(data), 1 / (1 + np.exp(log_odds)))
    # Doubling the odds of good adds PDO points.
    assert scaling.offset + scaling.factor * (math.log(100)) - (
        scaling.offset + scaling.factor * math.log(50)
    ) == pytest.approx(20)


def test_explanation_adds_up_and_names_the_driver(scorecard):
    applicant = {
        "income": 60_000.0,
        "health_index": 0.35,  # a press in poor health
        "alarm_level": 1.0,
        "model_failure_risk": 0.15,
        "sector": "stamping",
        "noise": 0.0,
    }
    explanation = scorecard.explain(applicant)
    single = {name: [value] for name, value in applicant.items()}
    assert explanation.pd == pytest.approx(float(scorecard.predict_pd(single)[0]))
    assert explanation.score == pytest.approx(float(scorecard.score(single)[0]))
    assert sum(d.points for d in explanation.drivers) == pytest.approx(explanation.score)
    assert scorecard.intercept + sum(d.logit_contribution for d in explanation.drivers) == pytest.approx(
        explanation.log_odds_good
    )
    top = explanation.drivers[0]
    assert top.variable == "health_index" and top.pd_change > 0 and top.logit_contribution < 0
    changes = [abs(d.pd_change) for d in explanation.drivers]
    assert changes == sorted(changes, reverse=True)
    without_health = scorecard.explain({k: v for k, v in applicant.items() if k != "health_index"})
    assert next(d for d in without_health.drivers if d.variable == "health_index").bin_label == "missing"


def test_json_round_trip_preserves_predictions(scorecard, portfolio):
    document = json.loads(json.dumps(scorecard.to_dict()))
    restored = Scorecard.from_dict(document)
    data = {name: column[:200] for name, column in portfolio[0].items()}
    np.testing.assert_array_equal(restored.predict_pd(data), scorecard.predict_pd(data))
    assert restored.points_table() == scorecard.points_table()
    assert restored.excluded_variables == scorecard.excluded_variables
    with pytest.raises(ValueError, match=r"presstrust\.scorecard"):
        Scorecard.from_dict({**document, "format_version": 99})


def test_unseen_and_rare_categories(scorecard):
    sector = next(b for b in scorecard.binnings if b.name == "sector")
    assert sector.other_bin is not None and "aerospace" in sector.category_groups[sector.other_bin]
    assert sector.woe_values(["shipbuilding"])[0] == pytest.approx(sector.woe[sector.other_bin])


def test_logistic_regression_meets_first_order_conditions_and_recovers_coefficients():
    rng = np.random.default_rng(5)
    features = rng.normal(size=(20_000, 3))
    true_coefficients = np.array([0.8, -0.5, 0.0])
    target = rng.random(20_000) < expit(0.3 + features @ true_coefficients)
    intercept, coefficients = fit_logistic_l2(features, target, l2_penalty=0.0, nonnegative=False)
    np.testing.assert_allclose(coefficients, true_coefficients, atol=0.05)
    assert intercept == pytest.approx(0.3, abs=0.05)
    residual = expit(intercept + features @ coefficients) - target
    np.testing.assert_allclose(features.T @ residual / target.size, 0.0, atol=1e-5)
    _, bounded = fit_logistic_l2(features, target, l2_penalty=0.0, nonnegative=True)
    assert bounded[1] == 0.0 and bounded[0] > 0.7


def test_l2_penalty_shrinks_coefficients():
    rng = np.random.default_rng(9)
    features = rng.normal(size=(2000, 2))
    target = rng.random(2000) < expit(features @ np.array([1.0, 1.0]))
    _, loose = fit_logistic_l2(features, target, 0.0, False)
    _, tight = fit_logistic_l2(features, target, 1.0, False)
    assert np.all(np.abs(tight) < np.abs(loose))


def test_fit_rejects_bad_inputs(portfolio):
    data, defaulted = portfolio
    with pytest.raises(KeyError):
        fit_scorecard(data, defaulted, [VariableSpec("turnover")])
    with pytest.raises(ValueError):
        fit_scorecard(data, np.zeros_like(defaulted), [VariableSpec("income")])
    with pytest.raises(ValueError):
        fit_scorecard(data, defaulted, [VariableSpec("income"), VariableSpec("income")])
