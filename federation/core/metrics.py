"""Classification metrics for binary and multi-class models (numpy/scipy only).

- loss: mean cross-entropy, nats (probabilities clipped at 1e-15);
- accuracy: share of argmax predictions equal to the label;
- AUC: area under the ROC curve by the Mann-Whitney rank statistic (ties count one half; Hanley &
  McNeil, Radiology 1982); multi-class: macro average of one-vs-rest AUCs over the classes that have
  both positives and negatives in ``labels``;
- F1: binary: F1 of class 1; multi-class: macro average over the classes that occur in the labels or
  the predictions (a class with no support either way is left out instead of counting as 0);
- KS: Kolmogorov-Smirnov statistic max_t |TPR(t) - FPR(t)| between the score distributions of
  positives and negatives; multi-class: macro one-vs-rest, like AUC;
- confusion matrix: ``confusion[true, predicted]`` counts.

A metric that is undefined for the data (AUC/KS with a single class present) is ``nan``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata


@dataclass(frozen=True)
class ClassificationMetrics:
    loss: float
    accuracy: float
    auc: float
    f1: float
    ks: float
    confusion: np.ndarray  # (classes, classes) int64, rows = true class, columns = predicted class

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: undefined metrics become ``None``."""

        def clean(value: float) -> float | None:
            return None if math.isnan(value) else float(value)

        return {
            "loss": clean(self.loss),
            "accuracy": clean(self.accuracy),
            "auc": clean(self.auc),
            "f1": clean(self.f1),
            "ks": clean(self.ks),
            "confusion": self.confusion.astype(int).tolist(),
        }


def binary_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of ``scores`` for the boolean target ``positive`` (nan if one class is absent)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_ks(positive: np.ndarray, scores: np.ndarray) -> float:
    """Kolmogorov-Smirnov separation max_t |F_pos(t) - F_neg(t)| (nan if one class is absent)."""
    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    pos, neg = np.sort(scores[positive]), np.sort(scores[~positive])
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    thresholds = np.unique(scores)
    cdf_pos = np.searchsorted(pos, thresholds, side="right") / pos.size
    cdf_neg = np.searchsorted(neg, thresholds, side="right") / neg.size
    return float(np.max(np.abs(cdf_pos - cdf_neg)))


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``(num_classes, num_classes)`` counts, rows = true class, columns = predicted class."""
    flat = np.asarray(labels, np.int64) * num_classes + np.asarray(predictions, np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _f1_per_class(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true_positive = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1) + confusion.sum(axis=0)  # 2TP + FN + FP
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(support > 0, 2 * true_positive / support, np.nan)
    return f1, support > 0


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> ClassificationMetrics:
    """All metrics for integer ``labels`` ``(n,)`` and class ``probabilities`` ``(n, classes)``
    (rows summing to 1); a 1-D ``probabilities`` is read as P(class 1) of a binary model."""
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim == 1:
        probabilities = np.stack([1 - probabilities, probabilities], axis=1)
    if probabilities.ndim != 2 or probabilities.shape[0] != labels.shape[0]:
        raise ValueError("probabilities must be (n, classes) with one row per label")
    n, num_classes = probabilities.shape
    if n == 0:
        raise ValueError("no samples to score")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    predictions = probabilities.argmax(axis=1)
    loss = float(-np.mean(np.log(np.clip(probabilities[np.arange(n), labels], 1e-15, 1.0))))
    accuracy = float(np.mean(predictions == labels))
    confusion = confusion_matrix(labels, predictions, num_classes)
    f1_per_class, has_support = _f1_per_class(confusion)
    if num_classes == 2:
        positive = labels == 1
        auc = binary_auc(positive, probabilities[:, 1])
        ks = binary_ks(positive, probabilities[:, 1])
        f1 = float(f1_per_class[1]) if has_support[1] else float("nan")
    else:
        aucs = [binary_auc(labels == k, probabilities[:, k]) for k in range(num_classes)]
        kss = [binary_ks(labels == k, probabilities[:, k]) for k in range(num_classes)]
        auc = float(np.nanmean(aucs)) if not np.all(np.isnan(aucs)) else float("nan")
        ks = float(np.nanmean(kss)) if not np.all(np.isnan(kss)) else float("nan")
        f1 = float(np.mean(f1_per_class[has_support]))
    return ClassificationMetrics(loss=loss, accuracy=accuracy, auc=auc, f1=f1, ks=ks, confusion=confusion)
