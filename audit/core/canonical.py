"""Canonical JSON encoding and state digests for the audit chain.

The audit MAC and the before/after digests are computed over bytes, so every value must have exactly
one encoding. ``canonical_json`` follows the spirit of RFC 8785 (JSON Canonicalization Scheme) with
Python-specific rules for the types Django hands us:

========================  ==========================================================================
value                     encoding
========================  ==========================================================================
``dict``                  object, keys sorted by code point; keys must be ``str`` (anything else is
                          rejected instead of being silently stringified, which could merge ``1``
                          and ``"1"`` into one key)
``list`` / ``tuple``      array, order kept
``str``                   string, UTF-8, non-ASCII kept as is (``ensure_ascii=False``)
``int`` / ``bool``        number / ``true`` / ``false``
``None``                  ``null``
``float``                 the shortest repr that round-trips (Python ``repr``, IEEE-754 binary64),
                          e.g. ``0.1`` -> ``0.1``, ``1e16`` -> ``1e+16``; NaN and +-Infinity rejected
``decimal.Decimal``       string ``str(value)``, scale kept (``Decimal("1.10")`` -> ``"1.10"``): the
                          database column fixes the scale, so equal amounts encode equally; NaN
                          and Infinity rejected
``datetime.datetime``     string, ISO-8601 in UTC with microseconds and ``Z``:
                          ``"2024-05-01T12:00:00.000000Z"``; naive datetimes rejected (ambiguous)
``datetime.date``         string ``"YYYY-MM-DD"``
``uuid.UUID``             string, lower-case hyphenated
anything else             rejected (``set``, ``bytes``, model instances, numpy scalars ...)
========================  ==========================================================================

No whitespace is emitted (separators ``,`` and ``:``).
"""
from __future__ import annotations

import datetime as _dt
import decimal
import hashlib
import json
import uuid
from typing import Any

__all__ = [
    "ABSENT_STATE_DIGEST",
    "CanonicalEncodingError",
    "canonical_json",
    "format_timestamp",
    "state_digest",
]

#: Digest recorded for "no state": the ``before`` of a creation and the ``after`` of a deletion.
ABSENT_STATE_DIGEST = ""

_UTC = _dt.timezone.utc


class CanonicalEncodingError(TypeError):
    """A value has no canonical encoding (unsupported type, non-finite number, naive datetime...)."""


def format_timestamp(value: _dt.datetime) -> str:
    """Encode an aware datetime as ISO-8601 UTC with microseconds, e.g. ``2024-05-01T12:00:00.000000Z``.

    Raises CanonicalEncodingError for naive datetimes.
    """
    offset = value.utcoffset()
    if offset is None:
        raise CanonicalEncodingError(f"naive datetime {value!r} has no canonical encoding; use an aware one")
    if offset:
        value = value.astimezone(_UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _default(value: Any) -> Any:
    # Called by the json encoder for every non-native value. datetime before date: it is a subclass.
    if isinstance(value, _dt.datetime):
        return format_timestamp(value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise CanonicalEncodingError(f"non-finite Decimal {value!r} has no canonical encoding")
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise CanonicalEncodingError(f"{type(value).__name__} has no canonical JSON encoding: {value!r}")


_ENCODER = json.JSONEncoder(
    skipkeys=False,
    ensure_ascii=False,
    check_circular=True,
    allow_nan=False,
    sort_keys=True,
    separators=(",", ":"),
    default=_default,
)


def _check_keys(value: Any) -> None:
    # The json module would turn int/float/bool/None keys into strings; refuse them instead.
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalEncodingError(f"object key {key!r} is {type(key).__name__}; only str keys are allowed")
            if isinstance(item, (dict, list, tuple)):
                _check_keys(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, (dict, list, tuple)):
                _check_keys(item)


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as canonical JSON (see the module docstring for the rules).

    Input: a JSON-like value built from the types in the table above.
    Output: UTF-8 bytes; equal values always give identical bytes.
    Raises CanonicalEncodingError for values without a canonical encoding.
    """
    _check_keys(obj)
    try:
        return _ENCODER.encode(obj).encode("utf-8")
    except ValueError as exc:  # NaN / Infinity floats, circular references
        raise CanonicalEncodingError(str(exc)) from exc


def state_digest(obj: Any) -> str:
    """SHA-256 (lower-case hex, 64 characters) of ``canonical_json(obj)``.

    ``None`` means "no state" (the ``before`` of a creation, the ``after`` of a deletion) and returns
    ABSENT_STATE_DIGEST, the empty string, so an absent state reads as empty rather than as a 64-digit
    hash that looks like a real state. Every other value is digested.
    """
    if obj is None:
        return ABSENT_STATE_DIGEST
    return hashlib.sha256(canonical_json(obj)).hexdigest()
