from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Press(models.Model):
    """A stamping press of an enterprise. Never hard-deleted once it has data: it is retired."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("In service")
        RETIRED = "retired", _("Retired")

    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="presses")
    name = models.CharField(_("name"), max_length=120)
    site = models.CharField(_("site"), max_length=120)
    make = models.CharField(_("make"), max_length=120)
    model = models.CharField(_("model"), max_length=120)
    rated_tonnage_t = models.DecimalField(_("rated tonnage (t)"), max_digits=8, decimal_places=1)
    stroke_rate_min_spm = models.DecimalField(_("minimum stroke rate (strokes/min)"), max_digits=6, decimal_places=1)
    stroke_rate_max_spm = models.DecimalField(_("maximum stroke rate (strokes/min)"), max_digits=6, decimal_places=1)
    commissioned_on = models.DateField(_("commissioning date"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="press_name_per_enterprise")]
        permissions = [
            ("upload_batch", "Can upload sensor batches to the press"),
            ("download_samples", "Can read the press's raw samples"),
            ("view_press_health", "Can see the press's health level, trend and predictions"),
        ]
        verbose_name = _("press")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Component(models.Model):
    """A monitored component, with the geometry its fault frequencies need."""

    class Kind(models.TextChoices):
        MAIN_BEARING = "main_bearing", _("Main bearing")
        CRANK_BEARING = "crank_bearing", _("Crank bearing")
        GEAR = "gear", _("Gear")
        SLIDE = "slide", _("Slide")

    press = models.ForeignKey(Press, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # Shaft revolutions per press stroke (1 for the crankshaft; higher for flywheel or motor shafts).
    shaft_revolutions_per_stroke = models.DecimalField(_("shaft revolutions per stroke"), max_digits=8,
                                                       decimal_places=4, default=1)
    ball_count = models.PositiveSmallIntegerField(_("number of rolling elements"), null=True, blank=True)
    ball_diameter_mm = models.DecimalField(_("rolling element diameter (mm)"), max_digits=8, decimal_places=3,
                                           null=True, blank=True)
    pitch_diameter_mm = models.DecimalField(_("pitch diameter (mm)"), max_digits=8, decimal_places=3, null=True,
                                            blank=True)
    contact_angle_deg = models.DecimalField(_("contact angle (degrees)"), max_digits=5, decimal_places=2,
                                            null=True, blank=True)
    gear_teeth = models.PositiveSmallIntegerField(_("gear teeth"), null=True, blank=True)

    class Meta:
        ordering = ["press", "name"]
        constraints = [models.UniqueConstraint(fields=["press", "name"], name="component_name_per_press")]
        verbose_name = _("component")

    def __str__(self) -> str:
        return self.name


class Channel(models.Model):
    class Kind(models.TextChoices):
        ACCELERATION = "acceleration", _("Acceleration")
        VELOCITY = "velocity", _("Velocity")
        DISPLACEMENT = "displacement", _("Displacement")
        CURRENT = "current", _("Motor current")
        PRESSURE = "pressure", _("Pressure")
        FORCE = "force", _("Force")
        TRIGGER = "trigger", _("Stroke trigger")

    press = models.ForeignKey(Press, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(_("name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    unit = models.CharField(_("unit"), max_length=20)
    location = models.CharField(_("location"), max_length=200, blank=True)
    component = models.ForeignKey(Component, on_delete=models.SET_NULL, null=True, blank=True, related_name="channels")

    class Meta:
        ordering = ["press", "name"]
        constraints = [models.UniqueConstraint(fields=["press", "name"], name="channel_name_per_press")]
        verbose_name = _("channel")

    def __str__(self) -> str:
        return f"{self.name} ({self.unit})"


class SensorBatch(models.Model):
    """One accepted upload: validated whole, stored compressed (float32) in the enterprise's area."""

    press = models.ForeignKey(Press, on_delete=models.PROTECT, related_name="batches")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    original_filename = models.CharField(max_length=255)
    file_format = models.CharField(max_length=10)
    size_bytes = models.BigIntegerField()
    content_hash = models.CharField(max_length=64)
    storage_path = models.CharField(max_length=500)
    sampling_rate_hz = models.FloatField()
    started_at = models.DateTimeField()
    stroke_rate_spm = models.FloatField(null=True, blank=True)
    load_percent = models.FloatField(null=True, blank=True)
    shaft_rpm = models.FloatField(null=True, blank=True)
    sample_count = models.BigIntegerField()
    duration_s = models.FloatField()
    channel_names = models.JSONField(default=list)
    channel_summary = models.JSONField(default=list)  # [{name, unit, rms, peak, crest_factor}]
    warnings = models.JSONField(default=list)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["press", "content_hash"], name="batch_once_per_press")]
        verbose_name = _("sensor batch")
        permissions = [("download_sensorbatch", "Can download the batch's samples")]


class HealthShare(models.Model):
    """An enterprise lets a lender see a press's health summary (level, trend, prediction) — never signals."""

    press = models.ForeignKey(Press, on_delete=models.CASCADE, related_name="health_shares")
    lender = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at"]
        verbose_name = _("health share")
