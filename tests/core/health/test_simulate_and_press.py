"""The simulator (deterministic, faults where asked) and stroke handling for presses."""

import numpy as np
import pytest

from health.core.indicators import time_indicators
from health.core.kurtogram import fast_kurtogram
from health.core.press import (
    remove_stroke_synchronous_average,
    stroke_starts_from_rate,
    stroke_starts_from_trigger,
)
from health.core.simulate import (
    resonance_impulse_response,
    severity_profile,
    simulate_bearing_run,
    simulate_bearing_signal,
    simulate_press_signal,
    simulated_fault_frequency_hz,
)
from health.core.validation import SignalError

RATE_HZ = 20000.0


def test_same_seed_same_samples_other_seed_other_samples():
    first = simulate_bearing_signal(RATE_HZ, 0.5, fault="inner", shocks=2, seed=42)
    again = simulate_bearing_signal(RATE_HZ, 0.5, fault="inner", shocks=2, seed=42)
    other = simulate_bearing_signal(RATE_HZ, 0.5, fault="inner", shocks=2, seed=43)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert first.shape == (10000,)


def test_healthy_and_faulty_share_the_noise_level_and_faults_add_impulsiveness():
    healthy = simulate_bearing_signal(RATE_HZ, 1.0, fault=None, seed=1)
    zero_severity = simulate_bearing_signal(RATE_HZ, 1.0, fault="outer", severity=0.0, seed=1)
    np.testing.assert_array_equal(healthy, zero_severity)
    faulty = simulate_bearing_signal(RATE_HZ, 1.0, fault="outer", severity=3.0, snr_db=-5.0, seed=1)
    assert time_indicators(faulty)[0] > time_indicators(healthy)[0] + 0.3


def test_fault_frequency_comes_from_the_simulated_bearing():
    assert simulated_fault_frequency_hz("outer", 25.0) == pytest.approx(90.0)
    assert simulated_fault_frequency_hz("inner", 25.0) == pytest.approx(135.0)
    assert simulated_fault_frequency_hz("ball", 25.0) == pytest.approx(120.0)
    with pytest.raises(ValueError):
        simulate_bearing_signal(fault="cracked")


def test_impulse_response_decays_and_shocks_land_in_their_band():
    response = resonance_impulse_response(RATE_HZ, 3000.0, 0.05)
    assert abs(response[-1]) < 1e-3 * np.abs(response).max()
    x = simulate_bearing_signal(RATE_HZ, 1.0, shocks=4, shock_amplitude=30.0, snr_db=-5.0, seed=2)
    band = fast_kurtogram(x, RATE_HZ, max_level=5).select_band("kurtosis")
    assert band.low_hz <= 7000.0 <= band.high_hz


def test_severity_grows_from_onset():
    exponential = severity_profile(100, onset_window=40, final_severity=2.0)
    assert (exponential[:40] == 0).all()
    assert np.all(np.diff(exponential[40:]) > 0)
    assert exponential[-1] == pytest.approx(2.0)
    linear = severity_profile(10, onset_window=5, final_severity=1.0, growth="linear")
    np.testing.assert_allclose(linear[5:], [0.2, 0.4, 0.6, 0.8, 1.0])
    windows, severities = simulate_bearing_run(12, onset_window=6, window_duration_s=0.1, seed=5)
    assert windows.shape == (12, 2000)
    assert (severities[:6] == 0).all() and (severities[6:] > 0).all()


def test_press_trigger_marks_every_stroke():
    press = simulate_press_signal(RATE_HZ, 4.0, stroke_rate_spm=60.0, seed=3)
    starts = stroke_starts_from_trigger(press.trigger)
    np.testing.assert_array_equal(starts[starts > 0], press.stroke_starts[press.stroke_starts > 0])
    assert np.all(np.abs(np.diff(press.stroke_starts) - 20000) <= 1)


@pytest.mark.parametrize("use_trigger", [True, False])
def test_stroke_average_removal_takes_out_the_forming_impacts(use_trigger):
    press = simulate_press_signal(RATE_HZ, 4.0, stroke_rate_spm=60.0, bearing_fault=None, seed=4)
    if use_trigger:
        separated = remove_stroke_synchronous_average(press.signal, RATE_HZ, trigger=press.trigger)
    else:
        separated = remove_stroke_synchronous_average(press.signal, RATE_HZ, stroke_rate_spm=60.0)
    raw_kurtosis = time_indicators(press.signal)[0]
    residual_kurtosis = time_indicators(separated.residual)[0]
    assert raw_kurtosis > 20.0
    assert residual_kurtosis < 3.0
    assert separated.n_strokes >= 3
    assert separated.residual.shape == press.signal.shape


def test_rate_based_cuts_are_one_stroke_apart_and_aligned():
    press = simulate_press_signal(RATE_HZ, 5.0, stroke_rate_spm=75.0, seed=6)
    starts = stroke_starts_from_rate(press.signal, RATE_HZ, 75.0)
    assert np.all(np.abs(np.diff(starts) - 16000) <= 2)
    offsets = (starts[:, None] - press.stroke_starts[None, :]) % 16000
    assert np.ptp(offsets[:, 0]) <= 2


def test_stroke_removal_errors():
    press = simulate_press_signal(RATE_HZ, 1.5, stroke_rate_spm=30.0, seed=7)
    with pytest.raises(SignalError):
        remove_stroke_synchronous_average(press.signal, RATE_HZ, stroke_rate_spm=30.0)
    with pytest.raises(SignalError):
        remove_stroke_synchronous_average(press.signal, RATE_HZ)
    with pytest.raises(SignalError):
        remove_stroke_synchronous_average(press.signal, RATE_HZ, trigger=np.zeros(press.signal.size))
