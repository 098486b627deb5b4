"""Aggregation that tolerates a minority of malicious or broken participants, and says who they are.

FedAvg-style steps (whole-model updates ``delta_j = w_j - w_global``):
1. norm check: a non-finite update, or one whose L2 norm exceeds ``norm_factor`` times the median
   norm, is flagged and left out (scaled / boosted updates);
2. the rest are combined coordinate-wise by the median or by the ``trim_fraction``-trimmed mean
   (Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal Statistical Rates", ICML 2018);
3. direction check: an update whose cosine similarity with that robust aggregate is below
   ``min_cosine`` (it pulls the model the other way, e.g. a sign-flipped update) is flagged, and the
   aggregate is recomputed without the flagged participants.

FedMA steps (a matched layer, rows = neurons):
1. the same norm check on each participant's RMS row norm;
2. after matching, a participant whose rows were matched with other participants' rows much less often
   than the median participant's (share below ``min_agreement_ratio`` times the median share) is flagged
   and the layer is matched again without it (sign-flipped or random rows match nothing);
3. in every global neuron held by at least 3 participants, a holder's row farther from the holders'
   coordinate-wise median than ``neuron_outlier_factor`` times the median holder distance is rejected
   and the neuron re-estimated from the others; a participant with more than ``flag_share`` of such
   rows rejected is flagged.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import trim_mean

from .fedma import LayerMatch


@dataclass(frozen=True)
class RobustSettings:
    rule: str = "median"  # "median" or "trimmed_mean"
    trim_fraction: float = 0.2  # share trimmed at each end by the trimmed mean
    norm_factor: float = 3.0
    min_cosine: float = 0.0
    min_agreement_ratio: float = 0.5
    neuron_outlier_factor: float = 3.0
    flag_share: float = 0.5

    def __post_init__(self) -> None:
        if self.rule not in ("median", "trimmed_mean"):
            raise ValueError(f"rule must be 'median' or 'trimmed_mean', got {self.rule!r}")
        if not 0 <= self.trim_fraction < 0.5:
            raise ValueError("trim_fraction must lie in [0, 0.5)")
        if not self.norm_factor > 1 or not self.neuron_outlier_factor > 1:
            raise ValueError("norm_factor and neuron_outlier_factor must exceed 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RobustSettings:
        return cls(**data)


def flag_large_norms(norms: Sequence[float], factor: float) -> dict[int, str]:
    """Indices of non-finite norms or norms above ``factor`` times the median finite norm, with why."""
    norms = np.asarray(norms, dtype=np.float64)
    flags = {int(i): "non-finite update" for i in np.flatnonzero(~np.isfinite(norms))}
    finite = norms[np.isfinite(norms)]
    if finite.size:
        median = float(np.median(finite))
        for index in np.flatnonzero(np.isfinite(norms) & (norms > factor * median)):
            flags[int(index)] = f"update norm {norms[index]:.3g} is {norms[index] / median:.1f}x the median"
    return flags


def combine_coordinatewise(updates: np.ndarray, settings: RobustSettings) -> np.ndarray:
    """Coordinate-wise median or trimmed mean of ``updates`` ``(participants, parameters)``."""
    if settings.rule == "median":
        return np.median(updates, axis=0)
    return trim_mean(updates, settings.trim_fraction, axis=0)


@dataclass(frozen=True)
class RobustAverage:
    update: np.ndarray  # (parameters,) the robust aggregate update
    flagged: dict[int, str]  # participant index -> reason
    used: tuple[int, ...]  # participant indices that entered the aggregate


def robust_average(updates: np.ndarray, settings: RobustSettings) -> RobustAverage:
    """Robust aggregate of flattened updates ``(participants, parameters)`` (see module docstring)."""
    updates = np.asarray(updates, dtype=np.float64)
    norms = np.sqrt(np.sum(np.where(np.isfinite(updates), updates, np.inf) ** 2, axis=1))
    flagged = flag_large_norms(norms, settings.norm_factor)
    kept = [i for i in range(updates.shape[0]) if i not in flagged]
    if not kept:
        raise ValueError("every update was rejected by the norm check")
    aggregate = combine_coordinatewise(updates[kept], settings)
    aggregate_norm = float(np.linalg.norm(aggregate))
    if len(kept) > 2 and aggregate_norm > 0:
        cosines = updates[kept] @ aggregate / (np.maximum(norms[kept], 1e-300) * aggregate_norm)
        for index, cosine in zip(kept, cosines):
            if cosine < settings.min_cosine:
                flagged[index] = f"update points away from the robust aggregate (cosine {cosine:.2f})"
        if len(flagged) > updates.shape[0] - len(kept):
            kept = [i for i in kept if i not in flagged]
            aggregate = combine_coordinatewise(updates[kept], settings)
    return RobustAverage(update=aggregate, flagged=flagged, used=tuple(kept))


def update_norm(
    start: Sequence[tuple[np.ndarray, np.ndarray]], trained: Sequence[tuple[np.ndarray, np.ndarray]]
) -> float:
    """L2 norm of ``trained - start`` over all layers (``inf`` if anything is not finite)."""
    total = 0.0
    for (start_weight, start_bias), (weight, bias) in zip(start, trained):
        for before, after in ((start_weight, weight), (start_bias, bias)):
            difference = np.asarray(after, np.float64) - np.asarray(before, np.float64)
            if not np.all(np.isfinite(difference)):
                return float("inf")
            total += float(np.sum(difference**2))
    return float(np.sqrt(total))


def flag_low_agreement(match: LayerMatch, ratio: float) -> dict[int, str]:
    """Participants whose share of rows matched with someone else's rows is below ``ratio`` times
    the median participant's share (only meaningful with 3 or more participants)."""
    if len(match.assignments) < 3:
        return {}
    shares = np.array([np.mean(match.popularity[a] >= 2) for a in match.assignments])
    median = float(np.median(shares))
    return {
        int(j): f"only {shares[j]:.0%} of its neurons match anyone else's (median {median:.0%})"
        for j in np.flatnonzero(shares < ratio * median)
    }


