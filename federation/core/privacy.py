"""Differential privacy for participants' updates: clipping, Gaussian noise, and the RDP accounting.

Mechanism (the Gaussian mechanism on clipped updates, as in DP-FedAvg: McMahan et al., "Learning
Differentially Private Recurrent Language Models", ICLR 2018): a participant's update is the difference
between the weights it trained and the weights it was sent; it is scaled down to L2 norm at most
``clip_norm`` and Gaussian noise of standard deviation ``noise_multiplier * clip_norm`` is added to
every coordinate before the update leaves the participant. The noise is added on the participant's side,
so the aggregator never sees an unprotected update, whatever the aggregation rule (FedAvg, FedMA).

Accounting: every step in which a participant releases an update is one application of the (sub)sampled
Gaussian mechanism with sensitivity ``clip_norm`` under add/remove-one-participant adjacency, with
``sample_rate`` the probability that a participant takes part in a step (1.0 when all do). The privacy
spent is computed with opacus' ``RDPAccountant`` (Renyi DP, Mironov, CSF 2017; conversion to
(epsilon, delta) by Balle et al., AISTATS 2020), not by a hand-written accountant.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .specs import NetworkWeights


class PrivacyBudgetExceeded(RuntimeError):
    """Raised before a step that would take the privacy spent past the task's epsilon budget."""


@dataclass(frozen=True)
class PrivacySettings:
    """A task's differential-privacy settings; ``epsilon_budget`` is the most (epsilon, at ``delta``)
    the task may spend."""

    clip_norm: float
    noise_multiplier: float
    epsilon_budget: float
    delta: float = 1e-5
    sample_rate: float = 1.0

    def __post_init__(self) -> None:
        if not (self.clip_norm > 0 and math.isfinite(self.clip_norm)):
            raise ValueError("clip_norm must be a positive finite number")
        if not (self.noise_multiplier > 0 and math.isfinite(self.noise_multiplier)):
            raise ValueError("noise_multiplier must be a positive finite number")
        if not self.epsilon_budget > 0:
            raise ValueError("epsilon_budget must be positive")
        if not 0 < self.delta < 1:
            raise ValueError("delta must lie in (0, 1)")
        if not 0 < self.sample_rate <= 1:
            raise ValueError("sample_rate must lie in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrivacySettings:
        return cls(**data)


def epsilon_spent(settings: PrivacySettings, steps: int) -> float:
    """Epsilon (at ``settings.delta``) after ``steps`` releases, from opacus' RDPAccountant."""
    from opacus.accountants import RDPAccountant

    if steps < 0:
        raise ValueError("steps must be >= 0")
    accountant = RDPAccountant()
    for _ in range(steps):
        accountant.step(noise_multiplier=settings.noise_multiplier, sample_rate=settings.sample_rate)
    return float(accountant.get_epsilon(delta=settings.delta))


def check_budget(settings: PrivacySettings, steps_done: int) -> float:
    """Epsilon that one more step would bring the task to; raises :class:`PrivacyBudgetExceeded`
    if that is over ``settings.epsilon_budget``."""
    after = epsilon_spent(settings, steps_done + 1)
    if after > settings.epsilon_budget:
        spent = epsilon_spent(settings, steps_done)
        raise PrivacyBudgetExceeded(
            f"privacy budget exhausted: {steps_done} steps spent epsilon={spent:.4g} "
            f"(delta={settings.delta:g}); one more step would reach {after:.4g} > budget "
            f"{settings.epsilon_budget:g}"
        )
    return after


def privatise_update(
    start: NetworkWeights,
    trained: NetworkWeights,
    *,
    clip_norm: float,
    noise_multiplier: float,
    rng: np.random.Generator,
) -> tuple[NetworkWeights, float]:
    """Clip the update ``trained - start`` (all layers together) to L2 norm ``clip_norm`` and add
    N(0, (noise_multiplier * clip_norm)^2) to each coordinate. Returns ``start + noisy update`` and
    the update's norm before clipping. Pass ``rng = np.random.default_rng()`` (fresh OS entropy) in
    production; a seeded generator only in tests."""
    if len(start) != len(trained):
        raise ValueError("start and trained weights have different numbers of layers")
    deltas = [
        (
            np.asarray(tw, np.float64) - np.asarray(sw, np.float64),
            np.asarray(tb, np.float64) - np.asarray(sb, np.float64),
        )
        for (sw, sb), (tw, tb) in zip(start, trained)
    ]
    norm = math.sqrt(sum(float(np.sum(dw**2) + np.sum(db**2)) for dw, db in deltas))
    scale = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    deviation = noise_multiplier * clip_norm
    noisy: NetworkWeights = []
    for (sw, sb), (dw, db) in zip(start, deltas):
        noisy.append(
            (
                np.asarray(sw, np.float64) + scale * dw + rng.normal(0.0, deviation, size=dw.shape),
                np.asarray(sb, np.float64) + scale * db + rng.normal(0.0, deviation, size=db.shape),
            )
        )
    return noisy, norm
