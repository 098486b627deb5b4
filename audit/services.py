"""``record``: the one way any app writes an audit event, inside the caller's transaction."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.utils import timezone

from .core.canonical import state_digest
from .core.chain import (
    GENESIS_MAC,
    MAC_FIELDS,
    UNSEALED_SEQUENCE,
    ChainEvent,
    content_mac_verifies,
    link_event,
    prepare_event,
)
from .core.keyring import Keyring
from .models import AuditChainHead, AuditEvent, AuditIntake

logger = logging.getLogger(__name__)

_local = threading.local()
_keyring_cache: dict[tuple[str, str], Keyring] = {}


def keyring() -> Keyring:
    spec = (settings.AUDIT_HMAC_KEYS, settings.AUDIT_HMAC_CURRENT)
    if spec not in _keyring_cache:
        _keyring_cache.clear()
        _keyring_cache[spec] = Keyring.parse(*spec)
    return _keyring_cache[spec]


def set_request_id(request_id: str | None) -> None:
    _local.request_id = request_id or ""


def _json_safe(value: Any) -> Any:
    """Floats become exact decimal strings (the chain refuses floats: they do not round-trip)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    return value


def _actor_fields(actor) -> tuple[str | None, str | None, str]:
    if actor is None:
        return None, None, "system"
    if isinstance(actor, str):  # "worker:<org-slug>" for work a Celery worker does for an organisation
        kind, _sep, org = actor.partition(":")
        return None, org or None, "worker" if kind == "worker" else "system"
    org = getattr(actor, "organization", None)
    return actor.get_username(), org.slug if org is not None else None, "user"


