"""Signal file readers: every format, the CWRU mapping, and every malformed-input case."""
from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.io

from devices.core import (
    SignalFormatError,
    SignalTable,
    cwru_sampling_rate_hint,
    read_csv,
    read_mat,
    read_npy,
    read_npz,
    read_parquet,
    read_signal_file,
)

from .conftest import cwru_file, vibration

# --- CSV ----------------------------------------------------------------------------------------------


def test_csv_with_header(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("DE,FE\n0.5,-1.25\n1e-3,2\n-0.75,3.5\n")
    table = read_signal_file(path)
    assert table.channel_names == ("DE", "FE")
    assert not table.generated_names and table.source_format == "csv"
    np.testing.assert_array_equal(table.samples, [[0.5, -1.25], [1e-3, 2], [-0.75, 3.5]])
    assert table.samples.dtype == np.float64 and table.samples.shape == (3, 2)


def test_csv_without_header_gets_generated_names(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("0.5,1\n0.25,2\n")
    table = read_csv(path)
    assert table.channel_names == ("ch0", "ch1") and table.generated_names
    np.testing.assert_array_equal(table.samples[:, 1], [1, 2])


@pytest.mark.parametrize(("text", "delimiter"), [("a;b\n1;2\n3;4\n", ";"), ("a\tb\n1\t2\n3\t4\n", "\t")])
def test_csv_delimiter_is_detected(tmp_path, text, delimiter):
    path = tmp_path / "batch.csv"
    path.write_text(text)
    table = read_csv(path)
    assert table.channel_names == ("a", "b") and table.metadata["delimiter"] == delimiter
    np.testing.assert_array_equal(table.samples, [[1, 2], [3, 4]])


def test_csv_with_bom_and_single_column(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_bytes("\ufeffDE\n1.5\n2.5\n".encode())
    table = read_csv(path)
    assert table.channel_names == ("DE",)
    np.testing.assert_array_equal(table.samples[:, 0], [1.5, 2.5])


def test_csv_time_column_gives_rate_hint_and_is_not_a_channel(tmp_path):
    path = tmp_path / "batch.csv"
    rows = "\n".join(f"{i / 2000:.6f},{np.sin(i)}" for i in range(50))
    path.write_text("time,DE\n" + rows + "\n")
    table = read_csv(path)
    assert table.channel_names == ("DE",)
    assert table.sampling_rate_hint_hz == pytest.approx(2000.0)


def test_csv_empty_field_becomes_nan(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("a,b\n1,2\n3,\n")
    table = read_csv(path)
    assert np.isnan(table.samples[1, 1]) and table.samples[1, 0] == 3


def test_csv_non_numeric_cell_is_located(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("a,b\n1,2\n3,4\n5,oops\n")
    with pytest.raises(SignalFormatError) as excinfo:
        read_csv(path)
    error = excinfo.value
    assert (error.code, error.row, error.column, error.channel) == ("bad_format", 2, 1, "b")
    assert "line 4" in error.message and "'oops'" in error.message


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"\n\n", "no data"),
        (b"a,b\n1,2\n3\n", "Expected 2 columns"),
        (np.arange(10.0).tobytes(), "not a CSV text file"),
        (b"\xff\xfe\x00a\x00,\x00b", "not a CSV text file"),
    ],
    ids=["empty", "blank", "ragged", "binary", "utf16"],
)
def test_csv_malformed(tmp_path, content, fragment):
    path = tmp_path / "batch.csv"
    path.write_bytes(content)
    with pytest.raises(SignalFormatError, match=fragment):
        read_csv(path)


def test_csv_from_file_object_and_bytes():
    data = b"DE\n1\n2\n"
    assert read_signal_file(io.BytesIO(data), filename="upload.csv").channel_names == ("DE",)
    assert read_signal_file(data, filename="upload.csv").n_samples == 2


# --- NumPy --------------------------------------------------------------------------------------------


def test_npy_2d_float32_is_memory_mapped(tmp_path):
    path = tmp_path / "batch.npy"
    data = vibration(1000, 3, dtype=np.float32)
    np.save(path, data)
    table = read_signal_file(path)
    assert isinstance(table.samples, np.memmap) and not table.samples.flags.writeable
    assert table.samples.dtype == np.float32 and table.channel_names == ("ch0", "ch1", "ch2")
    np.testing.assert_array_equal(table.samples, data)


def test_npy_1d_and_integer(tmp_path):
    path = tmp_path / "counts.npy"
    np.save(path, np.array([1, -2, 3], dtype=np.int16))
    table = read_npy(path)
    assert table.samples.shape == (3, 1) and table.samples.dtype == np.float64
    np.testing.assert_array_equal(table.samples[:, 0], [1, -2, 3])


def test_npy_from_file_object():
    buffer = io.BytesIO()
    np.save(buffer, np.ones((4, 2)))
    assert read_signal_file(buffer, filename="x.npy").samples.shape == (4, 2)


def _npy_bytes(array, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"time,DE\n0,1\n", "not a NumPy .npy file .* looks like text"),
        (_npy_bytes(np.ones((1000, 2)))[:-100], "truncated: its header announces shape"),
        (_npy_bytes(np.ones((1000, 2)))[:40], "header is corrupt"),
        (_npy_bytes(np.array([{"a": 1}], dtype=object), allow_pickle=True), "Python objects"),
        (_npy_bytes(np.ones((2, 2, 2))), "3 dimensions"),
        (_npy_bytes(np.ones((3, 5000))), "transposed"),
        (_npy_bytes(np.ones(4, dtype=np.complex128)), "real numbers"),
        (_npy_bytes(np.zeros(3, dtype=[("DE", "<f4"), ("FE", "<f4")])), "structured"),
    ],
    ids=["text", "truncated", "cut-header", "pickled-object", "3d", "transposed", "complex", "structured"],
)
def test_npy_malformed(tmp_path, content, fragment):
    path = tmp_path / "batch.npy"
    path.write_bytes(content)
    with pytest.raises(SignalFormatError, match=fragment):
        read_npy(path)
    with pytest.raises(SignalFormatError, match=fragment):  # same through a file object
        read_signal_file(io.BytesIO(content), filename="batch.npy")


