"""Input checks shared by the health core.

Every public entry point that takes a raw signal calls :func:`validate_signal` so a bad upload fails
early with one clear message instead of a NaN somewhere deep in a filter bank.
"""

from __future__ import annotations

import math

import numpy as np

# The smallest window the full analysis accepts. The fast kurtogram needs at least
# ``MIN_BAND_SAMPLES`` samples in each of the 3 * 2**level bands of its deepest
# 1/3-binary level (Antoni 2007), and a squared-envelope spectrum needs enough cyclic-frequency
# resolution to separate shaft harmonics from bearing lines: 2048 samples allow a level-4
# kurtogram and give 10 Hz resolution at 20 kHz. Longer windows allow deeper levels.
MIN_SAMPLES = 2048
MIN_BAND_SAMPLES = 16


class SignalError(ValueError):
    """A signal or sampling rate that the health core cannot analyse (empty, too short, NaN/inf)."""


def validate_signal(signal, *, name: str = "signal", min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """Check one channel and return it as a contiguous 1-D float64 array.

    Inputs: ``signal`` (array-like, one channel; a column vector of shape (N, 1) as stored in
    MATLAB files is accepted), ``name`` used in messages, ``min_samples`` the shortest length
    accepted. Output: the samples as float64 (units unchanged).
    Raises :class:`SignalError` when the signal is not numeric, not one-dimensional, empty,
    shorter than ``min_samples``, contains NaN or infinite values, or is constant (a constant
    window has no envelope to normalise).
    """
    try:
        array = np.asarray(signal, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"{name} is not numeric: {exc}") from exc
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim != 1:
        raise SignalError(f"{name} must be one channel (1-D), got shape {array.shape}")
    if array.size == 0:
        raise SignalError(f"{name} is empty")
    if array.size < min_samples:
        raise SignalError(f"{name} has {array.size} samples; at least {min_samples} are needed")
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        first = int(np.argmin(finite))
        raise SignalError(f"{name} contains {bad} NaN or infinite value(s), first at sample {first}")
    if not np.ptp(array) > 0.0:
        raise SignalError(f"{name} is constant; there is no vibration to analyse")
    return np.ascontiguousarray(array)


def validate_sampling_rate(sampling_rate_hz) -> float:
    """Check a sampling rate (Hz, finite and positive) and return it as a float.

    Raises :class:`SignalError` otherwise.
    """
    try:
        rate = float(sampling_rate_hz)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"sampling rate is not a number: {sampling_rate_hz!r}") from exc
    if not math.isfinite(rate) or rate <= 0.0:
        raise SignalError(f"sampling rate must be a positive number of Hz, got {sampling_rate_hz!r}")
    return rate


def validate_windows(windows, *, name: str = "windows", min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """Check a stack of equal-length windows of one channel and return a 2-D float64 array.

    Inputs: ``windows`` of shape (n_windows, n_samples) (a single 1-D window is promoted to one
    row). Output: float64 array (n_windows, n_samples). Raises :class:`SignalError` on an empty
    stack, too-short windows, NaN/inf, or a constant window.
    """
    try:
        array = np.asarray(windows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"{name} are not numeric: {exc}") from exc
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise SignalError(f"{name} must be a 2-D array (n_windows, n_samples), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise SignalError(f"{name} are empty")
    if array.shape[1] < min_samples:
        raise SignalError(f"{name} have {array.shape[1]} samples each; at least {min_samples} are needed")
    if not np.isfinite(array).all():
        raise SignalError(f"{name} contain NaN or infinite values")
    if not (np.ptp(array, axis=1) > 0.0).all():
        raise SignalError(f"{name} include a constant window")
    return np.ascontiguousarray(array)
