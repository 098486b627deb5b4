"""Celery tasks of press health: ids in, rows re-read, a service does the work.

``analyze_batch`` and ``refit_baseline`` run on the enterprise's own queue (``participant.<org-slug>``),
next to its data; both are idempotent upserts, so they run with ``acks_late`` and a worker killed
mid-task loses nothing (the message is delivered again). ``escalate_alarms`` runs periodically on the
default queue (Celery beat) and as ``manage.py health_escalate_alarms``.
"""
from __future__ import annotations

from celery import shared_task

from portal.celery import DEFAULT_QUEUE, app

from . import conf


@shared_task(name="health.analyze_batch", acks_late=True, reject_on_worker_lost=True)
def analyze_batch(batch_id: int) -> None:
    from .services import batch_analyze

    batch_analyze(batch_id=batch_id)


@shared_task(name="health.refit_baseline", acks_late=True, reject_on_worker_lost=True)
def refit_baseline(baseline_id: int) -> None:
    from .services import baseline_refit

    baseline_refit(baseline_id=baseline_id)


@shared_task(name="health.escalate_alarms", acks_late=True)
def escalate_alarms() -> int:
    from .services import alarms_escalate

    return len(alarms_escalate())


# Celery beat runs the escalation check; the schedule lives with the task it schedules.
app.conf.beat_schedule = {
    **(app.conf.beat_schedule or {}),
    "health-escalate-alarms": {"task": "health.escalate_alarms", "schedule": conf.escalation_check_seconds(),
                               "options": {"queue": DEFAULT_QUEUE}},
}
