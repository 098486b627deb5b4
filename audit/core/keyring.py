"""Versioned HMAC keys for the audit chain.

Configuration (environment, see ``portal/settings``)::

    AUDIT_HMAC_KEYS="k2:<base64 secret>,k1:<base64 secret>"
    AUDIT_HMAC_CURRENT="k2"

Every key that ever signed an event stays in ``AUDIT_HMAC_KEYS`` so old events keep verifying; only
the current one signs new events. Rotation = generate a key, prepend it, point ``AUDIT_HMAC_CURRENT``
at it (``Keyring.with_new_key`` + ``Keyring.to_env`` do the string work). Secrets are at least 32 bytes
(the SHA-256 output size, as RFC 2104 section 3 recommends for HMAC keys).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping

__all__ = ["KeyringError", "Keyring", "UnknownKeyError", "generate_key", "MIN_KEY_BYTES"]

MIN_KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


class KeyringError(ValueError):
    """The keyring configuration is malformed (bad syntax, base64, key length, duplicate or unknown id)."""


class UnknownKeyError(LookupError):
    """A key id is not in the keyring."""

    def __init__(self, key_id: str):
        super().__init__(f"unknown audit HMAC key id {key_id!r}")
        self.key_id = key_id


def generate_key(nbytes: int = MIN_KEY_BYTES) -> str:
    """A fresh random HMAC secret (``os.urandom``), standard base64 encoded, for AUDIT_HMAC_KEYS."""
    if nbytes < MIN_KEY_BYTES:
        raise ValueError(f"audit HMAC keys must have at least {MIN_KEY_BYTES} bytes")
    return base64.b64encode(os.urandom(nbytes)).decode("ascii")


def _decode_secret(key_id: str, secret_b64: str) -> bytes:
    try:
        secret = base64.b64decode(secret_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyringError(f"audit HMAC key {key_id!r} is not valid base64") from exc
    if len(secret) < MIN_KEY_BYTES:
        raise KeyringError(f"audit HMAC key {key_id!r} has {len(secret)} bytes; at least {MIN_KEY_BYTES} are required")
    return secret


class Keyring:
    """Versioned HMAC-SHA256 keys: ``{key_id: secret bytes}`` and the id that signs new events.

    The secrets are never shown by ``repr``; ``public_info()`` gives ids and fingerprints only.
    """

    __slots__ = ("_keys", "_current_key_id")

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str):
        if not keys:
            raise KeyringError("the audit keyring is empty")
        for key_id, secret in keys.items():
            if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
                raise KeyringError(f"invalid key id {key_id!r}: 1-32 characters of A-Z a-z 0-9 _ . -")
            if not isinstance(secret, bytes) or len(secret) < MIN_KEY_BYTES:
                raise KeyringError(f"audit HMAC key {key_id!r} must be at least {MIN_KEY_BYTES} bytes")
        if current_key_id not in keys:
            raise KeyringError(f"current key id {current_key_id!r} is not among {sorted(keys)}")
        self._keys = dict(keys)
        self._current_key_id = current_key_id

    @classmethod
    def parse(cls, keys_spec: str, current_key_id: str | None = None) -> Keyring:
        """Parse ``"k2:<base64>,k1:<base64>"``.

        ``current_key_id`` defaults to the first listed id. Raises KeyringError for empty input, a
        malformed entry, invalid base64, a secret shorter than MIN_KEY_BYTES, a duplicate id, or a
        current id that is not listed.
        """
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for entry in (keys_spec or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            key_id, sep, secret_b64 = entry.partition(":")
            key_id = key_id.strip()
            if not sep or not key_id or not secret_b64.strip():
                raise KeyringError(f"malformed audit key entry {key_id or entry[:8]!r}: expected '<id>:<base64>'")
            if key_id in keys:
                raise KeyringError(f"duplicate audit key id {key_id!r}")
            keys[key_id] = _decode_secret(key_id, secret_b64)
            order.append(key_id)
        if not keys:
            raise KeyringError("no audit HMAC keys configured (AUDIT_HMAC_KEYS is empty)")
        current = (current_key_id or "").strip() or order[0]
        return cls(keys, current)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Keyring:
        """``Keyring.parse(environ["AUDIT_HMAC_KEYS"], environ.get("AUDIT_HMAC_CURRENT"))``."""
        environ = os.environ if environ is None else environ
        return cls.parse(environ.get("AUDIT_HMAC_KEYS", ""), environ.get("AUDIT_HMAC_CURRENT") or None)

    @property
    def current_key_id(self) -> str:
        return self._current_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """All key ids, in configuration order."""
        return tuple(self._keys)

    def get(self, key_id: str) -> bytes:
        """The secret for ``key_id``; raises UnknownKeyError if absent."""
        try:
            return self._keys[key_id]
        except (KeyError, TypeError):
            raise UnknownKeyError(key_id) from None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def with_new_key(self, key_id: str, secret_b64: str | None = None) -> Keyring:
        """A new keyring with ``key_id`` added in front and made current (rotation).

        ``secret_b64`` defaults to ``generate_key()``. Raises KeyringError if the id already exists.
        """
        if key_id in self._keys:
            raise KeyringError(f"audit key id {key_id!r} already exists; key ids are never reused")
        secret = _decode_secret(key_id, secret_b64 if secret_b64 is not None else generate_key())
        return Keyring({key_id: secret, **self._keys}, key_id)

    def to_env(self) -> dict[str, str]:
        """``{"AUDIT_HMAC_KEYS": ..., "AUDIT_HMAC_CURRENT": ...}``; contains the secrets."""
        spec = ",".join(f"{key_id}:{base64.b64encode(secret).decode('ascii')}" for key_id, secret in self._keys.items())
        return {"AUDIT_HMAC_KEYS": spec, "AUDIT_HMAC_CURRENT": self._current_key_id}

    @staticmethod
    def fingerprint(secret: bytes) -> str:
        """First 16 hex digits of SHA-256 over a domain-separated secret: identifies a key, reveals nothing."""
        return hashlib.sha256(b"presstrust-audit-hmac-key\x00" + secret).hexdigest()[:16]

    def public_info(self) -> dict[str, object]:
        """Non-secret description: ``{"current_key_id": ..., "keys": [{"key_id", "fingerprint"}, ...]}``."""
        return {
            "current_key_id": self._current_key_id,
            "keys": [{"key_id": key_id, "fingerprint": self.fingerprint(secret)} for key_id, secret in self._keys.items()],
        }

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self._keys)!r}, current_key_id={self._current_key_id!r})"
