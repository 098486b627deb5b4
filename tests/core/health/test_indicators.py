"""SWNSES indicators: one weighted sum, Gaussian baselines, fast evaluation, envelope basics."""

import numpy as np
import pytest
import scipy.signal

from health.core.envelope import (
    analytic_signal,
    half_rate_squared_envelope,
    hilbert_transform,
    normalized_ses,
    normalized_squared_envelope,
    squared_envelope,
    squared_envelope_spectrum,
)
from health.core.indicators import (
    EULER_GAMMA,
    GAUSSIAN_BASELINES,
    INDICATOR_NAMES,
    WEIGHT_FUNCTIONS,
    envelope_indicators,
    swnses,
    swnses_indicators,
    time_indicators,
)

RATE_HZ = 20000.0


@pytest.fixture(scope="module")
def gaussian_windows():
    return np.random.default_rng(1234).standard_normal((16, 2**15))


def test_gaussian_baseline_values_are_the_published_constants():
    assert GAUSSIAN_BASELINES["kurtosis"] == 2.0
    assert GAUSSIAN_BASELINES["negentropy"] == pytest.approx(0.4228, abs=1e-4)
    assert GAUSSIAN_BASELINES["gini"] == 0.5
    assert GAUSSIAN_BASELINES["smoothness"] == pytest.approx(0.5772, abs=1e-4)
    assert GAUSSIAN_BASELINES["negentropy"] + GAUSSIAN_BASELINES["smoothness"] == pytest.approx(1.0)


@pytest.mark.parametrize("name", INDICATOR_NAMES)
def test_time_form_of_gaussian_noise_matches_its_baseline(gaussian_windows, name):
    squared_env = squared_envelope(gaussian_windows)
    values = swnses(normalized_squared_envelope(squared_env), WEIGHT_FUNCTIONS[name])
    assert values.mean() == pytest.approx(GAUSSIAN_BASELINES[name], rel=0.01)


@pytest.mark.parametrize("name", INDICATOR_NAMES)
def test_cyclic_form_of_gaussian_noise_matches_its_baseline(gaussian_windows, name):
    # alpha_max far below half the band (fs/2): the SES bins of white noise are exponential
    squared_env = squared_envelope(gaussian_windows)
    cyclic_frequency_hz, ses = squared_envelope_spectrum(squared_env, RATE_HZ)
    q = normalized_ses(ses, cyclic_frequency_hz, 2.0, 1000.0)
    values = swnses(q, WEIGHT_FUNCTIONS[name])
    assert values.mean() == pytest.approx(GAUSSIAN_BASELINES[name], rel=0.02)


def test_exponential_samples_give_the_baselines_directly():
    s = np.random.default_rng(7).exponential(size=(8, 2**16))
    p = s / s.sum(axis=1, keepdims=True)
    values = swnses_indicators(p).mean(axis=0)
    expected = [GAUSSIAN_BASELINES[name] for name in INDICATOR_NAMES]
    np.testing.assert_allclose(values, expected, rtol=0.01)


def test_weight_sums_equal_the_classical_definitions():
    rng = np.random.default_rng(3)
    s = rng.gamma(0.7, size=4096)
    p = s / s.sum()
    u = s / s.mean()
    assert swnses(p, WEIGHT_FUNCTIONS["kurtosis"]) == pytest.approx(np.mean(s**2) / np.mean(s) ** 2)
    assert swnses(p, WEIGHT_FUNCTIONS["negentropy"]) == pytest.approx(np.mean(u * np.log(u)))
    assert swnses(p, WEIGHT_FUNCTIONS["smoothness"]) == pytest.approx(-np.mean(np.log(u)))
    ordered = np.sort(p)
    n = p.size
    gini_hurley_rickard = 1.0 - 2.0 * np.sum(ordered * (n - np.arange(1, n + 1) + 0.5) / n)
    assert swnses(p, WEIGHT_FUNCTIONS["gini"]) == pytest.approx(gini_hurley_rickard)


