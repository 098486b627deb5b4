"""Errors raised while reading and validating a sensor batch.

Every error is a ``BatchValidationError`` with a stable ``code`` (for the API and the UI), a
``message`` for people, and where it applies the location: ``row`` (0-based sample index),
``column`` (0-based column of the uploaded file) and ``channel`` (channel name). ``as_dict()`` gives
the JSON the REST API returns.
"""
from __future__ import annotations

from typing import Any

__all__ = [
    "BatchValidationError",
    "ChannelMappingError",
    "ChannelMismatchError",
    "ClippedSignalError",
    "DeadChannelError",
    "EmptySignalError",
    "NonFiniteValueError",
    "SamplingRateError",
    "SignalFormatError",
    "SignalTooShortError",
]


class BatchValidationError(ValueError):
    """Base class: the uploaded batch is not acceptable; nothing of it may be stored."""

    code = "invalid_batch"

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        column: int | None = None,
        channel: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column
        self.channel = channel
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        """``{"code", "message", "row", "column", "channel"}`` (absent locations are None)."""
        return {"code": self.code, "message": self.message, "row": self.row, "column": self.column, "channel": self.channel}


class SignalFormatError(BatchValidationError):
    """The file cannot be read as the format its extension claims (wrong type, truncated, corrupt)."""

    code = "bad_format"


class EmptySignalError(BatchValidationError):
    code = "empty_signal"


class SignalTooShortError(BatchValidationError):
    code = "too_short"


class NonFiniteValueError(BatchValidationError):
    code = "non_finite"


class DeadChannelError(BatchValidationError):
    code = "dead_channel"


class ClippedSignalError(BatchValidationError):
    code = "clipped"


class SamplingRateError(BatchValidationError):
    code = "sampling_rate"


class ChannelMismatchError(BatchValidationError):
    """The channels in the file are not the channels the press declares. Codes: ``channel_count``
    (a different number of channels), ``channel_mismatch`` (same count, other names)."""

    code = "channel_mismatch"


class ChannelMappingError(BatchValidationError):
    """The channel mapping is unusable. Codes: ``mapping_missing_column`` (maps a column the file
    lacks), ``mapping_duplicate_target`` (two columns mapped to one channel), ``mapping_invalid_target``
    (an empty or non-string channel name), ``duplicate_column`` (the file names a selected column
    twice)."""

    code = "channel_mapping"
