"""Audit chain events and their HMAC.

Each event carries ``prev_mac`` (the MAC of the event before it, GENESIS_MAC for the first) and ``mac``
= HMAC-SHA256 (RFC 2104) under the key named by ``key_id`` over the canonical JSON (see
``audit.core.canonical``) of all the other fields. Changing any field, the order, or the linkage
therefore invalidates the MAC of that event or of its successor. The key id is itself MAC-ed, so an
event cannot be re-attributed to another key. This is the hash-chained, keyed log of Schneier & Kelsey,
"Secure audit logs to support computer forensics" (ACM TISSEC 1999), without their per-entry key
evolution: keys are rotated by id instead (see ``audit.core.keyring``).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hmac
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .canonical import (
    _ENCODER,
    ABSENT_STATE_DIGEST,
    CanonicalEncodingError,
    _check_keys,
    canonical_json,
    format_timestamp,
)

if TYPE_CHECKING:
    from .keyring import Keyring

__all__ = [
    "ACTOR_KINDS",
    "GENESIS_MAC",
    "MAC_FIELDS",
    "MAX_PAYLOAD_BYTES",
    "UNSEALED_SEQUENCE",
    "ChainEvent",
    "compute_content_mac",
    "compute_mac",
    "content_mac_verifies",
    "link_event",
    "mac_message",
    "prepare_event",
    "seal_event",
]

#: ``prev_mac`` of the very first event of a chain.
GENESIS_MAC = "0" * 64

#: The ``sequence`` an event's content MAC is computed with (and its ``prev_mac`` is ""): no event of a
#: chain has sequence 0, so a content MAC is never a valid chain MAC, nor the other way round.
UNSEALED_SEQUENCE = 0

ACTOR_KINDS = frozenset({"user", "worker", "system"})

#: Fields covered by the MAC, i.e. every ChainEvent field except ``mac``.
MAC_FIELDS = (
    "sequence",
    "occurred_at",
    "actor_user",
    "actor_org",
    "actor_kind",
    "action",
    "object_type",
    "object_id",
    "before_digest",
    "after_digest",
    "payload",
    "key_id",
    "prev_mac",
)

#: Upper bound on the canonical encoding of an event payload; the payload is a short summary
#: (changed field names, amounts, reasons), the full state is only referenced by its digest.
MAX_PAYLOAD_BYTES = 64 * 1024

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True, slots=True)
class ChainEvent:
    """One audit event as stored.

    The record does not validate itself: a tampered database row must still load so that
    ``verify_chain`` can report it. ``seal_event`` validates everything on the write path.

    sequence       position in the chain, 1, 2, 3 ... without gaps
    occurred_at    aware datetime (MAC-ed as ISO-8601 UTC with microseconds)
    actor_user     user identifier (e.g. username or user id as str) or None
    actor_org      organisation identifier (e.g. slug) or None
    actor_kind     'user', 'worker' or 'system'
    action         dotted verb, e.g. 'devices.batch.ingest'
    object_type    e.g. 'devices.sensorbatch'
    object_id      primary key as str
    before_digest  ``state_digest`` of the object before (``""`` if it did not exist)
    after_digest   ``state_digest`` of the object after (``""`` if it no longer exists)
    payload        small JSON-able dict (canonical encoding <= MAX_PAYLOAD_BYTES)
    key_id         id of the HMAC key in the keyring
    prev_mac       ``mac`` of the previous event (GENESIS_MAC for sequence 1), 64 hex digits
    mac            HMAC-SHA256 of the other fields, 64 lower-case hex digits
    """

    sequence: int
    occurred_at: _dt.datetime
    actor_user: str | None
    actor_org: str | None
    actor_kind: str
    action: str
    object_type: str
    object_id: str
    before_digest: str
    after_digest: str
    payload: dict[str, Any]
    key_id: str
    prev_mac: str
    mac: str

    def mac_fields(self) -> dict[str, Any]:
        """The fields covered by the MAC, as a dict (``occurred_at`` still a datetime)."""
        return {name: getattr(self, name) for name in MAC_FIELDS}

    def to_record(self) -> dict[str, Any]:
        """All fields as JSON-native values (``occurred_at`` as the canonical UTC string).

        ``canonical_json(event.to_record())`` is the line format of evidence bundles.
        """
        record = {name: getattr(self, name) for name in MAC_FIELDS}
        record["occurred_at"] = format_timestamp(self.occurred_at)
        record["mac"] = self.mac
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ChainEvent:
        """Inverse of ``to_record``. Raises KeyError for a missing field, ValueError for a bad timestamp."""
        occurred_at = record["occurred_at"]
        if isinstance(occurred_at, str):
            occurred_at = _dt.datetime.fromisoformat(occurred_at)
        return cls(
            sequence=record["sequence"],
            occurred_at=occurred_at,
            actor_user=record["actor_user"],
            actor_org=record["actor_org"],
            actor_kind=record["actor_kind"],
            action=record["action"],
            object_type=record["object_type"],
            object_id=record["object_id"],
            before_digest=record["before_digest"],
            after_digest=record["after_digest"],
            payload=record["payload"],
            key_id=record["key_id"],
            prev_mac=record["prev_mac"],
            mac=record["mac"],
        )


def mac_message(event: ChainEvent) -> bytes:
    """The bytes the MAC is computed over: ``canonical_json`` of ``event.mac_fields()``.

    Built directly from the attributes (no intermediate ``mac_fields()`` call) because
    ``verify_chain`` calls it once per event; the output is byte-identical to
    ``canonical_json(event.mac_fields())``, which the tests assert.
    Raises CanonicalEncodingError when a field has no canonical encoding.
    """
    occurred_at = event.occurred_at
    if isinstance(occurred_at, _dt.datetime):
        occurred_at = format_timestamp(occurred_at)
    payload = event.payload
    _check_keys(payload)
    try:
        text = _ENCODER.encode(
            {
                "action": event.action,
                "actor_kind": event.actor_kind,
                "actor_org": event.actor_org,
                "actor_user": event.actor_user,
                "after_digest": event.after_digest,
                "before_digest": event.before_digest,
                "key_id": event.key_id,
                "object_id": event.object_id,
                "object_type": event.object_type,
                "occurred_at": occurred_at,
                "payload": payload,
                "prev_mac": event.prev_mac,
                "sequence": event.sequence,
            }
        )
    except ValueError as exc:
        raise CanonicalEncodingError(str(exc)) from exc
    return text.encode("utf-8")


def compute_mac(event_fields: ChainEvent | Mapping[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the canonical JSON of the MAC_FIELDS, as 64 lower-case hex digits.

    ``event_fields`` is a ChainEvent or a mapping with exactly the MAC_FIELDS (a ``mac`` entry, if
    present, is ignored). ``key`` is the raw HMAC key (bytes). Raises ValueError for a mapping with
    missing or unexpected fields, CanonicalEncodingError for values without canonical encoding.
    """
    if isinstance(event_fields, ChainEvent):
        message = mac_message(event_fields)
    else:
        names = set(event_fields) - {"mac"}
        if names != set(MAC_FIELDS):
            missing = sorted(set(MAC_FIELDS) - names)
            unexpected = sorted(names - set(MAC_FIELDS))
            raise ValueError(f"event fields mismatch: missing {missing}, unexpected {unexpected}")
        message = canonical_json({name: event_fields[name] for name in MAC_FIELDS})
    return hmac.digest(key, message, "sha256").hex()


