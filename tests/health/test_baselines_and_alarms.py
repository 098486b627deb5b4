"""Managers' actions on health: reset a baseline, override thresholds, mark a batch healthy, acknowledge,
resolve and escalation of alarms. Every one is audited; auditors may look but not act."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from audit.models import AuditEvent
from health import services
from health.core.thresholds import ThresholdMonitor
from health.models import HealthAlarm, HealthBaseline, HealthRun
from tests.conftest import task_callbacks
from tests.health.conftest import healthy_then_faulty, ingest, simulated

pytestmark = pytest.mark.django_db


@pytest.fixture
def alarmed(world, press):
    healthy_then_faulty(world, press, healthy=3, faulty=1)
    return HealthAlarm.objects.get()


def _event(action):
    return AuditEvent.objects.filter(action=action).order_by("-sequence").first()


# --- Baselines and thresholds -----------------------------------------------------------------------

def test_baseline_reset_is_audited_and_the_next_batches_form_a_new_one(world, press):
    healthy_then_faulty(world, press, healthy=3, faulty=0)
    baseline = HealthBaseline.objects.get()
    with pytest.raises(PermissionDenied):
        services.baseline_reset(actor=world.ent_a_auditor, baseline=baseline, reason="no")
    services.baseline_reset(actor=world.ent_a_manager, baseline=baseline, reason="bearing replaced")
    baseline.refresh_from_db()
    assert baseline.status == "learning" and baseline.baseline is None and baseline.monitor is None
    assert baseline.generation == 2 and not HealthRun.objects.filter(baseline_member=True).exists()
    event = _event("health.baseline_reset")
    assert event.actor_user == "ent_a_manager" and event.payload["reason"] == "bearing replaced"
    assert event.before_digest and event.after_digest and event.before_digest != event.after_digest

    for index in range(10, 13):
        services.batch_analyze(batch_id=ingest(world, press, simulated(None, seed=index), index=index).pk)
    baseline.refresh_from_db()
    assert baseline.status == "ready"
    assert sorted(HealthRun.objects.filter(baseline_member=True).values_list("batch__started_at__day", flat=True)) \
        == sorted(HealthRun.objects.order_by("-recorded_at")[:3].values_list("batch__started_at__day", flat=True))


def test_thresholds_are_overridden_with_a_reason_and_audited(world, press):
    healthy_then_faulty(world, press, healthy=3, faulty=0)
    baseline = HealthBaseline.objects.get()
    with pytest.raises(ValidationError) as missing:
        services.thresholds_override(actor=world.ent_a_manager, baseline=baseline, warning_z=4, alarm_z=8,
                                     danger_z=16, reason="  ")
    assert "reason" in missing.value.message_dict
    with pytest.raises(ValidationError):
        services.thresholds_override(actor=world.ent_a_manager, baseline=baseline, warning_z=8, alarm_z=4,
                                     danger_z=16, reason="wrong order")
    with pytest.raises(PermissionDenied):
        services.thresholds_override(actor=world.ent_a_auditor, baseline=baseline, warning_z=4, alarm_z=8,
                                     danger_z=16, reason="auditor")
    assert not AuditEvent.objects.filter(action="health.thresholds_override").exists()

    services.thresholds_override(actor=world.ent_a_manager, baseline=baseline, warning_z=4, alarm_z=40,
                                 danger_z=80, reason="forming line noisy after die change")
    baseline.refresh_from_db()
    assert (baseline.thresholds["warning_z"], baseline.thresholds["alarm_z"], baseline.thresholds["danger_z"]) == (4, 40, 80)
    assert ThresholdMonitor.from_dict(baseline.monitor).config.alarm_z == 40
    assert baseline.thresholds_overridden_by == world.ent_a_manager
    event = _event("health.thresholds_override")
    assert event.payload["reason"] == "forming line noisy after die change" and float(event.payload["alarm_z"]) == 40

    # the next analysis decides against the new thresholds
    batch = ingest(world, press, simulated("outer", seed=20, severity=1.0), index=20)
    run = services.batch_analyze(batch_id=batch.pk)[0]
    assert 4 <= run.health_index_z < 40
    assert run.batch_level == 1 and run.level == 1


def test_marking_a_batch_healthy_refits_the_baseline_on_the_worker(world, press, django_capture_on_commit_callbacks):
    healthy_then_faulty(world, press, healthy=4, faulty=0)
    baseline = HealthBaseline.objects.get()
    fourth = HealthRun.objects.get(baseline_member=False)
    windows_before = baseline.baseline["n_windows"]
    with pytest.raises(PermissionDenied):
        services.batch_mark_healthy(actor=world.ent_a_auditor, batch=fourth.batch)
    with django_capture_on_commit_callbacks() as callbacks:
        services.batch_mark_healthy(actor=world.ent_a_manager, batch=fourth.batch)
    assert len(task_callbacks(callbacks)) == 1  # the refit task, queued on the enterprise's queue after commit
    assert _event("health.baseline_mark_healthy").payload["channels"] == ["accel"]
    with pytest.raises(ValidationError):
        services.batch_mark_healthy(actor=world.ent_a_manager, batch=fourth.batch)

    services.baseline_refit(baseline_id=baseline.pk)  # what the task runs
    baseline.refresh_from_db()
    assert baseline.baseline["n_windows"] > windows_before
    assert HealthRun.objects.filter(baseline_member=True).count() == 4
    assert _event("health.baseline_fit").payload["members"] == sorted(
        HealthRun.objects.filter(baseline_member=True).values_list("batch_id", flat=True))


# --- Alarms -----------------------------------------------------------------------------------------

def test_acknowledge_and_resolve_need_a_comment_and_are_audited(world, alarmed):
    for service in (services.alarm_acknowledge, services.alarm_resolve):
        with pytest.raises(ValidationError) as error:
            service(actor=world.ent_a_manager, alarm=alarmed, comment="   ")
        assert "comment" in error.value.message_dict
        with pytest.raises(PermissionDenied):
            service(actor=world.ent_a_auditor, alarm=alarmed, comment="looked at it")
    assert not AuditEvent.objects.filter(action__in=["health.alarm_acknowledge", "health.alarm_resolve"]).exists()

    services.alarm_acknowledge(actor=world.ent_a_manager, alarm=alarmed, comment="Bearing inspection booked")
    alarmed.refresh_from_db()
    assert alarmed.status == "acknowledged" and alarmed.acknowledged_by == world.ent_a_manager
    assert _event("health.alarm_acknowledge").payload["comment"] == "Bearing inspection booked"
    with pytest.raises(ValidationError):
        services.alarm_acknowledge(actor=world.ent_a_manager, alarm=alarmed, comment="again")

    services.alarm_resolve(actor=world.ent_a_manager, alarm=alarmed, comment="Bearing replaced")
    alarmed.refresh_from_db()
    assert alarmed.status == "resolved" and alarmed.resolve_comment == "Bearing replaced"
    event = _event("health.alarm_resolve")
    assert event.actor_user == "ent_a_manager" and event.object_id == str(alarmed.pk)
    with pytest.raises(ValidationError):
        services.alarm_resolve(actor=world.ent_a_manager, alarm=alarmed, comment="again")


def test_a_higher_level_reopens_the_channels_alarm_instead_of_adding_one(world, press):
    healthy_then_faulty(world, press, healthy=3, faulty=0)
    services.batch_analyze(batch_id=ingest(world, press, simulated("outer", seed=30, severity=0.7), index=30).pk)
    alarm = HealthAlarm.objects.get()
    assert alarm.level in (1, 2)
    services.alarm_acknowledge(actor=world.ent_a_manager, alarm=alarm, comment="watching")
    services.batch_analyze(batch_id=ingest(world, press, simulated("outer", seed=32, severity=1.5), index=32).pk)
    alarm.refresh_from_db()
    assert HealthAlarm.objects.count() == 1
    assert alarm.level == 3 and alarm.status == "open" and alarm.acknowledged_at is None
    assert AuditEvent.objects.filter(action="health.alarm_raise", object_id=str(alarm.pk)).count() == 2


def test_unacknowledged_alarms_are_escalated_and_managers_told(world, alarmed, django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    other = UserFactory(organization=world.ent_a, role="enterprise_manager", username="second_manager")
    assert other.email
    now = timezone.now()
    assert services.alarms_escalate(now=now, after=dt.timedelta(hours=24)) == []
    with django_capture_on_commit_callbacks(execute=True):
        escalated = services.alarms_escalate(now=now + dt.timedelta(hours=25), after=dt.timedelta(hours=24))
    assert [alarm.pk for alarm in escalated] == [alarmed.pk]
    alarmed.refresh_from_db()
    assert alarmed.status == "escalated" and alarmed.escalated_at is not None
    event = _event("health.alarm_escalate")
    assert event.actor_kind == "system" and float(event.payload["unacknowledged_hours"]) >= 25
    assert sorted(message.to[0] for message in mail.outbox) == sorted([world.ent_a_manager.email, other.email])
    assert "Line 1 press" in mail.outbox[0].subject
    # escalated once only; acknowledging still works
    assert services.alarms_escalate(now=now + dt.timedelta(hours=50), after=dt.timedelta(hours=24)) == []
    services.alarm_acknowledge(actor=world.ent_a_manager, alarm=alarmed, comment="on it")


def test_escalation_command_and_task(world, alarmed):
    from io import StringIO

    from health.tasks import escalate_alarms

    HealthAlarm.objects.filter(pk=alarmed.pk).update(raised_at=timezone.now() - dt.timedelta(hours=3))
    out = StringIO()
    call_command("health_escalate_alarms", stdout=out)
    assert "0 alarm(s) escalated" in out.getvalue()  # default: 24 hours
    with override_settings(HEALTH_ALARM_ESCALATE_AFTER_HOURS=2):
        assert escalate_alarms.run() == 1
    out = StringIO()
    HealthAlarm.objects.filter(pk=alarmed.pk).update(status="open")
    call_command("health_escalate_alarms", "--after-hours", "1", stdout=out)
    assert f"escalated alarm {alarmed.pk}" in out.getvalue()