def outlying_members(rows: np.ndarray, factor: float) -> np.ndarray:
    """Boolean mask of the rows (one per holder of the same neuron or class) farther from the
    coordinate-wise median row than ``factor`` times the median such distance."""
    distances = np.linalg.norm(rows - np.median(rows, axis=0), axis=1)
    typical = float(np.median(distances))
    return distances > factor * typical if typical > 0 else distances > 0


def _flag_by_share(rejected: np.ndarray, examined: np.ndarray, share: float, what: str) -> dict[int, str]:
    return {
        int(j): f"{rejected[j]} of its {examined[j]} shared {what} are outliers"
        for j in np.flatnonzero((examined > 0) & (rejected > share * examined))
    }


@dataclass(frozen=True)
class NeuronRejection:
    global_layer: np.ndarray  # re-estimated global layer
    rejected_rows: list[np.ndarray]  # per participant: its rows rejected as outliers
    flagged: dict[int, str]


def reject_neuron_outliers(
    layers: Sequence[np.ndarray],
    match: LayerMatch,
    settings: RobustSettings,
    *,
    mu0: float = 0.0,
) -> NeuronRejection:
    """Reject outlying holder rows of matched neurons held by 3 or more participants and re-estimate
    those neurons with the BBP posterior mean ``(lambda0 mu0 + lambda sum(kept)) / (lambda0 + lambda n)``."""
    layers = [np.asarray(rows, dtype=np.float64) for rows in layers]
    holders: dict[int, list[tuple[int, int]]] = {}
    for client, assignment in enumerate(match.assignments):
        for row, neuron in enumerate(assignment):
            holders.setdefault(int(neuron), []).append((client, row))
    precision, prior_precision = 1.0 / match.sigma, 1.0 / match.sigma0
    global_layer = match.global_layer.copy()
    rejected: list[list[int]] = [[] for _ in layers]
    examined = np.zeros(len(layers), dtype=np.int64)
    for neuron, members in holders.items():
        if len(members) < 3:
            continue
        rows = np.stack([layers[c][r] for c, r in members])
        outlying = outlying_members(rows, settings.neuron_outlier_factor)
        for (client, row), is_outlier in zip(members, outlying):
            examined[client] += 1
            if is_outlier:
                rejected[client].append(row)
        if outlying.any():
            kept = rows[~outlying]
            global_layer[neuron] = (prior_precision * mu0 + precision * kept.sum(axis=0)) / (
                prior_precision + precision * kept.shape[0]
            )
    counts = np.array([len(rows) for rows in rejected])
    return NeuronRejection(
        global_layer=global_layer,
        rejected_rows=[np.asarray(rows, dtype=np.int64) for rows in rejected],
        flagged=_flag_by_share(counts, examined, settings.flag_share, "neurons"),
    )


def reject_output_outliers(
    layers: Sequence[tuple[np.ndarray, np.ndarray]],
    class_counts: Sequence[Sequence[int]],
    settings: RobustSettings,
) -> tuple[np.ndarray, dict[int, str]]:
    """Output layer: for every class with 3 or more holders (participants with samples of it), reject
    holders whose class row (weights then bias) is an outlier. Returns the class counts with rejected
    (participant, class) pairs set to 0, to feed :func:`federation.core.fedma.combine_output_layers`,
    and the flagged participants."""
    counts = np.array(class_counts, dtype=np.float64)
    rows = np.stack([np.hstack([np.asarray(w, np.float64), np.asarray(b, np.float64)[:, None]]) for w, b in layers])
    rejected = np.zeros(len(layers), dtype=np.int64)
    examined = np.zeros(len(layers), dtype=np.int64)
    for label in range(counts.shape[1]):
        holders = np.flatnonzero(counts[:, label] > 0)
        if holders.size < 3:
            continue
        outlying = outlying_members(rows[holders, label], settings.neuron_outlier_factor)
        examined[holders] += 1
        rejected[holders[outlying]] += 1
        counts[holders[outlying], label] = 0
    return counts, _flag_by_share(rejected, examined, settings.flag_share, "class rows")
