"""Fault frequencies from geometry, SES peak finding and matching with slip tolerance."""

import numpy as np
import pytest

from health.core.envelope import squared_envelope_spectrum
from health.core.faults import (
    BEARING_PRESETS,
    BearingGeometry,
    FaultFrequency,
    bearing_fault_frequencies,
    bearing_preset,
    find_ses_peaks,
    gear_fault_frequencies,
    match_fault_frequencies,
    stroke_fault_frequencies,
)
from health.core.kurtogram import band_complex_envelope
from health.core.simulate import simulate_bearing_signal

RATE_HZ = 20000.0


def band_ses(x, low_hz=2500.0, high_hz=3500.0):
    envelope, rate_hz = band_complex_envelope(x, RATE_HZ, low_hz, high_hz)
    return squared_envelope_spectrum(np.abs(envelope) ** 2, rate_hz)


def test_cwru_6205_orders():
    orders = bearing_preset("6205").fault_orders()
    assert orders["bpfo"] == pytest.approx(3.5848, abs=1e-4)
    assert orders["bpfi"] == pytest.approx(5.4152, abs=1e-4)
    assert orders["bsf"] == pytest.approx(2.3567, abs=1e-4)
    assert orders["ftf"] == pytest.approx(0.3983, abs=1e-4)


def test_cwru_frequencies_at_1797_rpm_match_the_data_readme():
    by_label = {f.label: f.frequency_hz for f in bearing_fault_frequencies(BEARING_PRESETS["6205"], 1797 / 60)}
    assert by_label["BPFO"] == pytest.approx(107.4, abs=0.1)
    assert by_label["BPFI"] == pytest.approx(162.2, abs=0.1)
    assert by_label["2xBSF"] == pytest.approx(141.2, abs=0.1)


def test_contact_angle_lowers_the_ratio_effect_and_geometry_is_checked():
    angled = BearingGeometry(9, 0.3126, 1.537, 40.0).fault_orders()
    straight = BearingGeometry(9, 0.3126, 1.537, 0.0).fault_orders()
    assert angled["bpfo"] > straight["bpfo"]
    assert angled["bpfi"] < straight["bpfi"]
    with pytest.raises(ValueError):
        BearingGeometry(9, 2.0, 1.0)
    with pytest.raises(ValueError):
        bearing_preset("no-such-bearing")


def test_gear_and_stroke_frequencies():
    mesh, tooth = gear_fault_frequencies(32, 25.0)
    assert mesh.frequency_hz == 800.0 and mesh.sideband_hz == 25.0
    assert tooth.frequency_hz == 25.0
    (stroke,) = stroke_fault_frequencies(45.0)
    assert stroke.frequency_hz == pytest.approx(0.75)


def test_peaks_of_a_clean_line_spectrum():
    frequency_hz = np.arange(0, 500.0, 0.5)
    ses = np.random.default_rng(0).exponential(size=frequency_hz.size)
    ses[np.searchsorted(frequency_hz, 90.0)] = 200.0
    ses[np.searchsorted(frequency_hz, 180.0)] = 100.0
    peaks = find_ses_peaks(frequency_hz, ses, alpha_min_hz=1.0, alpha_max_hz=450.0, min_snr_db=12.0)
    assert [peak.frequency_hz for peak in peaks] == [90.0, 180.0]
    assert peaks[0].snr_db > peaks[1].snr_db


@pytest.mark.parametrize("slip", [-0.015, 0.0, 0.015])
def test_outer_race_found_despite_slip(slip):
    geometry = bearing_preset("simulated")
    shaft_hz = 25.0
    actual_hz = geometry.fault_orders()["bpfo"] * shaft_hz * (1 + slip)
    x = simulate_bearing_signal(RATE_HZ, 2.0, fault="outer", fault_hz=actual_hz, shaft_hz=shaft_hz, snr_db=-5.0, seed=1)
    frequency_hz, ses = band_ses(x)
    matches = match_fault_frequencies(frequency_hz, ses, bearing_fault_frequencies(geometry, shaft_hz), shaft_hz=shaft_hz)
    top = matches[0]
    assert (top.component, top.fault) == ("bearing", "outer_race")
    assert top.found_hz == pytest.approx(actual_hz, rel=0.005)
    assert len(top.harmonics) >= 2


def test_slip_beyond_tolerance_is_not_matched_to_that_fault():
    candidate = FaultFrequency("bearing", "outer_race", "BPFO", 100.0)
    frequency_hz = np.arange(0, 500.0, 0.25)
    ses = np.random.default_rng(3).exponential(size=frequency_hz.size)
    for order in (1, 2, 3):
        ses[np.searchsorted(frequency_hz, 106.0 * order)] = 500.0  # 6 % away
    assert match_fault_frequencies(frequency_hz, ses, [candidate]) == []
    assert match_fault_frequencies(frequency_hz, ses, [candidate], tolerance=0.07)[0].found_hz == 106.0


def test_harmonics_count_as_evidence():
    candidate = FaultFrequency("bearing", "outer_race", "BPFO", 100.0)
    frequency_hz = np.arange(0, 500.0, 0.25)
    base = np.random.default_rng(4).exponential(size=frequency_hz.size)
    one_line = base.copy()
    one_line[np.searchsorted(frequency_hz, 100.0)] = 300.0
    three_lines = one_line.copy()
    for order in (2, 3):
        three_lines[np.searchsorted(frequency_hz, 100.0 * order)] = 300.0
    weak = match_fault_frequencies(frequency_hz, one_line, [candidate])[0]
    strong = match_fault_frequencies(frequency_hz, three_lines, [candidate])[0]
    assert len(strong.harmonics) == 3 and len(weak.harmonics) == 1
    assert strong.strength > 2.5 * weak.strength


def test_a_harmonic_of_one_fault_does_not_pass_as_another_fault():
    # 3 x 100 Hz = 300 Hz falls inside the 2nd-harmonic window of a 150 Hz candidate (+/- 2 %)
    outer = FaultFrequency("bearing", "outer_race", "BPFO", 100.0)
    inner = FaultFrequency("bearing", "inner_race", "BPFI", 151.0)
    frequency_hz = np.arange(0, 500.0, 0.25)
    ses = np.random.default_rng(5).exponential(size=frequency_hz.size)
    for order in (1, 2, 3, 4):
        ses[np.searchsorted(frequency_hz, 100.0 * order)] = 400.0
    matches = match_fault_frequencies(frequency_hz, ses, [inner, outer])
    assert [match.fault for match in matches] == ["outer_race"]


def test_shaft_harmonics_are_not_bearing_evidence():
    candidate = FaultFrequency("bearing", "outer_race", "BPFO", 101.0)
    frequency_hz = np.arange(0, 500.0, 0.25)
    ses = np.random.default_rng(6).exponential(size=frequency_hz.size)
    for order in range(1, 12):
        ses[np.searchsorted(frequency_hz, 25.0 * order)] = 1000.0
    assert match_fault_frequencies(frequency_hz, ses, [candidate], shaft_hz=25.0) == []
    assert match_fault_frequencies(frequency_hz, ses, [candidate], shaft_hz=None) != []


def test_healthy_simulation_matches_nothing():
    geometry = bearing_preset("simulated")
    for seed in range(3):
        x = simulate_bearing_signal(RATE_HZ, 1.0, fault=None, shaft_hz=25.0, snr_db=-5.0, seed=seed)
        frequency_hz, ses = band_ses(x)
        matches = match_fault_frequencies(frequency_hz, ses, bearing_fault_frequencies(geometry, 25.0), shaft_hz=25.0)
        assert all(match.strength < 15.0 for match in matches)
