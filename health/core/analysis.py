"""One call from a raw vibration window to indicators, band, fault frequencies, health index and level.

:func:`analyze_signal` is what the ``manage.py health_analyze`` command and the portal's health task
call. The chain (HEALTH.md):

1. validate the input (:class:`~health.core.validation.SignalError` on empty, too short, NaN/inf);
2. presses: remove the stroke-synchronous average (trigger channel or stroke rate);
3. SWNSES indicators, time and cyclic forms, on windows of ``window_size`` samples (median over
   the windows), shaft harmonics left out of the cyclic forms (Hou & Wang, MSSP 2022);
4. fast kurtogram / infogram on the 1/3-binary grid, band selection (Antoni 2007, 2016), with the
   band kept wide enough and high enough for the fault frequencies of interest;
5. re-filter the chosen band, its squared envelope spectrum, SES peaks, and matching of the peaks
   to the bearing / gear / stroke fault frequencies with a slip tolerance (harmonics and
   sidebands count as evidence);
6. with a healthy baseline (raw healthy windows, or a saved :class:`HealthyBaseline`): robust
   z-scores per indicator, the weighted health index, its z against the baseline, and the level
   0 Normal, 1 Warning, 2 Alarm, 3 Danger from the Warning/Alarm/Danger thresholds;
   a fault frequency that stands out lifts a Normal verdict to Warning. Without a baseline the
   level rests on the fault evidence alone;
7. optionally the ISO 10816-3 zone of a velocity channel; a maintenance advice for the verdict.

The single-window verdict here has no memory; the portal feeds the health index of successive
batches to a :class:`~health.core.thresholds.ThresholdMonitor` for persistence and hysteresis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sp_fft

from .advice import Advice, maintenance_advice
from .baseline import INDEX_INDICATOR_NAMES, HealthyBaseline, fit_healthy_baseline
from .envelope import normalized_ses, squared_envelope_spectrum
from .faults import (
    BearingGeometry,
    FaultFrequency,
    FaultMatch,
    SesPeak,
    bearing_fault_frequencies,
    bearing_preset,
    find_ses_peaks,
    gear_fault_frequencies,
    match_fault_frequencies,
    ses_background,
    stroke_fault_frequencies,
)
from .indicators import INDICATOR_NAMES, envelope_indicators, swnses_indicators
from .iso10816 import IsoZone, acceleration_to_velocity_rms_mm_s, iso10816_zone, velocity_rms_mm_s
from .kurtogram import Band, KurtogramResult, band_complex_envelope, fast_kurtogram
from .press import remove_stroke_synchronous_average
from .thresholds import ALARM, LEVEL_NAMES, NORMAL, WARNING, ThresholdConfig, level_for_z
from .validation import MIN_SAMPLES, SignalError, validate_sampling_rate, validate_signal

DEFAULT_WINDOW_SIZE = 8192
DEFAULT_KURTOGRAM_LEVEL = 6
DEFAULT_ALPHA_MIN_HZ = 1.0
DEFAULT_ALPHA_MAX_HZ = 500.0
# A fault "stands out" when its matched SES lines add up to this strength (sum over lines of
# their dB above the 10 dB detection level, plus 1 each): e.g. one line 24 dB above the local
# background, or two lines 17 dB above it. Pure noise essentially never gets there (the chance
# of one exponential SES bin 24 dB above its mean is e^-250); see tests on healthy records.
FAULT_EVIDENCE_STRENGTH = 15.0
# Without a baseline, evidence this strong with at least two lines is an Alarm.
FAULT_ALARM_STRENGTH = 45.0
SES_CHART_POINTS = 2048
BASELINE_OVERLAP = 0.5
#: Signal kinds the ISO 10816-3 zone is computed from; velocities are scaled to mm/s first.
VELOCITY_TO_MM_S = {"velocity_mm_s": 1.0, "velocity_m_s": 1000.0, "velocity_in_s": 25.4}
ISO_CHANNEL_KINDS = (*VELOCITY_TO_MM_S, "acceleration_m_s2", "acceleration_g")
STANDARD_GRAVITY_M_S2 = 9.80665


@dataclass
class AnalysisResult:
    """Everything :func:`analyze_signal` found; :meth:`to_dict` gives the JSON-able form.

    ``indicators``: ``{"time": {name: value}, "cyclic": {name: value}}`` (median over windows,
    broadband); ``band_indicators``: the same in the selected band; ``band``; ``kurtogram``;
    ``ses_frequency_hz`` / ``ses_amplitude``: chart data (peak-preserving downsampled SES of the
    band, normalized to sum 1 over the chart range); ``ses_peaks``; ``faults`` (all matches,
    strongest first); ``fault_candidates``; ``health_index`` and ``health_index_z`` (None without a
    baseline); ``window_health_indices``; ``level`` 0..3; ``level_reasons``; ``advice``;
    ``iso_zone``; ``stroke`` (stroke-average removal summary or None); ``baseline`` used;
    ``notes`` (human-readable remarks such as a clipped kurtogram level).
    """

    sampling_rate_hz: float
    n_samples: int
    indicators: dict[str, dict[str, float]]
    band_indicators: dict[str, dict[str, float]]
    band: Band
    kurtogram: KurtogramResult
    ses_frequency_hz: np.ndarray
    ses_amplitude: np.ndarray
    ses_peaks: list[SesPeak]
    faults: list[FaultMatch]
    fault_candidates: list[FaultFrequency]
    health_index: float | None
    health_index_z: float | None
    window_health_indices: list[float]
    level: int
    level_reasons: list[str]
    advice: Advice
    iso_zone: IsoZone | None = None
    stroke: dict | None = None
    baseline: HealthyBaseline | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def level_name(self) -> str:
        """English name of ``level`` (Normal, Warning, Alarm, Danger)."""
        return LEVEL_NAMES[self.level]

    @property
    def significant_faults(self) -> list[FaultMatch]:
        """Matches whose strength reaches :data:`FAULT_EVIDENCE_STRENGTH`, strongest first."""
        return [match for match in self.faults if match.strength >= FAULT_EVIDENCE_STRENGTH]

    def to_dict(self) -> dict:
        """JSON-able summary with the chart data (lists, floats, strings only)."""
        return {
            "sampling_rate_hz": self.sampling_rate_hz,
            "n_samples": self.n_samples,
            "duration_s": self.n_samples / self.sampling_rate_hz,
            "indicators": {
                name: {"time": self.indicators["time"][name], "cyclic": self.indicators["cyclic"][name]}
                for name in INDICATOR_NAMES
            },
            "band_indicators": {
                name: {"time": self.band_indicators["time"][name], "cyclic": self.band_indicators["cyclic"][name]}
                for name in INDICATOR_NAMES
            },
            "band": self.band.to_dict(),
            "ses_peaks": [peak.to_dict() for peak in self.ses_peaks],
            "faults": [
                {**match.to_dict(), "significant": match.strength >= FAULT_EVIDENCE_STRENGTH} for match in self.faults
            ],
            "fault_candidates": [
                {"component": c.component, "fault": c.fault, "label": c.label, "expected_hz": c.frequency_hz}
                for c in self.fault_candidates
            ],
            "health_index": self.health_index,
            "health_index_z": self.health_index_z,
            "window_health_indices": list(self.window_health_indices),
            "level": self.level,
            "level_name": self.level_name,
            "level_reasons": list(self.level_reasons),
            "advice": self.advice.to_dict(),
            "iso_zone": self.iso_zone.to_dict() if self.iso_zone else None,
            "stroke": self.stroke,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "ses": {"frequency_hz": self.ses_frequency_hz.tolist(), "amplitude": self.ses_amplitude.tolist()},
            "kurtogram": {
                **self.kurtogram.to_dict(),
                "max_level": self.kurtogram.max_level,
                "selection_method": self.band.method,
            },
            "notes": list(self.notes),
        }


def window_starts(n_samples: int, window_size: int, *, overlap: float = 0.0) -> np.ndarray:
    """Start indices of windows of ``window_size`` with the given overlap (0 to <1), the last one
    flush with the end so no sample is left out."""
    if n_samples <= window_size:
        return np.zeros(1, dtype=int)
    hop = max(1, int(round(window_size * (1.0 - overlap))))
    starts = np.arange(0, n_samples - window_size + 1, hop)
    if starts[-1] + window_size < n_samples:
        starts = np.append(starts, n_samples - window_size)
    return starts


def windowed_indicators(
    x: np.ndarray,
    sampling_rate_hz: float,
    *,
    window_size: int,
    alpha_min_hz: float,
    alpha_max_hz: float,
    shaft_hz: float | None = None,
    overlap: float = 0.0,
) -> np.ndarray:
    """Time and cyclic SWNSES indicators of each window of ``x``: array (n_windows, 8).

    Inputs: one channel; ``window_size`` samples per window and their ``overlap`` (see
    :func:`window_starts`; healthy records use 50 % to get more baseline windows out of little
    data, the analysed signal none); the cyclic range (Hz); ``shaft_hz`` to leave shaft harmonics
    out of the cyclic forms. Column order: :data:`~health.core.baseline.INDEX_INDICATOR_NAMES`.
    All windows are processed in one batched call. Method: Hou & Wang, MSSP 2022.
    """
    x = np.asarray(x)
    window_size = min(int(window_size), x.size)
    starts = window_starts(x.size, window_size, overlap=overlap)
    windows = x[starts[:, np.newaxis] + np.arange(window_size)]
    time_values, cyclic_values = envelope_indicators(
        windows.astype(np.float32), sampling_rate_hz, alpha_min_hz=alpha_min_hz, alpha_max_hz=alpha_max_hz, shaft_hz=shaft_hz
    )
    return np.hstack([time_values, cyclic_values])


def _fault_candidates(
    shaft_hz: float | None,
    bearing: str | BearingGeometry | None,
    gear_teeth: int | None,
    stroke_rate_spm: float | None,
) -> list[FaultFrequency]:
    """Fault frequencies (Hz) to look for, from the bearing, gear and stroke rate given."""
    candidates: list[FaultFrequency] = []
    if bearing is not None:
        if shaft_hz is None:
            raise ValueError("bearing fault frequencies need the shaft frequency (shaft_hz)")
        geometry = bearing if isinstance(bearing, BearingGeometry) else bearing_preset(bearing)
        candidates += bearing_fault_frequencies(geometry, shaft_hz)
    if gear_teeth is not None:
        if shaft_hz is None:
            raise ValueError("gear mesh frequencies need the shaft frequency (shaft_hz)")
        candidates += gear_fault_frequencies(int(gear_teeth), shaft_hz)
    if stroke_rate_spm is not None:
        candidates += stroke_fault_frequencies(float(stroke_rate_spm))
    return candidates


def _baseline_records(baseline_windows) -> list[np.ndarray]:
    """Healthy records as a list of 1-D arrays (a 1-D array is one record, 2-D rows are records)."""
    if isinstance(baseline_windows, np.ndarray):
        if baseline_windows.ndim == 1:
            return [baseline_windows]
        if baseline_windows.ndim == 2:
            return list(baseline_windows)
        raise SignalError("baseline_windows must be 1-D (one record) or 2-D (one record per row)")
    return [np.asarray(record) for record in baseline_windows]


def _peak_preserving_downsample(frequency_hz: np.ndarray, values: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the maximum of each block so SES lines survive the chart decimation."""
    if values.size <= n_points:
        return frequency_hz, values
    block = int(np.ceil(values.size / n_points))
    n_blocks = values.size // block
    trimmed = values[: n_blocks * block].reshape(n_blocks, block)
    index = np.argmax(trimmed, axis=1) + np.arange(n_blocks) * block
    return frequency_hz[index], values[index]


