"""Deterministic simulator of bearing and press vibration, with and without faults.

The bearing model follows HEALTH.md "Ground truth for tests" and the classic model of McFadden &
Smith (JSV 1984) / Randall & Antoni (MSSP 2011): a train of impulses at the fault frequency, with
1-2 % random jitter of the intervals (slip), each exciting a decaying structural resonance; the
impulse amplitudes are modulated at the shaft frequency for inner-race faults and at the cage
frequency for rolling-element faults; plus shaft harmonics, optional isolated shocks at another
resonance, and white noise at a given signal-to-noise ratio. The press model adds, once per
stroke, a large forming impact with a fixed shape (the part of a healthy press signal that the
stroke-synchronous average removes) and a trigger channel.

Everything is reproducible: the same arguments and ``seed`` give the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.signal as sp_signal

from .faults import BearingGeometry, bearing_preset

FAULT_TYPES = (None, "outer", "inner", "ball")
SIMULATED_BEARING = "simulated"


def simulated_fault_frequency_hz(fault: str, shaft_hz: float, bearing: str | BearingGeometry = SIMULATED_BEARING) -> float:
    """Impulse rate (Hz) of a fault of ``bearing`` at ``shaft_hz``: BPFO (outer), BPFI (inner),
    2 x BSF (ball: a defective ball strikes both races once per spin). Method: Harris; Randall &
    Antoni, MSSP 2011."""
    geometry = bearing if isinstance(bearing, BearingGeometry) else bearing_preset(bearing)
    orders = geometry.fault_orders()
    order = {"outer": orders["bpfo"], "inner": orders["bpfi"], "ball": 2.0 * orders["bsf"]}[fault]
    return float(order * shaft_hz)


def _check_common(sampling_rate_hz: float, duration_s: float) -> int:
    """Number of samples for a positive rate and duration; ValueError otherwise."""
    if not sampling_rate_hz > 0 or not duration_s > 0:
        raise ValueError("sampling_rate_hz and duration_s must be positive")
    return int(round(sampling_rate_hz * duration_s))


def resonance_impulse_response(sampling_rate_hz: float, resonance_hz: float, damping_ratio: float) -> np.ndarray:
    """Impulse response of a single-degree-of-freedom resonance, peak amplitude about 1.

    ``h(t) = exp(-zeta w_n t) sin(w_d t)``, truncated where it has decayed by 80 dB. Inputs: sampling
    rate and natural frequency (Hz), damping ratio zeta (dimensionless). Output: samples (unitless).
    """
    if not 0 < resonance_hz < sampling_rate_hz / 2:
        raise ValueError("resonance_hz must lie between 0 and half the sampling rate")
    omega_n = 2 * np.pi * resonance_hz
    omega_d = omega_n * np.sqrt(max(1.0 - damping_ratio**2, 1e-6))
    duration_s = np.log(1e4) / (damping_ratio * omega_n)
    t = np.arange(int(np.ceil(duration_s * sampling_rate_hz)) + 1) / sampling_rate_hz
    return np.exp(-damping_ratio * omega_n * t) * np.sin(omega_d * t)


def _impulse_train(
    n_samples: int,
    sampling_rate_hz: float,
    rate_hz: float,
    jitter: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Impulse times (s) at ``rate_hz`` with relative interval jitter, random start phase."""
    duration_s = n_samples / sampling_rate_hz
    period_s = 1.0 / rate_hz
    n_expected = int(np.ceil(duration_s * rate_hz)) + 3
    intervals = period_s * (1.0 + jitter * rng.standard_normal(n_expected))
    intervals = np.maximum(intervals, 0.2 * period_s)
    times = rng.uniform(0.0, period_s) + np.concatenate(([0.0], np.cumsum(intervals[:-1])))
    return times[times < duration_s]


def _place(times_s: np.ndarray, amplitudes: np.ndarray, response: np.ndarray, n_samples: int, sampling_rate_hz: float) -> np.ndarray:
    """Sum of ``amplitudes[k] * response`` started at ``times_s[k]`` (nearest sample)."""
    train = np.zeros(n_samples)
    indices = np.clip(np.round(times_s * sampling_rate_hz).astype(int), 0, n_samples - 1)
    np.add.at(train, indices, amplitudes)
    return sp_signal.oaconvolve(train, response)[:n_samples]


