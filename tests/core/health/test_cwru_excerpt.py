"""Always-on real-data check on the committed CWRU excerpts (tests/data/cwru_excerpt)."""

import json

import numpy as np
import pytest

from health.core import analyze_signal
from health.core.faults import bearing_fault_frequencies, bearing_preset

from .conftest import EXCERPT_DIR


@pytest.fixture(scope="module")
def excerpts():
    metadata = json.loads((EXCERPT_DIR / "excerpts.json").read_text())
    signals = {name: np.load(EXCERPT_DIR / f"{name}.npy") for name in metadata}
    for name, signal in signals.items():
        assert signal.dtype == np.float32 and signal.size == metadata[name]["n_samples"]
    return metadata, signals


def test_excerpts_stay_small():
    assert sum(path.stat().st_size for path in EXCERPT_DIR.iterdir()) < 300_000


@pytest.mark.parametrize("name, fault", [("ir007_load0_de_12k", "inner_race"), ("or007at6_load0_de_12k", "outer_race")])
def test_excerpt_faults_named_and_above_healthy(excerpts, name, fault):
    metadata, signals = excerpts
    healthy = signals["normal_load0_de_12k"]
    baseline, held_out = healthy[:16000], healthy[16000:]
    healthy_shaft_hz = metadata["normal_load0_de_12k"]["rpm"] / 60.0
    shaft_hz = metadata[name]["rpm"] / 60.0
    rate_hz = metadata[name]["sampling_rate_hz"]
    options = dict(bearing="6205", baseline_windows=baseline, baseline_shaft_hz=healthy_shaft_hz, window_size=4096)
    result = analyze_signal(signals[name], rate_hz, shaft_hz=shaft_hz, **options)
    expected = next(f.frequency_hz for f in bearing_fault_frequencies(bearing_preset("6205"), shaft_hz) if f.fault == fault)
    assert result.faults[0].fault == fault
    assert result.faults[0].found_hz == pytest.approx(expected, rel=0.02)
    healthy_result = analyze_signal(held_out, rate_hz, shaft_hz=healthy_shaft_hz, **options)
    assert healthy_result.level == 0
    assert result.level >= 2 > healthy_result.level
