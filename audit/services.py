"""``record``: the one way any app writes an audit event, inside the caller's transaction."""
from __future__ import annotations

import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from .core.canonical import state_digest
from .core.chain import GENESIS_MAC, MAC_FIELDS, seal_event
from .core.keyring import Keyring
from .models import AuditChainHead, AuditEvent

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

    Appends are serialised by a row lock on the chain head, held until the caller's transaction ends,
    so everything that does not need the head (digests, payload, the row's other columns) is computed
    before the lock is taken; on PostgreSQL the event row and the new head are then written in one
    statement, so between taking the lock and the caller's commit ``record`` adds only the MAC and
    that one round trip.
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
    fields = {
        "actor_kind": actor_kind,
        "action": action,
        "object_type": obj._meta.label_lower if obj is not None else "-",
        "object_id": str(obj.pk) if obj is not None else "-",
        "actor_user": actor_user,
        "actor_org": actor_org,
        "before_digest": state_digest(_json_safe(before)) if before is not None else "",
        "after_digest": state_digest(_json_safe(after)) if after is not None else "",
        "payload": body,
    }
    ring = keyring()
    row = AuditEvent(organization=organization)
    if connection.vendor == "postgresql":
        append = _Append(connection, row, fields)  # everything that does not depend on the head
        head = append.lock_head()
    else:
        append, head = None, None
    if head is None:  # the first event ever, or not PostgreSQL: the plain ORM path
        locked = AuditChainHead.objects.select_for_update().get_or_create(
            id=1, defaults={"last_sequence": 0, "last_mac": GENESIS_MAC})[0]
        head = (locked.last_sequence, locked.last_mac)
    event = seal_event(sequence=head[0] + 1, prev_mac=head[1], keyring=ring, occurred_at=timezone.now(), **fields)
    for name in MAC_FIELDS:
        setattr(row, name, getattr(event, name))
    row.mac = event.mac
    if append is not None:
        append.write()
    else:
        row.save(force_insert=True, using=connection.alias)
        AuditChainHead.objects.filter(id=1).update(last_sequence=event.sequence, last_mac=event.mac)
    return row


class _Append:
    """The PostgreSQL write path of ``record``: lock the head with one query, then INSERT the event
    and move the head in one statement (a data-modifying CTE).

    The lock lasts until the caller's transaction ends and every append waits for it, so the column
    values that do not depend on the head are converted for the database before it is taken; ``write``
    converts again any value the sealed event does not carry unchanged.
    """

    _sql: dict[str, tuple[str, str, list]] = {}
    #: Columns whose values come from sealing (sequence, time, normalised payload, key, links).
    _SEALED = frozenset({"sequence", "occurred_at", "payload", "key_id", "prev_mac", "mac"})

    def __init__(self, connection, row: AuditEvent, fields: Mapping[str, Any]):
        self.connection, self.row = connection, row
        if connection.alias not in self._sql:
            qn = connection.ops.quote_name
            columns = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]
            head_table = qn(AuditChainHead._meta.db_table)
            lock_sql = (f"SELECT {qn('last_sequence')}, {qn('last_mac')} FROM {head_table} "
                        f"WHERE {qn('id')} = 1 FOR UPDATE")
            append_sql = (
                f"WITH {qn('advanced')} AS (UPDATE {head_table} SET {qn('last_sequence')} = %s, "
                f"{qn('last_mac')} = %s WHERE {qn('id')} = 1) INSERT INTO {qn(AuditEvent._meta.db_table)} "
                f"({', '.join(qn(field.column) for field in columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"RETURNING {qn(AuditEvent._meta.pk.column)}")
            self._sql[connection.alias] = (lock_sql, append_sql, columns)
        self.lock_sql, self.append_sql, self.columns = self._sql[connection.alias]
        for name, value in fields.items():
            if name != "payload":
                setattr(row, name, value)
        self.values = [None if field.name in self._SEALED else getattr(row, field.attname) for field in self.columns]
        self.params = [None if field.name in self._SEALED else field.get_db_prep_save(value, connection)
                       for field, value in zip(self.columns, self.values)]

    def lock_head(self) -> tuple[int, str] | None:
        """``(last_sequence, last_mac)`` of the head, now locked FOR UPDATE; None before the first event."""
        with self.connection.cursor() as cursor:
            cursor.execute(self.lock_sql)
            return cursor.fetchone()

    def write(self) -> None:
        """INSERT ``row`` (its fields now set from the sealed event) and advance the head to it."""
        row, connection, params = self.row, self.connection, self.params
        for index, (field, prepared_from) in enumerate(zip(self.columns, self.values)):
            value = getattr(row, field.attname)
            if value is not prepared_from or prepared_from is None:
                params[index] = field.get_db_prep_save(value, connection)
        with connection.cursor() as cursor:
            cursor.execute(self.append_sql, [row.sequence, row.mac, *params])
            row.pk = cursor.fetchone()[0]
        row._state.adding = False
        row._state.db = connection.alias


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
