"""The one Celery app.

Queues: ``default``, ``aggregation`` and one ``participant.<org-slug>`` queue per participant
organisation, so that in a federated deployment each enterprise runs a worker next to its own data
(``celery -A portal worker -Q participant.acme``). The embedded shape runs a single worker with
``--all-participants``, which also picks up queues of organisations onboarded after it started.
"""
from __future__ import annotations

import os

from celery import Celery, bootsteps
from celery.signals import worker_ready, worker_shutdown
from click import Option

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

AGGREGATION_QUEUE = "aggregation"
DEFAULT_QUEUE = "default"


def participant_queue(org_slug: str) -> str:
    """The queue a participant organisation's own worker consumes."""
    return f"participant.{org_slug}"


app.user_options["worker"].add(
    Option(
        ["--all-participants"],
        is_flag=True,
        default=False,
        help="Also consume every participant queue, including ones created while running (single site).",
    )
)


class ParticipantQueuesStep(bootsteps.StartStopStep):
    """Keeps a single-site worker subscribed to every participant organisation's queue."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, all_participants: bool = False, **kwargs):
        super().__init__(parent, **kwargs)
        self.enabled = bool(all_participants)
        self.timer = None

    def start(self, consumer):
        self.refresh(consumer)
        self.timer = consumer.timer.call_repeatedly(5.0, self.refresh, (consumer,), priority=10)

    def stop(self, consumer):
        if self.timer is not None:
            self.timer.cancel()

    def refresh(self, consumer):
        from accounts.selectors import participant_queue_names

        consumed = {queue.name for queue in consumer.task_consumer.queues}
        for name in participant_queue_names():
            if name not in consumed:
                consumer.add_task_queue(name)


app.steps["consumer"].add(ParticipantQueuesStep)


class HeartbeatStep(bootsteps.StartStopStep):
    """Writes this worker's liveness and queues to the database, for the portal's health check."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer = None

    def start(self, consumer):
        from django.conf import settings

        self.beat(consumer)
        self.timer = consumer.timer.call_repeatedly(
            float(settings.WORKER_HEARTBEAT_SECONDS), self.beat, (consumer,), priority=10
        )

    def stop(self, consumer):
        if self.timer is not None:
            self.timer.cancel()

    def beat(self, consumer):
        from portal.services import worker_heartbeat_record

        queues = sorted(queue.name for queue in consumer.task_consumer.queues)
        try:
            worker_heartbeat_record(hostname=consumer.hostname, queues=queues)
        except Exception:  # the database may be briefly unavailable; the next beat retries
            import logging

            logging.getLogger(__name__).warning("worker heartbeat failed", exc_info=True)
        try:  # audit events whose writer died between their commit and their sealing
            from audit.services import seal_pending

            seal_pending(wait=False)
        except Exception:
            import logging

            logging.getLogger(__name__).warning("audit sealing sweep failed", exc_info=True)


app.steps["consumer"].add(HeartbeatStep)


@worker_ready.connect
def _close_inherited_connections(**_kwargs):
    from django.db import connections

    connections.close_all()


@worker_shutdown.connect
def _mark_stopped(sender=None, **_kwargs):
    try:
        from portal.services import worker_heartbeat_stop

        worker_heartbeat_stop(hostname=getattr(sender, "hostname", ""))
    except Exception:
        pass
