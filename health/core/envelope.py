"""Squared envelope, normalized squared envelope and squared envelope spectrum (SES).

The signal chain of the health core (see HEALTH.md): a window ``x`` of one channel with its mean
removed; its analytic signal ``a = x + j Hilbert(x)``; the squared envelope ``s = |a|**2``; the
normalized squared envelope ``p = s / sum(s)``; the SES ``S[k] = |DFT(s - mean(s))[k]|**2`` and its
normalized form ``q`` over a cyclic-frequency range that excludes 0. Method: Antoni, "Cyclic
spectral analysis of rolling-element bearing signals: facts and fictions", JSV 2007, and
Randall & Antoni, "Rolling element bearing diagnostics - a tutorial", MSSP 2011.

All functions work on the last axis, so a stack of windows (n_windows, n_samples) is processed in
one call. float32 input stays float32 (faster FFTs); anything else is computed in float64.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sp_fft


def working_dtype(array: np.ndarray) -> np.dtype:
    """Return float32 for float32 input and float64 otherwise (the precision used for FFTs)."""
    return np.dtype(np.float32) if np.asarray(array).dtype == np.float32 else np.dtype(np.float64)


def analytic_signal(x: np.ndarray) -> np.ndarray:
    """Analytic signal ``x + j Hilbert(x)`` along the last axis.

    Input: real samples (any unit), shape (..., N). Output: complex array of the same shape.
    Method: FFT, zero the negative frequencies, double the positive ones (Marple 1999); the DC and
    Nyquist bins are kept once, as in ``scipy.signal.hilbert``.
    """
    x = np.asarray(x)
    x = x.astype(working_dtype(x), copy=False)
    n_samples = x.shape[-1]
    spectrum = sp_fft.fft(x, axis=-1)
    gain = np.zeros(n_samples, dtype=x.dtype)
    gain[0] = 1.0
    half = n_samples // 2
    if n_samples % 2 == 0:
        gain[half] = 1.0
        gain[1:half] = 2.0
    else:
        gain[1 : half + 1] = 2.0
    return sp_fft.ifft(spectrum * gain, axis=-1)


def hilbert_transform(x: np.ndarray) -> np.ndarray:
    """Hilbert transform (imaginary part of the analytic signal) along the last axis.

    Input: real samples, shape (..., N). Output: real array of the same shape and unit.
    Computed with one real FFT and one inverse real FFT (multiply bins 1..N/2-1 by -j; DC and
    Nyquist carry no quadrature part), which costs about half of the complex-FFT route.
    """
    x = np.asarray(x)
    x = x.astype(working_dtype(x), copy=False)
    n_samples = x.shape[-1]
    spectrum = sp_fft.rfft(x, axis=-1)
    spectrum *= -1j
    spectrum[..., 0] = 0.0
    if n_samples % 2 == 0:
        spectrum[..., -1] = 0.0
    return sp_fft.irfft(spectrum, n=n_samples, axis=-1)


def squared_envelope(x: np.ndarray, *, remove_mean: bool = True) -> np.ndarray:
    """Squared envelope ``s = |x + j Hilbert(x)|**2 = x**2 + Hilbert(x)**2`` along the last axis.

    Input: real samples (unit U), shape (..., N); the mean is removed first unless
    ``remove_mean`` is False. Output: non-negative array (unit U**2) of the same shape.
    Method: Randall & Antoni, MSSP 2011 (envelope analysis).
    """
    x = np.asarray(x)
    x = x.astype(working_dtype(x), copy=False)
    if remove_mean:
        x = x - x.mean(axis=-1, keepdims=True)
    quadrature = hilbert_transform(x)
    envelope = x * x
    envelope += quadrature * quadrature
    return envelope


def half_rate_squared_envelope(x: np.ndarray) -> np.ndarray:
    """Every other sample of the squared envelope, from one complex inverse FFT of half length.

    Input: real samples (unit U), shape (..., N), N even; the mean is removed. Output: the squared
    envelope at samples 0, 2, 4, ... (unit U**2), shape (..., N/2), i.e. exactly
    ``squared_envelope(x)[..., ::2]``, sampled at half the input rate. Why it is exact: the analytic
    signal occupies only [0, fs/2), so after shifting it down by fs/4 it fits a rate of fs/2; its
    even samples are the inverse DFT (length N/2) of the positive-frequency bins
    [X0 + X_{N/2}, 2 X1, ..., 2 X_{N/2-1}] (the Nyquist bin folds onto DC), divided by 2. This is
    level 0 of the kurtogram's filter bank (Antoni 2007). Cost: one real FFT of N and one complex
    inverse FFT of N/2 instead of a real FFT and a real inverse FFT of N, and half the samples for
    everything downstream. The SES of the half-rate envelope is the full-rate SES plus what folds
    down from near fs/2 (products of content near Nyquist with content near 0 Hz), which is small
    for accelerometer signals behind an anti-aliasing filter: on CWRU records the cyclic indicators
    move by less than a quarter of their window-to-window spread (checked while building this).
    """
    x = np.asarray(x)
    x = x.astype(working_dtype(x), copy=False)
    n_samples = x.shape[-1]
    if n_samples % 2:
        raise ValueError("half_rate_squared_envelope needs an even number of samples")
    spectrum = sp_fft.rfft(x - x.mean(axis=-1, keepdims=True), axis=-1)
    half = spectrum[..., :-1] * 2.0
    half[..., 0] = spectrum[..., 0] + spectrum[..., -1]
    baseband = sp_fft.ifft(half, axis=-1, overwrite_x=True)
    envelope = baseband.real * baseband.real
    envelope += baseband.imag * baseband.imag
    envelope *= 0.25
    return envelope


def normalized_squared_envelope(squared_env: np.ndarray) -> np.ndarray:
    """Normalized squared envelope ``p = s / sum(s)`` along the last axis (dimensionless, sums to 1).

    Input: squared envelope ``s`` (non-negative, not all zero), shape (..., N).
    Output: ``p`` of the same shape. Method: Hou, Wang et al., SWNSES, MSSP 2021.
    """
    squared_env = np.asarray(squared_env)
    total = squared_env.sum(axis=-1, keepdims=True)
    return squared_env / total


def squared_envelope_spectrum(squared_env: np.ndarray, sampling_rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Squared envelope spectrum ``S[k] = |DFT(s - mean(s))[k]|**2 / N**2`` along the last axis.

    Inputs: squared envelope ``s`` (unit U**2) sampled at ``sampling_rate_hz``, shape (..., N).
    Outputs: ``(cyclic_frequency_hz, ses)``: the cyclic frequencies 0..rate/2 (Hz, N//2+1 bins)
    and the SES (unit U**4), shape (..., N//2+1). Bin 0 is zero by construction.
    Method: Antoni, JSV 2007; Randall & Antoni, MSSP 2011.
    """
    squared_env = np.asarray(squared_env)
    n_samples = squared_env.shape[-1]
    centred = squared_env - squared_env.mean(axis=-1, keepdims=True)
    spectrum = sp_fft.rfft(centred, axis=-1)
    ses = spectrum.real * spectrum.real
    ses += spectrum.imag * spectrum.imag
    ses /= float(n_samples) ** 2
    cyclic_frequency_hz = sp_fft.rfftfreq(n_samples, d=1.0 / float(sampling_rate_hz))
    return cyclic_frequency_hz, ses


