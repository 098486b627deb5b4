"""The scorecard on the German credit data (Hofmann 1994, UCI Statlog, CC BY 4.0)."""


import numpy as np
import pytest

from tests.conftest import shared_data_path
from lending.core.german_credit import (
    ATTRIBUTE_NAMES,
    CATEGORICAL_ATTRIBUTES,
    CODE_LABELS,
    NUMERIC_ATTRIBUTES,
    PROTECTED_ATTRIBUTES,
    load_german_credit,
)
from lending.core.scorecard import Monotonicity, VariableSpec, fit_scorecard
from lending.core.validation import (
    calibration_by_grade,
    gini_coefficient,
    ks_statistic,
    population_stability_index,
    roc_auc,
    stratified_split,
)


MONOTONE_TRENDS = {
    "duration_months": Monotonicity.DECREASING,  # longer loans are riskier
    "credit_amount_dm": Monotonicity.DECREASING,
    "instalment_rate_pct_income": Monotonicity.DECREASING,
    "age_years": Monotonicity.INCREASING,
}
SPECS = [
    VariableSpec(name, monotone=MONOTONE_TRENDS.get(name, Monotonicity.AUTO)) for name in NUMERIC_ATTRIBUTES
] + [
    VariableSpec(name, kind="categorical")
    for name in CATEGORICAL_ATTRIBUTES
    if name not in PROTECTED_ATTRIBUTES
]
# Held-out AUC varies with the split (300 test applicants): over seeds 0..19 it ranges 0.74-0.84,
# mean 0.78, and 3 of 20 splits fall below 0.75. Seed 0 is the example split; the stable check is
# the mean over ten splits.
SPLIT_SEED = 0


@pytest.fixture(scope="module")
def german_data():
    return shared_data_path("credit", "german.data")


@pytest.fixture(scope="module")
def german(german_data):
    return load_german_credit(german_data)


def test_loader_reads_all_rows_with_readable_columns(german):
    assert len(german) == 1000
    assert int(german.defaulted.sum()) == 300
    assert list(german.columns) == list(ATTRIBUTE_NAMES)
    assert german.columns["duration_months"].dtype == np.float64
    assert german.columns["duration_months"][0] == 6 and german.columns["credit_amount_dm"][0] == 1169
    assert german.columns["checking_account_status"][0] == "A11"
    assert all(
        code in CODE_LABELS for name in CATEGORICAL_ATTRIBUTES for code in np.unique(german.columns[name])
    )


def test_loader_names_the_bad_line(tmp_path, german_data):
    broken = tmp_path / "german.data"
    broken.write_text(german_data.read_text().splitlines()[0] + "\nA11 6 A34\n")
    with pytest.raises(ValueError, match=":2:"):
        load_german_credit(broken)


def test_held_out_auc_of_the_scorecard(german):
    train_index, test_index = stratified_split(german.defaulted, 0.3, seed=SPLIT_SEED)
    train, test = german.subset(train_index), german.subset(test_index)
    scorecard = fit_scorecard(train.columns, train.defaulted, SPECS)
    predicted = scorecard.predict_pd(test.columns)

    auc = roc_auc(test.defaulted, predicted)
    assert auc >= 0.75, f"held-out AUC {auc:.3f}"
    assert gini_coefficient(test.defaulted, predicted) == pytest.approx(2 * auc - 1)
    assert ks_statistic(test.defaulted, predicted) > 0.3
    # The mean PD is calibrated to the 30 % bad rate, and a random split is a stable population.
    assert abs(predicted.mean() - test.defaulted.mean()) < 0.05
    assert population_stability_index(scorecard.score(train.columns), scorecard.score(test.columns)) < 0.1
    assert sum(row.count for row in calibration_by_grade(predicted, test.defaulted)) == len(test)

    binnings = {binning.name: binning for binning in scorecard.binnings}
    for name, trend in MONOTONE_TRENDS.items():
        if name in binnings and binnings[name].n_bins > 1:
            steps = np.diff(binnings[name].woe)
            assert np.all(steps < 0) if trend is Monotonicity.DECREASING else np.all(steps > 0), name
    assert not set(PROTECTED_ATTRIBUTES) & set(scorecard.variable_names)
    assert binnings["checking_account_status"].information_value > 0.3  # the strongest attribute


def test_auc_over_ten_seeded_splits(german):
    aucs = []
    for seed in range(10):
        train_index, test_index = stratified_split(german.defaulted, 0.3, seed=seed)
        train, test = german.subset(train_index), german.subset(test_index)
        scorecard = fit_scorecard(train.columns, train.defaulted, SPECS)
        aucs.append(roc_auc(test.defaulted, scorecard.predict_pd(test.columns)))
    assert np.mean(aucs) >= 0.75, f"mean held-out AUC {np.mean(aucs):.3f}"
