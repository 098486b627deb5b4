"""Events recorded while another transaction holds the chain: they wait in the intake with a content MAC
and are sealed into the chain right after, in order, gap-free; rows put in the intake without the key are
never sealed and verification names them; the intake's trigger lets rows leave only as sealed events."""
from __future__ import annotations

import logging

import pytest
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from accounts.models import Organization
from accounts.roles import OrganizationKind
from audit import services
from audit.models import AuditEvent, AuditIntake
from audit.verification import verify_stored_chain

pytestmark = pytest.mark.django_db(transaction=True)
TABLE = AuditEvent._meta.db_table
INTAKE = AuditIntake._meta.db_table


class ChainHolder:
    """Another database session holding the chain lock, as a long transaction of another writer would."""

    def __init__(self):
        self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        self.held = False

    def take(self):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [services.CHAIN_LOCK])
        self.held = True

    def release(self):
        if self.held:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [services.CHAIN_LOCK])
            self.held = False


@pytest.fixture
def holder(postgres_required, settings):
    settings.AUDIT_SEAL_WAIT_SECONDS = 0.2  # a writer gives up waiting for the holder (the test) quickly
    held = ChainHolder()
    yield held
    held.release()
    held.connection.close()


def note(n: int, organization=None) -> AuditEvent:
    with transaction.atomic():
        return services.record(actor=None, action="test.note", organization=organization, payload={"n": n})


def in_chain(row: AuditEvent) -> AuditEvent | None:
    return AuditEvent.objects.filter(pk=row.pk).first()


def in_intake(row: AuditEvent) -> AuditIntake | None:
    return AuditIntake.objects.filter(pk=row.pk).first()


def verify():
    return verify_stored_chain(services.keyring())


def tamper(sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def test_an_event_recorded_while_the_chain_is_held_waits_in_the_intake_then_is_sealed_in_order(holder):
    first = note(0)
    assert first.sequence == 1
    holder.take()
    waiting = note(1)  # committed; its sealing found the lock taken and left it to the holder
    assert waiting.sequence is None and in_chain(waiting) is None
    assert len(in_intake(waiting).content_mac) == 64
    result = verify()
    assert result.ok and result.count == 1 and result.unsealed == 1, result.message
    assert "wait in the intake" in result.message
    holder.release()
    assert services.seal_pending() == 1
    sealed = in_chain(waiting)
    assert (sealed.sequence, sealed.prev_mac, sealed.action, sealed.payload["n"]) == (2, first.mac, "test.note", 1)
    assert in_intake(waiting) is None
    result = verify()
    assert result.ok and result.count == 2 and result.unsealed == 0, result.message
    assert services.seal_pending() == 0


def test_the_next_writer_seals_what_waits_before_its_own_event(holder):
    holder.take()
    waiting = [note(1), note(2)]  # the very first events: not even the head exists yet
    assert AuditIntake.objects.count() == 2 and not AuditEvent.objects.exists()
    holder.release()
    later = note(3)
    assert later.sequence == 3
    assert [in_chain(row).sequence for row in waiting] == [1, 2]
    assert list(AuditEvent.objects.order_by("sequence").values_list("payload__n", flat=True)) == [1, 2, 3]
    assert not AuditIntake.objects.exists() and verify().ok


def test_a_writer_that_held_the_chain_seals_what_was_committed_meanwhile(postgres_required):
    import threading

    note(0)
    other = {}

    def other_writer():  # its own database session, like another web or worker process
        try:
            other["event"] = note(1)
        finally:
            connections.close_all()

    with transaction.atomic():
        mine = services.record(actor=None, action="test.note", payload={"n": "holder"})
        assert mine.sequence == 2  # this transaction holds the chain until it ends
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=60)
        assert other["event"].sequence is None  # committed into the intake; its writer left
        assert AuditIntake.objects.filter(pk=other["event"].pk).exists()
    # After its commit the holder looked again and sealed the other writer's event.
    assert in_chain(other["event"]).sequence == 3 and not AuditIntake.objects.exists()
    assert verify().ok


def test_a_rolled_back_change_leaves_nothing_in_the_intake(holder):
    note(0)
    holder.take()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transaction.atomic():
            services.record(actor=None, action="test.note", payload={"n": 1})
            raise Boom
    assert AuditEvent.objects.count() == 1 and not AuditIntake.objects.exists()
    holder.release()
    assert services.seal_pending() == 0 and verify().ok


def test_events_of_one_transaction_keep_their_order_across_the_lock(holder):
    holder.take()
    with transaction.atomic():
        a = services.record(actor=None, action="test.note", payload={"n": "a"})
        holder.release()  # the lock frees in the middle of the transaction: the next event seals both
        b = services.record(actor=None, action="test.note", payload={"n": "b"})
        assert a.sequence is None and b.sequence == 2
    assert in_chain(a).sequence == 1 and not AuditIntake.objects.exists() and verify().ok


