"""Verifying the stored chain: database rows -> ``audit.core`` ChainEvents -> ``verify_chain``, then the
events written but not yet sealed (``audit.services.record``): each must carry a valid content MAC."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator

from django.db.models import TextField
from django.db.models.functions import Cast

from .core.chain import GENESIS_MAC, UNSEALED_SEQUENCE, ChainEvent, content_mac_verifies
from .core.verify import BreakReason, VerificationResult, verify_chain
from .models import AuditChainHead, AuditEvent, AuditIntake

CHAIN_FIELDS = ("sequence", "occurred_at", "actor_user", "actor_org", "actor_kind", "action", "object_type",
                "object_id", "before_digest", "after_digest", "payload", "key_id", "prev_mac", "mac")
_BEFORE_PAYLOAD = CHAIN_FIELDS[:CHAIN_FIELDS.index("payload")]
_AFTER_PAYLOAD = CHAIN_FIELDS[CHAIN_FIELDS.index("payload") + 1:]
if CHAIN_FIELDS != tuple(field.name for field in dataclasses.fields(ChainEvent)):
    raise ImportError("CHAIN_FIELDS must list ChainEvent's fields in order: stored_events builds it positionally")


class ScopeMismatch(Exception):
    """The indexed organisation column disagrees with the MACed payload (the column was edited)."""

    def __init__(self, sequence: int, column: str | None, payload: str | None):
        super().__init__(sequence)
        self.sequence, self.column, self.payload = sequence, column, payload


def stored_events(*, start: int = 1, end: int | None = None, chunk_size: int = 5000,
                  on_row: Callable[[int], None] | None = None) -> Iterator[ChainEvent]:
    """Stream stored events in sequence order as ChainEvents, checking the organisation column.

    Keyset pagination (``sequence > last``) keeps memory flat and each query cheap at any depth.
    This loop runs once per stored event, and on a long chain it costs about as much as the MACs: the
    payload is therefore read as text and decoded here (no per-row ORM converter, no psycopg2 jsonb
    hook) and the ChainEvent is built positionally (CHAIN_FIELDS is ChainEvent's field order).
    """
    loads, decode_error = json.loads, json.JSONDecodeError
    last = start - 1
    while True:
        rows = AuditEvent.objects.filter(sequence__gt=last).order_by("sequence")
        if end is not None:
            rows = rows.filter(sequence__lte=end)
        batch = list(rows.annotate(payload_text=Cast("payload", TextField()))
                     .values_list(*_BEFORE_PAYLOAD, "payload_text", *_AFTER_PAYLOAD, "organization__slug")[:chunk_size])
        if not batch:
            return
        for (sequence, occurred_at, actor_user, actor_org, actor_kind, action, object_type, object_id, before_digest,
             after_digest, payload, key_id, prev_mac, mac, column_org) in batch:
            if payload is not None:
                try:
                    payload = loads(payload)
                except decode_error:  # kept as stored, as JSONField does; it will fail its MAC
                    pass
            subject_org = (payload or {}).get("subject_org")
            if subject_org != column_org:
                raise ScopeMismatch(sequence, column_org, subject_org)
            yield ChainEvent(sequence, occurred_at, actor_user, actor_org, actor_kind, action, object_type, object_id,
                             before_digest, after_digest, payload, key_id, prev_mac, mac)
        last = batch[-1][0]
        if on_row is not None:
            on_row(last)


def unsealed_events() -> Iterator[tuple[int, ChainEvent, str | None]]:
    """``(id, event, organisation column)`` of every event waiting in the intake (``AuditIntake``), in id
    order; the event's ``mac`` is its content MAC. There are none but those recorded moments ago."""
    rows = (AuditIntake.objects.order_by("id").annotate(payload_text=Cast("payload", TextField()))
            .values_list("id", *_BEFORE_PAYLOAD[1:], "payload_text", "key_id", "content_mac", "organization__slug"))
    for (row_id, occurred_at, actor_user, actor_org, actor_kind, action, object_type, object_id, before_digest,
         after_digest, payload, key_id, content_mac, column_org) in rows.iterator(chunk_size=1000):
        try:
            payload = json.loads(payload) if payload is not None else None
        except json.JSONDecodeError:
            pass
        yield row_id, ChainEvent(UNSEALED_SEQUENCE, occurred_at, actor_user, actor_org, actor_kind, action,
                                 object_type, object_id, before_digest, after_digest, payload, key_id, "",
                                 content_mac), column_org


def _check_unsealed(result: VerificationResult, keyring) -> VerificationResult:
    """The chain verified: now every event waiting in the intake must carry a valid content MAC and a
    matching organisation column. The first that does not is the break (it has no sequence yet: it is
    named by its id)."""
    waiting = 0
    for row_id, event, column_org in unsealed_events():
        reason, why = None, ""
        if event.key_id not in keyring:
            reason, why = BreakReason.UNKNOWN_KEY, f"its key {event.key_id!r} is not in the keyring"
        elif not content_mac_verifies(event, keyring):
            reason, why = BreakReason.INSERTED, "its content MAC does not verify: it was not written by the portal"
        elif (event.payload or {}).get("subject_org") != column_org:
            reason, why = BreakReason.FIELD_CHANGED, (f"its organisation column says {column_org!r} but the signed "
                                                      f"payload says {(event.payload or {}).get('subject_org')!r}")
        if reason is not None:
            return dataclasses.replace(
                result, ok=False, sequence=None, reason=reason, expected_sequence=None, found_sequence=None,
                unsealed=waiting,
                message=f"event {row_id} ({event.action!r}) waiting in the intake for its place in the chain: {why}")
        waiting += 1
    if not waiting:
        return result
    return dataclasses.replace(result, unsealed=waiting,
                               message=f"{result.message}; {waiting} more, recorded moments ago, wait in the intake "
                                       f"for their place in the chain (content MACs verified)")


def verify_stored_chain(keyring, *, on_progress: Callable[[int], None] | None = None) -> VerificationResult:
    """Verify the whole stored chain against its head row (a cut tail is reported as missing), then the
    events not yet sealed."""
    head = AuditChainHead.objects.filter(id=1).first()
    try:
        result = verify_chain(stored_events(on_row=on_progress), keyring, expected_first_sequence=1,
                              expected_prev_mac=GENESIS_MAC,
                              expected_last_sequence=head.last_sequence if head else 0)
    except ScopeMismatch as mismatch:
        return VerificationResult(
            ok=False, count=mismatch.sequence - 1, first_sequence=1, last_sequence=mismatch.sequence - 1,
            last_mac="", sequence=mismatch.sequence, reason=BreakReason.FIELD_CHANGED,
            message=(f"event {mismatch.sequence}: its organisation column says {mismatch.column!r} but the "
                     f"signed payload says {mismatch.payload!r}: the column was changed"),
            expected_sequence=mismatch.sequence, found_sequence=mismatch.sequence)
    return _check_unsealed(result, keyring) if result.ok else result
