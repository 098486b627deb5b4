from celery import shared_task
from django.utils import timezone

from .models import WorkerProbe


@shared_task(bind=True, acks_late=True)
def answer_worker_probe(self, probe_id: int) -> None:
    """Runs on the participant's own queue; marking the probe answered proves that worker is alive."""
    WorkerProbe.objects.filter(pk=probe_id, answered_at__isnull=True).update(
        answered_at=timezone.now(), answered_by=self.request.hostname or "")
