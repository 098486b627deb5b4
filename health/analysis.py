"""The health core as the portal calls it: one channel with its press's fault frequencies, baseline
fitting from healthy batches, and the JSON the rows store. Arrays and dataclasses in and out; no ORM
(``health.services`` turns rows into these inputs and persists what comes back).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .core.analysis import DEFAULT_WINDOW_SIZE, FAULT_EVIDENCE_STRENGTH, AnalysisResult, analyze_signal
from .core.baseline import HealthyBaseline
from .core.faults import BearingGeometry
from .core.press import remove_stroke_synchronous_average
from .core.thresholds import ThresholdConfig
from .core.validation import MIN_SAMPLES, SignalError


@dataclass(frozen=True)
class ChannelSetup:
    """What the analysis of one channel needs besides its samples.

    ``shaft_hz`` the shaft frequency of the monitored component (Hz); ``bearing`` / ``gear_teeth`` its
    geometry (None when unknown); ``stroke_rate_spm`` the press's stroke rate (strokes per minute);
    ``iso_channel`` ``velocity_mm_s`` / ``velocity_m_s`` / ``velocity_in_s`` for a velocity channel (ISO 10816-3 zone), else None.
    """

    sampling_rate_hz: float
    shaft_hz: float | None = None
    bearing: BearingGeometry | None = None
    gear_teeth: int | None = None
    stroke_rate_spm: float | None = None
    iso_channel: str | None = None
    kurtogram_level: int = 6
    thresholds: ThresholdConfig = ThresholdConfig()

    def core_options(self) -> dict:
        options = {"shaft_hz": self.shaft_hz, "stroke_rate_spm": self.stroke_rate_spm,
                   "kurtogram_level": self.kurtogram_level, "thresholds": self.thresholds,
                   "iso_channel": self.iso_channel}
        if self.shaft_hz is not None:
            options["bearing"] = self.bearing
            options["gear_teeth"] = self.gear_teeth
        return options


def analyze_channel(x: np.ndarray, setup: ChannelSetup, *, baseline: HealthyBaseline | None = None,
                    trigger: np.ndarray | None = None) -> AnalysisResult:
    """Analyse one channel, against a saved baseline when there is one. Raises the core's SignalError
    (a ValueError) for a signal it cannot analyse."""
    return analyze_signal(x, setup.sampling_rate_hz, baseline=baseline, trigger=trigger, **setup.core_options())


def baseline_window_size(lengths: Sequence[int]) -> int:
    """Window length for a baseline learned from records of these lengths: the core's default window,
    shortened so that every record still gives several half-overlapping windows (the core needs at
    least five healthy windows in all), never below the core's minimum."""
    return int(min(DEFAULT_WINDOW_SIZE, max(MIN_SAMPLES, min(lengths) // 2)))


def stroke_residual(x: np.ndarray, setup: ChannelSetup, trigger: np.ndarray | None = None) -> np.ndarray:
    """``x`` as the core sees it before its indicators: mean removed and, for a press, the
    stroke-synchronous average of its own stroke rate (or trigger) removed. Left as it is (mean removed)
    when the record holds too few strokes, as the core does."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    if trigger is None and setup.stroke_rate_spm is None:
        return x
    try:
        separated = remove_stroke_synchronous_average(x, setup.sampling_rate_hz, trigger=trigger,
                                                      stroke_rate_spm=setup.stroke_rate_spm)
    except SignalError:
        return x
    return separated.residual - separated.residual.mean()


@dataclass(frozen=True)
class HealthyRecord:
    """A healthy batch's samples of one channel with its own set-up (stroke rate) and trigger."""

    samples: np.ndarray
    setup: ChannelSetup
    trigger: np.ndarray | None = None


def fit_baseline(healthy: Sequence[HealthyRecord]) -> HealthyBaseline:
    """Learn a condition's :class:`HealthyBaseline` from healthy records.

    The core's ``baseline_windows`` path removes the stroke-synchronous average of every healthy record
    at the analysed signal's stroke rate; batches of one operating condition run at slightly different
    rates (a band, e.g. 60-70 strokes/min), and a stroke average taken at another rate leaves the
    forming impacts in. So each record's stroke average is removed here at its own rate first, and the
    residuals go to the core without a stroke rate (the alpha range does not depend on it: the stroke
    rate is the lowest fault frequency). Raises ValueError when the records hold too few windows.
    """
    if not healthy:
        raise ValueError("no healthy record to learn from")
    residuals = [stroke_residual(record.samples, record.setup, record.trigger) for record in healthy]
    setup = replace(healthy[-1].setup, stroke_rate_spm=None)
    window_size = baseline_window_size([len(residual) for residual in residuals])
    result = analyze_signal(residuals[-1], setup.sampling_rate_hz, baseline_windows=residuals, window_size=window_size,
                            **setup.core_options())
    return result.baseline


def has_fault_evidence(result: AnalysisResult) -> bool:
    """Whether a fault frequency stands out in the SES (the core's significance bar)."""
    return any(match.strength >= FAULT_EVIDENCE_STRENGTH for match in result.faults)


def window_index_z(result: AnalysisResult) -> list[float]:
    """The health index of each window of an analysed record, as z against its baseline."""
    if result.baseline is None:
        return []
    return [float(result.baseline.index_z(value)) for value in result.window_health_indices]


def finite_json(value):
    """``value`` with every NaN / infinite float replaced by None and numpy scalars made plain (JSON
    columns must hold standard JSON, and PostgreSQL refuses NaN)."""
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite_json(value.tolist())
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def result_fields(result: AnalysisResult) -> tuple[dict, dict]:
    """The run's columns and its chart row's columns from an analysis result."""
    data = finite_json(result.to_dict())
    run = {
        "indicators": data["indicators"],
        "band": data["band"],
        "faults": data["faults"],
        "ses_peaks": data["ses_peaks"],
        "health_index": data["health_index"],
        "health_index_z": data["health_index_z"],
        "window_health_indices": data["window_health_indices"],
        "batch_level": data["level"],
        "level_reasons": data["level_reasons"],
        "advice_key": data["advice"]["key"],
        "iso_zone": data["iso_zone"],
        "notes": sorted(set(data["notes"])),
    }
    chart = {"ses": data["ses"], "kurtogram": data["kurtogram"], "fault_candidates": data["fault_candidates"]}
    return run, chart
