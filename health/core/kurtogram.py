"""Fast kurtogram and infogram on a 1/3-binary band grid, band selection and re-filtering.

Antoni's fast kurtogram (MSSP 2007) evaluates the spectral kurtosis of the complex envelope of
bands arranged on a 1/3-binary tree: level k holds 2**k bands of width fs / 2**(k+1), and the
in-between level k + log2(3) - 1 holds 3 * 2**(k-1) bands of width fs / (3 * 2**k). Level
labels and band counts are therefore 0 (1 band), 1 (2), 1.6 (3), 2 (4), 2.6 (6), ..., L (2**L).
The infogram (Antoni, MSSP 2016) replaces kurtosis by the negentropy of the squared envelope
(impulsiveness) and the negentropy of the squared envelope spectrum (cyclostationarity, which
ignores isolated shocks).

Implementation. Antoni's tree filters with a short complex FIR prototype and decimates by 2 (or 3)
at each node; its outputs are critically sampled complex band signals. Here the same band grid
and the same critically sampled complex outputs are produced in the frequency domain: the real FFT
of the window is computed once, and for each level the spectrum is cut into its bands and all bands
are brought to baseband with ONE batched inverse FFT (an ideal, zero-phase filter with brick-wall
edges, i.e. the limit of a long polyphase prototype). Each level is a handful of array operations
over all its bands; the only Python loop is over the 2 L levels. Cost: about N log N per level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sp_fft

from .envelope import cyclic_bin_range, working_dtype
from .indicators import LOG_FLOOR
from .validation import MIN_BAND_SAMPLES

LOG2_3 = float(np.log2(3.0))

# Measures computed for every band, and which of them a selection method maximises.
KURTOGRAM_MEASURES = ("spectral_kurtosis", "spectral_negentropy", "cyclic_negentropy")
SELECTION_METHODS = {
    "kurtosis": "spectral_kurtosis",
    "negentropy": "spectral_negentropy",
    "ses_negentropy": "cyclic_negentropy",
}


@dataclass(frozen=True)
class Band:
    """A frequency band chosen on the kurtogram / infogram grid.

    ``low_hz``/``high_hz`` its edges and ``center_hz``/``bandwidth_hz`` (Hz); ``level`` the
    1/3-binary level label (0, 1, 1.585, ...); ``index`` the band's position in its level;
    ``method`` the selection criterion; ``value`` the criterion's value in that band.
    """

    low_hz: float
    high_hz: float
    level: float
    index: int
    method: str
    value: float

    @property
    def center_hz(self) -> float:
        """Band centre (Hz)."""
        return 0.5 * (self.low_hz + self.high_hz)

    @property
    def bandwidth_hz(self) -> float:
        """Band width (Hz)."""
        return self.high_hz - self.low_hz

    def to_dict(self) -> dict:
        """JSON-able band description."""
        return {
            "center_hz": self.center_hz,
            "bandwidth_hz": self.bandwidth_hz,
            "low_hz": self.low_hz,
            "high_hz": self.high_hz,
            "level": self.level,
            "index": self.index,
            "method": self.method,
            "value": self.value,
        }


@dataclass
class KurtogramResult:
    """Band measures of a fast kurtogram / infogram.

    ``levels``: level label per row; ``band_counts``: number of bands per row;
    ``measures[name]``: one 1-D array per row (length ``band_counts[row]``) for each name in
    :data:`KURTOGRAM_MEASURES`: spectral kurtosis (kurtosis of the squared envelope minus 2),
    spectral negentropy (negentropy of the squared envelope), cyclic negentropy (negentropy of the
    normalized SES over the cyclic range). ``usable_bandwidth_hz`` is the width of the analysed
    spectrum (slightly below fs/2 so that every level divides it evenly); ``sampling_rate_hz``
    and ``n_samples`` describe the input.
    """

    levels: list[float]
    band_counts: list[int]
    measures: dict[str, list[np.ndarray]]
    usable_bandwidth_hz: float
    sampling_rate_hz: float
    n_samples: int
    alpha_min_hz: float
    alpha_max_hz: float
    max_level: int = field(default=0)

    def band_edges_hz(self, row: int) -> np.ndarray:
        """Edges (Hz) of the bands of one row: array of length ``band_counts[row] + 1``."""
        return np.linspace(0.0, self.usable_bandwidth_hz, self.band_counts[row] + 1)

    def matrix(self, measure: str) -> np.ndarray:
        """The measure as a (n_rows, 3 * 2**max_level) image: each band repeated over the columns it covers.

        This is the usual kurtogram picture; column c covers
        [c, c+1] * usable_bandwidth_hz / n_columns.
        """
        n_columns = self.n_columns
        rows = [np.repeat(values, n_columns // values.size) for values in self.measures[measure]]
        return np.vstack(rows)

    @property
    def n_columns(self) -> int:
        """Columns of :meth:`matrix`: 3 * 2**max_level, divisible by every row's band count."""
        return 3 * 2**self.max_level

    def column_frequencies_hz(self) -> np.ndarray:
        """Centre frequency (Hz) of each column of :meth:`matrix`."""
        width = self.usable_bandwidth_hz / self.n_columns
        return (np.arange(self.n_columns) + 0.5) * width

    def select_band(
        self,
        method: str = "ses_negentropy",
        *,
        min_bandwidth_hz: float = 0.0,
        min_low_hz: float = 0.0,
    ) -> Band:
        """Band with the largest value of the chosen measure among the admissible bands.

        Inputs: ``method`` one of ``kurtosis`` (Antoni 2007), ``negentropy`` or ``ses_negentropy``
        (infogram, Antoni 2016); admissible bands are at least ``min_bandwidth_hz`` wide (so the
        SES of the band reaches the fault frequencies of interest) and start at or above
        ``min_low_hz`` (to keep shaft-rate lines out). If no band qualifies the constraints are
        dropped. Output: the :class:`Band`.
        """
        if method not in SELECTION_METHODS:
            raise ValueError(f"unknown band selection method {method!r}; use one of {sorted(SELECTION_METHODS)}")
        measure = SELECTION_METHODS[method]
        best: tuple[float, int, int] | None = None
        fallback: tuple[float, int, int] | None = None
        for row, values in enumerate(self.measures[measure]):
            edges = self.band_edges_hz(row)
            width = edges[1] - edges[0]
            admissible = (edges[:-1] >= min_low_hz) & (width >= min_bandwidth_hz)
            finite = np.where(np.isfinite(values), values, -np.inf)
            index = int(np.argmax(finite))
            if fallback is None or finite[index] > fallback[0]:
                fallback = (float(finite[index]), row, index)
            if admissible.any():
                masked = np.where(admissible, finite, -np.inf)
                index = int(np.argmax(masked))
                if best is None or masked[index] > best[0]:
                    best = (float(masked[index]), row, index)
        chosen = best if best is not None and np.isfinite(best[0]) else fallback
        value, row, index = chosen
        edges = self.band_edges_hz(row)
        return Band(
            low_hz=float(edges[index]),
            high_hz=float(edges[index + 1]),
            level=self.levels[row],
            index=index,
            method=method,
            value=value,
        )

    def to_dict(self) -> dict:
        """JSON-able chart data: level labels, column frequencies (Hz) and the three matrices."""
        return {
            "levels": [round(level, 3) for level in self.levels],
            "band_counts": list(self.band_counts),
            "frequency_hz": self.column_frequencies_hz().tolist(),
            "matrices": {name: self.matrix(name).tolist() for name in KURTOGRAM_MEASURES},
        }


