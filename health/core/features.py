"""A fixed-length feature vector per window, for the federated models that predict fault state.

The vector is built from quantities the health core already trusts, all scale-free except RMS:

* the four SWNSES indicators of the squared envelope (time form) and of the SES (cyclic form),
  Hou & Wang, MSSP 2022;
* RMS (log10, in the signal's unit) and crest factor (peak / RMS);
* log10 of the share of SES energy in octave bands of cyclic frequency 2-4, 4-8, ..., 256-512 Hz
  (where shaft, cage, bearing and stroke rates live);
* log10 of the share of spectral energy in 8 equal bands from 0 to half the sampling rate
  (which resonances the impacts excite).

Shares are floored at 1e-12 before the logarithm. :data:`FEATURE_NAMES` names every column.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sp_fft

from .indicators import INDICATOR_NAMES, swnses_indicators
from .envelope import normalized_ses, squared_envelope, squared_envelope_spectrum
from .validation import validate_sampling_rate, validate_signal, validate_windows

SES_OCTAVE_EDGES_HZ = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0)
N_SPECTRUM_BANDS = 8
FEATURE_ALPHA_MIN_HZ = 1.0
FEATURE_ALPHA_MAX_HZ = 500.0
SHARE_FLOOR = 1e-12

FEATURE_NAMES: tuple[str, ...] = (
    *(f"time_{name}" for name in INDICATOR_NAMES),
    *(f"cyclic_{name}" for name in INDICATOR_NAMES),
    "log10_rms",
    "crest_factor",
    *(
        f"ses_log_share_{int(low)}_{int(high)}hz"
        for low, high in zip(SES_OCTAVE_EDGES_HZ[:-1], SES_OCTAVE_EDGES_HZ[1:])
    ),
    *(f"spectrum_log_share_band{index}" for index in range(N_SPECTRUM_BANDS)),
)


def _band_log_shares(power: np.ndarray, frequency_hz: np.ndarray, edges_hz: np.ndarray) -> np.ndarray:
    """log10 of each band's share of the power between edges_hz[0] and edges_hz[-1], per row.

    Bins are summed per band for all rows at once with one matrix product (bin -> band one-hot).
    """
    band_index = np.searchsorted(edges_hz, frequency_hz, side="right") - 1
    inside = (band_index >= 0) & (band_index < edges_hz.size - 1)
    n_bands = edges_hz.size - 1
    assignment = np.zeros((int(inside.sum()), n_bands))
    assignment[np.arange(assignment.shape[0]), band_index[inside]] = 1.0
    sums = power[:, inside] @ assignment
    totals = np.maximum(sums.sum(axis=1, keepdims=True), SHARE_FLOOR)
    return np.log10(np.maximum(sums / totals, SHARE_FLOOR))


def window_features(x, sampling_rate_hz: float, *, shaft_hz: float | None = None) -> np.ndarray:
    """Feature vector(s) of one window or a stack of windows of one channel.

    Inputs: ``x`` of shape (n_samples,) or (n_windows, n_samples) (any unit; RMS carries it) and the
    ``sampling_rate_hz``; ``shaft_hz`` (optional) leaves shaft harmonics out of the cyclic
    indicators. Output: float64 array of shape (len(FEATURE_NAMES),) or
    (n_windows, len(FEATURE_NAMES)), columns as in :data:`FEATURE_NAMES`. Raises
    :class:`~health.core.validation.SignalError` on empty, too short, constant or non-finite input.
    Methods: Hou & Wang MSSP 2022 (SWNSES indicators); Randall & Antoni MSSP 2011 (SES).
    """
    sampling_rate_hz = validate_sampling_rate(sampling_rate_hz)
    single = np.ndim(x) == 1
    windows = validate_signal(x)[np.newaxis, :] if single else validate_windows(x)
    centred = windows - windows.mean(axis=1, keepdims=True)

    squared_env = squared_envelope(centred.astype(np.float32), remove_mean=False).astype(np.float64)
    time_values = swnses_indicators(squared_env / squared_env.sum(axis=1, keepdims=True))
    cyclic_frequency_hz, ses = squared_envelope_spectrum(squared_env, sampling_rate_hz)
    alpha_max_hz = min(FEATURE_ALPHA_MAX_HZ, sampling_rate_hz / 4.0)
    cyclic_values = swnses_indicators(
        normalized_ses(ses, cyclic_frequency_hz, FEATURE_ALPHA_MIN_HZ, alpha_max_hz, shaft_hz=shaft_hz)
    )

    rms = np.sqrt(np.mean(centred**2, axis=1))
    crest = np.max(np.abs(centred), axis=1) / rms

    ses_shares = _band_log_shares(ses, cyclic_frequency_hz, np.asarray(SES_OCTAVE_EDGES_HZ))
    spectrum = sp_fft.rfft(centred, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    frequency_hz = sp_fft.rfftfreq(centred.shape[1], 1.0 / sampling_rate_hz)
    spectrum_edges = np.linspace(0.0, sampling_rate_hz / 2.0 + 1e-9, N_SPECTRUM_BANDS + 1)
    spectrum_shares = _band_log_shares(power, frequency_hz, spectrum_edges)

    features = np.hstack(
        [time_values, cyclic_values, np.log10(rms)[:, np.newaxis], crest[:, np.newaxis], ses_shares, spectrum_shares]
    )
    return features[0] if single else features