def test_npz_one_array_per_channel(tmp_path):
    path = tmp_path / "batch.npz"
    np.savez(path, DE=np.arange(5.0), FE=np.arange(5.0)[:, None] * 2, fs=np.float64(12000), rpm=np.array([[1797]]))
    table = read_npz(path)
    assert table.channel_names == ("DE", "FE")
    assert (table.sampling_rate_hint_hz, table.rpm) == (12000.0, 1797.0)
    np.testing.assert_array_equal(table.samples[:, 1], np.arange(5.0) * 2)


def test_npz_samples_layout_and_single_matrix(tmp_path):
    path = tmp_path / "batch.npz"
    np.savez_compressed(path, samples=np.ones((6, 2), np.float32), channel_names=np.array(["DE", "FE"]))
    table = read_npz(path)
    assert table.channel_names == ("DE", "FE") and table.samples.dtype == np.float32
    np.savez(path, whatever=np.zeros((6, 3)))
    assert read_npz(path).channel_names == ("ch0", "ch1", "ch2")


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"DE\n1\n", "no ZIP header"),
        (_npz_bytes(DE=np.arange(1000.0))[:-60], "truncated or corrupt"),
        (_npz_bytes(DE=np.arange(5.0), FE=np.arange(6.0)), "different lengths"),
        (_npz_bytes(DE=np.arange(5.0), M=np.ones((5, 2))), "one 1-D array per channel"),
        (_npz_bytes(samples=np.ones((4, 2)), channel_names=np.array(["only-one"])), "channel_names"),
    ],
    ids=["text", "truncated", "lengths", "mixed", "names"],
)
def test_npz_malformed(tmp_path, content, fragment):
    path = tmp_path / "batch.npz"
    path.write_bytes(content)
    with pytest.raises(SignalFormatError, match=fragment):
        read_signal_file(path)


