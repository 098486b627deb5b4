"""Validation of PD models: discrimination, calibration and stability.

- AUC via the Mann-Whitney U statistic (Hanley & McNeil, Radiology 1982), ties counted as 1/2;
  Gini (accuracy ratio) = 2 AUC - 1.
- Kolmogorov-Smirnov statistic: largest gap between the score distributions of defaulters and
  non-defaulters.
- Calibration by grade: observed default rate against mean predicted PD per master-scale grade,
  with a one-sided binomial test of PD underestimation (BCBS Working Paper 14, "Studies on the
  Validation of Internal Rating Systems", 2005, section 5).
- Population stability index PSI = sum (a_i - e_i) ln(a_i / e_i) over bins of the expected
  (development) sample (Siddiqi, "Intelligent Credit Scoring", 2nd ed. 2017, ch. 12; Yurdakul,
  "Statistical properties of population stability index", 2018). Rule of thumb: < 0.10 stable,
  0.10-0.25 some shift, > 0.25 significant shift.
Labels: ``defaulted`` is 1/True for a bad (default) outcome; scores are higher for riskier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, rankdata

from lending.core.grades import DEFAULT_GRADE_UPPER_PD, pd_to_grade, validated_grade_bands


def _binary_labels(defaulted) -> np.ndarray:
    labels = np.asarray(defaulted)
    if labels.ndim != 1:
        raise ValueError("defaulted must be a 1-D array of 0/1 or booleans")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError("defaulted must contain only 0/1 or booleans")
    return labels.astype(bool)


def _paired(defaulted, risk_score) -> tuple[np.ndarray, np.ndarray]:
    labels = _binary_labels(defaulted)
    scores = np.asarray(risk_score, dtype=float)
    if scores.shape != labels.shape:
        raise ValueError("defaulted and risk_score must have the same length")
    if np.any(~np.isfinite(scores)):
        raise ValueError("risk_score must be finite")
    if labels.all() or not labels.any():
        raise ValueError("need at least one defaulter and one non-defaulter")
    return labels, scores


def roc_auc(defaulted, risk_score) -> float:
    """Area under the ROC curve: P(score of a random defaulter > score of a random non-defaulter).

    Inputs: ``defaulted`` 0/1 per observation; ``risk_score`` higher = riskier (e.g. PD).
    Output: AUC in [0, 1]; 0.5 is no discrimination. Computed from mid-ranks (Mann-Whitney U).
    """
    labels, scores = _paired(defaulted, risk_score)
    ranks = rankdata(scores)
    n_bad = labels.sum()
    n_good = labels.size - n_bad
    u_statistic = ranks[labels].sum() - n_bad * (n_bad + 1) / 2.0
    return float(u_statistic / (n_bad * n_good))


def gini_coefficient(defaulted, risk_score) -> float:
    """Gini coefficient (accuracy ratio) = 2 AUC - 1, in [-1, 1]."""
    return 2.0 * roc_auc(defaulted, risk_score) - 1.0


def ks_statistic(defaulted, risk_score) -> float:
    """Kolmogorov-Smirnov statistic max_s |F_bad(s) - F_good(s)| of the two score distributions.

    Evaluated at every distinct score so that tied scores move both distributions together.
    Output in [0, 1].
    """
    labels, scores = _paired(defaulted, risk_score)
    thresholds = np.unique(scores)
    bad_cdf = np.searchsorted(np.sort(scores[labels]), thresholds, side="right") / labels.sum()
    good_cdf = np.searchsorted(np.sort(scores[~labels]), thresholds, side="right") / (~labels).sum()
    return float(np.max(np.abs(bad_cdf - good_cdf)))


@dataclass(frozen=True)
class GradeCalibration:
    """Calibration of one grade: counts, mean predicted PD, observed rate, binomial p-value.

    p_value_underestimated = P(X >= defaults | n, mean PD) for X ~ Binomial(n, mean PD); a small
    value says the grade's PD is too low.
    """

    grade: int
    count: int
    defaults: int
    mean_predicted_pd: float
    observed_default_rate: float
    p_value_underestimated: float


def calibration_by_grade(
    predicted_pd, defaulted, grade_bands=DEFAULT_GRADE_UPPER_PD
) -> list[GradeCalibration]:
    """Predicted against observed default rates per master-scale grade (grades with no obligors
    are omitted). Inputs: predicted PDs (fractions), 0/1 outcomes, the grade bands."""
    labels = _binary_labels(defaulted)
    pds = np.asarray(predicted_pd, dtype=float)
    if pds.shape != labels.shape:
        raise ValueError("predicted_pd and defaulted must have the same length")
    bounds = validated_grade_bands(grade_bands)
    grades = np.asarray(pd_to_grade(pds, bounds))
    table = []
    for grade in np.unique(grades):
        in_grade = grades == grade
        count = int(in_grade.sum())
        defaults = int(labels[in_grade].sum())
        mean_pd = float(pds[in_grade].mean())
        table.append(
            GradeCalibration(
                grade=int(grade),
                count=count,
                defaults=defaults,
                mean_predicted_pd=mean_pd,
                observed_default_rate=defaults / count,
                p_value_underestimated=float(binom.sf(defaults - 1, count, mean_pd)),
            )
        )
    return table


def population_stability_index(
    expected_values, actual_values, n_bins: int = 10, epsilon: float = 1e-4
) -> float:
    """PSI between a development sample (expected) and a recent one (actual) of a score or variable.

    Bins are the quantiles of the expected sample (``n_bins`` at most; ties merge bins); bin shares
    below ``epsilon`` are raised to ``epsilon`` so empty bins give a finite index.
    Output: PSI = sum (a_i - e_i) ln(a_i / e_i) >= 0.
    """
    expected = np.asarray(expected_values, dtype=float)
    actual = np.asarray(actual_values, dtype=float)
    if expected.size == 0 or actual.size == 0:
        raise ValueError("both samples must be non-empty")
    if np.any(~np.isfinite(expected)) or np.any(~np.isfinite(actual)):
        raise ValueError("samples must be finite")
    if n_bins < 2:
        raise ValueError("n_bins must be at least 2")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, n_bins + 1)[1:-1]))
    expected_share = (
        np.bincount(np.searchsorted(edges, expected, side="left"), minlength=edges.size + 1) / expected.size
    )
    actual_share = (
        np.bincount(np.searchsorted(edges, actual, side="left"), minlength=edges.size + 1) / actual.size
    )
    expected_share = np.maximum(expected_share, epsilon)
    actual_share = np.maximum(actual_share, epsilon)
    return float(np.sum((actual_share - expected_share) * np.log(actual_share / expected_share)))


def stratified_split(labels, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded stratified train/test split (each class split in the same proportion).

    Inputs: class labels (any hashable values), ``test_fraction`` in (0, 1), integer seed.
    Output: (train_indices, test_indices), each sorted.
    """
    labels = np.asarray(labels)
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must lie in (0, 1)")
    generator = np.random.default_rng(seed)
    test_parts = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        n_test = round(test_fraction * members.size)
        test_parts.append(generator.permutation(members)[:n_test])
    test_indices = np.sort(np.concatenate(test_parts))
    train_indices = np.setdiff1d(np.arange(labels.size), test_indices)
    return train_indices, test_indices
