"""Stroke segmentation of press signals and removal of the stroke-synchronous average.

Every press stroke makes a large, repeatable forming impact, so a healthy press is already
"impulsive" (HEALTH.md, "Presses are not bearings on a test rig"). The repeatable part is removed
with the stroke-synchronous (time-synchronous) average: cut the signal into strokes (from a
trigger channel, or from the stroke rate), average the strokes sample by sample, and subtract the
average from every stroke (Braun, Acustica 1975; McFadden, MSSP 1987; Randall & Antoni, MSSP 2011,
"discrete/random separation"). What remains (bearing impacts that are not locked to the stroke,
noise, changes from stroke to stroke) is what the indicators should see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sp_fft

from .validation import SignalError, validate_sampling_rate, validate_signal

MIN_STROKES = 2


def stroke_starts_from_trigger(trigger: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
    """Sample indices where a trigger channel rises through ``threshold`` (default: mid-range).

    Input: trigger samples (any unit; a pulse or a step per stroke). Output: int array of rising
    edges, ascending. Raises SignalError for a flat trigger.
    """
    trigger = np.asarray(trigger, dtype=np.float64).reshape(-1)
    if trigger.size == 0 or not np.isfinite(trigger).all():
        raise SignalError("trigger channel is empty or contains NaN/inf")
    low, high = float(trigger.min()), float(trigger.max())
    if not high > low:
        raise SignalError("trigger channel is flat; no stroke can be found")
    level = 0.5 * (low + high) if threshold is None else float(threshold)
    above = trigger >= level
    return np.flatnonzero(above[1:] & ~above[:-1]) + 1


def stroke_starts_from_rate(
    x: np.ndarray,
    sampling_rate_hz: float,
    stroke_rate_spm: float,
    *,
    max_lag_fraction: float = 0.02,
) -> np.ndarray:
    """Stroke start indices from the stroke rate, aligned on the forming impact.

    Inputs: signal, sampling rate (Hz), ``stroke_rate_spm`` (strokes per minute), the largest
    stroke-to-stroke timing correction searched (fraction of a stroke). Procedure: fold the signal
    energy over one stroke period to find the phase of the forming impact; put the cut a quarter
    of a stroke before it; then refine each stroke's start by cross-correlating its energy with
    the mean stroke energy (one batched FFT). Output: int array of starts, ascending.
    """
    x = np.asarray(x, dtype=np.float64)
    period = sampling_rate_hz * 60.0 / stroke_rate_spm
    if period < 8 or x.size < MIN_STROKES * period:
        raise SignalError(
            f"{x.size} samples hold fewer than {MIN_STROKES} strokes at {stroke_rate_spm} strokes/min"
        )
    energy = (x - x.mean()) ** 2
    n_phase = int(period)
    phase_bins = (np.arange(x.size) % period).astype(int) % n_phase
    folded = np.bincount(phase_bins, weights=energy, minlength=n_phase)
    impact_phase = int(np.argmax(folded))
    first = (impact_phase - period / 4.0) % period
    starts = np.round(first + period * np.arange(int((x.size - first) // period))).astype(int)
    length = int(period)
    starts = starts[starts + length <= x.size]
    if starts.size < MIN_STROKES:
        raise SignalError("fewer than two complete strokes in the signal")
    max_lag = max(1, int(max_lag_fraction * period))
    segments = energy[starts[:, np.newaxis] + np.arange(length)]
    template = segments.mean(axis=0)
    n_fft = sp_fft.next_fast_len(2 * length)
    cross = sp_fft.irfft(
        sp_fft.rfft(segments, n_fft, axis=-1) * np.conj(sp_fft.rfft(template, n_fft)), n_fft, axis=-1
    )
    lags = np.concatenate((np.arange(0, max_lag + 1), np.arange(-max_lag, 0)))
    best = lags[np.argmax(cross[:, lags], axis=-1)]
    refined = starts + best
    keep = (refined >= 0) & (refined + length <= x.size)
    return refined[keep]


@dataclass(frozen=True)
class StrokeResidual:
    """Result of :func:`remove_stroke_synchronous_average`.

    ``residual`` the signal with the stroke-synchronous average subtracted (same length and unit
    as the input); ``stroke_starts`` (sample indices); ``stroke_length`` samples per stroke;
    ``average`` the stroke-synchronous average (``stroke_length`` samples); ``method``
    (``trigger`` or ``stroke_rate``).
    """

    residual: np.ndarray
    stroke_starts: np.ndarray
    stroke_length: int
    average: np.ndarray
    method: str

    @property
    def n_strokes(self) -> int:
        """Number of complete strokes averaged."""
        return int(self.stroke_starts.size)


def stroke_synchronous_average(x: np.ndarray, stroke_starts: np.ndarray, stroke_length: int) -> np.ndarray:
    """Sample-by-sample mean of the strokes ``x[start : start + stroke_length]``.

    Inputs: signal, stroke start indices, stroke length (samples). Output: (stroke_length,).
    Method: time-synchronous averaging (Braun 1975; McFadden 1987).
    """
    stroke_starts = np.asarray(stroke_starts, dtype=int)
    segments = np.asarray(x)[stroke_starts[:, np.newaxis] + np.arange(stroke_length)]
    return segments.mean(axis=0)


def remove_stroke_synchronous_average(
    x: np.ndarray,
    sampling_rate_hz: float,
    *,
    trigger: np.ndarray | None = None,
    stroke_rate_spm: float | None = None,
) -> StrokeResidual:
    """Segment a press signal by stroke and subtract the stroke-synchronous average.

    Inputs: signal (one channel) at ``sampling_rate_hz``; either a ``trigger`` channel of the same
    length (preferred; rising edge = stroke start) or the ``stroke_rate_spm``. Every sample is
    assigned to its stroke and offset; samples before the first start belong to the end of a
    virtual previous stroke, and samples beyond a stroke's length (a stroke a sample longer than
    the shortest) keep their value minus the average's last sample. Output: :class:`StrokeResidual`.
    Raises SignalError when fewer than two complete strokes are found or neither trigger nor
    stroke rate is given. Method: Braun 1975; Randall & Antoni, MSSP 2011.
    """
    x = validate_signal(x)
    sampling_rate_hz = validate_sampling_rate(sampling_rate_hz)
    if trigger is not None:
        trigger = np.asarray(trigger, dtype=np.float64).reshape(-1)
        if trigger.size != x.size:
            raise SignalError(f"trigger has {trigger.size} samples but the signal has {x.size}")
        starts = stroke_starts_from_trigger(trigger)
        method = "trigger"
    elif stroke_rate_spm is not None:
        if not stroke_rate_spm > 0:
            raise SignalError("stroke rate must be a positive number of strokes per minute")
        starts = stroke_starts_from_rate(x, sampling_rate_hz, float(stroke_rate_spm))
        method = "stroke_rate"
    else:
        raise SignalError("stroke segmentation needs a trigger channel or a stroke rate")
    if starts.size < MIN_STROKES:
        raise SignalError("fewer than two complete strokes in the signal")
    spacing = np.diff(starts)
    length = int(spacing.min())
    complete = starts[starts + length <= x.size]
    if complete.size < MIN_STROKES:
        raise SignalError("fewer than two complete strokes in the signal")
    average = stroke_synchronous_average(x, complete, length)

    sample = np.arange(x.size)
    previous_start = np.concatenate(([starts[0] - int(round(np.median(spacing)))], starts))
    stroke_index = np.searchsorted(previous_start, sample, side="right") - 1
    offset = sample - previous_start[stroke_index]
    offset = np.clip(offset, 0, length - 1)
    residual = x - average[offset]
    return StrokeResidual(residual=residual, stroke_starts=complete, stroke_length=length, average=average, method=method)
