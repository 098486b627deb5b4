"""Versioned HMAC keyring."""
from __future__ import annotations

import base64

import pytest

from audit.core import Keyring, KeyringError, UnknownKeyError, generate_key

from .conftest import K1, K2


def test_parse_two_keys_with_current():
    keyring = Keyring.parse(f"k2:{K2}, k1:{K1}", "k2")
    assert keyring.current_key_id == "k2"
    assert keyring.key_ids == ("k2", "k1")
    assert keyring.get("k1") == base64.b64decode(K1)
    assert "k1" in keyring and "k3" not in keyring


def test_current_defaults_to_first_listed():
    assert Keyring.parse(f"k2:{K2},k1:{K1}").current_key_id == "k2"


def test_from_env():
    keyring = Keyring.from_env({"AUDIT_HMAC_KEYS": f"k2:{K2},k1:{K1}", "AUDIT_HMAC_CURRENT": "k1"})
    assert keyring.current_key_id == "k1"


def test_unknown_key_raises():
    keyring = Keyring.parse(f"k1:{K1}")
    with pytest.raises(UnknownKeyError) as excinfo:
        keyring.get("k9")
    assert excinfo.value.key_id == "k9"


@pytest.mark.parametrize(
    ("spec", "current", "fragment"),
    [
        ("", None, "empty"),
        ("k1", None, "malformed"),
        ("k1:not*base64", None, "base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", None, "at least 32"),
        (f"k1:{K1},k1:{K2}", None, "duplicate"),
        (f"k1:{K1}", "k2", "not among"),
        (f"bad id:{K1}", None, "invalid key id"),
    ],
)
def test_malformed_configuration_is_rejected(spec, current, fragment):
    with pytest.raises(KeyringError, match=fragment):
        Keyring.parse(spec, current)


def test_rotation_helpers_round_trip():
    keyring = Keyring.parse(f"k1:{K1}")
    rotated = keyring.with_new_key("k2")
    assert rotated.current_key_id == "k2"
    assert rotated.key_ids == ("k2", "k1")
    assert rotated.get("k1") == keyring.get("k1")
    reparsed = Keyring.from_env(rotated.to_env())
    assert reparsed.key_ids == rotated.key_ids
    assert reparsed.get("k2") == rotated.get("k2")
    with pytest.raises(KeyringError, match="never reused"):
        rotated.with_new_key("k1")


def test_generate_key_is_random_and_long_enough():
    first, second = generate_key(), generate_key()
    assert first != second
    assert len(base64.b64decode(first)) == 32
    with pytest.raises(ValueError):
        generate_key(16)


def test_secrets_do_not_leak_through_repr_or_public_info():
    keyring = Keyring.parse(f"k2:{K2},k1:{K1}", "k2")
    shown = repr(keyring) + repr(keyring.public_info())
    assert K1 not in shown and K2 not in shown
    assert keyring.public_info()["keys"][0] == {"key_id": "k2", "fingerprint": Keyring.fingerprint(keyring.get("k2"))}
    assert Keyring.fingerprint(keyring.get("k1")) != Keyring.fingerprint(keyring.get("k2"))
