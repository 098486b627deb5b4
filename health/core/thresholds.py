"""Adaptive alarm thresholds on a health-index time series: a small, serialisable state machine.

What it does per new health-index value (HEALTH.md, "Health index and thresholds"):

1. Normalise against a rolling baseline of recent index values: median, and a "double MAD"
   spread (for values above the median 1.4826 x the median absolute deviation of the baseline
   values above it, never less than the symmetric MAD; below the median, of those below; Rousseeuw & Croux 1993 for MAD, the two-sided form for
   skewed data), with a floor on the spread. Health indices built from kurtosis-like indicators are
   skewed to the right; a symmetric MAD would understate the upper spread and raise false alarms. The baseline is only updated while the press is Normal, so a developing fault
   is not learned as normal (frozen during alerts): a Normal value first waits ``baseline_delay``
   windows in quarantine and joins the baseline only if no alert cue appeared meanwhile (any cue
   discards the quarantine, which may hold the onset of a fault). Until ``min_baseline`` values
   are collected the monitor is learning and reports Normal.
2. Track small persistent shifts with an EWMA of the z-score (Roberts, Technometrics 1959; limit
   ``ewma_limit`` asymptotic standard deviations) and a one-sided CUSUM (Page, Biometrika 1954;
   slack ``cusum_slack``, decision interval ``cusum_limit``). Either one firing is a Warning cue.
   Both see z clipped at the Warning threshold (a Huber-type robust chart), so one isolated spike
   cannot set them off; large values are the business of step 3.
3. Map z to a candidate level with the raise thresholds (Warning ``warning_z``, Alarm ``alarm_z``,
   Danger ``danger_z``) and, for holding a level, with lower clear thresholds
   (``clear_fraction`` of each): hysteresis.
4. Persistence: a level is raised only when at least ``persistence_n`` of the last
   ``persistence_m`` candidates reach it (isolated spikes do not alarm); a level is held while any
   of the last ``persistence_m`` windows still supports it under the clear thresholds.
5. Soft severity: where z sits between the Warning and the Alarm thresholds, 0..1.

Levels: 0 Normal, 1 Warning, 2 Alarm, 3 Danger. ``to_dict`` / ``from_dict`` give a JSON-able state
that the portal persists per press and operating condition.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

NORMAL, WARNING, ALARM, DANGER = 0, 1, 2, 3
LEVEL_NAMES: tuple[str, ...] = ("Normal", "Warning", "Alarm", "Danger")


def level_name(level: int) -> str:
    """English name of a level 0..3 (Normal, Warning, Alarm, Danger)."""
    return LEVEL_NAMES[int(level)]


@dataclass(frozen=True)
class ThresholdConfig:
    """Settings of :class:`ThresholdMonitor` (all z values in robust standard deviations)."""

    warning_z: float = 3.0
    alarm_z: float = 6.0
    danger_z: float = 12.0
    clear_fraction: float = 0.7
    persistence_n: int = 3
    persistence_m: int = 5
    ewma_lambda: float = 0.2
    ewma_limit: float = 4.0
    cusum_slack: float = 1.0
    cusum_limit: float = 10.0
    baseline_size: int = 200
    min_baseline: int = 50
    baseline_delay: int = 10
    spread_floor: float = 0.05

    def __post_init__(self) -> None:
        """Reject inconsistent settings (thresholds out of order, impossible persistence, ...)."""
        if not 0 < self.warning_z < self.alarm_z < self.danger_z:
            raise ValueError("thresholds must satisfy 0 < warning_z < alarm_z < danger_z")
        if not 0 < self.clear_fraction <= 1:
            raise ValueError("clear_fraction must lie in (0, 1]")
        if not 1 <= self.persistence_n <= self.persistence_m:
            raise ValueError("persistence needs 1 <= persistence_n <= persistence_m")
        if not 0 < self.ewma_lambda <= 1:
            raise ValueError("ewma_lambda must lie in (0, 1]")
        if not 2 <= self.min_baseline <= self.baseline_size:
            raise ValueError("need 2 <= min_baseline <= baseline_size")
        if self.baseline_delay < 0:
            raise ValueError("baseline_delay must be >= 0")

    @property
    def raise_thresholds(self) -> tuple[float, float, float]:
        """z thresholds that raise Warning, Alarm, Danger."""
        return (self.warning_z, self.alarm_z, self.danger_z)

    @property
    def clear_thresholds(self) -> tuple[float, float, float]:
        """Lower z thresholds below which a level may clear (hysteresis)."""
        return tuple(self.clear_fraction * threshold for threshold in self.raise_thresholds)

    def to_dict(self) -> dict:
        """JSON-able settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ThresholdConfig":
        """Settings saved with :meth:`to_dict`."""
        return cls(**data)


