import itertools
import math

import numpy as np
import pytest

from federation.core.metrics import binary_auc, binary_ks, classification_metrics


def _pairwise_auc(positive, scores):
    pos, neg = scores[positive], scores[~positive]
    wins = sum((p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def _threshold_ks(positive, scores):
    best = 0.0
    for threshold in np.unique(scores):
        tpr = np.mean(scores[positive] > threshold)
        fpr = np.mean(scores[~positive] > threshold)
        best = max(best, abs(tpr - fpr))
    return best


def test_auc_and_ks_match_brute_force_with_ties():
    rng = np.random.default_rng(0)
    positive = rng.random(60) < 0.4
    scores = np.round(rng.random(60) + 0.3 * positive, 1)  # rounding makes ties
    assert binary_auc(positive, scores) == pytest.approx(_pairwise_auc(positive, scores))
    assert binary_ks(positive, scores) == pytest.approx(_threshold_ks(positive, scores))


def test_binary_metrics_on_a_hand_checked_example():
    labels = np.array([0, 0, 1, 1, 1, 0])
    p1 = np.array([0.1, 0.6, 0.8, 0.4, 0.9, 0.2])
    metrics = classification_metrics(labels, p1)
    # predictions 0 1 1 0 1 0: TP=2, FP=1, FN=1, TN=2
    assert metrics.accuracy == pytest.approx(4 / 6)
    assert metrics.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    np.testing.assert_array_equal(metrics.confusion, [[2, 1], [1, 2]])
    assert metrics.auc == pytest.approx(8 / 9)  # positives beat negatives in 8 of 9 pairs
    assert metrics.ks == pytest.approx(2 / 3)
    expected_loss = -np.mean(np.log([0.9, 0.4, 0.8, 0.4, 0.9, 0.8]))
    assert metrics.loss == pytest.approx(expected_loss)


def test_multiclass_uses_macro_averages():
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array(
        [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]]
    )
    metrics = classification_metrics(labels, probabilities)
    confusion = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    np.testing.assert_array_equal(metrics.confusion, confusion)
    f1 = [2 * 1 / (2 + 1 + 1), 2 * 2 / (4 + 1), 2 * 1 / (2 + 1)]
    assert metrics.f1 == pytest.approx(np.mean(f1))
    aucs = [_pairwise_auc(labels == k, probabilities[:, k]) for k in range(3)]
    assert metrics.auc == pytest.approx(np.mean(aucs))
    kss = [_threshold_ks(labels == k, probabilities[:, k]) for k in range(3)]
    assert metrics.ks == pytest.approx(np.mean(kss))
    assert metrics.accuracy == pytest.approx(4 / 6)


def test_undefined_metrics_are_nan_not_errors():
    labels = np.zeros(4, dtype=int)
    metrics = classification_metrics(labels, np.array([0.1, 0.2, 0.7, 0.4]))
    assert math.isnan(metrics.auc) and math.isnan(metrics.ks)
    assert metrics.to_dict()["auc"] is None
    # a class absent from labels and predictions is left out of the macro F1
    three = classification_metrics(np.array([0, 1]), np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]))
    assert three.f1 == pytest.approx(1.0)


def test_metrics_refuse_mismatched_input():
    with pytest.raises(ValueError, match="labels must lie"):
        classification_metrics(np.array([0, 3]), np.array([[0.5, 0.5], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="one row per label"):
        classification_metrics(np.array([0, 1, 1]), np.array([[0.5, 0.5], [0.5, 0.5]]))
