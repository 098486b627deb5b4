"""Fast kurtogram / infogram: grid, measures, band selection, the isolated-shock trap."""

import json

import numpy as np
import pytest

from health.core.kurtogram import (
    band_complex_envelope,
    fast_kurtogram,
    kurtogram_levels,
    max_supported_level,
)
from health.core.simulate import simulate_bearing_signal

RATE_HZ = 20000.0


def test_one_third_binary_levels_and_band_counts():
    rows = kurtogram_levels(4)
    assert [count for _, count in rows] == [1, 2, 3, 4, 6, 8, 12, 16]
    assert [round(level, 1) for level, _ in rows] == [0.0, 1.0, 1.6, 2.0, 2.6, 3.0, 3.6, 4.0]


def test_rows_partition_the_spectrum_and_level_is_clipped_for_short_windows():
    x = np.random.default_rng(0).standard_normal(4096)
    result = fast_kurtogram(x, RATE_HZ, max_level=8)
    assert result.max_level == max_supported_level(4096) < 8
    for row, count in enumerate(result.band_counts):
        edges = result.band_edges_hz(row)
        assert edges.size == count + 1
        assert edges[-1] == pytest.approx(result.usable_bandwidth_hz)
        assert result.measures["spectral_kurtosis"][row].shape == (count,)
    assert result.usable_bandwidth_hz <= RATE_HZ / 2
    assert result.usable_bandwidth_hz > 0.9 * RATE_HZ / 2


def test_gaussian_noise_has_flat_kurtogram_near_zero():
    x = np.random.default_rng(1).standard_normal(2**16)
    result = fast_kurtogram(x, RATE_HZ, max_level=4)
    spectral_kurtosis = np.concatenate(result.measures["spectral_kurtosis"])
    assert np.abs(spectral_kurtosis).max() < 0.25
    negentropy = np.concatenate(result.measures["spectral_negentropy"])
    assert np.abs(negentropy - 0.4228).max() < 0.06


def test_impulsive_band_is_found_by_every_measure():
    x = simulate_bearing_signal(RATE_HZ, 1.0, fault="outer", shaft_hz=25.0, snr_db=-5.0, seed=3)
    result = fast_kurtogram(x, RATE_HZ, max_level=6)
    for method in ("kurtosis", "negentropy", "ses_negentropy"):
        band = result.select_band(method)
        assert band.low_hz <= 3000.0 <= band.high_hz, method


@pytest.mark.parametrize("seed", range(4))
def test_isolated_shocks_fool_kurtosis_but_not_ses_negentropy(seed):
    # repetitive fault impacts at a 3 kHz resonance, three isolated large shocks at 7 kHz
    x = simulate_bearing_signal(RATE_HZ, 1.0, fault="outer", shaft_hz=25.0, snr_db=-8.0, shocks=3, seed=seed)
    result = fast_kurtogram(x, RATE_HZ, max_level=6)
    fooled = result.select_band("kurtosis")
    robust = result.select_band("ses_negentropy")
    assert fooled.low_hz <= 7000.0 <= fooled.high_hz
    assert robust.low_hz <= 3000.0 <= robust.high_hz
    assert not robust.low_hz <= 7000.0 <= robust.high_hz


def test_band_constraints_are_honoured():
    x = simulate_bearing_signal(RATE_HZ, 1.0, fault="outer", shaft_hz=25.0, snr_db=-5.0, seed=0)
    result = fast_kurtogram(x, RATE_HZ, max_level=6)
    band = result.select_band("ses_negentropy", min_bandwidth_hz=1500.0, min_low_hz=1000.0)
    assert band.bandwidth_hz >= 1500.0
    assert band.low_hz >= 1000.0
    with pytest.raises(ValueError):
        result.select_band("entropy")


def test_chart_matrix_shape_and_json():
    x = np.random.default_rng(2).standard_normal(2**14)
    result = fast_kurtogram(x, RATE_HZ, max_level=5)
    matrix = result.matrix("cyclic_negentropy")
    assert matrix.shape == (len(result.levels), 3 * 2**5)
    payload = result.to_dict()
    assert len(payload["frequency_hz"]) == matrix.shape[1]
    json.dumps(payload)


def test_refiltered_band_envelope_recovers_the_modulation():
    t = np.arange(2**15) / RATE_HZ
    carrier = np.cos(2 * np.pi * 4000.0 * t) * (1.0 + 0.8 * np.cos(2 * np.pi * 60.0 * t))
    x = carrier + np.cos(2 * np.pi * 500.0 * t)
    envelope, rate_hz = band_complex_envelope(x, RATE_HZ, 3500.0, 4500.0)
    squared = np.abs(envelope) ** 2
    spectrum = np.abs(np.fft.rfft(squared - squared.mean()))
    frequency_hz = np.fft.rfftfreq(squared.size, 1.0 / rate_hz)
    assert frequency_hz[np.argmax(spectrum)] == pytest.approx(60.0, abs=1.0)
    assert rate_hz >= 2 * 1000.0
