"""Participant key pairs and their encryption at rest.

Private halves are wrapped with AES-256-GCM under the key-encryption key from the environment
(``PARTICIPANT_KEY_ENCRYPTION_KEY``), with the organisation slug and key version as associated data so
that a wrapped key cannot be moved to another organisation's row.
"""
from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class GeneratedKeyPair:
    signing_public_pem: str
    encryption_public_pem: str
    signing_private_raw: bytes
    encryption_private_raw: bytes
    fingerprint: str


def _kek() -> bytes:
    raw = settings.PARTICIPANT_KEY_ENCRYPTION_KEY
    try:
        key = base64.b64decode(raw)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("PARTICIPANT_KEY_ENCRYPTION_KEY is not valid base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured("PARTICIPANT_KEY_ENCRYPTION_KEY must decode to 32 bytes")
    return key


def public_pem(public_key) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def generate_key_pair() -> GeneratedKeyPair:
    signing = Ed25519PrivateKey.generate()
    encryption = X25519PrivateKey.generate()
    signing_pub = public_pem(signing.public_key())
    encryption_pub = public_pem(encryption.public_key())
    raw = serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    return GeneratedKeyPair(
        signing_public_pem=signing_pub,
        encryption_public_pem=encryption_pub,
        signing_private_raw=signing.private_bytes(*raw),
        encryption_private_raw=encryption.private_bytes(*raw),
        fingerprint=hashlib.sha256((signing_pub + encryption_pub).encode()).hexdigest(),
    )


def wrap_private_key(raw: bytes, *, org_slug: str, version: int, purpose: str) -> bytes:
    nonce = os.urandom(12)
    aad = f"{org_slug}:{version}:{purpose}".encode()
    return nonce + AESGCM(_kek()).encrypt(nonce, raw, aad)


def unwrap_private_key(blob: bytes, *, org_slug: str, version: int, purpose: str) -> bytes:
    blob = bytes(blob)
    aad = f"{org_slug}:{version}:{purpose}".encode()
    return AESGCM(_kek()).decrypt(blob[:12], blob[12:], aad)
