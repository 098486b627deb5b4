"""The stored chain: same-transaction recording, append-only, tampering pinpointed, key rotation."""
from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from accounts import services as accounts_services
from audit import services
from audit.models import AuditEvent
from audit.verification import verify_stored_chain
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db


def tamper(sql: str, params=()) -> None:
    """Edit the table the way an attacker with database access would (bypassing the trigger)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def _chain_of(world, n_extra: int = 5):
    for index in range(n_extra):
        accounts_services.user_set_language(user=world.ent_a_manager, language=("zh-hans", "en")[index % 2])
    return AuditEvent.objects.count()


def _verify():
    return verify_stored_chain(services.keyring())


def test_change_and_event_commit_or_roll_back_together(world):
    before = AuditEvent.objects.count()

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transaction.atomic():
            accounts_services.user_set_language(user=world.ent_a_manager, language="zh-hans")
            raise Boom
    assert AuditEvent.objects.count() == before
    world.ent_a_manager.refresh_from_db()
    assert world.ent_a_manager.language == "en"


@pytest.mark.parametrize("step", ["prepare_event", "link_event"])
def test_a_failed_event_write_fails_the_change(world, monkeypatch, step):
    import audit.services as audit_services

    def broken_step(*args, **kwargs):
        raise ValueError("cannot seal")

    monkeypatch.setattr(audit_services, step, broken_step)
    with pytest.raises(ValueError):
        accounts_services.user_set_language(user=world.ent_a_manager, language="zh-hans")
    world.ent_a_manager.refresh_from_db()
    assert world.ent_a_manager.language == "en"


@pytest.mark.django_db(transaction=True)
def test_record_refuses_to_run_outside_a_transaction():
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the transaction"):
        services.record(actor=None, action="system.note")
    assert not AuditEvent.objects.exists()


def test_events_are_gap_free_and_intact(world):
    total = _chain_of(world)
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, total + 1))
    result = _verify()
    assert result.ok and result.count == total
    assert "intact" in result.message


@pytest.mark.parametrize("case, expected_reason", [
    ("field", "field_changed"),
    ("delete", "missing"),
    ("insert", "inserted"),
    ("swap", "reordered"),
    ("unknown_key", "unknown_key"),
    ("organization_column", "field_changed"),
    ("cut_tail", "missing"),
])
def test_tampering_is_detected_and_pinpointed(world, case, expected_reason):
    total = _chain_of(world)
    target = 5
    table = AuditEvent._meta.db_table
    if case == "field":
        tamper(f"UPDATE {table} SET action = 'user.harmless' WHERE sequence = %s", [target])
    elif case == "delete":
        tamper(f"DELETE FROM {table} WHERE sequence = %s", [target])
    elif case == "insert":
        tamper(f"UPDATE {table} SET sequence = sequence + 1000 WHERE sequence >= %s", [target])
        tamper(f"UPDATE {table} SET sequence = sequence - 999 WHERE sequence >= %s", [target + 1000])
        forged = AuditEvent.objects.get(sequence=target + 1)
        tamper(f"INSERT INTO {table} (sequence, occurred_at, actor_user, actor_org, actor_kind, action, object_type, "
               f"object_id, before_digest, after_digest, payload, key_id, prev_mac, mac, organization_id) "
               f"SELECT %s, occurred_at, actor_user, actor_org, actor_kind, 'user.forged', object_type, object_id, "
               f"before_digest, after_digest, payload, key_id, prev_mac, %s, organization_id FROM {table} "
               f"WHERE sequence = %s", [target, "f" * 64, forged.sequence])
    elif case == "swap":
        tamper(f"UPDATE {table} SET sequence = -1 WHERE sequence = %s", [target])
        tamper(f"UPDATE {table} SET sequence = %s WHERE sequence = %s", [target, target + 1])
        tamper(f"UPDATE {table} SET sequence = %s WHERE sequence = -1", [target + 1])
    elif case == "unknown_key":
        tamper(f"UPDATE {table} SET key_id = 'k99' WHERE sequence = %s", [target])
    elif case == "organization_column":  # the last event is ent_a's; move it into ent_b's log
        target = total
        tamper(f"UPDATE {table} SET organization_id = %s WHERE sequence = %s", [world.ent_b.pk, target])
    elif case == "cut_tail":
        tamper(f"DELETE FROM {table} WHERE sequence = %s", [total])
        target = total
    result = _verify()
    assert not result.ok
    assert (str(result.reason), result.sequence) == (expected_reason, target), result.message


def test_audit_verify_command_exits_non_zero_on_a_break(world, capsys):
    _chain_of(world)
    call_command("audit_verify")
    assert "chain intact" in capsys.readouterr().out
    tamper(f"UPDATE {AuditEvent._meta.db_table} SET payload = %s WHERE sequence = 3", ['{"subject_org": null}'])
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit_verify")
    assert exit_info.value.code == 1
    assert "broken at event 3" in capsys.readouterr().err


def test_rotated_keys_keep_old_events_verifiable(world, settings):
    from audit.core.keyring import Keyring

    _chain_of(world, 3)
    rotated = services.keyring().with_new_key("k2").to_env()
    settings.AUDIT_HMAC_KEYS, settings.AUDIT_HMAC_CURRENT = rotated["AUDIT_HMAC_KEYS"], rotated["AUDIT_HMAC_CURRENT"]
    _chain_of(world, 3)
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {"k1", "k2"}
    assert _verify().ok
    # A keyring that lost the old key cannot vouch for the old events.
    only_new = Keyring.parse(rotated["AUDIT_HMAC_KEYS"].split(",")[0], "k2")
    assert str(verify_stored_chain(only_new).reason) == "unknown_key"


def test_rotate_command_prints_the_new_environment(world):
    from io import StringIO

    out = StringIO()
    call_command("audit_rotate_key", stdout=out)
    text = out.getvalue()
    assert "AUDIT_HMAC_CURRENT=k2" in text and "AUDIT_HMAC_KEYS=k2:" in text and ",k1:" in text


def test_postgres_rejects_update_delete_truncate(world, postgres_required):
    from django.db import DatabaseError

    _chain_of(world, 1)
    for statement in (f"UPDATE {AuditEvent._meta.db_table} SET action = 'x'",
                      f"DELETE FROM {AuditEvent._meta.db_table}"):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL presstrust.allow_audit_truncate = 'off'")
            cursor.execute(f"TRUNCATE {AuditEvent._meta.db_table}")
    assert AuditEvent.objects.count() > 0


def test_verify_bundle_cli_is_documented_in_the_module(world):
    result = subprocess.run([sys.executable, "-m", "audit.core.verify_bundle", "--help"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "BUNDLE" in result.stdout.upper()
