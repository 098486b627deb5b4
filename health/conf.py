"""Health settings, each overridable in Django settings (and so from the environment by the settings
module); the defaults are what the issue asks for."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from .core.thresholds import ThresholdConfig


def baseline_batches() -> int:
    """How many healthy batches of a press form the baseline of one operating condition."""
    return int(getattr(settings, "HEALTH_BASELINE_BATCHES", 3))


def escalate_after() -> timedelta:
    """How long an alarm may stay unacknowledged before it is escalated."""
    return timedelta(hours=float(getattr(settings, "HEALTH_ALARM_ESCALATE_AFTER_HOURS", 24)))


def escalation_check_seconds() -> float:
    """How often the periodic task looks for alarms to escalate."""
    return float(getattr(settings, "HEALTH_ESCALATION_CHECK_SECONDS", 300))


def kurtogram_level() -> int:
    """Deepest kurtogram level of the analysis (clipped by the core to what a batch's length allows)."""
    return int(getattr(settings, "HEALTH_KURTOGRAM_LEVEL", 6))


def stroke_rate_band_spm() -> float:
    """Width of the stroke-rate bands that separate operating conditions (strokes per minute)."""
    return float(getattr(settings, "HEALTH_STROKE_RATE_BAND_SPM", 10))


def load_band_percent() -> float:
    """Width of the load bands that separate operating conditions (% of rated load)."""
    return float(getattr(settings, "HEALTH_LOAD_BAND_PERCENT", 25))


def chart_max_points() -> int:
    """The most points a chart series may carry (longer series are downsampled)."""
    return int(getattr(settings, "HEALTH_CHART_MAX_POINTS", 2000))


def trend_points() -> int:
    """How many recent batches the press's stored trend (fleet sparkline) keeps."""
    return int(getattr(settings, "HEALTH_TREND_POINTS", 60))


def default_thresholds() -> ThresholdConfig:
    """Thresholds of the adaptive monitor that a press's per-condition health index goes through.

    The monitor is fed the index as a z-score against the condition's healthy baseline, whose healthy
    spread is 1 by construction, so the rolling spread is floored at 1 (a narrower spread would only
    reflect the few values a new baseline starts with); two of three batches must agree before a level
    is raised from the index alone (an isolated spike does not alarm), and a short quarantine keeps the
    onset of a fault out of the rolling baseline.
    """
    return ThresholdConfig(
        warning_z=float(getattr(settings, "HEALTH_WARNING_Z", 3.0)),
        alarm_z=float(getattr(settings, "HEALTH_ALARM_Z", 6.0)),
        danger_z=float(getattr(settings, "HEALTH_DANGER_Z", 12.0)),
        persistence_n=2,
        persistence_m=3,
        min_baseline=5,
        baseline_size=200,
        baseline_delay=3,
        spread_floor=1.0,
    )