def cyclic_bin_range(n_bins: int, resolution_hz: float, alpha_min_hz: float, alpha_max_hz: float) -> slice:
    """Bins of an SES (``n_bins`` bins spaced ``resolution_hz``) inside [alpha_min_hz, alpha_max_hz].

    Bin 0 (alpha = 0) is always excluded. Returns a slice with at least one bin when possible.
    """
    first = max(1, int(np.ceil(alpha_min_hz / resolution_hz - 1e-9)))
    last = min(n_bins - 1, int(np.floor(alpha_max_hz / resolution_hz + 1e-9)))
    if last < first:
        last = min(n_bins - 1, first)
    return slice(first, last + 1)


def shaft_harmonic_mask(cyclic_frequency_hz: np.ndarray, shaft_hz: float | None) -> np.ndarray:
    """True for cyclic-frequency bins within max(2 bins, 0.4 %) of a harmonic of ``shaft_hz``.

    Shaft harmonics in an SES come from unbalance, misalignment and looseness, not from bearing
    impacts; excluding them keeps the cyclic indicators and the bearing-line search about
    bearings. Input: uniform axis (Hz) starting at 0; ``shaft_hz`` (None or 0: nothing masked).
    """
    cyclic_frequency_hz = np.asarray(cyclic_frequency_hz, dtype=np.float64)
    if not shaft_hz or cyclic_frequency_hz.size < 2:
        return np.zeros(cyclic_frequency_hz.size, dtype=bool)
    resolution_hz = float(cyclic_frequency_hz[1] - cyclic_frequency_hz[0])
    order = np.round(cyclic_frequency_hz / shaft_hz)
    distance = np.abs(cyclic_frequency_hz - order * shaft_hz)
    return (order >= 1) & (distance <= np.maximum(2.0 * resolution_hz, 0.004 * order * shaft_hz))


def normalized_ses(
    ses: np.ndarray,
    cyclic_frequency_hz: np.ndarray,
    alpha_min_hz: float,
    alpha_max_hz: float,
    *,
    shaft_hz: float | None = None,
) -> np.ndarray:
    """Normalized SES ``q``: the SES over [alpha_min_hz, alpha_max_hz] divided by its sum there.

    Inputs: SES of shape (..., K) with its cyclic-frequency axis (Hz, uniform, starting at 0);
    the range excludes alpha = 0 and should stay well below half the analysed band's width;
    with ``shaft_hz`` the bins at shaft harmonics are left out (:func:`shaft_harmonic_mask`).
    Output: ``q`` (dimensionless, sums to 1 along the last axis). Method: Hou, Wang et al.,
    SWNSES (cyclic form), MSSP 2022.
    """
    resolution_hz = float(cyclic_frequency_hz[1] - cyclic_frequency_hz[0])
    selection = cyclic_bin_range(ses.shape[-1], resolution_hz, alpha_min_hz, alpha_max_hz)
    in_range = ses[..., selection]
    if shaft_hz:
        keep = ~shaft_harmonic_mask(cyclic_frequency_hz[selection], shaft_hz)
        if keep.any():
            in_range = in_range[..., keep]
    total = in_range.sum(axis=-1, keepdims=True)
    total = np.where(total > 0.0, total, 1.0)
    return in_range / total
