"""Tranche sizing: from the top, the largest senior tranche whose loss measure stays under its target.

Sizing works on the horizon pool-loss distribution (simulated ``pool_loss`` or a closed-form
``LossDistribution``) with the static tranche payoff min(max(L - A, 0), D - A)/(D - A), the measure rating
approaches of the "probability of loss over the tranche's life" or "expected loss" kind apply (e.g. S&P's
and Moody's CDO methods in spirit; the targets themselves come from ``ratings``, which is illustrative).

For tranche j with detachment D_j (1 for the most senior, then the attachment found for the tranche
above), the attachment A_j is the smallest A in [0, D_j] with metric([A, D_j]) <= target_j:
* probability of loss P(L > A) is a step function of A; on n samples it is <= target exactly when at most
  k = floor(target·n) samples exceed A, so A_j = the (n - k)-th smallest loss;
* expected loss EL(A) = (1/(D - A))·∫_A^D P(L > x) dx is continuous and non-increasing in A; between two
  sample values it is a ratio of linear functions, so the crossing is solved exactly in its segment and
  then moved up by at most a few ulps until the direct evaluation (``static_tranche_metrics``) confirms it.
Re-evaluating the returned points on the same losses (the same seed) therefore reproduces the claim:
the metric is <= target at A_j and > target just below it (unless A_j = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .closed_form import LossDistribution
from .copula import simulate_pool_losses
from .deal import DEFAULT_SCENARIOS
from .metrics import static_tranche_metrics
from .pool import Pool
from .ratings import ILLUSTRATIVE_LABEL, band_target
from .structure import CopulaSpec

METRICS = ("probability_of_loss", "expected_loss")


@dataclass(frozen=True)
class TrancheSizing:
    """Result of ``size_tranches``: ``attachments`` and ``detachments`` senior first (fractions of the
    pool; the piece below the last attachment is the equity), the ``achieved`` metric of each tranche
    (on the same losses), the numeric ``targets`` used, the ``metric`` and the ``rating_table`` label
    when targets were given as bands. A tranche whose target cannot be met above its detachment gets
    zero width (attachment = detachment)."""

    attachments: list[float]
    detachments: list[float]
    achieved: list[float]
    targets: list[float]
    metric: str
    rating_table: str | None = None

    def to_dict(self) -> dict:
        """Plain-dict form (lists of floats)."""
        return {"attachments": self.attachments, "detachments": self.detachments, "achieved": self.achieved,
                "targets": self.targets, "metric": self.metric, "rating_table": self.rating_table}


def size_tranches(pool_losses: np.ndarray | LossDistribution | Pool, targets: Sequence[float | str], *,
                  metric: str = "probability_of_loss", copula: CopulaSpec | None = None,
                  horizon_months: int | None = None, scenarios: int = DEFAULT_SCENARIOS,
                  seed: int = 0) -> TrancheSizing:
    """Attachment points, senior first, that meet ``targets`` (one per tranche above the equity).

    ``pool_losses``: simulated pool losses (fractions of the pool, one per scenario), a closed-form
    ``LossDistribution``, or a ``Pool`` (then ``simulate_pool_losses`` runs with ``copula`` (default
    ``CopulaSpec()``), ``horizon_months`` (default the longest maturity), ``scenarios`` and ``seed``).
    ``targets``: numbers (fractions of the tranche) or band names of the illustrative rating table
    ("AAA", "AA", ...), senior first and non-decreasing. ``metric``: ``probability_of_loss`` or
    ``expected_loss``. See the module docstring for the method.
    """
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} unknown; expected 'probability_of_loss' or 'expected_loss'")
    if not len(targets):
        raise ValueError("give at least one target")
    uses_bands = any(isinstance(x, str) for x in targets)
    numeric = [band_target(x, metric) if isinstance(x, str) else float(x) for x in targets]
    for k, value in enumerate(numeric):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"target #{k + 1} = {value!r} must be in [0, 1]")
    if isinstance(pool_losses, Pool):
        horizon = pool_losses.max_maturity_months if horizon_months is None else int(horizon_months)
        pool_losses = simulate_pool_losses(pool_losses, copula or CopulaSpec(), horizon_months=horizon,
                                           scenarios=scenarios, seed=seed)
    if isinstance(pool_losses, LossDistribution):
        values, weights = pool_losses.loss, pool_losses.probability
        direct = lambda a, d, name: pool_losses.tranche_metrics(a, d)[name]
    else:
        samples = np.asarray(pool_losses, dtype=float)
        values, weights = samples, np.full(samples.size, 1.0 / samples.size)
        # Evaluate on the samples in their own order, exactly as a re-simulation would.
        direct = lambda a, d, name: static_tranche_metrics(samples, a, d)[name]
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]

    attachments, detachments, achieved = [], [], []
    detachment = 1.0
    for target in numeric:
        if detachment <= 0.0:
            attachment = 0.0
        elif metric == "probability_of_loss":
            attachment = _probability_attachment(values, weights, target, detachment)
        else:
            attachment = _expected_loss_attachment(values, weights, target, detachment,
                                                   lambda a, d=detachment: direct(a, d, "expected_loss"))
        attachments.append(attachment)
        detachments.append(detachment)
        achieved.append(float(direct(attachment, detachment, metric)) if attachment < detachment else 0.0)
        detachment = attachment
    return TrancheSizing(attachments=attachments, detachments=detachments, achieved=achieved, targets=numeric,
                         metric=metric, rating_table=ILLUSTRATIVE_LABEL if uses_bands else None)


def _probability_attachment(values, weights, target, detachment) -> float:
    """Smallest A with P(L > A) <= target (sorted ``values`` with probabilities ``weights``)."""
    if np.allclose(weights, weights[0]):
        # Count scenarios rather than sum probabilities, so the boundary is exact: at most k exceed.
        n = values.size
        k = int(np.floor(target * n + 1e-9))
        attachment = 0.0 if k >= n else float(values[n - k - 1])
    else:
        exceed = np.concatenate((np.cumsum(weights[::-1])[::-1][1:], [0.0]))   # P(L > values[k])
        attachment = 0.0 if target >= 1.0 else float(values[np.flatnonzero(exceed <= target)[0]])
    return float(min(max(attachment, 0.0), detachment))


def _expected_loss_attachment(values, weights, target, detachment, direct) -> float:
    """Smallest A in [0, D] with EL([A, D]) <= target, solved exactly between sample values; ``direct``
    evaluates EL([A, D]) the way a re-run would, to settle the last ulps."""
    D = detachment
    # m(y) = E[min(L, y)]; EL(A) = (m(D) - m(A)) / (D - A).
    cum_w = np.concatenate(([0.0], np.cumsum(weights)))
    cum_wl = np.concatenate(([0.0], np.cumsum(weights * values)))

    def mean_min(y):
        k = np.searchsorted(values, y, side="right")
        return cum_wl[k] + y * (1.0 - cum_w[k])

    def expected(a):
        return (mean_min(D) - mean_min(a)) / (D - a)

    if expected(0.0) <= target:
        return 0.0
    survival_at_top = 1.0 - cum_w[np.searchsorted(values, D, side="left")]    # P(L >= D) = EL(D-)
    if survival_at_top > target:
        return D
    # Breakpoints: sample values inside (0, D). EL is non-increasing; find the segment of the crossing.
    points = np.concatenate(([0.0], values[(values > 0) & (values < D)], [D]))
    lo, hi = 0, points.size - 1           # expected(points[lo]) > target, crossing before points[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if expected(points[mid]) > target:
            lo = mid
        else:
            hi = mid
    # On [points[lo], points[hi]) the survival s is constant: EL(A)·(D - A) = m(D) - m(lo) - s·(A - lo).
    a0 = points[lo]
    k = np.searchsorted(values, a0, side="right")
    s = 1.0 - cum_w[k]
    base = mean_min(D) - mean_min(a0)
    attachment = (base + s * a0 - target * D) / (s - target) if s != target else points[hi]
    attachment = float(min(max(attachment, a0), points[hi]))
    # Rounding: step up (1 ulp, then doubling) until the direct evaluation agrees; D at the latest.
    step = max(abs(attachment), 1e-300) * np.finfo(float).eps
    while attachment < D and direct(attachment) > target:
        attachment = float(min(attachment + step, D))
        step *= 2.0
    return attachment

