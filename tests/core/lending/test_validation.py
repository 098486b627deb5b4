"""Validation metrics: hand-computed AUC, Gini, KS, PSI, calibration; the stratified split."""

import math

import numpy as np
import pytest

from lending.core.validation import (
    calibration_by_grade,
    gini_coefficient,
    ks_statistic,
    population_stability_index,
    roc_auc,
    stratified_split,
)


def test_auc_gini_ks_hand_computed():
    defaulted = [1, 0, 1, 0]
    scores = [0.9, 0.1, 0.4, 0.6]
    # Pairs (bad, good): 0.9>0.1, 0.9>0.6, 0.4>0.1 win; 0.4<0.6 loses -> 3/4.
    assert roc_auc(defaulted, scores) == pytest.approx(0.75)
    assert gini_coefficient(defaulted, scores) == pytest.approx(0.5)
    # CDFs at 0.1: bad 0, good 1/2 -> gap 1/2 (the largest).
    assert ks_statistic(defaulted, scores) == pytest.approx(0.5)


def test_ties_count_half_and_perfect_ordering():
    assert roc_auc([1, 0], [0.3, 0.3]) == pytest.approx(0.5)
    assert ks_statistic([1, 0], [0.3, 0.3]) == pytest.approx(0.0)
    assert roc_auc([0, 0, 1, 1], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert ks_statistic([0, 0, 1, 1], [1, 2, 3, 4]) == pytest.approx(1.0)


def test_psi_hand_computed_and_stable_for_same_distribution():
    expected = np.array([0.0] * 50 + [1.0] * 50)
    actual = np.array([0.0] * 30 + [1.0] * 70)
    # Shares (0.5, 0.5) -> (0.3, 0.7).
    hand = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.7 - 0.5) * math.log(0.7 / 0.5)
    assert population_stability_index(expected, actual, n_bins=2) == pytest.approx(hand)
    rng = np.random.default_rng(1)
    development = rng.normal(0, 1, 20_000)
    assert population_stability_index(development, rng.normal(0, 1, 20_000)) < 0.01
    assert population_stability_index(development, rng.normal(0.8, 1, 20_000)) > 0.25


def test_calibration_by_grade_hand_computed():
    pds = np.array([0.02] * 100 + [0.10] * 50)
    defaulted = np.zeros(150, dtype=int)
    defaulted[:5] = 1  # 5 defaults among the 100 at 2 %
    defaulted[100:105] = 1  # 5 among the 50 at 10 %
    table = calibration_by_grade(pds, defaulted)
    assert [row.grade for row in table] == [5, 8]
    first = table[0]
    assert first.count == 100 and first.defaults == 5 and first.observed_default_rate == pytest.approx(0.05)
    tail = 1 - sum(math.comb(100, k) * 0.02**k * 0.98 ** (100 - k) for k in range(5))
    assert first.p_value_underestimated == pytest.approx(tail, rel=1e-9)
    assert table[1].mean_predicted_pd == pytest.approx(0.10)


def test_stratified_split_keeps_class_shares_and_is_reproducible():
    labels = np.array([1] * 300 + [0] * 700)
    train, test = stratified_split(labels, 0.3, seed=42)
    assert len(test) == 300 and len(train) == 700
    assert labels[test].sum() == 90
    assert np.intersect1d(train, test).size == 0
    _, again_test = stratified_split(labels, 0.3, seed=42)
    np.testing.assert_array_equal(test, again_test)
    assert not np.array_equal(test, stratified_split(labels, 0.3, seed=43)[1])


def test_rejects_degenerate_samples():
    with pytest.raises(ValueError):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError):
        roc_auc([1, 0, 2], [0.1, 0.2, 0.3])
