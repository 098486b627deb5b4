"""Real bearing data: the CWRU Bearing Data Center files in ../shared/data/cwru (12 kHz drive end).

Skipped only when the shared data folder is absent on this machine; the always-on counterpart on
committed excerpts is test_cwru_excerpt.py.
"""

import pytest

from health.core import analyze_signal
from health.core.faults import bearing_fault_frequencies, bearing_preset

SEGMENT = 2**16  # 5.5 s of each 10 s record keeps the suite fast
FAULT_FILES = {
    "inner_race": [f"12k_Drive_End_IR{size}_{load}_{record}.mat" for size, records in (("007", (105, 106, 107, 108)), ("021", (209, 210, 211, 212))) for load, record in enumerate(records)],
    "outer_race": [f"12k_Drive_End_OR{size}@6_{load}_{record}.mat" for size, records in (("007", (130, 131, 132, 133)), ("021", (234, 235, 236, 237))) for load, record in enumerate(records)],
}
BALL_FILES = [f"12k_Drive_End_B{size}_{load}_{record}.mat" for size, records in (("007", (118, 119, 120, 121)), ("021", (222, 223, 224, 225))) for load, record in enumerate(records)]
HEALTHY_FILE = "normal_0_97.mat"


def expected_hz(fault, shaft_hz):
    return next(f.frequency_hz for f in bearing_fault_frequencies(bearing_preset("6205"), shaft_hz) if f.fault == fault)


@pytest.fixture(scope="module")
def healthy_split(cwru):
    """First two thirds of the healthy record as baseline, the rest as held-out healthy windows."""
    signal, shaft_hz, _ = cwru(HEALTHY_FILE)
    split = 2 * signal.size // 3
    return signal[:split], signal[split:], shaft_hz


@pytest.mark.parametrize("fault, file_name", [(fault, name) for fault, names in FAULT_FILES.items() for name in names])
def test_race_faults_named_at_their_frequency_at_every_load(cwru, fault, file_name):
    signal, shaft_hz, rate_hz = cwru(file_name)
    result = analyze_signal(signal[:SEGMENT], rate_hz, shaft_hz=shaft_hz, bearing="6205")
    top = result.faults[0]
    assert (top.component, top.fault) == ("bearing", fault)
    assert top.found_hz == pytest.approx(expected_hz(fault, shaft_hz), rel=0.02)
    assert top.strength >= 15.0 and len(top.harmonics) >= 2
    assert result.level >= 1


def test_healthy_cwru_record_is_not_gaussian(cwru):
    signal, _, rate_hz = cwru(HEALTHY_FILE)
    result = analyze_signal(signal, rate_hz)
    assert 1.7 < result.indicators["time"]["kurtosis"] < 1.95  # HEALTH.md: 1.85, not 2


def test_faulty_records_rank_above_held_out_healthy_windows(cwru, healthy_split):
    baseline, held_out, healthy_shaft_hz = healthy_split
    healthy_levels = []
    window = 8192
    for start in range(0, held_out.size - window + 1, window):
        result = analyze_signal(
            held_out[start : start + window], 12000.0, shaft_hz=healthy_shaft_hz, bearing="6205", baseline_windows=baseline
        )
        healthy_levels.append(result.level)
    assert len(healthy_levels) >= 2
    assert max(healthy_levels) == 0
    for file_name in FAULT_FILES["inner_race"] + FAULT_FILES["outer_race"]:
        signal, shaft_hz, rate_hz = cwru(file_name)
        result = analyze_signal(
            signal[: SEGMENT // 2], rate_hz, shaft_hz=shaft_hz, bearing="6205",
            baseline_windows=baseline, baseline_shaft_hz=healthy_shaft_hz,
        )
        assert result.level >= 2 > max(healthy_levels), file_name
        assert result.health_index_z > 6.0, file_name


@pytest.mark.parametrize("file_name", BALL_FILES)
def test_ball_faults_are_flagged_abnormal(cwru, healthy_split, file_name):
    baseline, _, healthy_shaft_hz = healthy_split
    signal, shaft_hz, rate_hz = cwru(file_name)
    result = analyze_signal(
        signal, rate_hz, shaft_hz=shaft_hz, bearing="6205", baseline_windows=baseline, baseline_shaft_hz=healthy_shaft_hz
    )
    assert result.level >= 1, (file_name, result.health_index_z, [f.to_dict() for f in result.faults[:2]])