def test_fast_joint_evaluation_equals_swnses_for_every_weight():
    rng = np.random.default_rng(5)
    s = rng.exponential(size=(5, 8192)) * (1.0 + 30.0 * (rng.random((5, 8192)) < 0.01))
    p = s / s.sum(axis=1, keepdims=True)
    fast = swnses_indicators(p)
    exact = swnses_indicators(p, exact_gini=True)
    for column, name in enumerate(INDICATOR_NAMES):
        np.testing.assert_allclose(exact[:, column], swnses(p, WEIGHT_FUNCTIONS[name]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast, exact, atol=1e-4)


def test_constant_envelope_is_the_least_impulsive():
    p = np.full(1000, 1e-3)
    kurtosis, negentropy, gini, smoothness = swnses_indicators(p, exact_gini=True)
    assert kurtosis == pytest.approx(1.0)
    assert negentropy == pytest.approx(0.0, abs=1e-12)
    assert gini == pytest.approx(0.0, abs=1e-12)
    assert smoothness == pytest.approx(0.0, abs=1e-12)


def test_all_four_grow_with_impulsiveness():
    rng = np.random.default_rng(11)
    noise = rng.standard_normal(2**14)
    impulsive = noise.copy()
    impulsive[::500] += 25.0
    assert np.all(time_indicators(impulsive) > time_indicators(noise) + 0.05)


def test_log_floor_keeps_exact_zeros_finite():
    p = np.zeros(100)
    p[:10] = 0.1
    values = swnses_indicators(p)
    assert np.isfinite(values).all()
    assert values[0] == pytest.approx(10.0)


def test_analytic_signal_matches_scipy_hilbert():
    x = np.random.default_rng(2).standard_normal(1001)
    np.testing.assert_allclose(analytic_signal(x), scipy.signal.hilbert(x), atol=1e-10)
    even = x[:1000]
    np.testing.assert_allclose(hilbert_transform(even), scipy.signal.hilbert(even).imag, atol=1e-10)


def test_squared_envelope_of_a_tone_is_flat_and_of_am_peaks_at_the_modulation():
    t = np.arange(20000) / RATE_HZ
    tone = np.cos(2 * np.pi * 1000.0 * t)
    assert np.ptp(squared_envelope(tone)[100:-100]) < 1e-3
    modulated = (1.0 + 0.5 * np.cos(2 * np.pi * 37.0 * t)) * tone
    cyclic_frequency_hz, ses = squared_envelope_spectrum(squared_envelope(modulated), RATE_HZ)
    assert cyclic_frequency_hz[np.argmax(ses[1:]) + 1] == pytest.approx(37.0)


def test_envelope_indicators_batch_equals_single_windows():
    windows = np.random.default_rng(4).standard_normal((3, 4096))
    time_batch, cyclic_batch = envelope_indicators(windows, RATE_HZ, alpha_min_hz=2, alpha_max_hz=500)
    for row in range(3):
        time_one, cyclic_one = envelope_indicators(windows[row], RATE_HZ, alpha_min_hz=2, alpha_max_hz=500)
        np.testing.assert_allclose(time_batch[row], time_one, rtol=1e-10)
        np.testing.assert_allclose(cyclic_batch[row], cyclic_one, rtol=1e-10)


def test_euler_gamma_constant():
    assert EULER_GAMMA == pytest.approx(float(np.euler_gamma))


def test_half_rate_envelope_is_every_other_sample_and_keeps_the_baselines(gaussian_windows):
    np.testing.assert_allclose(
        half_rate_squared_envelope(gaussian_windows[:2]), squared_envelope(gaussian_windows[:2])[:, ::2], rtol=1e-9, atol=1e-12
    )
    time_values, cyclic_values = envelope_indicators(gaussian_windows, RATE_HZ, alpha_min_hz=2.0, alpha_max_hz=1000.0)
    expected = [GAUSSIAN_BASELINES[name] for name in INDICATOR_NAMES]
    np.testing.assert_allclose(time_values.mean(axis=0), expected, rtol=0.01)
    np.testing.assert_allclose(cyclic_values.mean(axis=0), expected, rtol=0.02)
    with pytest.raises(ValueError):
        half_rate_squared_envelope(np.ones(11))


def test_half_rate_ses_keeps_the_modulation_line():
    t = np.arange(2**14) / RATE_HZ
    modulated = (1.0 + 0.5 * np.cos(2 * np.pi * 45.0 * t)) * np.cos(2 * np.pi * 3000.0 * t)
    cyclic_frequency_hz, ses = squared_envelope_spectrum(half_rate_squared_envelope(modulated), RATE_HZ / 2)
    assert cyclic_frequency_hz[np.argmax(ses[1:]) + 1] == pytest.approx(45.0, abs=RATE_HZ / 2**14)
