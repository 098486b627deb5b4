"""Fixtures for the audit core tests: deterministic keys and a sealed chain with a key rotation."""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit.core import GENESIS_MAC, ChainEvent, Keyring, compute_mac, seal_event, state_digest

K1 = base64.b64encode(hashlib.sha256(b"test-k1").digest()).decode()
K2 = base64.b64encode(hashlib.sha256(b"test-k2").digest()).decode()
START = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.timezone.utc)
CHAIN_LENGTH = 20
ROTATE_AFTER = 10  # events 1..10 under k1, 11..20 under k2


def make_chain(length: int = CHAIN_LENGTH, rotate_after: int = ROTATE_AFTER) -> list[ChainEvent]:
    keyring_k1 = Keyring.parse(f"k1:{K1}", "k1")
    keyring_k2 = Keyring.parse(f"k2:{K2},k1:{K1}", "k2")
    events: list[ChainEvent] = []
    prev_mac = GENESIS_MAC
    for sequence in range(1, length + 1):
        event = seal_event(
            sequence=sequence,
            prev_mac=prev_mac,
            keyring=keyring_k1 if sequence <= rotate_after else keyring_k2,
            occurred_at=START + dt.timedelta(minutes=sequence),
            actor_kind="user" if sequence % 3 else "worker",
            actor_user=f"user{sequence % 4}" if sequence % 3 else None,
            actor_org="acme-stamping",
            action="devices.batch.ingest",
            object_type="devices.sensorbatch",
            object_id=str(100 + sequence),
            before_digest=state_digest(None),
            after_digest=state_digest({"id": 100 + sequence, "status": "stored"}),
            payload={"press": "P-7", "samples": 120_000 + sequence, "note": "übersteuert"},
        )
        events.append(event)
        prev_mac = event.mac
    return events


def forge(event: ChainEvent, **changes) -> ChainEvent:
    """A copy of ``event`` with fields changed and the MAC left as it was (what a tamperer can do)."""
    return dataclasses.replace(event, **changes)


def reseal_with(event: ChainEvent, key: bytes, **changes) -> ChainEvent:
    """A copy with fields changed and a MAC recomputed under ``key`` (a tamperer who holds some key)."""
    changed = dataclasses.replace(event, **changes)
    return dataclasses.replace(changed, mac=compute_mac(changed, key))


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.parse(f"k2:{K2},k1:{K1}", "k2")


@pytest.fixture
def chain() -> list[ChainEvent]:
    return make_chain()


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"test-platform-signing").digest())
