"""analyze_signal end to end on simulated signals, its result dict, input validation, features."""

import json

import numpy as np
import pytest

from health.core import MIN_SAMPLES, SignalError, analyze_signal
from health.core.analysis import windowed_indicators
from health.core.baseline import HealthyBaseline
from health.core.features import FEATURE_NAMES, window_features
from health.core.faults import bearing_fault_frequencies, bearing_preset
from health.core.indicators import INDICATOR_NAMES
from health.core.simulate import simulate_bearing_signal, simulate_press_signal
from health.core.validation import validate_signal

RATE_HZ = 20000.0
SHAFT_HZ = 25.0
EXPECTED_HZ = {
    f.fault: f.frequency_hz for f in bearing_fault_frequencies(bearing_preset("simulated"), SHAFT_HZ)
}
FAULT_NAMES = {"outer": "outer_race", "inner": "inner_race", "ball": "ball"}


def simulated(fault, seed, **options):
    options.setdefault("snr_db", -8.0)
    return simulate_bearing_signal(RATE_HZ, 1.0, fault=fault, shaft_hz=SHAFT_HZ, seed=seed, **options)


@pytest.mark.parametrize("fault", ["outer", "inner", "ball"])
def test_simulated_fault_is_named_at_its_frequency(fault):
    strengths = []
    for seed in range(5):
        result = analyze_signal(simulated(fault, seed), RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated")
        top = result.faults[0]
        assert top.fault == FAULT_NAMES[fault]
        assert top.found_hz == pytest.approx(EXPECTED_HZ[FAULT_NAMES[fault]], rel=0.02)
        assert result.band.low_hz <= 3000.0 <= result.band.high_hz
        strengths.append(top.strength)
    # the 15-strength significance bar is passed in most 1-second windows at -8 dB
    assert sum(strength >= 15.0 for strength in strengths) >= 4


def test_healthy_simulation_stays_normal_without_baseline():
    for seed in range(5):
        result = analyze_signal(simulated(None, seed), RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated")
        assert result.level == 0
        assert result.significant_faults == []
        assert result.advice.key == "general.none.normal"


@pytest.mark.parametrize("seed", range(3))
def test_isolated_shocks_are_handled_by_the_cyclic_negentropy(seed):
    x = simulated("outer", seed, shocks=3)
    robust = analyze_signal(x, RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated", band_method="ses_negentropy")
    fooled = analyze_signal(x, RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated", band_method="kurtosis")
    assert robust.faults[0].fault == "outer_race"
    assert robust.band.low_hz <= 3000.0 <= robust.band.high_hz
    assert fooled.band.low_hz <= 7000.0 <= fooled.band.high_hz
    assert fooled.significant_faults == []


def test_baseline_windows_give_health_index_and_levels():
    healthy_history = np.vstack([simulated(None, seed) for seed in range(100, 106)])
    healthy = analyze_signal(simulated(None, 7), RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated", baseline_windows=healthy_history)
    faulty = analyze_signal(
        simulated("inner", 7, severity=2.0), RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated", baseline_windows=healthy_history
    )
    assert healthy.level == 0 and abs(healthy.health_index_z) < 3.0
    assert faulty.level >= 2 and faulty.health_index_z > 6.0
    assert faulty.advice.key.startswith("bearing.inner_race.")
    # the saved baseline reproduces the verdict without the raw healthy data
    saved = HealthyBaseline.from_dict(json.loads(json.dumps(faulty.baseline.to_dict())))
    again = analyze_signal(simulated("inner", 7, severity=2.0), RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated", baseline=saved)
    assert again.health_index_z == pytest.approx(faulty.health_index_z)
    assert again.level == faulty.level


def test_result_dict_is_json_and_has_the_documented_keys():
    x = simulated("outer", 1, snr_db=-5.0)
    payload = analyze_signal(x, RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated").to_dict()
    text = json.dumps(payload)
    assert "NaN" not in text
    for key in ("indicators", "band", "ses_peaks", "faults", "health_index", "level", "level_name", "ses", "kurtogram", "advice"):
        assert key in payload
    assert set(payload["indicators"]) == set(INDICATOR_NAMES)
    assert set(payload["indicators"]["kurtosis"]) == {"time", "cyclic"}
    assert {"center_hz", "bandwidth_hz", "method"} <= set(payload["band"])
    assert {"hz", "amplitude"} <= set(payload["ses_peaks"][0])
    assert {"component", "fault", "expected_hz", "found_hz", "strength"} <= set(payload["faults"][0])
    strengths = [fault["strength"] for fault in payload["faults"]]
    assert strengths == sorted(strengths, reverse=True)
    assert payload["health_index"] is None and payload["level"] in (0, 1, 2, 3)
    assert payload["level_name"] in ("Normal", "Warning", "Alarm", "Danger")
    assert len(payload["ses"]["frequency_hz"]) == len(payload["ses"]["amplitude"]) <= 2048
    matrix = payload["kurtogram"]["matrices"]["cyclic_negentropy"]
    assert len(matrix) == len(payload["kurtogram"]["levels"])
    assert len(matrix[0]) == len(payload["kurtogram"]["frequency_hz"])


def test_press_signal_with_trigger_finds_the_bearing_under_the_forming_impacts():
    press = simulate_press_signal(RATE_HZ, 4.0, stroke_rate_spm=60.0, bearing_fault="outer", shaft_hz=24.0, snr_db=-8.0, seed=0)
    result = analyze_signal(
        press.signal, RATE_HZ, shaft_hz=24.0, bearing="simulated", stroke_rate_spm=60.0, trigger=press.trigger
    )
    assert result.stroke["method"] == "trigger" and result.stroke["n_strokes"] >= 3
    assert result.faults[0].fault == "outer_race"
    assert result.faults[0].found_hz == pytest.approx(3.6 * 24.0, rel=0.02)
    short = analyze_signal(press.signal[:30000], RATE_HZ, stroke_rate_spm=60.0)
    assert any("stroke-synchronous average not removed" in note for note in short.notes)


def test_iso_zone_of_a_velocity_channel():
    t = np.arange(int(RATE_HZ)) / RATE_HZ
    velocity_mm_s = 5.0 * np.sqrt(2) * np.sin(2 * np.pi * 49.0 * t) + 0.1 * np.random.default_rng(0).standard_normal(t.size)
    result = analyze_signal(velocity_mm_s, RATE_HZ, iso_channel="velocity_mm_s")
    assert result.iso_zone.zone == "D"
    assert result.level == 3
    assert result.advice.key == "iso.velocity.danger"


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([]), "empty"),
        (np.zeros(MIN_SAMPLES - 1) + np.arange(MIN_SAMPLES - 1), "at least"),
        (np.where(np.arange(5000) == 17, np.nan, 1.0 * np.arange(5000)), "NaN"),
        (np.where(np.arange(5000) == 3, np.inf, 1.0 * np.arange(5000)), "NaN or infinite"),
        (np.ones(5000), "constant"),
        (np.ones((3, 5000)), "1-D"),
        (["a", "b"], "not numeric"),
    ],
)
def test_bad_signals_raise_signal_error(bad, message):
    with pytest.raises(SignalError, match=message):
        analyze_signal(bad, RATE_HZ)
    assert issubclass(SignalError, ValueError)


def test_bad_sampling_rate_and_options():
    x = simulated(None, 0)
    for rate in (0, -1, float("nan"), "fast"):
        with pytest.raises(SignalError):
            analyze_signal(x, rate)
    with pytest.raises(ValueError):
        analyze_signal(x, RATE_HZ, bearing="6205")  # no shaft speed
    with pytest.raises(ValueError):
        analyze_signal(x, RATE_HZ, iso_channel="displacement")
    assert validate_signal(x.reshape(-1, 1)).shape == x.shape


def test_odd_length_and_trigger_length_checks():
    x = simulated("outer", 2, snr_db=-5.0)[:15001]
    result = analyze_signal(x, RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated", window_size=4001)
    assert result.faults[0].fault == "outer_race"
    with pytest.raises(SignalError, match="trigger"):
        analyze_signal(x, RATE_HZ, trigger=np.zeros(100), stroke_rate_spm=60.0)


def test_minimum_length_window_is_analysed_with_a_clipped_kurtogram():
    x = simulated("outer", 0, snr_db=0.0)[:MIN_SAMPLES]
    result = analyze_signal(x, RATE_HZ, shaft_hz=SHAFT_HZ, bearing="simulated", kurtogram_level=6)
    assert result.kurtogram.max_level < 6
    assert any("clipped" in note for note in result.notes)


def test_windowed_indicators_shape_and_order():
    x = simulated("outer", 0)
    values = windowed_indicators(x, RATE_HZ, window_size=4096, alpha_min_hz=1.0, alpha_max_hz=500.0)
    assert values.shape == (5, 8)  # 4 windows over 20000 samples and a 5th flush with the end
    overlapped = windowed_indicators(x, RATE_HZ, window_size=4096, alpha_min_hz=1.0, alpha_max_hz=500.0, overlap=0.5)
    assert overlapped.shape == (9, 8)
    np.testing.assert_allclose(overlapped[0], values[0])
    assert np.isfinite(values).all()


def test_window_features_shape_names_and_batch_consistency():
    x = simulated("outer", 3, snr_db=-5.0)
    single = window_features(x, RATE_HZ)
    assert single.shape == (len(FEATURE_NAMES),) == (26,)
    assert np.isfinite(single).all()
    batch = window_features(np.vstack([x, simulated(None, 3)]), RATE_HZ)
    np.testing.assert_allclose(batch[0], single, rtol=1e-6)
    scaled = window_features(10.0 * x, RATE_HZ)
    unscaled_columns = [i for i, name in enumerate(FEATURE_NAMES) if name != "log10_rms"]
    np.testing.assert_allclose(scaled[unscaled_columns], single[unscaled_columns], rtol=1e-4, atol=1e-6)
    assert scaled[FEATURE_NAMES.index("log10_rms")] == pytest.approx(single[FEATURE_NAMES.index("log10_rms")] + 1.0)
    healthy = window_features(simulated(None, 3), RATE_HZ)
    assert single[FEATURE_NAMES.index("time_kurtosis")] > healthy[FEATURE_NAMES.index("time_kurtosis")]
    with pytest.raises(SignalError):
        window_features(np.full(4096, np.nan), RATE_HZ)
