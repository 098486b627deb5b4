"""Healthy baseline, health index and the adaptive threshold state machine."""

import json

import numpy as np
import pytest

from health.core.baseline import HealthyBaseline, fit_healthy_baseline, robust_location_spread
from health.core.indicators import envelope_indicators
from health.core.simulate import simulate_bearing_run
from health.core.thresholds import (
    ALARM,
    DANGER,
    NORMAL,
    WARNING,
    ThresholdConfig,
    ThresholdMonitor,
    level_for_z,
    soft_severity,
)

RATE_HZ = 20000.0
SPREAD = 1.4826  # MAD of +/-1 values is 1


def indicator_matrix(windows):
    time_values, cyclic_values = envelope_indicators(
        windows.astype(np.float32), RATE_HZ, alpha_min_hz=1.0, alpha_max_hz=500.0, shaft_hz=25.0
    )
    return np.hstack([time_values, cyclic_values])


def simulated_index_series(n_windows, onset_window, seed, n_baseline=50):
    windows, severities = simulate_bearing_run(
        n_windows, onset_window=onset_window, final_severity=2.0, fault="outer",
        sampling_rate_hz=RATE_HZ, window_duration_s=0.25, seed=seed, shaft_hz=25.0, snr_db=-10.0,
    )
    values = indicator_matrix(windows)
    baseline = fit_healthy_baseline(
        values[:n_baseline], window_size=windows.shape[1], sampling_rate_hz=RATE_HZ, alpha_min_hz=1.0, alpha_max_hz=500.0
    )
    return baseline.health_index(values[n_baseline:]), severities[n_baseline:]


def warmed_monitor(config=None):
    monitor = ThresholdMonitor(config or ThresholdConfig(min_baseline=20))
    monitor.update_many([-1.0, 1.0] * 10)
    assert not monitor.learning
    return monitor