def level_for_z(z: float, thresholds: tuple[float, float, float]) -> int:
    """Highest level whose threshold ``z`` reaches: 0 below thresholds[0], 3 at or above thresholds[2]."""
    level = NORMAL
    for candidate, threshold in enumerate(thresholds, start=1):
        if z >= threshold:
            level = candidate
    return level


def soft_severity(z: float, config: ThresholdConfig) -> float:
    """Position of ``z`` between the Warning (0) and Alarm (1) thresholds, clipped to [0, 1]."""
    return float(np.clip((z - config.warning_z) / (config.alarm_z - config.warning_z), 0.0, 1.0))


@dataclass(frozen=True)
class ThresholdDecision:
    """Outcome of one :meth:`ThresholdMonitor.update`.

    ``level`` 0..3 and ``level_name``; ``z`` the index against the rolling baseline; ``ewma`` and
    ``cusum`` statistics; ``soft_severity`` 0..1 between Warning and Alarm; ``raised`` / ``cleared``
    when the level went up / down; ``learning`` during warm-up; ``baseline_frozen`` when the value
    was kept out of the baseline (and the quarantine discarded); ``reasons`` short machine-readable cues
    (``z>=warning``, ``ewma``, ``cusum``, ...).
    """

    level: int
    level_name: str
    z: float
    ewma: float
    cusum: float
    soft_severity: float
    raised: bool
    cleared: bool
    learning: bool
    baseline_frozen: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """JSON-able decision."""
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