# --- MATLAB ------------------------------------------------------------------------------------------


def _cwru_like(path, record: int, rpm: int | None = 1797, channels=("DE", "FE", "BA"), n=300):
    variables = {f"X{record:03d}_{channel}_time": vibration(n, 1, seed=i) for i, channel in enumerate(channels)}
    if rpm is not None:
        variables[f"X{record:03d}RPM"] = np.array([[rpm]], dtype=np.uint16)
    scipy.io.savemat(path, variables)
    return variables


def test_cwru_like_mat_maps_channels_rpm_and_rate(tmp_path):
    path = tmp_path / "12k_Drive_End_IR007_0_105.mat"
    variables = _cwru_like(path, 105, channels=("BA", "FE", "DE"))
    table = read_signal_file(path)
    assert table.channel_names == ("DE", "FE", "BA")  # canonical order whatever the file order
    assert table.rpm == 1797.0 and table.sampling_rate_hint_hz == 12000.0
    np.testing.assert_array_equal(table.channel("DE"), variables["X105_DE_time"].ravel())
    assert table.metadata["cwru"] == {
        "record": 105, "fault": "IR", "fault_size_mils": 7, "load_hp": 0, "sensor_end": "drive"
    }


def test_cwru_file_with_two_records_uses_the_one_in_its_name(tmp_path):
    path = tmp_path / "normal_1_98.mat"
    variables = {}
    for record in (98, 99):
        variables[f"X{record:03d}_DE_time"] = vibration(200, 1, seed=record)
        variables[f"X{record:03d}RPM"] = np.array([[1700 + record]])
    scipy.io.savemat(path, variables)
    table = read_mat(path)
    assert table.rpm == 1798.0 and table.sampling_rate_hint_hz == 48000.0
    np.testing.assert_array_equal(table.channel("DE"), variables["X098_DE_time"].ravel())
    renamed = tmp_path / "unnamed.mat"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(SignalFormatError, match="several CWRU records"):
        read_mat(renamed)


def test_generic_mat_vectors_and_rate(tmp_path):
    path = tmp_path / "press.mat"
    scipy.io.savemat(path, {"ram": np.arange(10.0), "frame": np.arange(10.0)[::-1], "fs": 25600.0})
    table = read_mat(path)
    assert set(table.channel_names) == {"ram", "frame"} and table.sampling_rate_hint_hz == 25600.0
    scipy.io.savemat(path, {"data": np.ones((10, 3))})
    assert read_mat(path).channel_names == ("ch0", "ch1", "ch2")


def test_mat_from_bytes_uses_the_given_filename(tmp_path):
    path = tmp_path / "x.mat"
    _cwru_like(path, 130)
    table = read_signal_file(path.read_bytes(), filename="48k_Drive_End_OR007@6_0_130.mat")
    assert table.sampling_rate_hint_hz == 48000.0
    assert table.metadata["cwru"]["outer_race_position"] == "@6"


def _v73_header() -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"x": np.arange(4.0)})
    raw = bytearray(buffer.getvalue())
    raw[124:126] = (0x0200).to_bytes(2, "little")  # the version field of a v7.3 (HDF5) file
    return bytes(raw)


def _mat_bytes(**variables) -> bytes:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"DE,FE\n1,2\n" * 20, "not a readable MATLAB"),
        (_mat_bytes(X105_DE_time=np.arange(5000.0))[:-500], "truncated or corrupt"),
        (_npy_bytes(np.ones(3)), "not a MATLAB .mat file"),
        (_v73_header(), "v7.3"),
        (_mat_bytes(label=np.array(["abc"])), "no numeric signal"),
        (_mat_bytes(a=np.arange(5.0), b=np.arange(6.0)), "different lengths"),
        (b"", "empty"),
    ],
    ids=["text", "truncated", "npy", "v7.3", "no-signal", "lengths", "empty"],
)
def test_mat_malformed(tmp_path, content, fragment):
    path = tmp_path / "batch.mat"
    path.write_bytes(content)
    with pytest.raises(SignalFormatError, match=fragment):
        read_signal_file(path)


