from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One link of the HMAC-chained, append-only audit log (see ``audit.core.chain``).

    The chained fields are exactly those of ``audit.core.chain.ChainEvent``; ``organization`` (whose
    log the event belongs to, for auditor scoping) is mirrored in the MACed payload as ``subject_org``.
    The application never updates or deletes a row; on PostgreSQL a trigger enforces it.
    """

    sequence = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_user = models.CharField(max_length=150, null=True, blank=True)
    actor_org = models.CharField(max_length=60, null=True, blank=True)
    actor_kind = models.CharField(max_length=10)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    before_digest = models.CharField(max_length=64, blank=True)
    after_digest = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    key_id = models.CharField(max_length=32)
    prev_mac = models.CharField(max_length=64)
    mac = models.CharField(max_length=64)
    # Not chained columns: indexes for scoping and filtering (their values are inside the MAC too).
    organization = models.ForeignKey("accounts.Organization", on_delete=models.DO_NOTHING, null=True,
                                     blank=True, db_constraint=False, related_name="+")

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["object_type", "object_id"]), models.Index(fields=["organization", "sequence"])]
        verbose_name = _("audit event")
        permissions = [("verify_chain", "Can verify the whole audit chain")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"


class AuditIntake(models.Model):
    """An event recorded while another transaction held the chain (PostgreSQL only; see
    ``audit.services.record``): written in the transaction of its change, with everything but its place
    in the chain and ``content_mac`` (HMAC of the content, ``audit.core.chain.compute_content_mac``)
    proving a holder of the key wrote it. Right after that transaction commits, the event moves into
    ``AuditEvent`` with the same id, sealed, and leaves the intake. A trigger refuses UPDATE, and
    DELETE of a row whose event is not in the chain with exactly its content.
    """

    id = models.BigIntegerField(primary_key=True)  # from AuditEvent's id sequence: the event keeps it
    occurred_at = models.DateTimeField()
    actor_user = models.CharField(max_length=150, null=True, blank=True)
    actor_org = models.CharField(max_length=60, null=True, blank=True)
    actor_kind = models.CharField(max_length=10)
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64)
    before_digest = models.CharField(max_length=64, blank=True)
    after_digest = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    key_id = models.CharField(max_length=32)
    content_mac = models.CharField(max_length=64)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.DO_NOTHING, null=True,
                                     blank=True, db_constraint=False, related_name="+")

    class Meta:
        ordering = ["id"]
        verbose_name = _("audit event awaiting sealing")

    def __str__(self) -> str:
        return f"(unsealed #{self.pk}) {self.action}"


class AuditChainHead(models.Model):
    """The last sealed event. On PostgreSQL whoever moves it holds the chain's advisory lock
    (``audit.services.CHAIN_LOCK``) until its transaction ends; elsewhere it is locked FOR UPDATE."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_sequence = models.BigIntegerField(default=0)
    last_mac = models.CharField(max_length=64)


class ChainVerification(models.Model):
    """One run of the chain verification an auditor asked for (runs on a worker; progress is polled)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        INTACT = "intact", _("Chain intact")
        BROKEN = "broken", _("Chain broken")
        FAILED = "failed", _("Failed")

    requested_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.BigIntegerField(default=0)
    checked = models.BigIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    broken_sequence = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]

    @property
    def progress_percent(self) -> int:
        if self.status in (self.Status.INTACT, self.Status.BROKEN):
            return 100
        return int(100 * self.checked / self.total) if self.total else 0