def record(*, actor, action: str, obj: models.Model | None = None, organization=None,
           before: Any = None, after: Any = None, payload: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append one event to the chain, in the current transaction (required: the change and its event
    commit or roll back together).

    actor: a User, ``"worker:<org-slug>"``, or None for the system / an anonymous caller.
    obj: the object changed (its type and id are recorded); organization: whose log the event belongs
    to (defaults to ``obj.organization`` when it has one). before/after: the object's state, recorded as
    SHA-256 digests of their canonical JSON. payload: a small JSON-able dict stored in clear.

    The chain is serialised by a lock that its holder keeps until its transaction ends (on PostgreSQL
    the advisory lock CHAIN_LOCK; elsewhere, where one transaction writes at a time anyway, a row lock
    on the head). When the lock is free the event is sealed here, in this transaction: sequence,
    previous MAC, MAC. When another transaction holds it, waiting would put that transaction's commit
    (its WAL flush) in front of this one, so on PostgreSQL the event goes, in this transaction, into
    the chain's intake (``AuditIntake``: its content and a content MAC) and is sealed into the chain
    right after this transaction commits, with whatever else waits there (``seal_pending``). Either way
    the event commits or rolls back with the change. Returns the event; one still in the intake has
    its id but ``sequence`` None.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change it records")
    if organization is None and obj is not None:
        organization = getattr(obj, "organization", None)
    actor_user, actor_org, actor_kind = _actor_fields(actor)
    body = dict(_json_safe(dict(payload or {})))
    body["subject_org"] = organization.slug if organization is not None else None
    request_id = getattr(_local, "request_id", "")
    if request_id:
        body["request_id"] = request_id
    ring = keyring()
    prepared = prepare_event(
        keyring=ring, occurred_at=timezone.now(), actor_kind=actor_kind, action=action,
        object_type=obj._meta.label_lower if obj is not None else "-",
        object_id=str(obj.pk) if obj is not None else "-", actor_user=actor_user, actor_org=actor_org,
        before_digest=state_digest(_json_safe(before)) if before is not None else "",
        after_digest=state_digest(_json_safe(after)) if after is not None else "", payload=body)
    row = AuditEvent(organization=organization)
    for name in MAC_FIELDS:
        setattr(row, name, getattr(prepared, name))
    row.sequence, row.prev_mac, row.mac = None, "", ""
    if connection.vendor == "postgresql":
        _PostgresChain.of(connection).append(connection, row, prepared, ring)
        return row
    head = AuditChainHead.objects.select_for_update().get_or_create(
        id=1, defaults={"last_sequence": 0, "last_mac": GENESIS_MAC})[0]
    event = link_event(prepared, sequence=head.last_sequence + 1, prev_mac=head.last_mac, keyring=ring)
    row.sequence, row.prev_mac, row.mac = event.sequence, event.prev_mac, event.mac
    row.save(force_insert=True, using=connection.alias)
    AuditChainHead.objects.filter(id=1).update(last_sequence=event.sequence, last_mac=event.mac)
    return row


def seal_pending(*, using: str = DEFAULT_DB_ALIAS, ids: list[int] | None = None, wait: bool = False,
                 rounds: int = 20) -> int:
    """Seal the events waiting in the intake into the chain, in the order they were recorded; return
    how many were sealed. Runs outside any transaction (its lock is released once its sealing commits).

    ids: the caller's own events (``record`` passes them after the commit that wrote them): nothing to
    do once they are sealed. None: whatever waits; ``record`` calls this after a transaction that held
    the lock, so that what was committed meanwhile does not wait for the next event.
    Whoever finds the lock free seals everything waiting, in one transaction. A caller that finds it
    taken leaves (the holder looks again when its transaction has ended), or with ``wait`` waits until
    that transaction has ended, at most AUDIT_SEAL_WAIT_SECONDS, and looks again: the verification task
    and ``manage.py audit_seal`` wait; each worker's heartbeat sweeps without waiting, for events whose
    writer died between its commit and their sealing, or whose lock holder rolled back.
    An intake row whose content MAC does not verify (put there without the key) is never sealed;
    verification reports it.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return 0  # elsewhere record always seals in the transaction
    if connection.in_atomic_block:
        raise RuntimeError("seal_pending runs outside a transaction")
    chain = _PostgresChain.of(connection)
    sealed = 0
    for _round in range(rounds):
        with connection.cursor() as cursor:
            if ids:
                cursor.execute(chain.try_lock_if_waiting_sql, [list(ids)])
            else:
                cursor.execute(chain.try_lock_if_any_waiting_sql)
            found = cursor.fetchone()
        if found is None:
            break  # nothing (of ours) waits
        if not found[0]:
            if wait and chain.wait_for_holder(connection):
                continue
            break  # the holder looks again once its transaction has ended
        try:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                before, after = chain.seal_all(cursor, keyring())
        finally:
            with connection.cursor() as cursor:
                cursor.execute(chain.unlock_sql)
        sealed += after - before
        if after == before:
            break  # only rows that can never be sealed are left
        ids = None  # this caller held the lock: it looks again for what was committed meanwhile
    return sealed


def _seal_after_commit(*, using: str, ids: list[int] | None) -> None:
    """``record``'s hook after the commit of a transaction that wrote an event on PostgreSQL."""
    if connections[using].in_atomic_block:
        return  # run early by a test harness, inside a transaction: there is nothing committed to seal
    seal_pending(using=using, ids=ids)


def is_sealing_hook(callback) -> bool:
    """Is this on-commit callback ``record``'s sealing hook? (Tests that count their own hooks skip it.)"""
    return getattr(callback, "func", None) is _seal_after_commit


#: The PostgreSQL advisory lock serialising the chain ("PRESSTRU" as a bigint): held by whoever moves
#: the head, to the end of its transaction (writers) or of its sealing (``seal_pending``).
CHAIN_LOCK = int.from_bytes(b"PRESSTRU", "big")


class _PostgresChain:
    """The PostgreSQL write path: the chain lock, the head, the intake, and the statements that append
    and seal. Plain SQL, built once per connection alias; the lock is held to the end of the writer's
    transaction, so nothing runs under it but what needs the head. Advisory locks assign no transaction
    id: a sealer that finds its work done commits without a WAL flush. Should two writers ever read the
    same head, the second cannot commit: ``sequence`` is unique.
    """

    _by_alias: dict[str, _PostgresChain] = {}
    #: Columns an intake row shares with its event (and copies into it when sealed).
    CONTENT = ("occurred_at", "actor_user", "actor_org", "actor_kind", "action", "object_type", "object_id",
               "before_digest", "after_digest", "payload", "key_id", "organization_id")

    @classmethod
    def of(cls, connection) -> _PostgresChain:
        if connection.alias not in cls._by_alias:
            cls._by_alias[connection.alias] = cls(connection)
        return cls._by_alias[connection.alias]

    def __init__(self, connection):
        qn = connection.ops.quote_name
        self.columns = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
        by_column = {field.column: field for field in self.columns}
        self.content_fields = [by_column[column] for column in self.CONTENT]
        events, head = qn(AuditEvent._meta.db_table), qn(AuditChainHead._meta.db_table)
        intake = qn(AuditIntake._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [AuditEvent._meta.db_table])
            id_sequence = cursor.fetchone()[0]
        waiting = f"EXISTS (SELECT 1 FROM {intake})"
        # A writer, in one round trip of two statements: take the lock for this transaction if it is
        # free (remembered in a setting of the transaction); then, with a snapshot taken after that,
        # read the head and whether anything waits, and if the lock was taken put the event in the
        # intake (the data-modifying WITH runs whatever the SELECT reads). try_lock_sql is the same
        # without the intake, cheaper to plan when the lock is usually free.
        casts = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in self.content_fields)
        take_lock = (f"SELECT set_config('presstrust.chain_locked', "
                     f"pg_try_advisory_xact_lock({CHAIN_LOCK})::text, true); ")

        def read_head(queued: str) -> str:
            return (f"SELECT current_setting('presstrust.chain_locked')::boolean, {qn('h')}.{qn('last_sequence')}, "
                    f"{qn('h')}.{qn('last_mac')}, {waiting}, {queued} FROM (SELECT 1) AS {qn('one')} "
                    f"LEFT JOIN {head} AS {qn('h')} ON {qn('h')}.{qn('id')} = 1")

        self.try_lock_and_head_sql = (
            f"{take_lock}WITH {qn('queued')} AS (INSERT INTO {intake} ({qn('id')}, "
            f"{', '.join(qn(c) for c in self.CONTENT)}, {qn('content_mac')}) SELECT nextval('{id_sequence}'), "
            f"{casts}, CAST(%s AS varchar(64)) WHERE NOT current_setting('presstrust.chain_locked')::boolean "
            f"RETURNING {qn('id')}) " + read_head(f"(SELECT {qn('id')} FROM {qn('queued')})"))
        self.try_lock_sql = take_lock + read_head("NULL")
        self.intake_sql = (f"INSERT INTO {intake} ({qn('id')}, {', '.join(qn(c) for c in self.CONTENT)}, "
                           f"{qn('content_mac')}) VALUES (nextval('{id_sequence}'), "
                           f"{', '.join(['%s'] * (len(self.CONTENT) + 1))}) RETURNING {qn('id')}")
        self.contended = False
        self.head_sql = f"SELECT {qn('last_sequence')}, {qn('last_mac')}, {waiting} FROM {head} WHERE {qn('id')} = 1"
        self.create_head_sql = (f"INSERT INTO {head} ({qn('id')}, {qn('last_sequence')}, {qn('last_mac')}) "
                                f"VALUES (1, 0, '{GENESIS_MAC}') ON CONFLICT ({qn('id')}) DO NOTHING")
        self.advance_sql = (f"WITH {qn('advanced')} AS (UPDATE {head} SET {qn('last_sequence')} = %s, "
                            f"{qn('last_mac')} = %s WHERE {qn('id')} = 1) ")
        self.insert_sql = (f"INSERT INTO {events} ({', '.join(qn(field.column) for field in self.columns)}) "
                           f"VALUES ({', '.join(['%s'] * len(self.columns))}) RETURNING {qn(AuditEvent._meta.pk.column)}")
        # A sealer, outside any transaction: take the lock for the session, only if there is work.
        self.try_lock_if_waiting_sql = (f"SELECT pg_try_advisory_lock({CHAIN_LOCK}) WHERE EXISTS "
                                        f"(SELECT 1 FROM {intake} WHERE {qn('id')} = ANY(%s))")
        self.try_lock_if_any_waiting_sql = f"SELECT pg_try_advisory_lock({CHAIN_LOCK}) WHERE {waiting}"
        self.unlock_sql = f"SELECT pg_advisory_unlock({CHAIN_LOCK})"
        self.wait_sql = "SET LOCAL lock_timeout = '{milliseconds}ms'; " + f"SELECT pg_advisory_xact_lock_shared({CHAIN_LOCK})"
        selected = [qn("id"), *(f"{qn(c)}::text" if c == "payload" else qn(c) for c in self.CONTENT[:-1]),
                    qn("content_mac")]
        self.waiting_sql = f"SELECT {', '.join(selected)} FROM {intake} ORDER BY {qn('id')}"
        # The head and the waiting rows in one round trip (one row of NULLs after the head when none).
        self.head_and_waiting_sql = (
            f"SELECT {qn('h')}.{qn('last_sequence')}, {qn('h')}.{qn('last_mac')}, {qn('w')}.* FROM {head} AS {qn('h')} "
            f"LEFT JOIN LATERAL ({self.waiting_sql}) AS {qn('w')} ON TRUE WHERE {qn('h')}.{qn('id')} = 1 "
            f"ORDER BY {qn('w')}.{qn('id')}")
        # Sealing: the events enter the chain with their intake rows' content, copied by the database,
        # then leave the intake (two statements of one round trip: the second sees the first's rows).
        content = ", ".join(qn(c) for c in self.CONTENT)
        self.seal_sql = (
            f"{self.advance_sql}INSERT INTO {events} ({qn('id')}, {qn('sequence')}, {qn('prev_mac')}, {qn('mac')}, "
            f"{content}) SELECT {qn('i')}.{qn('id')}, {qn('v')}.{qn('sequence')}, {qn('v')}.{qn('prev_mac')}, "
            f"{qn('v')}.{qn('mac')}, {', '.join(qn('i') + '.' + qn(c) for c in self.CONTENT)} FROM {intake} AS {qn('i')} "
            f"JOIN (VALUES {{values}}) AS {qn('v')} ({qn('id')}, {qn('sequence')}, {qn('prev_mac')}, {qn('mac')}) "
            f"ON {qn('i')}.{qn('id')} = {qn('v')}.{qn('id')}; "
            f"DELETE FROM {intake} WHERE {qn('id')} IN ({{ids}})")

    def wait_for_holder(self, connection) -> bool:
        """Wait until the transaction holding the chain lock has ended (a shared lock: waiters do not
        wait for each other); False if it held on longer than AUDIT_SEAL_WAIT_SECONDS."""
        milliseconds = max(1, int(1000 * float(settings.AUDIT_SEAL_WAIT_SECONDS)))
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute(self.wait_sql.format(milliseconds=milliseconds))
        except DatabaseError:
            logger.warning("the audit chain lock was held for over %s ms; waiting events are left to the "
                           "workers' sweep", milliseconds)
            return False
        return True

    def head(self, cursor) -> tuple[int, str, bool]:
        """``(last_sequence, last_mac, anything waiting)``, creating the head before the first event.
        Only with the chain lock held."""
        cursor.execute(self.head_sql)
        found = cursor.fetchone()
        if found is None:
            cursor.execute(self.create_head_sql)
            cursor.execute(self.head_sql)
            found = cursor.fetchone()
        return found

    def append(self, connection, row: AuditEvent, prepared: ChainEvent, ring: Keyring) -> None:
        """INSERT ``row`` into the chain if the lock is free (sealing first what waits), else into the intake."""
        content = [field.get_db_prep_save(getattr(row, field.attname), connection) for field in self.content_fields]
        with connection.cursor() as cursor:
            if self.contended:  # the last append of this process found the lock taken: queue in the same trip
                cursor.execute(self.try_lock_and_head_sql, [*content, prepared.mac])
            else:  # usually the lock is free: the cheaper statement, and the intake in a second trip if not
                cursor.execute(self.try_lock_sql)
            locked, last_sequence, last_mac, waiting, queued_id = cursor.fetchone()
            self.contended = not locked
            if not locked and queued_id is None:
                cursor.execute(self.intake_sql, [*content, prepared.mac])
                queued_id = cursor.fetchone()[0]
            if locked and last_sequence is None:  # before the first event there is no head
                last_sequence, last_mac, waiting = self.head(cursor)
            if locked:
                if waiting:
                    last_sequence, last_mac = self.seal(cursor, ring, last_sequence, last_mac)
                event = link_event(prepared, sequence=last_sequence + 1, prev_mac=last_mac, keyring=ring)
                row.sequence, row.prev_mac, row.mac = event.sequence, event.prev_mac, event.mac
                params = [field.get_db_prep_save(getattr(row, field.attname), connection) for field in self.columns]
                cursor.execute(self.advance_sql + self.insert_sql, [event.sequence, event.mac, *params])
                row.pk = cursor.fetchone()[0]
            else:
                row.pk = queued_id
        # Once this transaction has ended: an event in the intake is sealed by its writer, or, if the
        # lock is taken again, by that holder; a holder looks for what was committed while it held it.
        transaction.on_commit(partial(_seal_after_commit, using=connection.alias,
                                      ids=[row.pk] if row.sequence is None else None),
                              using=connection.alias, robust=True)
        row._state.adding = row.sequence is None  # not in the event table until sealed
        row._state.db = connection.alias

    def seal_all(self, cursor, ring: Keyring) -> tuple[int, int]:
        """Seal everything waiting that this transaction sees; return the head's last sequence before
        and after. Only with the chain lock held."""
        cursor.execute(self.head_and_waiting_sql)
        rows = cursor.fetchall()
        if not rows:  # no head yet: whoever took the lock for the first event rolled back
            last_sequence, last_mac, _waiting = self.head(cursor)
            return last_sequence, self.seal(cursor, ring, last_sequence, last_mac)[0]
        last_sequence, last_mac = rows[0][:2]
        waiting = [row[2:] for row in rows if row[2] is not None]
        return last_sequence, self._seal(cursor, ring, last_sequence, last_mac, waiting)[0]

    def seal(self, cursor, ring: Keyring, last_sequence: int, last_mac: str) -> tuple[int, str]:
        """Seal the waiting events this transaction sees after ``(last_sequence, last_mac)``, in id order,
        and advance the head; return the new ``(last_sequence, last_mac)``. Only with the chain lock held."""
        cursor.execute(self.waiting_sql)
        return self._seal(cursor, ring, last_sequence, last_mac, cursor.fetchall())

    def _seal(self, cursor, ring: Keyring, last_sequence: int, last_mac: str, waiting) -> tuple[int, str]:
        sealed = []
        for (row_id, occurred_at, actor_user, actor_org, actor_kind, action, object_type, object_id, before_digest,
             after_digest, payload, key_id, content_mac) in waiting:
            event = ChainEvent(UNSEALED_SEQUENCE, occurred_at, actor_user, actor_org, actor_kind, action, object_type,
                               object_id, before_digest, after_digest, json.loads(payload), key_id, "", content_mac)
            if not content_mac_verifies(event, ring):
                logger.error("audit intake row %s: its content MAC does not verify; it was not written by the "
                             "portal and is left out of the chain", row_id)
                continue
            linked = link_event(event, sequence=last_sequence + 1, prev_mac=last_mac, keyring=ring)
            sealed.append((row_id, linked.sequence, linked.prev_mac, linked.mac))
            last_sequence, last_mac = linked.sequence, linked.mac
        if sealed:
            sql = self.seal_sql.format(values=", ".join(["(%s, %s, %s, %s)"] * len(sealed)),
                                       ids=", ".join(["%s"] * len(sealed)))
            cursor.execute(sql, [last_sequence, last_mac, *(value for item in sealed for value in item),
                                 *(item[0] for item in sealed)])
        return last_sequence, last_mac