def test_cwru_rate_hint_from_names():
    assert cwru_sampling_rate_hint("12k_Drive_End_B007_0_118.mat") == 12000.0
    assert cwru_sampling_rate_hint("/x/48k_Drive_End_B007_0_122.mat") == 48000.0
    assert cwru_sampling_rate_hint("normal_0_97.mat") == 48000.0
    assert cwru_sampling_rate_hint("press_7.mat") is None


# --- Parquet -------------------------------------------------------------------------------------------


def test_parquet_float32_columns_time_axis(tmp_path):
    path = tmp_path / "batch.parquet"
    data = vibration(500, 2, dtype=np.float32)
    table = pa.table({"time": np.arange(500) / 5000.0, "DE": data[:, 0], "FE": data[:, 1]})
    pq.write_table(table, path, row_group_size=128)  # several row groups -> several chunks
    signal = read_signal_file(path)
    assert signal.channel_names == ("DE", "FE") and signal.samples.dtype == np.float32
    assert signal.sampling_rate_hint_hz == pytest.approx(5000.0)
    np.testing.assert_array_equal(signal.samples, data)


def test_parquet_metadata_rate_and_integer_columns(tmp_path):
    path = tmp_path / "batch.parquet"
    table = pa.table({"DE": pa.array([1, 2, 3], pa.int16())}).replace_schema_metadata({"sampling_rate_hz": "25600"})
    pq.write_table(table, path)
    signal = read_parquet(path)
    assert signal.sampling_rate_hint_hz == 25600.0 and signal.samples.dtype == np.float64


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"DE\n1\n2\n", "no PAR1 header"),
        (_parquet_bytes(pa.table({"DE": np.arange(1000.0)}))[:-40], "truncated"),
        (_parquet_bytes(pa.table({"DE": np.arange(3.0), "label": ["a", "b", "c"]})), "must be numeric"),
    ],
    ids=["text", "truncated", "string-column"],
)
def test_parquet_malformed(tmp_path, content, fragment):
    path = tmp_path / "batch.parquet"
    path.write_bytes(content)
    with pytest.raises(SignalFormatError, match=fragment):
        read_signal_file(path)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "batch.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(SignalFormatError, match="unsupported file type '.xlsx'"):
        read_signal_file(path)
    with pytest.raises(SignalFormatError, match="no extension"):
        read_signal_file(io.BytesIO(b"1,2"))


def test_signal_table_checks_its_shape():
    with pytest.raises(ValueError, match="channel names"):
        SignalTable(channel_names=("a",), samples=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="float32 or float64"):
        SignalTable(channel_names=("a",), samples=np.zeros((3, 1), dtype=">f8"))


# --- real CWRU data -----------------------------------------------------------------------------------


def test_real_cwru_12k_file_maps_channels_and_rpm():
    path = cwru_file("12k_Drive_End_IR007_0_105.mat")
    table = read_signal_file(path)
    raw = scipy.io.loadmat(path)
    assert table.channel_names == ("DE", "FE", "BA")
    assert table.rpm == float(raw["X105RPM"].ravel()[0]) == 1797.0
    assert table.sampling_rate_hint_hz == 12000.0
    np.testing.assert_array_equal(table.channel("DE"), raw["X105_DE_time"].ravel())
    np.testing.assert_array_equal(table.channel("FE"), raw["X105_FE_time"].ravel())
    assert table.metadata["cwru"]["fault"] == "IR"


def test_real_cwru_normal_file_is_48k_with_two_channels():
    table = read_signal_file(cwru_file("normal_0_97.mat"))
    assert table.channel_names == ("DE", "FE")
    assert (table.sampling_rate_hint_hz, table.rpm) == (48000.0, 1796.0)
    assert table.n_samples == 243938