def analyze_signal(
    x,
    sampling_rate_hz: float,
    *,
    shaft_hz: float | None = None,
    bearing: str | BearingGeometry | None = None,
    gear_teeth: int | None = None,
    stroke_rate_spm: float | None = None,
    trigger=None,
    baseline_windows=None,
    baseline_shaft_hz: float | None = None,
    baseline: HealthyBaseline | None = None,
    window_size: int = DEFAULT_WINDOW_SIZE,
    kurtogram_level: int = DEFAULT_KURTOGRAM_LEVEL,
    band_method: str = "ses_negentropy",
    min_bandwidth_hz: float | None = None,
    min_band_low_hz: float | None = None,
    alpha_min_hz: float = DEFAULT_ALPHA_MIN_HZ,
    alpha_max_hz: float | None = None,
    tolerance: float = 0.02,
    n_harmonics: int = 3,
    thresholds: ThresholdConfig | None = None,
    index_weights: np.ndarray | None = None,
    iso_channel: str | None = None,
    iso_group: str = "group2",
    iso_foundation: str = "rigid",
) -> AnalysisResult:
    """Analyse one channel of vibration: indicators, band, SES, fault frequencies, health index, level.

    Inputs:
      ``x`` one channel (any unit; acceleration usually), ``sampling_rate_hz``;
      ``shaft_hz`` shaft rotation frequency (Hz) with ``bearing`` (a preset name such as ``"6205"``
      or a :class:`BearingGeometry`) and/or ``gear_teeth`` for a gear on that shaft;
      ``stroke_rate_spm`` strokes per minute and/or ``trigger`` (same length as ``x``) for presses:
      the stroke-synchronous average is removed first (if the record holds two strokes);
      ``baseline_windows`` healthy records of the same channel and operating condition (1-D array =
      one record, 2-D = one per row, or a list), processed exactly like ``x`` (with
      ``baseline_shaft_hz`` if they ran at another shaft speed; default ``shaft_hz``); or ``baseline`` a saved
      :class:`HealthyBaseline` (its window size and cyclic range are then used);
      ``window_size`` samples per indicator window (no overlap on ``x``, 50 % on healthy records);
      ``kurtogram_level`` deepest
      level (clipped to what the length allows); ``band_method`` ``ses_negentropy`` (default, robust
      to isolated shocks), ``negentropy`` or ``kurtosis``; ``min_bandwidth_hz`` / ``min_band_low_hz``
      band constraints (defaults: 2.2x and 3x the highest envelope fault frequency, so the band's SES
      reaches the fault lines and stays clear of shaft-rate content; 0 without fault frequencies);
      the cyclic range ``alpha_min_hz``..``alpha_max_hz`` of the cyclic indicators (default max:
      500 Hz, or 3.5x the highest fault frequency if larger, and at most fs/4);
      ``tolerance`` relative slip tolerance of the fault matching and ``n_harmonics``;
      ``thresholds`` (Warning/Alarm/Danger z levels); ``index_weights`` per indicator;
      ``iso_channel`` ``velocity_mm_s`` (or ``velocity_m_s``, ``velocity_in_s``), ``acceleration_m_s2`` or ``acceleration_g`` to report the
      ISO 10816-3 zone with ``iso_group`` / ``iso_foundation``.
    Output: :class:`AnalysisResult` (``.to_dict()`` for JSON).
    Raises :class:`SignalError` (a ValueError) for a bad signal or sampling rate, ValueError for
    inconsistent options.
    Methods: Hou & Wang MSSP 2022 (SWNSES); Antoni MSSP 2007 (fast kurtogram) and MSSP 2016
    (infogram); Randall & Antoni MSSP 2011 (envelope analysis, fault frequencies); ISO 10816-3.
    """
    sampling_rate_hz = validate_sampling_rate(sampling_rate_hz)
    x = validate_signal(x)
    if baseline is not None and baseline_windows is not None:
        raise ValueError("give either baseline_windows (raw healthy records) or baseline (saved), not both")
    if shaft_hz is not None and not shaft_hz > 0:
        raise ValueError("shaft_hz must be a positive frequency in Hz")
    if iso_channel is not None and iso_channel not in ISO_CHANNEL_KINDS:
        raise ValueError(f"iso_channel must be one of {ISO_CHANNEL_KINDS}")
    if trigger is not None and np.asarray(trigger).reshape(-1).size != x.size:
        raise SignalError(f"trigger has {np.asarray(trigger).size} samples but the signal has {x.size}")
    config = thresholds or ThresholdConfig()
    notes: list[str] = []

    candidates = _fault_candidates(shaft_hz, bearing, gear_teeth, stroke_rate_spm)
    envelope_rates = [c.frequency_hz for c in candidates if c.fault != "mesh"]
    highest_fault_hz = max(envelope_rates) if envelope_rates else 0.0

    if baseline is not None:
        window_size = baseline.window_size
        alpha_min_hz, alpha_max_hz = baseline.alpha_min_hz, baseline.alpha_max_hz
        if abs(baseline.sampling_rate_hz - sampling_rate_hz) > 1e-6 * sampling_rate_hz:
            raise ValueError(
                f"baseline was learned at {baseline.sampling_rate_hz} Hz, signal is at {sampling_rate_hz} Hz"
            )
        if x.size < window_size:
            raise SignalError(f"signal has {x.size} samples, shorter than the baseline window of {window_size}")
    else:
        if alpha_max_hz is None:
            alpha_max_hz = max(DEFAULT_ALPHA_MAX_HZ, 3.5 * highest_fault_hz)
        alpha_max_hz = min(alpha_max_hz, sampling_rate_hz / 4.0)
        window_size = int(min(window_size, x.size))
        if window_size < MIN_SAMPLES:
            raise SignalError(f"window_size must be at least {MIN_SAMPLES} samples")

    def preprocess(record: np.ndarray, record_trigger=None) -> tuple[np.ndarray, dict | None]:
        """Remove the mean and, for presses, the stroke-synchronous average (noted if impossible)."""
        record = record - record.mean()
        if record_trigger is None and stroke_rate_spm is None:
            return record, None
        try:
            separated = remove_stroke_synchronous_average(
                record, sampling_rate_hz, trigger=record_trigger, stroke_rate_spm=stroke_rate_spm
            )
        except SignalError as exc:
            notes.append(f"stroke-synchronous average not removed: {exc}")
            return record, None
        summary = {"method": separated.method, "n_strokes": separated.n_strokes, "stroke_length": separated.stroke_length}
        return separated.residual - separated.residual.mean(), summary

    signal, stroke_summary = preprocess(x, trigger)

    # 3. indicators on non-overlapping windows (median over windows) for the health index and the report.
    values = windowed_indicators(
        signal, sampling_rate_hz, window_size=window_size, alpha_min_hz=alpha_min_hz, alpha_max_hz=alpha_max_hz, shaft_hz=shaft_hz
    )
    median_values = np.median(values, axis=0)
    indicators = {
        "time": {name: float(v) for name, v in zip(INDICATOR_NAMES, median_values[:4])},
        "cyclic": {name: float(v) for name, v in zip(INDICATOR_NAMES, median_values[4:])},
    }

    # 4. kurtogram / infogram and band selection.
    work = signal.astype(np.float32)
    spectrum = sp_fft.rfft(work)
    kurtogram = fast_kurtogram(
        work, sampling_rate_hz, max_level=kurtogram_level, alpha_max_hz=alpha_max_hz, spectrum=spectrum
    )
    if kurtogram.max_level < kurtogram_level:
        notes.append(f"kurtogram level clipped to {kurtogram.max_level} for {x.size} samples")
    if min_bandwidth_hz is None:
        min_bandwidth_hz = 2.2 * highest_fault_hz
    if min_band_low_hz is None:
        min_band_low_hz = 3.0 * highest_fault_hz
    band = kurtogram.select_band(band_method, min_bandwidth_hz=min_bandwidth_hz, min_low_hz=min_band_low_hz)

    # 5. re-filter the band, squared envelope, SES, peaks, fault matching.
    envelope, envelope_rate_hz = band_complex_envelope(
        work, sampling_rate_hz, band.low_hz, band.high_hz, oversampling=2, spectrum=spectrum
    )
    band_squared_env = (envelope.real.astype(np.float64) ** 2) + (envelope.imag.astype(np.float64) ** 2)
    cyclic_frequency_hz, ses = squared_envelope_spectrum(band_squared_env, envelope_rate_hz)
    ses_limit_hz = min(band.bandwidth_hz, float(cyclic_frequency_hz[-1]))
    chart_limit_hz = min(ses_limit_hz, max(DEFAULT_ALPHA_MAX_HZ, 4.5 * highest_fault_hz))
    n_used = max(3, int(np.searchsorted(cyclic_frequency_hz, ses_limit_hz, side="right")))
    cyclic_frequency_hz, ses = cyclic_frequency_hz[:n_used], ses[:n_used]
    resolution_hz = float(cyclic_frequency_hz[1] - cyclic_frequency_hz[0])
    background = ses_background(ses, resolution_hz)
    ses_peaks = find_ses_peaks(
        cyclic_frequency_hz, ses, alpha_min_hz=max(alpha_min_hz, 2 * resolution_hz), alpha_max_hz=chart_limit_hz, background=background
    )
    faults = match_fault_frequencies(
        cyclic_frequency_hz, ses, candidates, tolerance=tolerance, n_harmonics=n_harmonics, shaft_hz=shaft_hz, background=background
    )

    band_time = swnses_indicators(band_squared_env / band_squared_env.sum())
    band_alpha_max = min(alpha_max_hz, 0.5 * band.bandwidth_hz)
    band_cyclic = swnses_indicators(
        normalized_ses(ses, cyclic_frequency_hz, max(alpha_min_hz, resolution_hz), band_alpha_max, shaft_hz=shaft_hz)
    )
    band_indicators = {
        "time": {name: float(v) for name, v in zip(INDICATOR_NAMES, band_time)},
        "cyclic": {name: float(v) for name, v in zip(INDICATOR_NAMES, band_cyclic)},
    }

    chart_count = max(2, int(np.searchsorted(cyclic_frequency_hz, chart_limit_hz, side="right")))
    chart_ses = ses[1:chart_count]
    chart_total = chart_ses.sum()
    chart_ses = chart_ses / chart_total if chart_total > 0 else chart_ses
    ses_frequency_hz, ses_amplitude = _peak_preserving_downsample(cyclic_frequency_hz[1:chart_count], chart_ses, SES_CHART_POINTS)

    # 6. health index against the healthy baseline.
    if baseline_windows is not None:
        healthy_values = []
        for record in _baseline_records(baseline_windows):
            record = validate_signal(record, name="baseline record", min_samples=window_size)
            record, _ = preprocess(record)
            healthy_values.append(
                windowed_indicators(
                    record, sampling_rate_hz, window_size=window_size, alpha_min_hz=alpha_min_hz,
                    alpha_max_hz=alpha_max_hz, shaft_hz=baseline_shaft_hz or shaft_hz, overlap=BASELINE_OVERLAP,
                )
            )
        baseline = fit_healthy_baseline(
            np.vstack(healthy_values),
            window_size=window_size,
            sampling_rate_hz=sampling_rate_hz,
            alpha_min_hz=alpha_min_hz,
            alpha_max_hz=alpha_max_hz,
            weights=index_weights,
            indicator_names=INDEX_INDICATOR_NAMES,
        )
    health_index = health_index_z = None
    window_health_indices: list[float] = []
    reasons: list[str] = []
    significant = [match for match in faults if match.strength >= FAULT_EVIDENCE_STRENGTH]
    top_fault = significant[0] if significant else None
    if baseline is not None:
        window_indices = baseline.health_index(values)
        window_health_indices = [float(v) for v in window_indices]
        health_index = float(np.median(window_indices))
        health_index_z = float(baseline.index_z(health_index))
        level = level_for_z(health_index_z, config.raise_thresholds)
        if level:
            reasons.append(f"health index z {health_index_z:.1f} >= {LEVEL_NAMES[level].lower()} threshold")
        if top_fault is not None and level == NORMAL:
            level = WARNING
            reasons.append(f"{top_fault.label} stands out in the SES")
    else:
        level = NORMAL
        if top_fault is not None:
            level = WARNING
            strong_lines = len(top_fault.harmonics) + top_fault.sidebands
            if top_fault.strength >= FAULT_ALARM_STRENGTH and strong_lines >= 2:
                level = ALARM
            reasons.append(f"{top_fault.label} stands out in the SES (no healthy baseline given)")

    # 7. ISO 10816-3 zone for velocity channels.
    iso_zone = None
    if iso_channel is not None:
        if iso_channel in VELOCITY_TO_MM_S:
            velocity_rms = velocity_rms_mm_s(x * VELOCITY_TO_MM_S[iso_channel], sampling_rate_hz)
        else:
            scale = STANDARD_GRAVITY_M_S2 if iso_channel == "acceleration_g" else 1.0
            velocity_rms = acceleration_to_velocity_rms_mm_s(x * scale, sampling_rate_hz)
        iso_zone = iso10816_zone(velocity_rms, group=iso_group, foundation=iso_foundation)
        if iso_zone.level > level:
            level = iso_zone.level
            reasons.append(f"ISO 10816-3 zone {iso_zone.zone} ({velocity_rms:.2f} mm/s RMS)")

    if level == NORMAL:
        advice = maintenance_advice(None, None, NORMAL)
    elif top_fault is not None:
        advice = maintenance_advice(top_fault.component, top_fault.fault, level)
    elif iso_zone is not None and iso_zone.level == level:
        advice = maintenance_advice("iso", "velocity", level)
    else:
        advice = maintenance_advice("general", "impulsive", level)

    return AnalysisResult(
        sampling_rate_hz=sampling_rate_hz,
        n_samples=int(x.size),
        indicators=indicators,
        band_indicators=band_indicators,
        band=band,
        kurtogram=kurtogram,
        ses_frequency_hz=np.asarray(ses_frequency_hz, dtype=np.float64),
        ses_amplitude=np.asarray(ses_amplitude, dtype=np.float64),
        ses_peaks=ses_peaks,
        faults=faults,
        fault_candidates=candidates,
        health_index=health_index,
        health_index_z=health_index_z,
        window_health_indices=window_health_indices,
        level=int(level),
        level_reasons=reasons,
        advice=advice,
        iso_zone=iso_zone,
        stroke=stroke_summary,
        baseline=baseline,
        notes=notes,
    )
