"""Optimised SWNSES weights learned from healthy and current data, and blending with expert weights.

Hou, Wang et al. (MSSP 2022, "optimized weights"): for normalized spectra (rows summing to 1:
normalized SES ``q`` or a normalized power spectrum) with healthy mean ``m_h`` and current / faulty
mean ``m_f``, the weights that maximise ``w . (m_f - m_h)`` under ``||w|| <= 1`` are
``w* = d / ||d||`` with ``d = m_f - m_h`` (Cauchy-Schwarz). The resulting indicator
``SWNSES(w*) = sum_k w*_k q_k`` is large where the current data put more of their share into the
bins that gained (fault frequencies in the SES, resonance bands in the spectrum).

On the very windows it was learned from the index is positive by construction, so it must be
thresholded against held-out healthy windows: :func:`learned_index_score` splits the data,
learns on one part and scores the other. Expert weights per operating condition blend in as
``w = beta * w_expert + (1 - beta) * w*``; the caller (the portal service) audits every change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .indicators import swnses


def _as_rows(spectra: np.ndarray, name: str) -> np.ndarray:
    """Spectra as a finite, non-empty (n_windows, n_bins) float array; ValueError otherwise."""
    rows = np.asarray(spectra, dtype=np.float64)
    if rows.ndim == 1:
        rows = rows[np.newaxis, :]
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (n_windows, n_bins) array")
    if not np.isfinite(rows).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return rows


def optimised_weights(healthy_spectra: np.ndarray, current_spectra: np.ndarray) -> np.ndarray:
    """Unit-norm weights ``w* = d / ||d||``, ``d = mean(current) - mean(healthy)`` (Hou & Wang 2022).

    Inputs: healthy and current normalized spectra, each (n_windows, n_bins) with rows summing to
    1 over the same bins. Output: weights (n_bins,), dimensionless, ``||w*|| = 1``; positive on bins
    that gained share, negative on bins that lost it. Raises ValueError when the bin counts differ;
    returns zeros when the two means are identical (nothing to learn).
    """
    healthy = _as_rows(healthy_spectra, "healthy spectra")
    current = _as_rows(current_spectra, "current spectra")
    if healthy.shape[1] != current.shape[1]:
        raise ValueError(f"bin counts differ: healthy {healthy.shape[1]}, current {current.shape[1]}")
    difference = current.mean(axis=0) - healthy.mean(axis=0)
    norm = float(np.linalg.norm(difference))
    if norm == 0.0:
        return np.zeros_like(difference)
    return difference / norm


def blend_weights(expert_weights: np.ndarray, learned_weights: np.ndarray, beta: float) -> np.ndarray:
    """Blend ``w = beta * w_expert + (1 - beta) * w*`` (HEALTH.md, optimised weights).

    Inputs: expert and learned weights of the same length; ``beta`` in [0, 1] (1 = expert only).
    Output: the blended weights (same length). Raises ValueError on a length mismatch or beta
    outside [0, 1].
    """
    expert = np.asarray(expert_weights, dtype=np.float64)
    learned = np.asarray(learned_weights, dtype=np.float64)
    if expert.shape != learned.shape:
        raise ValueError(f"weight shapes differ: expert {expert.shape}, learned {learned.shape}")
    if not 0.0 <= float(beta) <= 1.0:
        raise ValueError("beta must lie in [0, 1]")
    return float(beta) * expert + (1.0 - float(beta)) * learned


def weighted_index(spectra: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """SWNSES with fixed weights: ``sum_k w_k q_k`` for each row of normalized spectra.

    Inputs: (n_windows, n_bins) or (n_bins,) normalized spectra; weights (n_bins,).
    Output: index per window (dimensionless). Method: Hou, Wang et al., MSSP 2022.
    """
    weights = np.asarray(weights, dtype=np.float64)
    return swnses(np.asarray(spectra, dtype=np.float64), lambda _: weights)


@dataclass(frozen=True)
class LearnedIndexScore:
    """Result of a split-sample test of learned weights.

    ``weights`` learned on the first halves; ``healthy_reference`` and ``current_scores`` the index
    on the held-out healthy and current windows; ``z`` = (median(current) - median(reference)) /
    spread(reference), spread = max(1.4826 MAD, ``spread_floor``).
    """

    weights: np.ndarray
    healthy_reference: np.ndarray
    current_scores: np.ndarray
    z: float


def learned_index_score(
    healthy_spectra: np.ndarray,
    current_spectra: np.ndarray,
    *,
    expert_weights: np.ndarray | None = None,
    beta: float = 0.0,
    spread_floor: float = 1e-9,
) -> LearnedIndexScore:
    """Learn ``w*`` on half of the windows and score the other half against held-out healthy ones.

    Inputs: healthy and current normalized spectra (n_windows, n_bins), at least 2 windows each;
    optional ``expert_weights`` blended with ``beta``. The healthy windows alternate between the
    learning and the reference set (they are exchangeable); the current windows are split into a
    first (learning) and second (scored) half, so a fault that grows within the record is learned
    from its earlier part and confirmed on its later part. Output: :class:`LearnedIndexScore`.
    Method: Hou, Wang et al., MSSP 2022 (optimised weights), with a held-out threshold (HEALTH.md).
    """
    healthy = _as_rows(healthy_spectra, "healthy spectra")
    current = _as_rows(current_spectra, "current spectra")
    if healthy.shape[0] < 2 or current.shape[0] < 2:
        raise ValueError("need at least 2 healthy and 2 current windows to learn and test weights")
    healthy_learn, healthy_reference = healthy[0::2], healthy[1::2]
    half = current.shape[0] // 2
    current_learn, current_test = current[:half], current[half:]
    weights = optimised_weights(healthy_learn, current_learn)
    if expert_weights is not None:
        weights = blend_weights(expert_weights, weights, beta)
    reference = weighted_index(healthy_reference, weights)
    scores = weighted_index(current_test, weights)
    centre = float(np.median(reference))
    spread = max(1.4826 * float(np.median(np.abs(reference - centre))), spread_floor)
    return LearnedIndexScore(
        weights=weights,
        healthy_reference=reference,
        current_scores=scores,
        z=(float(np.median(scores)) - centre) / spread,
    )