def _require_digest(name: str, value: Any) -> None:
    if value != ABSENT_STATE_DIGEST and not (isinstance(value, str) and _HEX64.fullmatch(value)):
        raise ValueError(f"{name} must be a 64-digit lower-case hex SHA-256 or '' (absent state), got {value!r}")


def _require_optional_str(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be str or None, got {type(value).__name__}")


def _reject_floats(value: Any, path: str) -> None:
    # A JSON column may re-format floats (PostgreSQL jsonb turns 1e+16 into 10000000000000000),
    # which would change the canonical bytes and break the MAC of an untouched event.
    if isinstance(value, float):
        raise ValueError(f"payload{path} is a float ({value!r}); pass a Decimal or str so it survives a JSON column")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_floats(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _reject_floats(item, f"{path}[{index}]")


def _check_position(sequence: Any, prev_mac: Any) -> None:
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise ValueError(f"sequence must be an int >= 1, got {sequence!r}")
    if not (isinstance(prev_mac, str) and _HEX64.fullmatch(prev_mac)):
        raise ValueError(f"prev_mac must be 64 lower-case hex digits, got {prev_mac!r}")
    if sequence == 1 and prev_mac != GENESIS_MAC:
        raise ValueError("the first event (sequence 1) must have prev_mac == GENESIS_MAC")


def compute_content_mac(event: ChainEvent, key: bytes) -> str:
    """HMAC-SHA256 of an event's content: every MAC field, with ``sequence`` UNSEALED_SEQUENCE and
    ``prev_mac`` "" (an event's place in the chain is not yet known when its content is MACed).

    An event written while another transaction holds the chain is stored with this MAC and linked
    later (``link_event``); the linker checks it first, so a row that someone without the key put in
    the table is never given a place in the chain.
    """
    return compute_mac(dataclasses.replace(event, sequence=UNSEALED_SEQUENCE, prev_mac="", mac=""), key)


def content_mac_verifies(event: ChainEvent, keyring: Keyring) -> bool:
    """Does a not yet linked event's ``mac`` (its content MAC) verify under its own key?"""
    if not isinstance(event.key_id, str) or event.key_id not in keyring:
        return False
    try:
        expected = compute_content_mac(event, keyring.get(event.key_id))
    except (CanonicalEncodingError, TypeError, ValueError):
        return False
    return hmac.compare_digest(expected, event.mac or "")


def prepare_event(
    *,
    keyring: Keyring,
    occurred_at: _dt.datetime,
    actor_kind: str,
    action: str,
    object_type: str,
    object_id: str,
    actor_user: str | None = None,
    actor_org: str | None = None,
    before_digest: str = ABSENT_STATE_DIGEST,
    after_digest: str = ABSENT_STATE_DIGEST,
    payload: Mapping[str, Any] | None = None,
) -> ChainEvent:
    """Validate the fields of a new event and MAC its content under the keyring's current key.

    Returns a ChainEvent with ``sequence`` UNSEALED_SEQUENCE, ``prev_mac`` "" and ``mac`` = its
    content MAC (``compute_content_mac``); ``link_event`` gives it its place in the chain.
    ``occurred_at`` must be aware; it is stored in UTC. ``payload`` is normalised to JSON-native values
    (Decimal, datetime, UUID become their canonical strings) so that it reads back unchanged from a JSON
    database column; floats are refused for the same reason (use Decimal or str).
    Raises ValueError (or CanonicalEncodingError, a TypeError) for any invalid field, so nothing
    malformed enters the chain.
    """
    if not isinstance(occurred_at, _dt.datetime) or occurred_at.utcoffset() is None:
        raise ValueError(f"occurred_at must be an aware datetime, got {occurred_at!r}")
    if actor_kind not in ACTOR_KINDS:
        raise ValueError(f"actor_kind must be one of {sorted(ACTOR_KINDS)}, got {actor_kind!r}")
    _require_optional_str("actor_user", actor_user)
    _require_optional_str("actor_org", actor_org)
    for name, value in (("action", action), ("object_type", object_type), ("object_id", object_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty str, got {value!r}")
    _require_digest("before_digest", before_digest)
    _require_digest("after_digest", after_digest)
    if payload is None:
        payload = {}
    if not isinstance(payload, Mapping):
        raise ValueError(f"payload must be a mapping, got {type(payload).__name__}")
    _reject_floats(payload, "")
    encoded_payload = canonical_json(dict(payload))
    if len(encoded_payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(encoded_payload)} bytes encoded; the limit is {MAX_PAYLOAD_BYTES}")
    key_id = keyring.current_key_id
    unsealed = ChainEvent(
        sequence=UNSEALED_SEQUENCE,
        occurred_at=occurred_at.astimezone(_dt.timezone.utc),
        actor_user=actor_user,
        actor_org=actor_org,
        actor_kind=actor_kind,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before_digest=before_digest,
        after_digest=after_digest,
        payload=json.loads(encoded_payload),
        key_id=key_id,
        prev_mac="",
        mac="",
    )
    return dataclasses.replace(unsealed, mac=compute_content_mac(unsealed, keyring.get(key_id)))


def link_event(prepared: ChainEvent, *, sequence: int, prev_mac: str, keyring: Keyring) -> ChainEvent:
    """Give a prepared event (``prepare_event``, or one read back from storage) its place in the chain.

    ``sequence`` and ``prev_mac`` come from the chain head (the previous event's sequence + 1 and its
    mac; 1 and GENESIS_MAC for the first event). The event keeps its ``key_id``: the chain MAC is
    computed under the key its content was MACed with, so a key rotated in between changes nothing.
    Returns the sealed ChainEvent. Raises ValueError for a bad position, UnknownKeyError for a key id
    the keyring lacks.
    """
    _check_position(sequence, prev_mac)
    placed = dataclasses.replace(prepared, sequence=sequence, prev_mac=prev_mac, mac="")
    return dataclasses.replace(placed, mac=compute_mac(placed, keyring.get(prepared.key_id)))


def seal_event(*, sequence: int, prev_mac: str, keyring: Keyring, **fields: Any) -> ChainEvent:
    """``prepare_event`` then ``link_event``: a new event validated and MACed at its place in the chain.

    ``fields`` are ``prepare_event``'s (occurred_at, actor_kind, action, object_type, object_id and the
    optional ones). The position is checked first, so a bad ``sequence`` or ``prev_mac`` is refused
    before any MAC is computed. Raises what those two raise (TypeError for an unknown field).
    """
    _check_position(sequence, prev_mac)
    return link_event(prepare_event(keyring=keyring, **fields), sequence=sequence, prev_mac=prev_mac,
                      keyring=keyring)
