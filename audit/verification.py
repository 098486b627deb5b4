"""Verifying the stored chain: database rows -> ``audit.core`` ChainEvents -> ``verify_chain``."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator

from django.db.models import TextField
from django.db.models.functions import Cast

from .core.chain import GENESIS_MAC, ChainEvent
from .core.verify import BreakReason, VerificationResult, verify_chain
from .models import AuditChainHead, AuditEvent

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


def verify_stored_chain(keyring, *, on_progress: Callable[[int], None] | None = None) -> VerificationResult:
    """Verify the whole stored chain against its head row (a cut tail is reported as missing)."""
    head = AuditChainHead.objects.filter(id=1).first()
    try:
        return verify_chain(stored_events(on_row=on_progress), keyring, expected_first_sequence=1,
                            expected_prev_mac=GENESIS_MAC,
                            expected_last_sequence=head.last_sequence if head else 0)
    except ScopeMismatch as mismatch:
        return VerificationResult(
            ok=False, count=mismatch.sequence - 1, first_sequence=1, last_sequence=mismatch.sequence - 1,
            last_mac="", sequence=mismatch.sequence, reason=BreakReason.FIELD_CHANGED,
            message=(f"event {mismatch.sequence}: its organisation column says {mismatch.column!r} but the "
                     f"signed payload says {mismatch.payload!r}: the column was changed"),
            expected_sequence=mismatch.sequence, found_sequence=mismatch.sequence)
