"""Optimised weights, ISO 10816-3 zones and maintenance advice."""

import numpy as np
import pytest

from health.core.advice import MAINTENANCE_ADVICE, maintenance_advice
from health.core.envelope import normalized_ses, squared_envelope, squared_envelope_spectrum
from health.core.faults import bearing_fault_frequencies, bearing_preset, gear_fault_frequencies, stroke_fault_frequencies
from health.core.iso10816 import (
    ISO_10816_3_ZONE_LIMITS_MM_S,
    acceleration_to_velocity_rms_mm_s,
    iso10816_zone,
    velocity_rms_mm_s,
)
from health.core.simulate import simulate_bearing_run
from health.core.thresholds import ALARM, DANGER, LEVEL_NAMES, NORMAL
from health.core.weights import blend_weights, learned_index_score, optimised_weights, weighted_index

RATE_HZ = 20000.0


def normalized_ses_rows(windows):
    squared_env = squared_envelope(windows)
    frequency_hz, ses = squared_envelope_spectrum(squared_env, RATE_HZ)
    return frequency_hz, normalized_ses(ses, frequency_hz, 2.0, 500.0)


def test_optimised_weights_are_the_unit_mean_difference_and_maximise_the_gain():
    rng = np.random.default_rng(0)
    healthy = rng.dirichlet(np.ones(50), size=40)
    current = rng.dirichlet(np.ones(50) + np.eye(50)[7] * 5, size=40)
    weights = optimised_weights(healthy, current)
    difference = current.mean(axis=0) - healthy.mean(axis=0)
    np.testing.assert_allclose(weights, difference / np.linalg.norm(difference))
    assert np.linalg.norm(weights) == pytest.approx(1.0)
    assert np.argmax(weights) == 7
    gain = weights @ difference
    for _ in range(200):
        other = rng.normal(size=50)
        assert (other / np.linalg.norm(other)) @ difference <= gain + 1e-12
    assert np.all(weighted_index(current, weights).mean() > weighted_index(healthy, weights).mean())


def test_blend_and_input_checks():
    expert = np.array([1.0, 0.0, 0.0])
    learned = np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(blend_weights(expert, learned, 0.25), [0.25, 0.75, 0.0])
    np.testing.assert_allclose(blend_weights(expert, learned, 1.0), expert)
    with pytest.raises(ValueError):
        blend_weights(expert, learned, 1.5)
    with pytest.raises(ValueError):
        optimised_weights(np.ones((3, 4)) / 4, np.ones((3, 5)) / 5)
    same = np.ones((3, 4)) / 4
    assert not optimised_weights(same, same).any()


def test_learned_index_flags_a_fault_only_against_held_out_healthy_windows():
    healthy_windows, _ = simulate_bearing_run(40, onset_window=None, window_duration_s=0.25, seed=1, shaft_hz=25.0, snr_db=-8.0)
    faulty_windows, _ = simulate_bearing_run(40, onset_window=0, final_severity=1.5, growth="linear", window_duration_s=0.25, seed=2, shaft_hz=25.0, snr_db=-8.0)
    other_healthy, _ = simulate_bearing_run(40, onset_window=None, window_duration_s=0.25, seed=3, shaft_hz=25.0, snr_db=-8.0)
    frequency_hz, healthy = normalized_ses_rows(healthy_windows)
    _, faulty = normalized_ses_rows(faulty_windows)
    _, healthy_again = normalized_ses_rows(other_healthy)
    faulty_score = learned_index_score(healthy, faulty)
    healthy_score = learned_index_score(healthy, healthy_again)
    assert faulty_score.z > 5.0
    assert abs(healthy_score.z) < 3.0
    # the learned weights point at the outer-race lines (90 Hz and harmonics for the simulated
    # bearing at 25 Hz)
    in_range = frequency_hz[(frequency_hz >= 2.0) & (frequency_hz <= 500.0)]
    order = in_range[np.argmax(faulty_score.weights)] / 90.0
    assert order == pytest.approx(round(order), abs=0.05) and round(order) >= 1
    # on the very windows it was learned from the index is always positive
    weights = optimised_weights(healthy, healthy_again)
    assert weights @ (healthy_again.mean(axis=0) - healthy.mean(axis=0)) > 0


def test_iso_table_and_zones():
    assert ISO_10816_3_ZONE_LIMITS_MM_S[("group2", "rigid")] == (1.4, 2.8, 4.5)
    assert ISO_10816_3_ZONE_LIMITS_MM_S[("group1", "flexible")] == (3.5, 7.1, 11.0)
    assert len(ISO_10816_3_ZONE_LIMITS_MM_S) == 4
    assert iso10816_zone(1.0).zone == "A"
    assert iso10816_zone(1.4).zone == "B"
    assert iso10816_zone(3.0).zone == "C" and iso10816_zone(3.0).level == ALARM
    assert iso10816_zone(4.5).zone == "D" and iso10816_zone(4.5).level == DANGER
    assert iso10816_zone(3.0, group="group1", foundation="flexible").zone == "A"
    with pytest.raises(ValueError):
        iso10816_zone(1.0, group="group3")


def test_band_limited_rms_velocity_and_integration():
    t = np.arange(int(RATE_HZ)) / RATE_HZ
    velocity = 4.0 * np.sin(2 * np.pi * 50.0 * t) + 10.0 * np.sin(2 * np.pi * 3000.0 * t)
    assert velocity_rms_mm_s(velocity, RATE_HZ) == pytest.approx(4.0 / np.sqrt(2), rel=1e-3)
    # a = dv/dt: 2.0 mm/s RMS at 80 Hz -> acceleration amplitude 2*sqrt(2) * 2*pi*80 mm/s^2
    amplitude_mm_s = 2.0 * np.sqrt(2)
    acceleration_m_s2 = amplitude_mm_s * 2 * np.pi * 80.0 / 1000.0 * np.cos(2 * np.pi * 80.0 * t)
    assert acceleration_to_velocity_rms_mm_s(acceleration_m_s2, RATE_HZ) == pytest.approx(2.0, rel=1e-3)


def test_every_fault_the_core_can_name_has_advice_at_every_level():
    candidates = (
        bearing_fault_frequencies(bearing_preset("6205"), 29.0)
        + gear_fault_frequencies(30, 29.0)
        + stroke_fault_frequencies(40.0)
    )
    for candidate in candidates:
        for level in (1, 2, 3):
            advice = maintenance_advice(candidate.component, candidate.fault, level)
            assert advice.key == f"{candidate.component}.{candidate.fault}.{LEVEL_NAMES[level].lower()}"
            assert advice.text == MAINTENANCE_ADVICE[advice.key]


def test_advice_fallbacks_and_key_format():
    assert maintenance_advice("bearing", "outer_race", NORMAL).key == "general.none.normal"
    assert maintenance_advice("spindle", "unknown", 2).key == "general.impulsive.alarm"
    for key, text in MAINTENANCE_ADVICE.items():
        component, fault, level = key.split(".")
        assert level in {"normal", "warning", "alarm", "danger"}
        assert text and len(text) < 200