def test_a_row_put_in_the_intake_without_the_key_is_never_sealed_and_verification_names_it(holder, caplog):
    genuine = note(0)
    forged_id = 10 ** 9
    tamper(f"INSERT INTO {INTAKE} (id, occurred_at, actor_user, actor_org, actor_kind, action, object_type, "
           "object_id, before_digest, after_digest, payload, key_id, content_mac, organization_id) "
           "SELECT %s, occurred_at, actor_user, actor_org, actor_kind, 'user.forged', object_type, object_id, "
           f"before_digest, after_digest, payload, key_id, %s, organization_id FROM {TABLE} WHERE id = %s",
           [forged_id, "f" * 64, genuine.pk])
    with caplog.at_level(logging.ERROR, logger="audit.services"):
        assert services.seal_pending() == 0
    assert f"row {forged_id}" in caplog.text and "does not verify" in caplog.text
    result = verify()
    assert not result.ok and str(result.reason) == "inserted" and result.sequence is None
    assert f"event {forged_id}" in result.message and "user.forged" in result.message
    # Writers go on: the chain grows past the forged row, which never gets a place in it.
    assert note(1).sequence == 2
    assert AuditIntake.objects.filter(pk=forged_id).exists() and not AuditEvent.objects.filter(pk=forged_id).exists()
    with pytest.raises(SystemExit):
        call_command("audit_verify")


@pytest.mark.parametrize("change, reason", [
    ("SET organization_id = %(other)s", "field_changed"),
    ("SET payload = '{\"n\": 99, \"subject_org\": \"ent-x\"}'", "inserted"),
    ("SET key_id = 'k99'", "unknown_key"),
])
def test_an_event_changed_in_the_intake_is_reported(holder, change, reason):
    org = Organization.objects.create(name="Ent X", slug="ent-x", kind=OrganizationKind.ENTERPRISE)
    other = Organization.objects.create(name="Ent Y", slug="ent-y", kind=OrganizationKind.ENTERPRISE)
    note(0, organization=org)
    holder.take()
    waiting = note(1, organization=org)
    tamper(f"UPDATE {INTAKE} {change} WHERE id = %(id)s", {"other": other.pk, "id": waiting.pk})
    result = verify()
    assert not result.ok and str(result.reason) == reason and f"event {waiting.pk}" in result.message, result.message


def test_intake_rows_are_never_updated_and_leave_only_as_their_sealed_event(holder):
    first = note(0)
    holder.take()
    waiting = note(1)
    for statement in (f"UPDATE {INTAKE} SET action = 'x.y' WHERE id = %(id)s",
                      f"DELETE FROM {INTAKE} WHERE id = %(id)s"):
        with pytest.raises(DatabaseError, match="refused"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, {"id": waiting.pk})
    with pytest.raises(DatabaseError, match="refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL presstrust.allow_audit_truncate = 'off'")  # the test suite's flush sets it
            cursor.execute(f"TRUNCATE {INTAKE}")
    # A row copying a chained event's id but not its content cannot be deleted either.
    tamper(f"INSERT INTO {INTAKE} (id, occurred_at, actor_user, actor_org, actor_kind, action, object_type, "
           "object_id, before_digest, after_digest, payload, key_id, content_mac, organization_id) "
           "SELECT id, occurred_at, actor_user, actor_org, actor_kind, 'user.other', object_type, object_id, "
           f"before_digest, after_digest, payload, key_id, %s, organization_id FROM {TABLE} WHERE id = %s",
           ["0" * 64, first.pk])
    with pytest.raises(DatabaseError, match="refused"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {INTAKE} WHERE id = %s", [first.pk])
    tamper(f"DELETE FROM {INTAKE} WHERE id = %s", [first.pk])
    holder.release()
    assert services.seal_pending() == 1 and in_intake(waiting) is None and in_chain(waiting).sequence == 2
    assert verify().ok


def test_sealed_events_appear_in_the_log_once_sealed(holder, world):
    from audit import selectors

    holder.take()
    waiting = note(1, organization=world.ent_a)
    listed = lambda: set(selectors.event_list(user=world.ent_a_auditor).values_list("pk", flat=True))
    assert waiting.pk not in listed()
    holder.release()
    call_command("audit_seal")
    assert waiting.pk in listed()


def test_the_verification_task_seals_what_a_dead_writer_left(holder, world):
    from audit.models import ChainVerification
    from audit.tasks import run_chain_verification

    holder.take()
    waiting = note(1)
    holder.release()  # the writer "died": nobody sealed its event
    assert in_intake(waiting) is not None
    verification = ChainVerification.objects.create(requested_by=world.firm_auditor)
    run_chain_verification(verification.pk)
    verification.refresh_from_db()
    assert verification.status == ChainVerification.Status.INTACT, verification.message
    assert in_chain(waiting) is not None and in_intake(waiting) is None


def test_the_workers_heartbeat_sweeps_the_intake(holder):
    from types import SimpleNamespace

    from portal.celery import HeartbeatStep

    holder.take()
    waiting = note(1)
    holder.release()
    consumer = SimpleNamespace(hostname="sweeper@test", task_consumer=SimpleNamespace(queues=[]))
    HeartbeatStep.beat(None, consumer)
    assert in_chain(waiting) is not None and in_intake(waiting) is None