def kurtogram_levels(max_level: int) -> list[tuple[float, int]]:
    """The (level label, band count) rows of a 1/3-binary tree down to ``max_level``.

    Level 0 has 1 band; for k = 1..max_level level k has 2**k bands and, for k < max_level, the
    in-between level k + log2(3) - 1 (k + 0.585) has 3 * 2**(k-1) bands: 0 (1), 1 (2), 1.585 (3),
    2 (4), 2.585 (6), ... 2 * max_level rows in all (Antoni 2007).
    """
    rows = [(0.0, 1)]
    for level in range(1, max_level + 1):
        rows.append((float(level), 2**level))
        if level < max_level:
            rows.append((level + LOG2_3 - 1.0, 3 * 2 ** (level - 1)))
    return rows


def max_supported_level(n_samples: int, min_band_samples: int = MIN_BAND_SAMPLES) -> int:
    """Deepest kurtogram level whose narrowest bands still hold ``min_band_samples`` samples."""
    level = 0
    while (3 * 2 ** (level + 1)) * min_band_samples * 2 <= n_samples:
        level += 1
    return level


def _is_7_smooth(value: int) -> bool:
    """True when ``value`` has no prime factor above 7 (fast FFT lengths for pocketfft)."""
    for prime in (2, 3, 5, 7):
        while value % prime == 0:
            value //= prime
    return value == 1


