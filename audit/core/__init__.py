"""The audit chain's core: canonical encoding, HMAC-chained events, keyring, verification, bundles.

Standard library and ``cryptography`` only; no Django. The Django side (``audit.services``) turns
rows into ``ChainEvent`` objects and back.
"""
from .bundle import build_bundle, generate_signing_key, load_signing_key, public_key_pem
from .canonical import ABSENT_STATE_DIGEST, CanonicalEncodingError, canonical_json, format_timestamp, state_digest
from .chain import (
    ACTOR_KINDS,
    GENESIS_MAC,
    MAC_FIELDS,
    MAX_PAYLOAD_BYTES,
    UNSEALED_SEQUENCE,
    ChainEvent,
    compute_content_mac,
    compute_mac,
    content_mac_verifies,
    link_event,
    mac_message,
    prepare_event,
    seal_event,
)
from .keyring import MIN_KEY_BYTES, Keyring, KeyringError, UnknownKeyError, generate_key
from .verify import RENUMBER_PROBE, BreakReason, VerificationResult, verify_chain
from .verify_bundle import BundleVerification, verify_bundle

__all__ = [
    "ABSENT_STATE_DIGEST",
    "ACTOR_KINDS",
    "GENESIS_MAC",
    "MAC_FIELDS",
    "MAX_PAYLOAD_BYTES",
    "MIN_KEY_BYTES",
    "RENUMBER_PROBE",
    "BreakReason",
    "BundleVerification",
    "CanonicalEncodingError",
    "ChainEvent",
    "Keyring",
    "KeyringError",
    "UNSEALED_SEQUENCE",
    "UnknownKeyError",
    "VerificationResult",
    "build_bundle",
    "canonical_json",
    "compute_content_mac",
    "compute_mac",
    "content_mac_verifies",
    "format_timestamp",
    "generate_key",
    "generate_signing_key",
    "link_event",
    "load_signing_key",
    "mac_message",
    "prepare_event",
    "public_key_pem",
    "seal_event",
    "state_digest",
    "verify_bundle",
    "verify_chain",
]