# --- Verification, export, audit access ---------------------------------------------------------

def _require_auditor(actor) -> None:
    from django.core.exceptions import PermissionDenied

    from .selectors import audited_organizations

    if not (actor.has_perm("accounts.audit_organization") or audited_organizations(user=actor).exists()):
        raise PermissionDenied("Only auditors with audit access can do this.")


@transaction.atomic
def chain_verification_request(*, actor):
    """Queue a verification of the whole chain (after commit) and return its row."""
    from .models import ChainVerification
    from .tasks import run_chain_verification

    _require_auditor(actor)
    verification = ChainVerification.objects.create(requested_by=actor)
    record(actor=actor, action="audit.verify_request", obj=verification, organization=actor.organization)
    transaction.on_commit(lambda: run_chain_verification.delay(verification.pk))
    return verification


def chain_verification_finish(*, verification_id: int, result, finished_at) -> None:
    from .models import ChainVerification

    verification = ChainVerification.objects.select_for_update().get(pk=verification_id)
    if verification.status in (ChainVerification.Status.INTACT, ChainVerification.Status.BROKEN):
        return  # already recorded by an earlier run of the same task
    verification.status = ChainVerification.Status.INTACT if result.ok else ChainVerification.Status.BROKEN
    verification.checked = result.count
    verification.total = max(verification.total, result.count)
    verification.broken_sequence = None if result.ok else result.sequence
    verification.reason = "" if result.ok else str(result.reason)
    verification.message = result.message
    verification.finished_at = finished_at
    verification.save()
    record(actor=verification.requested_by, action="audit.verify", obj=verification,
           organization=verification.requested_by.organization,
           payload={"ok": result.ok, "count": result.count, "reason": verification.reason,
                    "broken_sequence": verification.broken_sequence})