def reference_fault_power(sampling_rate_hz: float, fault_hz: float, resonance_hz: float, damping_ratio: float) -> float:
    """Mean power of a unit-amplitude fault impulse train (impulses/s * energy per impulse / fs).

    It fixes the noise level for a given SNR independently of the fault type and severity, so a
    healthy record and a faulty one simulated with the same ``snr_db`` share the same noise.
    """
    response = resonance_impulse_response(sampling_rate_hz, resonance_hz, damping_ratio)
    return float(fault_hz * np.sum(response**2) / sampling_rate_hz)


def simulate_bearing_signal(
    sampling_rate_hz: float = 20000.0,
    duration_s: float = 1.0,
    *,
    fault: str | None = None,
    fault_hz: float | None = None,
    bearing: str | BearingGeometry = SIMULATED_BEARING,
    severity: float = 1.0,
    resonance_hz: float = 3000.0,
    damping_ratio: float = 0.05,
    jitter: float = 0.01,
    shaft_hz: float = 25.0,
    shaft_level: float = 0.5,
    shocks: int = 0,
    shock_resonance_hz: float = 7000.0,
    shock_amplitude: float = 10.0,
    snr_db: float = -10.0,
    seed: int = 0,
) -> np.ndarray:
    """Simulated accelerometer signal of a rolling-element bearing.

    Inputs: ``sampling_rate_hz`` and ``duration_s``; ``fault`` None (healthy), ``"outer"``,
    ``"inner"`` (impulse amplitudes modulated at ``shaft_hz``) or ``"ball"`` (modulated at the cage
    frequency FTF); ``fault_hz`` the impulse rate (Hz); None derives it from ``bearing`` (a preset
    name or geometry, default ``"simulated"``: BPFO 3.6, BPFI 5.4, 2xBSF 4.8, FTF 0.4 x shaft) and
    ``shaft_hz``, see :func:`simulated_fault_frequency_hz`; ``severity`` the impulse
    amplitude relative to the reference used for the SNR (0 = healthy); ``resonance_hz`` and
    ``damping_ratio`` of the structure the impulses excite; ``jitter`` the relative standard
    deviation of the impulse intervals (slip, 0.01-0.02); ``shaft_hz`` and ``shaft_level`` the shaft
    harmonics (1x, 2x, 3x; amplitude relative to the RMS of the reference impulse train);
    ``shocks`` the number of isolated random shocks, at ``shock_resonance_hz`` with amplitude
    ``shock_amplitude`` relative to a unit fault impulse; ``snr_db`` the ratio of the power of a
    severity-1 impulse train (at the given ``fault_hz``, else at the bearing's BPFO, whatever the
    fault type) to the white-noise power; ``seed`` for reproducibility.
    Output: float64 samples (arbitrary acceleration unit), length round(fs * duration).
    Model: McFadden & Smith, JSV 1984; Randall & Antoni, MSSP 2011; HEALTH.md.
    """
    if fault not in FAULT_TYPES:
        raise ValueError(f"fault must be one of {FAULT_TYPES}, got {fault!r}")
    n_samples = _check_common(sampling_rate_hz, duration_s)
    # The noise level is tied to a reference impulse train that does not depend on the fault type
    # (the given fault_hz, else the bearing's BPFO), so healthy and faulty windows of one history
    # share the same noise.
    reference_rate_hz = fault_hz if fault_hz is not None else simulated_fault_frequency_hz("outer", shaft_hz, bearing)
    if fault_hz is None and fault is not None:
        fault_hz = simulated_fault_frequency_hz(fault, shaft_hz, bearing)
    geometry = bearing if isinstance(bearing, BearingGeometry) else bearing_preset(bearing)
    cage_hz = geometry.fault_orders()["ftf"] * shaft_hz
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / sampling_rate_hz
    reference_power = reference_fault_power(sampling_rate_hz, reference_rate_hz, resonance_hz, damping_ratio)
    noise_std = np.sqrt(reference_power / 10 ** (snr_db / 10.0))
    signal = noise_std * rng.standard_normal(n_samples)

    shaft_phases = rng.uniform(0, 2 * np.pi, 3)
    shaft_amplitude = shaft_level * np.sqrt(reference_power)
    for order, phase in zip((1, 2, 3), shaft_phases):
        if order * shaft_hz < sampling_rate_hz / 2:
            signal += shaft_amplitude / order * np.cos(2 * np.pi * order * shaft_hz * t + phase)

    if fault is not None and severity > 0:
        times = _impulse_train(n_samples, sampling_rate_hz, fault_hz, jitter, rng)
        amplitudes = severity * (1.0 + 0.1 * rng.standard_normal(times.size))
        if fault == "inner":
            amplitudes *= 0.6 + 0.4 * np.cos(2 * np.pi * shaft_hz * times + rng.uniform(0, 2 * np.pi))
        elif fault == "ball":
            amplitudes *= 0.6 + 0.4 * np.cos(2 * np.pi * cage_hz * times + rng.uniform(0, 2 * np.pi))
        response = resonance_impulse_response(sampling_rate_hz, resonance_hz, damping_ratio)
        signal += _place(times, amplitudes, response, n_samples, sampling_rate_hz)

    if shocks > 0:
        shock_times = rng.uniform(0.02, max(duration_s - 0.02, 0.03), int(shocks))
        shock_amplitudes = shock_amplitude * rng.uniform(0.8, 1.2, int(shocks))
        response = resonance_impulse_response(sampling_rate_hz, shock_resonance_hz, damping_ratio)
        signal += _place(shock_times, shock_amplitudes, response, n_samples, sampling_rate_hz)
    return signal


