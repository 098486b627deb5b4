"""Storage encoding of an accepted batch: float32 samples + channel names, compressed.

The format is a NumPy ``.npz`` archive written by ``numpy.savez_compressed`` (ZIP, DEFLATE/zlib):

``samples``         float32, shape (n_samples, n_channels), C order, little-endian
``channel_names``   unicode strings, shape (n_channels,)
``format_version``  int64 scalar, currently 1

No pickled objects are written or read (``allow_pickle=False``), so decoding an untrusted blob cannot
run code. DEFLATE is lossless: ``decode_batch(encode_batch(a, names))`` returns ``a`` bit for bit
(NaN payloads included). The same archive is readable by ``read_npz`` and any NumPy.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import numpy as np

from .errors import SignalFormatError

__all__ = ["STORAGE_FORMAT_VERSION", "decode_batch", "encode_batch", "write_batch"]

STORAGE_FORMAT_VERSION = 1
_LITTLE_FLOAT32 = np.dtype("<f4")
_SLICE_BYTES = 1 << 20


def encode_batch(array_float32: np.ndarray, channel_names: Sequence[str]) -> bytes:
    """Compress a batch for storage and return the .npz bytes (see ``write_batch``)."""
    buffer = io.BytesIO()
    write_batch(buffer, array_float32, channel_names)
    return buffer.getvalue()


def write_batch(fileobj, array_float32: np.ndarray, channel_names: Sequence[str]) -> None:
    """Compress a batch for storage straight into ``fileobj`` (a writable, seekable binary file).

    Writing to a file rather than to bytes keeps the compressed copy out of memory: numpy streams the
    samples through zlib in chunks, so a large batch costs little beyond the samples themselves.

    array_float32  float32 array (n_samples, n_channels); float64 is refused so that the precision
                   loss of storing float32 is an explicit ``astype(np.float32)`` at the caller
                   (``ValidationReport.extract_float32`` does it chunk by chunk)
    channel_names  one unique, non-empty name per column
    Raises ValueError for a wrong dtype, shape or names.
    """
    array = np.asarray(array_float32)
    if array.dtype.kind != "f" or array.dtype.itemsize != 4:
        raise ValueError(f"encode_batch stores float32; got {array.dtype} (convert with astype(np.float32))")
    if array.ndim != 2:
        raise ValueError(f"encode_batch expects a 2-D array (n_samples, n_channels), got shape {array.shape}")
    names = [str(name) for name in channel_names]
    if len(names) != array.shape[1]:
        raise ValueError(f"{len(names)} channel names for {array.shape[1]} columns")
    if any(not name for name in names) or len(set(names)) != len(names):
        raise ValueError(f"channel names must be unique and non-empty: {names}")
    samples = np.ascontiguousarray(array, dtype=_LITTLE_FLOAT32)
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        # The same members numpy.savez_compressed writes, but the samples go through zlib in 1 MiB
        # slices (numpy's own writer makes 16 MiB byte copies of its buffered chunks).
        with archive.open("samples.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, np.lib.format.header_data_from_array_1_0(samples))
            rows_per_slice = max(1, _SLICE_BYTES // max(1, samples.shape[1] * samples.itemsize))
            for start in range(0, samples.shape[0], rows_per_slice):
                member.write(samples[start:start + rows_per_slice].tobytes())
        for name, value in (("channel_names", np.array(names, dtype=np.str_) if names else np.zeros(0, dtype="<U1")),
                            ("format_version", np.int64(STORAGE_FORMAT_VERSION))):
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def decode_batch(data: bytes) -> tuple[np.ndarray, list[str]]:
    """Inverse of ``encode_batch``: returns (float32 array (n_samples, n_channels), channel names).

    Raises SignalFormatError when the bytes are not a batch written by ``encode_batch``.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if set(archive.files) != {"samples", "channel_names", "format_version"}:
                raise SignalFormatError(f"not a stored batch: members {sorted(archive.files)}")
            version = archive["format_version"]
            samples = archive["samples"]
            names = archive["channel_names"]
    except SignalFormatError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise SignalFormatError(f"the stored batch is corrupt: {exc}") from exc
    except Exception as exc:  # zlib.error from a damaged member
        raise SignalFormatError(f"the stored batch is corrupt: {exc}") from exc
    if version.shape != () or int(version) != STORAGE_FORMAT_VERSION:
        raise SignalFormatError(f"unsupported stored batch format version {version!r}")
    if samples.dtype != _LITTLE_FLOAT32 or samples.ndim != 2:
        raise SignalFormatError(f"stored samples must be 2-D float32, got {samples.dtype} {samples.shape}")
    if names.dtype.kind != "U" or names.shape != (samples.shape[1],):
        raise SignalFormatError("stored channel names do not match the samples")
    return samples.astype(np.float32, copy=False), [str(name) for name in names]