def grid_bins(n_spectrum_bins: int, max_level: int) -> int:
    """Number of spectrum bins used: a multiple of 3 * 2**max_level (so every row's band count
    divides it), at most ``n_spectrum_bins``; the cofactor is lowered to a 7-smooth number (fast
    FFT lengths for every band) when that costs at most 2.5 % of the spectrum. The bins left out
    sit just below the Nyquist frequency, where anti-aliasing filters leave little signal anyway."""
    multiple = 3 * 2**max_level
    plain = max(1, n_spectrum_bins // multiple)
    cofactor = plain
    while cofactor > 1 and not _is_7_smooth(cofactor):
        cofactor -= 1
    if cofactor * multiple < 0.975 * n_spectrum_bins:
        cofactor = plain
    return cofactor * multiple


def _row_measures(
    band_spectra: np.ndarray,
    alpha_bins: slice,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spectral kurtosis, spectral negentropy and SES negentropy of each band of one level.

    Input: the spectrum bins of each band, shape (n_bands, n_bins_per_band) (complex). One batched
    inverse FFT gives the critically sampled complex envelope of every band. With s the squared
    envelope, M its length and m its mean: kurtosis = M sum(s**2) / sum(s)**2, negentropy =
    mean(u ln u) = sum(s ln s) / sum(s) - ln m (u = s / m, without forming u), and the SES is the
    rFFT of s over the cyclic bins ``alpha_bins`` (bin 0 excluded, so s needs no centring).
    """
    n_bins = band_spectra.shape[-1]
    band_signals = sp_fft.ifft(band_spectra, axis=-1)
    squared_env = band_signals.real * band_signals.real
    squared_env += band_signals.imag * band_signals.imag
    tiny = np.finfo(squared_env.dtype).tiny
    total = np.maximum(squared_env.sum(axis=-1, dtype=np.float64), tiny)
    kurtosis = n_bins * np.einsum("ij,ij->i", squared_env, squared_env).astype(np.float64) / total**2
    np.maximum(squared_env, tiny, out=squared_env)
    log_env = np.log(squared_env)
    negentropy = np.einsum("ij,ij->i", squared_env, log_env).astype(np.float64) / total - np.log(total / n_bins)
    ses_range = sp_fft.rfft(squared_env, axis=-1)[:, alpha_bins]
    ses = ses_range.real * ses_range.real
    ses += ses_range.imag * ses_range.imag
    n_alpha = ses.shape[-1]
    ses_total = np.maximum(ses.sum(axis=-1, keepdims=True), np.finfo(ses.dtype).tiny)
    v = ses * (n_alpha / ses_total)
    cyclic = np.einsum("ij,ij->i", v, np.log(np.maximum(v, LOG_FLOOR))) / n_alpha
    return kurtosis - 2.0, negentropy, cyclic


def fast_kurtogram(
    x: np.ndarray,
    sampling_rate_hz: float,
    *,
    max_level: int = 6,
    alpha_min_hz: float | None = None,
    alpha_max_hz: float | None = None,
    spectrum: np.ndarray | None = None,
) -> KurtogramResult:
    """Fast kurtogram and infogram of one window on a 1/3-binary grid down to ``max_level``.

    Inputs: real samples ``x`` (mean removed, any unit) at ``sampling_rate_hz``; ``max_level``
    (clipped to what the window length supports, see :func:`max_supported_level`); the cyclic
    range [alpha_min_hz, alpha_max_hz] (Hz) for the SES negentropy: defaults 2 frequency bins and
    no upper cap, and in each band it is further limited to half the band's width (the critically
    sampled squared envelope of a band of width B carries cyclic frequencies up to B/2 without
    aliasing onto themselves). ``spectrum`` may pass ``scipy.fft.rfft(x)`` when already computed.
    Output: :class:`KurtogramResult` with spectral kurtosis, spectral negentropy and SES negentropy
    for every band. Methods: Antoni, MSSP 2007 (fast kurtogram); Antoni, MSSP 2016 (infogram).
    """
    x = np.asarray(x)
    n_samples = x.shape[-1]
    max_level = int(max(1, min(max_level, max_supported_level(n_samples))))
    if spectrum is None:
        spectrum = sp_fft.rfft(x.astype(working_dtype(x), copy=False) - x.mean())
    resolution_hz = sampling_rate_hz / n_samples
    n_used = grid_bins(n_samples // 2, max_level)
    used = spectrum[:n_used]
    alpha_min = 2.0 * resolution_hz if alpha_min_hz is None else float(alpha_min_hz)
    alpha_max = np.inf if alpha_max_hz is None else float(alpha_max_hz)
    levels: list[float] = []
    band_counts: list[int] = []
    measures: dict[str, list[np.ndarray]] = {name: [] for name in KURTOGRAM_MEASURES}
    for level, n_bands in kurtogram_levels(max_level):
        bins_per_band = n_used // n_bands
        band_width_hz = bins_per_band * resolution_hz
        alpha_bins = cyclic_bin_range(
            bins_per_band // 2 + 1, resolution_hz, alpha_min, min(alpha_max, 0.5 * band_width_hz)
        )
        kurtosis, negentropy, cyclic = _row_measures(used.reshape(n_bands, bins_per_band), alpha_bins)
        levels.append(level)
        band_counts.append(n_bands)
        measures["spectral_kurtosis"].append(kurtosis.astype(np.float64))
        measures["spectral_negentropy"].append(negentropy.astype(np.float64))
        measures["cyclic_negentropy"].append(cyclic.astype(np.float64))
    return KurtogramResult(
        levels=levels,
        band_counts=band_counts,
        measures=measures,
        usable_bandwidth_hz=n_used * resolution_hz,
        sampling_rate_hz=float(sampling_rate_hz),
        n_samples=n_samples,
        alpha_min_hz=alpha_min,
        alpha_max_hz=float(alpha_max),
        max_level=max_level,
    )


def band_complex_envelope(
    x: np.ndarray,
    sampling_rate_hz: float,
    low_hz: float,
    high_hz: float,
    *,
    oversampling: int = 2,
    spectrum: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Re-filter one band: the complex envelope of [low_hz, high_hz] brought to baseband.

    Inputs: real samples (any unit U) at ``sampling_rate_hz``; the band edges (Hz); an
    ``oversampling`` factor (2 keeps the squared envelope free of aliasing up to the band width);
    optionally the precomputed ``scipy.fft.rfft`` of the mean-removed window. Outputs:
    ``(envelope, envelope_rate_hz)``: complex samples (unit U) spanning the same duration as ``x``
    and their sampling rate (Hz). ``|envelope|**2`` is the band's squared envelope.
    Method: frequency-domain band-pass / complex demodulation (Randall & Antoni, MSSP 2011).
    """
    x = np.asarray(x)
    n_samples = x.shape[-1]
    if spectrum is None:
        spectrum = sp_fft.rfft(x.astype(working_dtype(x), copy=False) - x.mean())
    resolution_hz = sampling_rate_hz / n_samples
    first = max(0, int(round(low_hz / resolution_hz)))
    last = min(spectrum.shape[-1], int(round(high_hz / resolution_hz)))
    last = max(last, first + 1)
    band_bins = spectrum[..., first:last]
    n_out = sp_fft.next_fast_len(max(8, oversampling * band_bins.shape[-1]))
    envelope = sp_fft.ifft(band_bins, n=n_out, axis=-1)
    envelope_rate_hz = n_out * resolution_hz
    return envelope, envelope_rate_hz