def platform_signing_key():
    from .core.bundle import load_signing_key

    return load_signing_key(settings.PLATFORM_SIGNING_KEY_PEM.encode())


def platform_public_key_pem() -> bytes:
    from .core.bundle import public_key_pem

    return public_key_pem(platform_signing_key())


MAX_EXPORT_EVENTS = 200_000


@transaction.atomic
def evidence_export(*, actor, first_sequence: int, last_sequence: int) -> bytes:
    """A signed evidence bundle of events ``first_sequence..last_sequence``.

    Events of organisations the auditor may not read are redacted to their links, so the range still
    verifies offline. The export itself is audited.
    """
    from django.core.exceptions import ValidationError

    from .core.bundle import build_bundle
    from .selectors import event_list
    from .verification import stored_events

    _require_auditor(actor)
    head = AuditChainHead.objects.filter(id=1).first()
    last_existing = head.last_sequence if head else 0
    if first_sequence < 1 or last_sequence < first_sequence:
        raise ValidationError("The range must start at 1 or later and end at or after its start.")
    if last_sequence > last_existing:
        raise ValidationError(f"The log ends at event {last_existing}.")
    if last_sequence - first_sequence + 1 > MAX_EXPORT_EVENTS:
        raise ValidationError(f"Export at most {MAX_EXPORT_EVENTS} events per bundle.")
    visible = set(event_list(user=actor).filter(sequence__gte=first_sequence, sequence__lte=last_sequence)
                  .values_list("sequence", flat=True))
    bundle = build_bundle(
        stored_events(start=first_sequence, end=last_sequence), keyring().public_info(), platform_signing_key(),
        range_info={"first_sequence": first_sequence, "last_sequence": last_sequence,
                    "requested_by": actor.get_username()},
        visible=lambda event: event.sequence in visible,
    )
    record(actor=actor, action="audit.export", organization=actor.organization,
           payload={"first_sequence": first_sequence, "last_sequence": last_sequence,
                    "visible_events": len(visible)})
    return bundle


