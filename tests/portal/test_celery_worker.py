"""Celery wiring against a real worker process (Redis in CI), never eager mode."""
from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import WorkerHeartbeat, WorkerProbe
from portal.services import worker_probe_request
from tests.conftest import start_worker, wait_for
from tests.fixtures import build_world

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_participant_queue_reaches_a_real_worker_after_commit(celery_worker_process, settings):
    world = build_world()
    probe = worker_probe_request(actor=world.admin, organization=world.ent_a)
    assert probe.queue == "participant.ent-a"
    answered = wait_for(lambda: WorkerProbe.objects.filter(pk=probe.pk, answered_at__isnull=False).first(),
                        timeout=45, message="the participant worker to answer the probe")
    assert answered.answered_by.startswith("test-")


def test_probe_of_a_rolled_back_transaction_is_never_sent(celery_worker_process):
    from django.db import transaction

    world = build_world()

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        with transaction.atomic():
            worker_probe_request(actor=world.admin, organization=world.ent_b)
            raise Abort
    assert not WorkerProbe.objects.exists()


def test_health_check_reports_database_broker_and_worker(celery_worker_process, client):
    wait_for(lambda: WorkerHeartbeat.objects.filter(hostname__startswith="test-").exists(), timeout=30,
             message="a worker heartbeat")
    report = client.get(reverse("healthz")).json()
    assert report["database"]["ok"] and report["broker"]["ok"]
    assert any(w["hostname"].startswith("test-") for w in report["workers"]["alive"])
    assert report["ok"] is True


def test_services_are_the_production_ones_in_ci(settings):
    from tests.conftest import IN_CI

    if IN_CI:
        assert settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    else:
        assert settings.DATABASES["default"]["ENGINE"].endswith(("postgresql", "sqlite3"))


def test_the_worker_uses_only_this_test_process_broker(celery_worker_process, settings):
    """Parallel test processes each have their own broker; Celery must not fall back to a shared one
    (it prefers the CELERY_BROKER_URL environment variable over the setting)."""
    from portal.celery import app

    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        wait_for(lambda: "Connected to " in celery_worker_process.log(), timeout=30, message="the worker to connect")
        connected = celery_worker_process.log().split("Connected to ", 1)[1].split()[0]
        assert connected.rsplit("/", 1)[1] == settings.CELERY_BROKER_URL.rsplit("/", 1)[1]
        assert "mingle: sync with" not in celery_worker_process.log()  # no other test worker shares it


def test_a_worker_can_serve_a_single_participant_queue(celery_worker_process, tmp_path):
    """A site runs its own worker on its own queue only (``celery -A portal worker -Q participant.<slug>``)."""
    build_world()
    name = f"single-{celery_worker_process.name}"
    worker = start_worker(env=celery_worker_process.env, name=name, log_path=tmp_path / "single.log",
                          queue_args=["-Q", "participant.ent-a"])
    try:
        beat = wait_for(lambda: WorkerHeartbeat.objects.filter(hostname__startswith="single-test-").first(),
                        timeout=30, message="the single-queue worker's heartbeat")
        assert beat.queues == ["participant.ent-a"]
        assert worker.process.poll() is None
    finally:
        worker.stop()
