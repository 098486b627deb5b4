"""Storage encoding round trip, content hash, and the no-Django boundary of devices.core."""
from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from devices.core import SignalFormatError, content_hash, decode_batch, encode_batch, read_signal_file

from .conftest import cwru_file, vibration

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_round_trip_is_bit_exact():
    data = vibration(5000, 3, dtype=np.float32)
    data[0] = [np.nan, -0.0, np.float32(1e-45)]  # NaN, negative zero, a subnormal
    blob = encode_batch(data, ["DE", "FE", "BA"])
    decoded, names = decode_batch(blob)
    assert names == ["DE", "FE", "BA"]
    assert decoded.dtype == np.float32 and decoded.shape == data.shape
    assert decoded.tobytes() == data.tobytes()


def test_encoding_compresses_and_is_readable_by_numpy_and_read_npz():
    data = np.tile(np.linspace(-1, 1, 100, dtype=np.float32), (200, 1)).reshape(-1, 2)
    blob = encode_batch(data, ["DE", "FE"])
    assert len(blob) < data.nbytes / 4
    table = read_signal_file(blob, filename="stored.npz")
    assert table.channel_names == ("DE", "FE")
    np.testing.assert_array_equal(table.samples, data)


def test_non_contiguous_input_round_trips():
    data = vibration(100, 4, dtype=np.float32)[:, ::2]
    decoded, _ = decode_batch(encode_batch(data, ["a", "b"]))
    np.testing.assert_array_equal(decoded, data)


@pytest.mark.parametrize(
    ("array", "names", "fragment"),
    [
        (np.zeros((3, 2)), ["a", "b"], "float32"),
        (np.zeros(3, np.float32), ["a"], "2-D"),
        (np.zeros((3, 2), np.float32), ["a"], "1 channel names for 2 columns"),
        (np.zeros((3, 2), np.float32), ["a", "a"], "unique"),
        (np.zeros((3, 1), np.float32), [""], "non-empty"),
    ],
)
def test_encode_rejects_bad_input(array, names, fragment):
    with pytest.raises(ValueError, match=fragment):
        encode_batch(array, names)


def test_decode_rejects_foreign_or_damaged_bytes():
    with pytest.raises(SignalFormatError):
        decode_batch(b"not a batch")
    blob = encode_batch(np.ones((1000, 1), np.float32), ["DE"])
    with pytest.raises(SignalFormatError):
        decode_batch(blob[:-50])
    buffer = io.BytesIO()
    np.savez(buffer, samples=np.ones((2, 1)), channel_names=np.array(["DE"]), format_version=np.int64(1))
    with pytest.raises(SignalFormatError, match="float32"):
        decode_batch(buffer.getvalue())
    buffer = io.BytesIO()
    np.savez(buffer, samples=np.ones((2, 1), np.float32), channel_names=np.array(["DE"]), format_version=np.int64(9))
    with pytest.raises(SignalFormatError, match="version"):
        decode_batch(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.npy", b"x")
    with pytest.raises(SignalFormatError, match="members"):
        decode_batch(buffer.getvalue())


def test_content_hash_streams_chunks():
    data = bytes(range(256)) * 1000
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    expected = hashlib.sha256(data).hexdigest()
    assert content_hash(iter(chunks)) == content_hash(data) == expected
    assert content_hash([]) == hashlib.sha256(b"").hexdigest()
    with pytest.raises(TypeError):
        content_hash(["text chunk"])


def test_real_cwru_round_trip():
    path = cwru_file("48k_Drive_End_B007_0_122.mat")
    table = read_signal_file(path)
    stored = table.samples.astype(np.float32)
    decoded, names = decode_batch(encode_batch(stored, table.channel_names))
    assert names == ["DE", "FE"]
    assert decoded.tobytes() == stored.tobytes()
    with open(path, "rb") as handle:
        assert content_hash(iter(lambda: handle.read(1 << 16), b"")) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_core_imports_without_django():
    code = (
        "import sys; sys.modules['django'] = None\n"
        "import devices.core, devices.core.errors, devices.core.hashing, devices.core.readers, "
        "devices.core.storage, devices.core.table, devices.core.validation\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