def severity_profile(n_windows: int, *, onset_window: int, final_severity: float, growth: str = "exponential") -> np.ndarray:
    """Fault severity per window: 0 before ``onset_window``, then growing to ``final_severity``.

    ``growth`` is ``"linear"`` or ``"exponential"`` (a crack or spall that grows with its own size,
    from 2 % of the final severity at onset). Output: float array of length ``n_windows``.
    """
    severity = np.zeros(n_windows)
    n_growing = n_windows - onset_window
    if n_growing <= 0:
        return severity
    fraction = np.arange(1, n_growing + 1) / n_growing
    if growth == "linear":
        severity[onset_window:] = final_severity * fraction
    elif growth == "exponential":
        severity[onset_window:] = final_severity * 0.02 ** (1.0 - fraction)
    else:
        raise ValueError("growth must be 'linear' or 'exponential'")
    return severity


def simulate_bearing_run(
    n_windows: int,
    *,
    onset_window: int | None = None,
    final_severity: float = 2.0,
    growth: str = "exponential",
    fault: str = "outer",
    sampling_rate_hz: float = 20000.0,
    window_duration_s: float = 0.5,
    seed: int = 0,
    **signal_options,
) -> tuple[np.ndarray, np.ndarray]:
    """A monitoring history: ``n_windows`` windows of a bearing that is healthy, then develops a fault.

    Inputs: number of windows; ``onset_window`` (None = healthy throughout); the severity growth
    (see :func:`severity_profile`); ``fault`` type; sampling rate and window length; ``seed``;
    other keyword options are passed to :func:`simulate_bearing_signal`. Outputs:
    ``(windows, severities)``: array (n_windows, n_samples) and the severity of each window.
    Each window has its own noise, drawn from a seed derived from ``seed`` and its index.
    """
    if onset_window is None:
        severities = np.zeros(n_windows)
    else:
        severities = severity_profile(n_windows, onset_window=onset_window, final_severity=final_severity, growth=growth)
    children = np.random.SeedSequence(seed).spawn(n_windows)
    windows = np.vstack(
        [
            simulate_bearing_signal(
                sampling_rate_hz,
                window_duration_s,
                fault=fault if severity > 0 else None,
                severity=float(severity),
                seed=int(child.generate_state(1)[0]),
                **signal_options,
            )
            for severity, child in zip(severities, children)
        ]
    )
    return windows, severities


@dataclass(frozen=True)
class SimulatedPress:
    """A simulated press record: ``signal`` (acceleration, arbitrary unit), ``trigger`` (1 during
    the first millisecond of each stroke, else 0), their ``sampling_rate_hz``, the sample index
    where each stroke starts, and the ``stroke_rate_spm`` (strokes per minute)."""

    signal: np.ndarray
    trigger: np.ndarray
    sampling_rate_hz: float
    stroke_starts: np.ndarray
    stroke_rate_spm: float


