"""Signed evidence bundles of audit events.

A bundle is a ZIP archive with

``events.jsonl``
    one event per line, ``canonical_json(event.to_record())`` + ``\\n``, in sequence order; events
    the recipient may not see are written as redacted stubs
    ``{"key_id", "mac", "prev_mac", "redacted": true, "sequence"}`` so that the linkage still checks.
``manifest.json``
    canonical JSON: ``format``, ``format_version``, ``created_at``, ``range`` (what the caller
    exported, e.g. the filter), ``event_count``, ``redacted_count``, ``first_sequence``,
    ``last_sequence``, ``anchor_prev_mac`` (the first event's prev_mac), ``anchor_last_mac`` (the
    last event's mac), ``events_sha256``, ``key_ids`` (ids used by the events), ``keyring``
    (``Keyring.public_info()``: ids and fingerprints, never secrets), ``signature_algorithm``
    (``"Ed25519"``) and ``public_key_fingerprint`` (SHA-256 of the raw public key).
``manifest.sig``
    the raw 64-byte Ed25519 signature (RFC 8032) of the manifest.json bytes.
``README.txt``
    how to verify; informational, not signed.

The HMAC secret never leaves the platform, so the offline verifier (``audit.core.verify_bundle``)
checks the signature, the file hash, sequence continuity and prev_mac -> mac linkage against the
signed anchors, not the HMACs; its module docstring spells out what that proves. Verify the chain with
``verify_chain`` before exporting: ``build_bundle`` re-checks continuity and linkage and refuses a
broken range, but it cannot check MACs of events it is handed.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .canonical import canonical_json, format_timestamp
from .chain import ChainEvent
from .verify_bundle import (
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    EVENTS_NAME,
    MANIFEST_NAME,
    README_NAME,
    SIGNATURE_NAME,
    BundleVerification,
    public_key_fingerprint,
    verify_bundle,
)

__all__ = [
    "BundleVerification",
    "build_bundle",
    "generate_signing_key",
    "load_signing_key",
    "public_key_pem",
    "verify_bundle",
]

_README = """PressTrust audit evidence bundle
=================================

events.jsonl   the audit events, one canonical JSON object per line, in sequence order
manifest.json  range, count, anchors, SHA-256 of events.jsonl, key ids (signed)
manifest.sig   Ed25519 signature of manifest.json (raw 64 bytes)

Verify with the platform's public key:

    python -m audit.core.verify_bundle this-bundle.zip platform-public-key.pem

or by hand: check the signature (OpenSSL 3:
    openssl pkeyutl -verify -pubin -inkey platform-public-key.pem -rawin -in manifest.json -sigfile manifest.sig),
compare sha256(events.jsonl) with events_sha256, and check that sequence numbers are consecutive and
that each line's prev_mac equals the previous line's mac (first: anchor_prev_mac; last mac:
anchor_last_mac). The HMACs themselves can only be recomputed by the platform, which holds the keys.
"""


def generate_signing_key() -> Ed25519PrivateKey:
    """A new Ed25519 key for signing bundles."""
    return Ed25519PrivateKey.generate()


def load_signing_key(pem: bytes | str, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load the platform's Ed25519 private key from PEM (PKCS8), e.g. PLATFORM_SIGNING_KEY_PEM.

    Raises ValueError if the PEM is unreadable or not an Ed25519 key.
    """
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"the bundle signing key must be Ed25519, got {type(key).__name__}")
    return key


def public_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    """The PEM (SubjectPublicKeyInfo) public half, as handed to auditors for ``verify_bundle``."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _zip_info(name: str, created_at: _dt.datetime) -> zipfile.ZipInfo:
    utc = created_at.astimezone(_dt.timezone.utc)
    info = zipfile.ZipInfo(name, date_time=(max(utc.year, 1980), utc.month, utc.day, utc.hour, utc.minute, utc.second))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def build_bundle(
    events: Iterable[ChainEvent],
    keyring_public_info: Mapping[str, Any],
    signing_private_key: Ed25519PrivateKey,
    *,
    range_info: Mapping[str, Any],
    created_at: _dt.datetime | None = None,
    visible: Callable[[ChainEvent], bool] | None = None,
) -> bytes:
    """Write a signed evidence bundle (ZIP bytes) of a contiguous range of events.

    events               ChainEvents in sequence order, consecutive and linked (streamed once)
    keyring_public_info  ``Keyring.public_info()`` (ids and fingerprints; no secrets)
    signing_private_key  the platform's Ed25519 key
    range_info           JSON-able description of the export (e.g. sequence range, filter, requester)
    created_at           aware export time; defaults to now (UTC)
    visible              optional predicate; events for which it returns False are redacted to
                         ``sequence``/``prev_mac``/``mac``/``key_id``
    Returns the ZIP bytes. Raises ValueError for an empty range or events that are not consecutive
    and linked (nothing broken gets signed).
    """
    created_at = created_at or _dt.datetime.now(_dt.timezone.utc)
    if created_at.utcoffset() is None:
        raise ValueError("created_at must be an aware datetime")
    hasher = hashlib.sha256()
    key_ids: set[str] = set()
    first_sequence: int | None = None
    anchor_prev_mac = ""
    prev_mac: str | None = None
    expected_sequence: int | None = None
    count = redacted = 0

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with archive.open(_zip_info(EVENTS_NAME, created_at), "w", force_zip64=True) as stream:
            for event in events:
                if first_sequence is None:
                    first_sequence = expected_sequence = event.sequence
                    anchor_prev_mac = prev_mac = event.prev_mac
                if event.sequence != expected_sequence:
                    raise ValueError(
                        f"events are not consecutive: expected sequence {expected_sequence}, got {event.sequence}"
                    )
                if event.prev_mac != prev_mac:
                    raise ValueError(f"event {event.sequence} does not link to the event before it; verify the chain first")
                if visible is None or visible(event):
                    record: dict[str, Any] = event.to_record()
                else:
                    record = {
                        "sequence": event.sequence,
                        "prev_mac": event.prev_mac,
                        "mac": event.mac,
                        "key_id": event.key_id,
                        "redacted": True,
                    }
                    redacted += 1
                line = canonical_json(record) + b"\n"
                hasher.update(line)
                stream.write(line)
                key_ids.add(event.key_id)
                prev_mac = event.mac
                expected_sequence += 1
                count += 1
        if first_sequence is None:
            raise ValueError("no events to export")

        public_key = signing_private_key.public_key()
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "created_at": format_timestamp(created_at),
            "range": dict(range_info),
            "event_count": count,
            "redacted_count": redacted,
            "first_sequence": first_sequence,
            "last_sequence": expected_sequence - 1,
            "anchor_prev_mac": anchor_prev_mac,
            "anchor_last_mac": prev_mac,
            "events_sha256": hasher.hexdigest(),
            "key_ids": sorted(key_ids),
            "keyring": dict(keyring_public_info),
            "signature_algorithm": "Ed25519",
            "public_key_fingerprint": public_key_fingerprint(public_key),
        }
        manifest_bytes = canonical_json(manifest)
        archive.writestr(_zip_info(MANIFEST_NAME, created_at), manifest_bytes)
        archive.writestr(_zip_info(SIGNATURE_NAME, created_at), signing_private_key.sign(manifest_bytes))
        archive.writestr(_zip_info(README_NAME, created_at), _README.encode("utf-8"))
    return buffer.getvalue()
