"""Canonical JSON encoding and state digests."""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import uuid
from collections import OrderedDict

import pytest

from audit.core import ABSENT_STATE_DIGEST, CanonicalEncodingError, canonical_json, mac_message, state_digest

from .conftest import make_chain

CET = dt.timezone(dt.timedelta(hours=1))


def test_golden_encoding_is_stable():
    # Pinned bytes: any change to the encoding rules breaks every stored MAC and digest.
    value = {
        "z": [1, True, None, "é✓"],
        "a": {"b": decimal.Decimal("1.10"), "a": 0.1},
        "when": dt.datetime(2025, 3, 1, 9, 30, 0, 5, tzinfo=CET),
        "day": dt.date(2025, 3, 1),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "big": 10**30,
        "float": 1e16,
    }
    expected = (
        '{"a":{"a":0.1,"b":"1.10"},"big":1000000000000000000000000000000,"day":"2025-03-01",'
        '"float":1e+16,"id":"12345678-1234-5678-1234-567812345678",'
        '"when":"2025-03-01T08:30:00.000005Z","z":[1,true,null,"é✓"]}'
    ).encode("utf-8")
    assert canonical_json(value) == expected
    assert state_digest(value) == hashlib.sha256(expected).hexdigest()


def test_key_order_and_mapping_type_do_not_matter():
    one = {"b": 2, "a": {"y": 1, "x": [3, 2]}}
    two = OrderedDict([("a", OrderedDict([("x", [3, 2]), ("y", 1)])), ("b", 2)])
    assert canonical_json(one) == canonical_json(two) == b'{"a":{"x":[3,2],"y":1},"b":2}'


def test_tuple_encodes_as_list_and_non_ascii_is_raw_utf8():
    assert canonical_json(("Größe", 1)) == '["Größe",1]'.encode("utf-8")


def test_datetimes_normalise_to_utc_with_microseconds():
    same_instant = [
        dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc),
        dt.datetime(2025, 1, 1, 13, 0, tzinfo=CET),
    ]
    encodings = {canonical_json(value) for value in same_instant}
    assert encodings == {b'"2025-01-01T12:00:00.000000Z"'}


def test_decimal_keeps_scale():
    assert canonical_json(decimal.Decimal("1.10")) == b'"1.10"'
    assert canonical_json(decimal.Decimal("1.1")) == b'"1.1"'


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        {"x": [float("-inf")]},
        decimal.Decimal("NaN"),
        decimal.Decimal("Infinity"),
        dt.datetime(2025, 1, 1, 12, 0),  # naive
        {1: "int key"},
        {"nested": {None: 1}},
        {"s": {1, 2}},
        b"bytes",
        object(),
    ],
    ids=["nan", "inf", "nested-inf", "decimal-nan", "decimal-inf", "naive-datetime", "int-key",
         "nested-none-key", "set", "bytes", "object"],
)
def test_values_without_canonical_form_are_rejected(value):
    with pytest.raises(CanonicalEncodingError):
        canonical_json(value)


def test_state_digest_of_none_is_absent_marker():
    assert state_digest(None) == ABSENT_STATE_DIGEST == ""
    assert state_digest({}) == hashlib.sha256(b"{}").hexdigest()
    assert state_digest({"a": 1}) != state_digest({"a": 2})


def test_fast_mac_message_equals_canonical_json_of_fields():
    for event in make_chain(length=5):
        assert mac_message(event) == canonical_json(event.mac_fields())