class ThresholdMonitor:
    """Adaptive multi-level thresholds for one press and operating condition (see module doc).

    Usage: ``monitor = ThresholdMonitor(ThresholdConfig())``; ``decision = monitor.update(index)``
    for each new health-index value; ``monitor.to_dict()`` to persist and
    ``ThresholdMonitor.from_dict(saved)`` to resume.
    """

    def __init__(self, config: ThresholdConfig | None = None) -> None:
        """A fresh monitor in its learning phase."""
        self.config = config or ThresholdConfig()
        self.baseline: deque[float] = deque(maxlen=self.config.baseline_size)
        self.quarantine: deque[float] = deque()
        self.ewma = 0.0
        self.cusum = 0.0
        self.raise_history: deque[int] = deque(maxlen=self.config.persistence_m)
        self.hold_history: deque[int] = deque(maxlen=self.config.persistence_m)
        self.level = NORMAL
        self.n_updates = 0

    @property
    def learning(self) -> bool:
        """True until the rolling baseline holds ``min_baseline`` values."""
        return len(self.baseline) < self.config.min_baseline

    def baseline_statistics(self) -> tuple[float, float, float]:
        """Median and the floored lower and upper spreads (double MAD) of the rolling baseline."""
        values = np.fromiter(self.baseline, dtype=np.float64)
        centre = float(np.median(values))
        deviation = values - centre
        symmetric = 1.4826 * float(np.median(np.abs(deviation)))
        above, below = deviation[deviation > 0], -deviation[deviation < 0]
        upper = max(1.4826 * float(np.median(above)), symmetric) if above.size else symmetric
        lower = 1.4826 * float(np.median(below)) if below.size else symmetric
        floor = self.config.spread_floor
        return centre, max(lower, floor), max(upper, floor)

    def seed_baseline(self, healthy_indices) -> None:
        """Add known-healthy index values (e.g. the healthy history's own indices) to the baseline."""
        for value in healthy_indices:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError("healthy index values must be finite")
            self.baseline.append(value)

    def update(self, health_index: float) -> ThresholdDecision:
        """Feed one health-index value; return the decision (see module docstring for the steps)."""
        value = float(health_index)
        if not math.isfinite(value):
            raise ValueError("health index must be a finite number")
        config = self.config
        self.n_updates += 1
        if self.learning:
            self.baseline.append(value)
            return ThresholdDecision(
                level=NORMAL, level_name=LEVEL_NAMES[NORMAL], z=0.0, ewma=0.0, cusum=0.0, soft_severity=0.0,
                raised=False, cleared=False, learning=True, baseline_frozen=False, reasons=("learning",),
            )

        centre, lower_spread, upper_spread = self.baseline_statistics()
        z = (value - centre) / (upper_spread if value >= centre else lower_spread)
        clipped_z = min(max(z, -config.warning_z), config.warning_z)
        self.ewma = config.ewma_lambda * clipped_z + (1.0 - config.ewma_lambda) * self.ewma
        self.cusum = max(0.0, self.cusum + clipped_z - config.cusum_slack)
        ewma_sigma = math.sqrt(config.ewma_lambda / (2.0 - config.ewma_lambda))
        reasons: list[str] = []
        ewma_fired = self.ewma > config.ewma_limit * ewma_sigma
        cusum_fired = self.cusum > config.cusum_limit
        if ewma_fired:
            reasons.append("ewma")
        if cusum_fired:
            reasons.append("cusum")
        shift_level = WARNING if (ewma_fired or cusum_fired) else NORMAL

        z_level = level_for_z(z, config.raise_thresholds)
        if z_level:
            reasons.append(f"z>={LEVEL_NAMES[z_level].lower()}")
        raise_candidate = max(z_level, shift_level)
        hold_candidate = max(level_for_z(z, config.clear_thresholds), shift_level)
        self.raise_history.append(raise_candidate)
        self.hold_history.append(hold_candidate)

        persisted = NORMAL
        for level in (WARNING, ALARM, DANGER):
            if sum(candidate >= level for candidate in self.raise_history) >= config.persistence_n:
                persisted = level
        held = max(self.hold_history)
        previous = self.level
        self.level = max(persisted, min(previous, held))

        frozen = self.level != NORMAL or raise_candidate != NORMAL
        if frozen:
            self.quarantine.clear()
        else:
            self.quarantine.append(value)
            while len(self.quarantine) > config.baseline_delay:
                self.baseline.append(self.quarantine.popleft())
        return ThresholdDecision(
            level=self.level,
            level_name=LEVEL_NAMES[self.level],
            z=float(z),
            ewma=float(self.ewma),
            cusum=float(self.cusum),
            soft_severity=soft_severity(z, config),
            raised=self.level > previous,
            cleared=self.level < previous,
            learning=False,
            baseline_frozen=frozen,
            reasons=tuple(reasons),
        )

    def update_many(self, health_indices) -> list[ThresholdDecision]:
        """Feed a sequence of health-index values in order; return one decision per value."""
        return [self.update(value) for value in health_indices]

    def to_dict(self) -> dict:
        """JSON-able state: config, rolling baseline, quarantine, EWMA, CUSUM, histories, level."""
        return {
            "config": self.config.to_dict(),
            "baseline": list(self.baseline),
            "quarantine": list(self.quarantine),
            "ewma": self.ewma,
            "cusum": self.cusum,
            "raise_history": list(self.raise_history),
            "hold_history": list(self.hold_history),
            "level": self.level,
            "n_updates": self.n_updates,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ThresholdMonitor":
        """Resume a monitor saved with :meth:`to_dict`."""
        monitor = cls(ThresholdConfig.from_dict(data["config"]))
        monitor.baseline.extend(float(value) for value in data["baseline"])
        monitor.quarantine.extend(float(value) for value in data["quarantine"])
        monitor.ewma = float(data["ewma"])
        monitor.cusum = float(data["cusum"])
        monitor.raise_history.extend(int(value) for value in data["raise_history"])
        monitor.hold_history.extend(int(value) for value in data["hold_history"])
        monitor.level = int(data["level"])
        monitor.n_updates = int(data["n_updates"])
        return monitor