def simulate_press_signal(
    sampling_rate_hz: float = 20000.0,
    duration_s: float = 4.0,
    *,
    stroke_rate_spm: float = 60.0,
    impact_amplitude: float = 30.0,
    impact_resonances_hz: tuple[float, ...] = (700.0, 1800.0, 5200.0),
    impact_damping_ratio: float = 0.03,
    impact_variation: float = 0.01,
    impact_phase: float = 0.35,
    bearing_fault: str | None = None,
    fault_hz: float | None = None,
    severity: float = 1.0,
    shaft_hz: float = 24.0,
    resonance_hz: float = 3500.0,
    shocks: int = 0,
    snr_db: float = -8.0,
    seed: int = 0,
) -> SimulatedPress:
    """Simulated vibration of a mechanical stamping press with a main-shaft bearing.

    Inputs: sampling rate, duration; ``stroke_rate_spm`` strokes per minute; per stroke a forming
    impact of ``impact_amplitude`` (relative to a unit bearing fault impulse) exciting the
    resonances ``impact_resonances_hz`` with ``impact_damping_ratio``, occurring at
    ``impact_phase`` (fraction of the stroke after the trigger), with ``impact_variation`` relative
    stroke-to-stroke amplitude scatter, plus the slow ram motion at the stroke rate; the
    bearing part (``bearing_fault``, ``fault_hz``, ``severity``, ``shaft_hz``, ``resonance_hz``,
    ``shocks``, ``snr_db``) as in :func:`simulate_bearing_signal`; ``seed``.
    Output: :class:`SimulatedPress` with the signal and a trigger channel.
    Model: the bearing model of HEALTH.md plus stroke-periodic forming impacts (HEALTH.md,
    "Presses are not bearings on a test rig").
    """
    n_samples = _check_common(sampling_rate_hz, duration_s)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    bearing = simulate_bearing_signal(
        sampling_rate_hz,
        duration_s,
        fault=bearing_fault,
        fault_hz=fault_hz,
        severity=severity,
        resonance_hz=resonance_hz,
        shaft_hz=shaft_hz,
        shocks=shocks,
        snr_db=snr_db,
        seed=seed,
    )
    stroke_period_samples = sampling_rate_hz * 60.0 / stroke_rate_spm
    first_start = int(rng.integers(0, int(stroke_period_samples)))
    # the press was already running when the record began: include the stroke before the first trigger
    all_starts = np.round(
        first_start + stroke_period_samples * np.arange(-1, n_samples / stroke_period_samples + 1)
    ).astype(int)
    stroke_starts = all_starts[(all_starts >= 0) & (all_starts < n_samples)]

    impact_shape = np.zeros(1)
    for order, resonance in enumerate(impact_resonances_hz):
        response = resonance_impulse_response(sampling_rate_hz, resonance, impact_damping_ratio) / (order + 1)
        if response.size > impact_shape.size:
            response, impact_shape = impact_shape, response
        impact_shape[: response.size] += response
    offset = int(round(impact_phase * stroke_period_samples))
    impact_times = (all_starts + offset) / sampling_rate_hz
    keep = (impact_times >= 0) & (impact_times < n_samples / sampling_rate_hz)
    amplitudes = impact_amplitude * (1.0 + impact_variation * rng.standard_normal(int(keep.sum())))
    impacts = _place(impact_times[keep], amplitudes, impact_shape, n_samples, sampling_rate_hz)

    t = np.arange(n_samples) / sampling_rate_hz
    stroke_hz = stroke_rate_spm / 60.0
    phase = 2 * np.pi * stroke_hz * (t - first_start / sampling_rate_hz)
    ram_motion = 0.5 * impact_amplitude * 0.02 * (np.sin(phase) + 0.3 * np.sin(2 * phase))

    trigger = np.zeros(n_samples)
    pulse = max(1, int(round(1e-3 * sampling_rate_hz)))
    for start in stroke_starts:
        trigger[start : start + pulse] = 1.0
    return SimulatedPress(
        signal=bearing + impacts + ram_motion,
        trigger=trigger,
        sampling_rate_hz=float(sampling_rate_hz),
        stroke_starts=stroke_starts,
        stroke_rate_spm=float(stroke_rate_spm),
    )
