"""Health of presses: analysis runs per batch and channel, baselines and thresholds per operating
condition, the press's current state and trend, and alarms.

Rows are written only by ``health.services`` (each change audited in its transaction). Who may read
them follows the press: the enterprise's managers and auditors see everything (``devices.view_press``),
a lender with a live health share sees the press's level and trend only (``devices.selectors.press_health_list``).
"""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .labels import LEVEL_CHOICES


class PressHealthState(models.Model):
    """The press's current health and its recent trend; its row lock serialises every change to the
    press's baselines, thresholds and alarms (``version`` tells an analysis that its plan went stale)."""

    press = models.OneToOneField("devices.Press", on_delete=models.CASCADE, primary_key=True,
                                 related_name="health_state")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    level = models.PositiveSmallIntegerField(_("level"), choices=LEVEL_CHOICES, default=0)
    health_index_z = models.FloatField(_("health index (z)"), null=True, blank=True)
    last_batch = models.ForeignKey("devices.SensorBatch", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    last_recorded_at = models.DateTimeField(null=True, blank=True)
    # The last points of the press's series: [[iso time, largest channel z or null, level], ...], oldest first.
    trend = models.JSONField(default=list)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("press health")


class HealthBaseline(models.Model):
    """The healthy baseline and adaptive thresholds of one channel of a press in one operating condition.

    ``baseline`` is the core's ``HealthyBaseline.to_dict()`` (None while learning); ``thresholds`` the
    core's ``ThresholdConfig.to_dict()``; ``monitor`` the core's ``ThresholdMonitor.to_dict()`` (None
    until the baseline is fitted). The runs that formed it carry ``baseline_member``.
    """

    class Status(models.TextChoices):
        LEARNING = "learning", _("Learning")
        READY = "ready", _("Ready")

    press = models.ForeignKey("devices.Press", on_delete=models.CASCADE, related_name="health_baselines")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    channel_name = models.CharField(_("channel"), max_length=60)
    condition_key = models.CharField(max_length=120)
    sampling_rate_hz = models.FloatField(_("sampling rate (Hz)"))
    stroke_rate_low_spm = models.FloatField(null=True, blank=True)
    stroke_rate_high_spm = models.FloatField(null=True, blank=True)
    load_low_percent = models.FloatField(null=True, blank=True)
    load_high_percent = models.FloatField(null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.LEARNING)
    target_batches = models.PositiveSmallIntegerField(_("batches that form the baseline"))
    baseline = models.JSONField(null=True, blank=True)
    thresholds = models.JSONField()
    monitor = models.JSONField(null=True, blank=True)
    fitted_at = models.DateTimeField(null=True, blank=True)
    generation = models.PositiveIntegerField(default=1)
    thresholds_overridden_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                                 blank=True, related_name="+")
    thresholds_overridden_at = models.DateTimeField(null=True, blank=True)
    thresholds_override_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["press", "channel_name", "condition_key"]
        constraints = [models.UniqueConstraint(fields=["press", "channel_name", "condition_key"],
                                               name="health_baseline_per_condition")]
        verbose_name = _("health baseline")


class HealthRun(models.Model):
    """The analysis of one channel of one batch (the natural key ``(batch, channel_name)`` makes the
    task an upsert: a redelivered or restarted task lands on the same row)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    batch = models.ForeignKey("devices.SensorBatch", on_delete=models.CASCADE, related_name="health_runs")
    press = models.ForeignKey("devices.Press", on_delete=models.CASCADE, related_name="health_runs")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    channel_name = models.CharField(_("channel"), max_length=60)
    component = models.ForeignKey("devices.Component", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    component_name = models.CharField(max_length=120, blank=True)
    recorded_at = models.DateTimeField(_("recorded at"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    baseline = models.ForeignKey(HealthBaseline, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="runs")
    baseline_member = models.BooleanField(default=False)
    shaft_hz = models.FloatField(null=True, blank=True)
    indicators = models.JSONField(default=dict)  # {name: {"time": v, "cyclic": v}}
    band = models.JSONField(default=dict)  # {center_hz, bandwidth_hz, low_hz, high_hz, level, method, value}
    faults = models.JSONField(default=list)  # strongest first
    ses_peaks = models.JSONField(default=list)
    health_index = models.FloatField(null=True, blank=True)
    health_index_z = models.FloatField(_("health index (z)"), null=True, blank=True)
    window_health_indices = models.JSONField(default=list)  # the index of each analysis window of the batch
    batch_level = models.PositiveSmallIntegerField(null=True, blank=True)  # the core's verdict on this batch alone
    level = models.PositiveSmallIntegerField(_("level"), choices=LEVEL_CHOICES, null=True, blank=True)
    level_reasons = models.JSONField(default=list)
    threshold_decision = models.JSONField(null=True, blank=True)
    advice_key = models.CharField(max_length=80, blank=True)
    iso_zone = models.JSONField(null=True, blank=True)
    notes = models.JSONField(default=list)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at", "channel_name"]
        constraints = [models.UniqueConstraint(fields=["batch", "channel_name"], name="health_run_per_channel")]
        indexes = [models.Index(fields=["press", "recorded_at"]), models.Index(fields=["press", "status"])]
        verbose_name = _("health run")

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def top_fault(self) -> dict | None:
        significant = [fault for fault in self.faults if fault.get("significant")]
        return significant[0] if significant else None


class HealthRunChart(models.Model):
    """The chart data of a run (SES with the fault frequencies looked for, the kurtogram), kept apart so
    the time-series queries never load it."""

    run = models.OneToOneField(HealthRun, on_delete=models.CASCADE, primary_key=True, related_name="chart")
    ses = models.JSONField(default=dict)  # {"frequency_hz": [...], "amplitude": [...]}
    kurtogram = models.JSONField(default=dict)
    fault_candidates = models.JSONField(default=list)


class HealthAlarm(models.Model):
    """Raised when a channel's level rises; acknowledged and resolved by the enterprise's managers."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ESCALATED = "escalated", _("Escalated")
        RESOLVED = "resolved", _("Resolved")

    UNRESOLVED = (Status.OPEN, Status.ACKNOWLEDGED, Status.ESCALATED)

    press = models.ForeignKey("devices.Press", on_delete=models.CASCADE, related_name="health_alarms")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    channel_name = models.CharField(_("channel"), max_length=60)
    run = models.ForeignKey(HealthRun, on_delete=models.PROTECT, related_name="alarms")
    status = models.CharField(_("status"), max_length=15, choices=Status.choices, default=Status.OPEN)
    level = models.PositiveSmallIntegerField(_("level"), choices=LEVEL_CHOICES)
    component = models.CharField(max_length=20)  # bearing, gear, press, iso, general
    fault = models.CharField(max_length=20)  # outer_race, inner_race, ball, cage, mesh, tooth, stroke, ...
    fault_label = models.CharField(max_length=20, blank=True)  # BPFO, BPFI, 2xBSF, ...
    fault_hz = models.FloatField(null=True, blank=True)
    component_name = models.CharField(max_length=120, blank=True)
    advice_key = models.CharField(max_length=80)
    raised_at = models.DateTimeField(_("raised"))
    first_raised_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledge_comment = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolve_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["press", "status"]), models.Index(fields=["status", "raised_at"])]
        verbose_name = _("health alarm")

    @property
    def is_resolved(self) -> bool:
        return self.status == self.Status.RESOLVED
