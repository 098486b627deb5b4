from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker reported itself alive, and which queues it consumes."""

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.JSONField(default=list)
    last_seen = models.DateTimeField()
    stopped = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("worker heartbeat")

    def __str__(self) -> str:
        return self.hostname


class WorkerProbe(models.Model):
    """An admin's check that a participant's worker is consuming its queue: the worker answers it."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    queue = models.CharField(max_length=120)
    requested_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-requested_at"]