@transaction.atomic
def audit_access_grant(*, actor, organization, audit_firm) -> None:
    """Let ``audit_firm``'s auditors read ``organization``'s audit log."""
    _set_audit_access(actor=actor, organization=organization, audit_firm=audit_firm, granted=True)


@transaction.atomic
def audit_access_revoke(*, actor, organization, audit_firm) -> None:
    _set_audit_access(actor=actor, organization=organization, audit_firm=audit_firm, granted=False)


def _set_audit_access(*, actor, organization, audit_firm, granted: bool) -> None:
    from django.core.exceptions import PermissionDenied, ValidationError

    from accounts.permissions import grant, revoke
    from accounts.roles import OrganizationKind, Role

    if not (actor.has_perm("accounts.change_organization", organization)
            or actor.has_perm("accounts.manage_organization")):
        raise PermissionDenied("Only the organisation's managers can grant audit access.")
    if audit_firm.kind != OrganizationKind.AUDIT_FIRM:
        raise ValidationError("Audit access can only be granted to an audit firm.")
    (grant if granted else revoke)(["accounts.audit_organization"], organization, audit_firm, roles=[Role.AUDITOR])
    record(actor=actor, action="audit.access_grant" if granted else "audit.access_revoke", obj=organization,
           organization=organization, payload={"audit_firm": audit_firm.slug})
