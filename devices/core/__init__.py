"""Sensor-batch core: signal file readers, whole-batch validation, content hash, storage encoding.

numpy, scipy and pyarrow only; no Django. ``devices.services`` reads an upload with
``read_signal_file``, validates it with ``validate_signal_table``, and stores
``encode_batch(report.extract_float32(table), report.channel_names)``.
"""
from .errors import (
    BatchValidationError,
    ChannelMappingError,
    ChannelMismatchError,
    ClippedSignalError,
    DeadChannelError,
    EmptySignalError,
    NonFiniteValueError,
    SamplingRateError,
    SignalFormatError,
    SignalTooShortError,
)
from .hashing import content_hash
from .readers import (
    SUPPORTED_EXTENSIONS,
    cwru_sampling_rate_hint,
    read_csv,
    read_mat,
    read_npy,
    read_npz,
    read_parquet,
    read_signal_file,
)
from .storage import STORAGE_FORMAT_VERSION, decode_batch, encode_batch, write_batch
from .table import MAX_CHANNELS, SignalTable
from .validation import (
    MAX_SAMPLING_RATE_HZ,
    MIN_SAMPLING_RATE_HZ,
    ChannelSummary,
    ValidationReport,
    validate_signal_table,
)

__all__ = [
    "MAX_CHANNELS",
    "MAX_SAMPLING_RATE_HZ",
    "MIN_SAMPLING_RATE_HZ",
    "STORAGE_FORMAT_VERSION",
    "SUPPORTED_EXTENSIONS",
    "BatchValidationError",
    "ChannelMappingError",
    "ChannelMismatchError",
    "ChannelSummary",
    "ClippedSignalError",
    "DeadChannelError",
    "EmptySignalError",
    "NonFiniteValueError",
    "SamplingRateError",
    "SignalFormatError",
    "SignalTable",
    "SignalTooShortError",
    "ValidationReport",
    "content_hash",
    "cwru_sampling_rate_hint",
    "decode_batch",
    "encode_batch",
    "read_csv",
    "read_mat",
    "read_npy",
    "read_npz",
    "read_parquet",
    "read_signal_file",
    "validate_signal_table",
    "write_batch",
]
