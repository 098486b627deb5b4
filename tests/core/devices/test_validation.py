"""Whole-batch validation: each check, its order, locations, summaries and bounded memory."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from devices.core import (
    BatchValidationError,
    ChannelMappingError,
    ChannelMismatchError,
    ClippedSignalError,
    DeadChannelError,
    EmptySignalError,
    NonFiniteValueError,
    SamplingRateError,
    SignalTable,
    SignalTooShortError,
    read_signal_file,
    validate_signal_table,
)

from .conftest import cwru_file, vibration


def _table(samples, names=None, **kwargs) -> SignalTable:
    samples = np.asarray(samples)
    generated = names is None
    names = names or tuple(f"ch{i}" for i in range(samples.shape[1]))
    return SignalTable(channel_names=tuple(names), samples=samples, generated_names=generated, **kwargs)


def _validate(table, **overrides):
    options = {"sampling_rate_hz": 12_000, "min_samples": 100}
    options.update(overrides)
    return validate_signal_table(table, **options)


def test_good_batch_report_and_summary():
    time_s = np.arange(12_000) / 12_000
    sine = 2.0 * np.sin(2 * np.pi * 50 * time_s)
    table = _table(np.column_stack([sine, vibration(12_000, 1)[:, 0]]), names=("DE", "FE"), rpm=1797.0)
    report = _validate(table)
    assert (report.n_samples, report.n_channels, report.duration_s) == (12_000, 2, 1.0)
    assert report.channel_names == ("DE", "FE") and report.source_columns == (0, 1) and report.rpm == 1797.0
    de = report.channels[0]
    assert de.rms == pytest.approx(2 / np.sqrt(2), rel=1e-6)
    assert de.peak == pytest.approx(2.0, rel=1e-6)
    assert de.crest_factor == pytest.approx(np.sqrt(2), rel=1e-5)
    assert de.mean == pytest.approx(0, abs=1e-9) and de.clipped_share == 0
    assert report.warnings == ()


def test_empty_signal():
    with pytest.raises(EmptySignalError) as excinfo:
        _validate(_table(np.zeros((0, 2))))
    assert excinfo.value.code == "empty_signal"
    with pytest.raises(EmptySignalError):
        _validate(SignalTable(channel_names=(), samples=np.zeros((10, 0))))


def test_header_only_csv_is_empty(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("DE,FE\n")
    with pytest.raises(EmptySignalError):
        _validate(read_signal_file(path))


def test_too_short():
    with pytest.raises(SignalTooShortError, match="99 samples; at least 100"):
        _validate(_table(vibration(99, 1)))


def test_first_non_finite_value_is_located_across_chunks():
    data = vibration(50_000, 3)
    data[40_000, 0] = np.inf
    data[30_000, 2] = np.nan
    data[30_000, 1] = -np.inf  # same row, earlier column: this is the first one
    with pytest.raises(NonFiniteValueError) as excinfo:
        _validate(_table(data, names=("DE", "FE", "BA")), chunk_bytes=64 * 1024)
    error = excinfo.value
    assert (error.code, error.row, error.column, error.channel) == ("non_finite", 30_000, 1, "FE")
    assert "-inf" in error.message


def test_non_finite_location_from_a_csv_blank(tmp_path):
    path = tmp_path / "batch.csv"
    rows = [f"{np.sin(i)},{np.cos(i)}" for i in range(200)]
    rows[150] = f"{np.sin(150)},"
    path.write_text("DE,FE\n" + "\n".join(rows) + "\n")
    with pytest.raises(NonFiniteValueError) as excinfo:
        _validate(read_signal_file(path))
    assert (excinfo.value.row, excinfo.value.column, excinfo.value.channel) == (150, 1, "FE")


def test_dead_channel():
    data = vibration(1000, 3)
    data[:, 2] = 0.125
    with pytest.raises(DeadChannelError) as excinfo:
        _validate(_table(data, names=("DE", "FE", "BA")))
    assert (excinfo.value.column, excinfo.value.channel) == (2, "BA")
    assert "0.125" in excinfo.value.message


def test_nearly_dead_channel_with_tolerance():
    data = vibration(1000, 2)
    data[:, 1] = 1e-9 * np.random.default_rng(1).standard_normal(1000)  # a floating input: noise only
    _validate(_table(data))  # exact rule: not constant
    with pytest.raises(DeadChannelError):
        _validate(_table(data), dead_channel_ptp=1e-6)


def _saturate(signal: np.ndarray, level: float) -> np.ndarray:
    return np.clip(signal, -level, level)


def test_clipped_channel_is_rejected_with_first_row():
    time_s = np.arange(12_000) / 12_000
    clean = np.sin(2 * np.pi * 10 * time_s)
    clipped = _saturate(1.2 * clean, 1.0)  # the tops of a 1.2-amplitude sine cut at 1.0
    with pytest.raises(ClippedSignalError) as excinfo:
        _validate(_table(np.column_stack([clean, clipped]), names=("DE", "FE")))
    error = excinfo.value
    assert (error.code, error.column, error.channel) == ("clipped", 1, "FE")
    first_top = int(np.flatnonzero(clipped == 1.0)[0])
    assert error.row == first_top


def test_clipping_below_the_limit_passes_and_is_reported():
    data = vibration(10_000, 1)
    top = data[:, 0].max() + 1.0
    data[5000:5040, 0] = top  # 40 of 10 000 samples = 0.4 % < 1 %
    report = _validate(_table(data))
    assert report.channels[0].clipped_share == pytest.approx(0.004)
    with pytest.raises(ClippedSignalError):
        _validate(_table(data), clip_share_limit=0.003)


def test_single_extreme_samples_are_not_clipping():
    data = vibration(10_000, 1)
    data[::100, 0] = data[:, 0].max() + 1  # many isolated peaks at the max: no runs
    report = _validate(_table(data))
    assert report.channels[0].clipped_share == 0


def test_clip_run_straddling_a_chunk_boundary_is_counted():
    data = vibration(4096, 1)
    data[1022:1027, 0] = data[:, 0].min() - 1  # run of 5 at the minimum, rows 1022..1026
    small_chunks = _validate(_table(data), chunk_bytes=1, clip_share_limit=1.0)  # 1024-row chunks
    one_chunk = _validate(_table(data), clip_share_limit=1.0)
    assert small_chunks.channels[0].clipped_share == one_chunk.channels[0].clipped_share == pytest.approx(5 / 4096)
    with pytest.raises(ClippedSignalError) as excinfo:
        _validate(_table(data), chunk_bytes=1, clip_share_limit=0.001)
    assert excinfo.value.row == 1022


def test_declared_full_scale():
    data = vibration(1000, 2)
    data[::20, 1] = 5.0  # isolated samples at the rail: the run rule would not see them
    report = _validate(_table(data, names=("DE", "FE")))
    assert report.channels[1].clipped_share == 0
    with pytest.raises(ClippedSignalError) as excinfo:
        _validate(_table(data, names=("DE", "FE")), full_scale={"FE": 5.0})
    assert (excinfo.value.channel, excinfo.value.row) == ("FE", 0)
    assert "full scale 5" in excinfo.value.message


@pytest.mark.parametrize("rate", [99.9, 1_000_001, 0, float("nan"), "fast"])
def test_sampling_rate_out_of_range(rate):
    with pytest.raises(SamplingRateError, match="outside 100 Hz"):
        _validate(_table(vibration(1000, 1)), sampling_rate_hz=rate)


def test_sampling_rate_bounds_are_inclusive():
    assert _validate(_table(vibration(1000, 1)), sampling_rate_hz=100).duration_s == 10.0
    assert _validate(_table(vibration(1000, 1)), sampling_rate_hz=1_000_000).duration_s == 0.001


def test_rate_hint_mismatch_is_a_warning():
    report = _validate(_table(vibration(1000, 1), sampling_rate_hint_hz=48_000.0), sampling_rate_hz=12_000)
    assert any("48000" in warning for warning in report.warnings)


def test_mapping_selects_renames_and_reorders():
    data = vibration(1000, 3)
    table = _table(data, names=("DE", "FE", "BA"))
    report = _validate(table, channel_mapping={"FE": "fan_end", "DE": "drive_end"})
    assert report.channel_names == ("fan_end", "drive_end") and report.source_columns == (1, 0)
    assert report.ignored_columns == ("BA",)
    stored = report.extract_float32(table)
    assert stored.dtype == np.float32 and stored.flags.c_contiguous
    np.testing.assert_array_equal(stored, data[:, [1, 0]].astype(np.float32))


def test_mapping_only_checks_selected_channels():
    data = vibration(1000, 3)
    data[:, 2] = 0.0  # BA is dead but not stored
    report = _validate(_table(data, names=("DE", "FE", "BA")), channel_mapping={"DE": "de", "FE": "fe"})
    assert report.channel_names == ("de", "fe")


@pytest.mark.parametrize(
    ("names", "mapping", "code"),
    [
        (("DE", "FE"), {"DE": "a", "XX": "b"}, "mapping_missing_column"),
        (("DE", "FE"), {"DE": "a", "FE": "a"}, "mapping_duplicate_target"),
        (("DE", "DE"), {"DE": "a"}, "duplicate_column"),
        (("DE", "DE"), None, "duplicate_column"),
        (("DE", "FE"), {"DE": ""}, "mapping_invalid_target"),
    ],
)
def test_mapping_errors(names, mapping, code):
    with pytest.raises(ChannelMappingError) as excinfo:
        _validate(_table(vibration(1000, 2), names=names), channel_mapping=mapping)
    assert excinfo.value.code == code


def test_expected_channels():
    table = _table(vibration(1000, 2), names=("DE", "FE"))
    assert _validate(table, expected_channels=["FE", "DE"]).channel_names == ("FE", "DE")
    with pytest.raises(ChannelMismatchError) as excinfo:
        _validate(table, expected_channels=["DE", "FE", "BA"])
    assert excinfo.value.code == "channel_count"
    with pytest.raises(ChannelMismatchError) as excinfo:
        _validate(table, expected_channels=["DE", "BA"])
    assert excinfo.value.code == "channel_mismatch" and "missing ['BA']" in excinfo.value.message


def test_unnamed_columns_map_positionally_to_expected_channels():
    report = _validate(_table(vibration(1000, 2)), expected_channels=["DE", "FE"])
    assert report.channel_names == ("DE", "FE") and report.source_columns == (0, 1)


def test_checks_run_in_the_documented_order():
    data = vibration(1000, 2)
    data[10, 0] = np.nan
    data[:, 1] = 1.0
    table = _table(data, names=("DE", "FE"))
    # NaN (3) before dead channel (4), rate (6) and mapping (7)
    with pytest.raises(NonFiniteValueError):
        _validate(table, sampling_rate_hz=5, channel_mapping={"XX": "a"})
    data[10, 0] = 0.0
    with pytest.raises(DeadChannelError):  # dead (4) before rate (6) and mapping (7)
        _validate(_table(data, names=("DE", "FE")), sampling_rate_hz=5, channel_mapping={"XX": "a"})
    with pytest.raises(SamplingRateError):  # rate (6) before mapping (7)
        _validate(_table(vibration(1000, 2), names=("DE", "FE")), sampling_rate_hz=5, channel_mapping={"XX": "a"})
    with pytest.raises(SignalTooShortError):  # length (2) before everything after it
        _validate(_table(data[:50], names=("DE", "FE")), sampling_rate_hz=5)


def test_errors_serialise_for_the_api():
    with pytest.raises(BatchValidationError) as excinfo:
        _validate(_table(vibration(1000, 2), names=("DE", "FE")), channel_mapping={"XX": "a"})
    assert excinfo.value.as_dict() == {
        "code": "mapping_missing_column",
        "message": excinfo.value.message,
        "row": None,
        "column": None,
        "channel": "XX",
    }


def test_validation_memory_is_bounded_by_chunks():
    data = vibration(2_000_000, 2)  # 32 MB of float64
    table = _table(data, names=("DE", "FE"))
    tracemalloc.start()
    report = _validate(table, chunk_bytes=4 * 1024 * 1024)
    _, validate_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    stored = report.extract_float32(table, chunk_bytes=4 * 1024 * 1024)
    _, extract_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert validate_peak < 0.5 * data.nbytes, validate_peak
    assert extract_peak < stored.nbytes + 0.5 * data.nbytes, extract_peak


def test_real_cwru_batch_validates_and_maps():
    table = read_signal_file(cwru_file("12k_Drive_End_OR007@6_0_130.mat"))
    report = validate_signal_table(
        table,
        sampling_rate_hz=12_000,
        min_samples=12_000,
        channel_mapping={"DE": "drive_end", "FE": "fan_end"},
        expected_channels=["drive_end", "fan_end"],
    )
    assert report.channel_names == ("drive_end", "fan_end") and report.ignored_columns == ("BA",)
    assert report.rpm == 1796.0 and report.duration_s == pytest.approx(table.n_samples / 12_000)
    assert all(channel.clipped_share == 0 and channel.crest_factor > 3 for channel in report.channels)
    stored = report.extract_float32(table)
    np.testing.assert_array_equal(stored[:, 0], table.channel("DE").astype(np.float32))