def test_robust_spread_has_a_floor_and_baseline_round_trips():
    values = np.tile([1.0, 2.0, 3.0], (10, 1))
    median, spread = robust_location_spread(values, relative_floor=0.05)
    np.testing.assert_allclose(median, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(spread, [0.05, 0.10, 0.15])
    rng = np.random.default_rng(0)
    baseline = fit_healthy_baseline(rng.normal(size=(30, 8)) + 5.0, window_size=4096, sampling_rate_hz=RATE_HZ, alpha_min_hz=1.0, alpha_max_hz=500.0)
    restored = HealthyBaseline.from_dict(json.loads(json.dumps(baseline.to_dict())))
    probe = rng.normal(size=(4, 8)) + 6.0
    np.testing.assert_allclose(restored.health_index(probe), baseline.health_index(probe))
    assert abs(float(np.median(baseline.index_z(baseline.health_index(rng.normal(size=(200, 8)) + 5.0))))) < 0.5
    with pytest.raises(ValueError):
        fit_healthy_baseline(np.ones((3, 8)), window_size=1, sampling_rate_hz=1.0, alpha_min_hz=1.0, alpha_max_hz=2.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_series_stays_normal(seed):
    health_index, _ = simulated_index_series(600, None, seed)
    decisions = ThresholdMonitor().update_many(health_index)
    judged = [d for d in decisions if not d.learning]
    false_alarm_rate = sum(d.level > NORMAL for d in judged) / len(judged)
    assert len(judged) >= 450
    assert false_alarm_rate < 0.01


@pytest.mark.parametrize("seed", [0, 1])
def test_developing_fault_raises_warning_then_alarm(seed):
    health_index, severities = simulated_index_series(350, 150, seed)
    levels = np.array([d.level for d in ThresholdMonitor().update_many(health_index)])
    onset = int(np.argmax(severities > 0))
    assert (levels[:onset] == NORMAL).all()
    first_warning = int(np.argmax(levels >= WARNING))
    first_alarm = int(np.argmax(levels >= ALARM))
    assert levels.max() >= ALARM
    assert onset <= first_warning < first_alarm
    assert levels[first_warning] == WARNING


def test_isolated_spike_does_not_alarm():
    monitor = warmed_monitor()
    spike = monitor.update(50 * SPREAD)
    assert spike.level == NORMAL and "z>=danger" in spike.reasons
    assert all(monitor.update(0.0).level == NORMAL for _ in range(5))


def test_persistence_then_hysteresis():
    # EWMA and CUSUM switched off to look at the level logic alone
    monitor = warmed_monitor(ThresholdConfig(min_baseline=20, ewma_limit=1e6, cusum_limit=1e6))
    levels = [monitor.update(4.0 * SPREAD).level for _ in range(3)]
    assert levels == [NORMAL, NORMAL, WARNING]
    # 2.5 is below the raise threshold (3) but above the clear threshold (0.7 * 3 = 2.1): held
    assert all(monitor.update(2.5 * SPREAD).level == WARNING for _ in range(10))
    clearing = [monitor.update(0.0).level for _ in range(5)]
    assert clearing[:4] == [WARNING] * 4 and clearing[4] == NORMAL
    decision = monitor.update(0.0)
    assert decision.level == NORMAL and not decision.baseline_frozen
    assert decision.z == pytest.approx(0.0)


def test_levels_escalate_to_danger_and_baseline_is_frozen_meanwhile():
    monitor = warmed_monitor()
    size_before = len(monitor.baseline)
    decisions = [monitor.update(z * SPREAD) for z in (7, 7, 7, 13, 13, 13)]
    assert [d.level for d in decisions] == [NORMAL, NORMAL, ALARM, ALARM, ALARM, DANGER]
    assert all(d.baseline_frozen for d in decisions)
    assert len(monitor.baseline) == size_before


def test_small_persistent_shift_is_caught_by_ewma_or_cusum():
    monitor = warmed_monitor()
    baseline_before = list(monitor.baseline)
    decisions = [monitor.update(2.0 * SPREAD) for _ in range(15)]
    assert all(d.z == pytest.approx(2.0) for d in decisions)  # the shift never entered the baseline
    assert decisions[-1].level == WARNING
    assert {"ewma", "cusum"} & set(decisions[-1].reasons)
    assert list(monitor.baseline) == baseline_before
    # the same shift with the shift detectors off stays Normal: they are what caught it
    quiet = warmed_monitor(ThresholdConfig(min_baseline=20, ewma_limit=1e6, cusum_limit=1e6))
    assert all(quiet.update(2.0 * SPREAD).level == NORMAL for _ in range(15))


def test_seeded_baseline_skips_learning():
    monitor = ThresholdMonitor()
    monitor.seed_baseline(np.random.default_rng(0).normal(size=60))
    assert not monitor.learning
    assert not monitor.update(0.1).learning


def test_state_round_trips_through_json_and_continues_identically():
    monitor = warmed_monitor()
    for value in (0.5, 4.5 * SPREAD, 4.5 * SPREAD):
        monitor.update(value)
    saved = json.loads(json.dumps(monitor.to_dict()))
    resumed = ThresholdMonitor.from_dict(saved)
    follow_up = [4.5 * SPREAD, 1.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert [d.to_dict() for d in monitor.update_many(follow_up)] == [d.to_dict() for d in resumed.update_many(follow_up)]


def test_soft_severity_levels_and_config_checks():
    config = ThresholdConfig()
    assert soft_severity(2.0, config) == 0.0
    assert soft_severity(4.5, config) == pytest.approx(0.5)
    assert soft_severity(9.0, config) == 1.0
    assert level_for_z(5.9, config.raise_thresholds) == WARNING
    assert level_for_z(12.0, config.raise_thresholds) == DANGER
    with pytest.raises(ValueError):
        ThresholdConfig(warning_z=5.0, alarm_z=4.0)
    with pytest.raises(ValueError):
        ThresholdConfig(persistence_n=6, persistence_m=5)
    with pytest.raises(ValueError):
        ThresholdMonitor().update(float("nan"))


def test_learning_phase_reports_normal():
    monitor = ThresholdMonitor(ThresholdConfig(min_baseline=5, baseline_size=10))
    decisions = monitor.update_many([100.0, -100.0, 3.0, 2.0, 1.0])
    assert all(d.learning and d.level == NORMAL for d in decisions)
    assert not monitor.learning
