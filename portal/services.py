"""Portal-wide services: worker heartbeats and the system health report."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import WorkerHeartbeat


def worker_heartbeat_record(*, hostname: str, queues: list[str]) -> None:
    # Operational telemetry, not a domain state change: deliberately not audited (it would flood the log).
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"queues": queues, "last_seen": timezone.now(), "stopped": False}
    )


def worker_heartbeat_stop(*, hostname: str) -> None:
    WorkerHeartbeat.objects.filter(hostname=hostname).update(stopped=True)


def system_health() -> dict:
    """Database, broker and worker status for the health-check endpoint."""
    report: dict = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # reported, not raised: the endpoint must answer when parts are down
        report["database"] = {"ok": False, "error": str(exc)}

    from portal.celery import app

    try:
        broker_url = settings.CELERY_BROKER_URL
        with app.connection_for_write(broker_url) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        report["broker"] = {"ok": True, "transport": broker_url.split("://", 1)[0]}
    except Exception as exc:
        report["broker"] = {"ok": False, "error": str(exc)}

    workers = []
    if report["database"]["ok"]:
        fresh_after = timezone.now() - timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS)
        for beat in WorkerHeartbeat.objects.filter(stopped=False, last_seen__gte=fresh_after).order_by("hostname"):
            workers.append({"hostname": beat.hostname, "queues": beat.queues, "last_seen": beat.last_seen.isoformat()})
    report["workers"] = {"ok": bool(workers), "alive": workers}
    report["ok"] = all(part["ok"] for part in (report["database"], report["broker"], report["workers"]))
    return report


def worker_probe_request(*, actor, organization) -> "WorkerProbe":
    """Ask ``organization``'s worker to answer on its own queue (after commit)."""
    from django.core.exceptions import PermissionDenied
    from django.db import transaction

    from .models import WorkerProbe
    from .tasks import answer_worker_probe

    if not actor.has_perm("accounts.manage_organization"):
        raise PermissionDenied
    with transaction.atomic():
        probe = WorkerProbe.objects.create(organization=organization, queue=organization.queue_name)
        transaction.on_commit(lambda: answer_worker_probe.apply_async(args=[probe.pk], queue=probe.queue))
    return probe
