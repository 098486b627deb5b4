"""Federated tasks, their participants and data-use grants, steps, model updates, global model versions,
evaluations and predictions, the enterprises' batch labels, and the platform aggregator's key.

How a task runs (services.py has the details): the initiator's request becomes one ``DataUseGrant`` per
enterprise; once enough are accepted the task starts and runs as a sequence of ``TaskStep``s (one per
communication round of the core strategy). A step fans out one local-train task per participant, each
answering with one ``ModelUpdate`` (an encrypted, signed envelope kept encrypted at rest); the update that
completes the set, or the straggler deadline, enqueues the step's aggregation exactly once under a row
lock on the step. The aggregator state after each step is persisted encrypted, so a task resumes from its
last completed step.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ModelKind(models.TextChoices):
    """What a task's model predicts; each kind has its own classes and label sources."""

    FAULT_STATE = "fault_state", _("Press fault state (healthy / outer race / inner race / rolling element)")
    FAILURE_RISK = "failure_risk", _("Failure risk (normal / at risk)")
    DEFAULT_RISK = "default_risk", _("Probability of default (loan book)")
    ENERGY_USE = "energy_use", _("Energy use per period (production records)")
    CO2_EMISSIONS = "co2_emissions", _("CO2 emissions per period (production records)")


class DatasetKind(models.TextChoices):
    """What a task trains on: the enterprises' stored press batches, or uploaded tabular data."""

    PRESS_HEALTH = "press_health", _("Press health (sensor batches)")
    LOAN_BOOK = "loan_book", _("Loan book (lenders)")
    PRODUCTION = "production", _("Production records (enterprises)")


class LabelSource(models.TextChoices):
    BATCH_LABEL = "batch_label", _("Batch labels set by the enterprise")
    HEALTH_LEVEL = "health_level", _("Health level of the batch's health run")
    LABEL_THEN_LEVEL = "label_then_level", _("Batch label where set, else the health level")
    DATASET_TARGET = "dataset_target", _("The target column of the uploaded data")


class Aggregation(models.TextChoices):
    FEDMA = "fedma", _("FedMA (matched averaging, layer by layer)")
    FEDAVG = "fedavg", _("FedAvg (federated averaging)")
    ROBUST_FEDAVG = "robust_fedavg", _("Robust FedAvg (median, norm and direction checks)")


class BatchLabel(models.Model):
    """The condition an enterprise manager knows a batch was recorded in (e.g. after an inspection).

    One label per batch; it is the label source ``batch_label`` of federated tasks. Only the batch's own
    enterprise sees or sets it.
    """

    class Condition(models.TextChoices):
        HEALTHY = "healthy", _("Healthy")
        OUTER_RACE = "outer_race", _("Outer-race fault")
        INNER_RACE = "inner_race", _("Inner-race fault")
        ROLLING_ELEMENT = "rolling_element", _("Rolling-element fault")

    batch = models.OneToOneField("devices.SensorBatch", on_delete=models.CASCADE, related_name="federation_label")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    condition = models.CharField(_("condition"), max_length=20, choices=Condition.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("batch label")


class FederatedTask(models.Model):
    class Status(models.TextChoices):
        AWAITING_GRANTS = "awaiting_grants", _("Waiting for data-use grants")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        FAILED = "failed", _("Stopped")
        CANCELLED = "cancelled", _("Cancelled")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    initiator = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("initiator"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(_("purpose"), max_length=500)
    model_kind = models.CharField(_("model"), max_length=20, choices=ModelKind.choices)
    dataset_kind = models.CharField(_("data"), max_length=20, choices=DatasetKind.choices,
                                    default=DatasetKind.PRESS_HEALTH)
    spec = models.JSONField()  # federation.core.specs to_dict()
    strategy_name = models.CharField(_("aggregation"), max_length=20, choices=Aggregation.choices)
    strategy_config = models.JSONField()  # federation.core.strategies Strategy.to_dict()
    rounds = models.PositiveSmallIntegerField(_("rounds"))  # FedMA passes, FedAvg rounds
    local_epochs = models.PositiveSmallIntegerField(_("local epochs"))
    label_source = models.CharField(_("label source"), max_length=20, choices=LabelSource.choices)
    period_start = models.DateField(_("data from"), null=True, blank=True)
    period_end = models.DateField(_("data until"), null=True, blank=True)
    epsilon = models.FloatField(_("privacy budget ε"), null=True, blank=True)
    delta = models.FloatField(_("privacy δ"), null=True, blank=True)
    min_participants = models.PositiveSmallIntegerField(_("minimum participants"))
    straggler_warning_s = models.PositiveIntegerField(_("warn a slow participant after (s)"))
    straggler_timeout_s = models.PositiveIntegerField(_("drop a slow participant after (s)"))
    hierarchical = models.BooleanField(_("aggregate each enterprise's sites first"), default=False)
    feature_config = models.JSONField()  # see federation.data.FeaturePipeline
    validation_fraction = models.FloatField(default=0.25)
    seed = models.PositiveIntegerField(default=0)
    compare_of = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="comparisons")
    activate_on_finish = models.BooleanField(default=True)
    grant_expires_at = models.DateTimeField(_("grants expire"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.AWAITING_GRANTS)
    status_message = models.CharField(max_length=500, blank=True)
    current_step = models.PositiveIntegerField(default=0)
    planned_steps = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("federated task")
        permissions = [("manage_federatedtask", "Can start, cancel and manage the federated task")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.purpose[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.AWAITING_GRANTS, self.Status.RUNNING)


class DataUseGrant(models.Model):
    """An enterprise's permission for one task (and its comparison twin) to train on some of its data."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting decision")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        REVOKED = "revoked", _("Revoked")
        WITHDRAWN = "withdrawn", _("Withdrawn by the requester")

    task = models.ForeignKey(FederatedTask, on_delete=models.CASCADE, related_name="grants")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("data owner"))
    requester = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=500)
    model_description = models.CharField(max_length=500)
    requested_presses = models.ManyToManyField("devices.Press", blank=True, related_name="+")
    presses = models.ManyToManyField("devices.Press", blank=True, related_name="+")
    datasets = models.ManyToManyField("federation.TabularDataset", blank=True, related_name="grants")  # tabular tasks
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    epsilon = models.FloatField(null=True, blank=True)
    delta = models.FloatField(null=True, blank=True)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["task", "organization"], name="one_grant_per_task_and_owner")]
        verbose_name = _("data-use grant")
        permissions = [("decide_datausegrant", "Can accept, decline and revoke the data-use grant")]

    def is_live(self, now=None) -> bool:
        """Accepted, not revoked, not expired: the only state in which any step may read the data."""
        now = now or timezone.now()
        return self.status == self.Status.ACCEPTED and self.revoked_at is None and self.expires_at > now


class TaskParticipant(models.Model):
    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        ACTIVE = "active", _("Taking part")
        DECLINED = "declined", _("Declined")
        STOPPED = "stopped", _("Stopped (grant revoked or expired)")
        REMOVED = "removed", _("Removed")
        WITHDRAWN = "withdrawn", _("Not needed")

    task = models.ForeignKey(FederatedTask, on_delete=models.CASCADE, related_name="participants")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    grant = models.ForeignKey(DataUseGrant, on_delete=models.PROTECT, related_name="participants")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVITED)
    status_message = models.CharField(max_length=500, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["task", "organization__name"]
        constraints = [models.UniqueConstraint(fields=["task", "organization"], name="one_participation_per_task")]
        verbose_name = _("task participant")

    def __str__(self) -> str:
        return self.organization.slug

    @property
    def name(self) -> str:
        """The participant's name in the core strategy and in envelopes: the organisation's slug."""
        return self.organization.slug


class TaskStep(models.Model):
    """One communication round: local training by every expected participant, then one aggregation."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Preparing")
        COLLECTING = "collecting", _("Local training")
        AGGREGATING = "aggregating", _("Aggregating")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Stopped")

    task = models.ForeignKey(FederatedTask, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    description = models.CharField(max_length=200, blank=True)
    # The aggregator's strategy state before this step (federation.core.persistence), AES-GCM encrypted
    # under the aggregator's state key: it holds participants' working models.
    state_before = models.BinaryField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    aggregate_enqueued_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    aggregation_seconds = models.FloatField(null=True, blank=True)
    flags = models.JSONField(default=list)  # robust checks: [{"participant", "reason"}]
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["task", "index"]
        constraints = [models.UniqueConstraint(fields=["task", "index"], name="one_step_per_index")]
        verbose_name = _("task step")


class ModelUpdate(models.Model):
    """A participant's part in a step: expected, then received (the sealed envelope, kept encrypted)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Training")
        WARNED = "warned", _("Late (warned)")
        RECEIVED = "received", _("Received")
        DROPPED = "dropped", _("Dropped for this step")
        SKIPPED = "skipped", _("Skipped (no live grant)")

    step = models.ForeignKey(TaskStep, on_delete=models.CASCADE, related_name="updates")
    participant = models.ForeignKey(TaskParticipant, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    expected_shapes = models.JSONField(default=list)
    envelope = models.BinaryField(null=True, blank=True)
    envelope_sha256 = models.CharField(max_length=64, blank=True)
    submitted_by = models.CharField(max_length=160, blank=True)  # "user:<name>" or "worker:<org-slug>"
    dispatched_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    num_samples = models.PositiveIntegerField(null=True, blank=True)
    class_counts = models.JSONField(default=list)
    train_loss = models.FloatField(null=True, blank=True)
    local_metrics = models.JSONField(default=dict)  # the participant's model on its own hold-out windows
    sites = models.JSONField(default=list)  # hierarchical tasks: [{"site", "samples", "loss"}]
    training_seconds = models.FloatField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["step", "participant"]
        constraints = [models.UniqueConstraint(fields=["step", "participant"], name="one_update_per_step_and_participant")]
        verbose_name = _("model update")

    @property
    def organization(self):
        return self.participant.organization


class UpdateRejection(models.Model):
    """An envelope the aggregator refused, and why (also in the audit log)."""

    task = models.ForeignKey(FederatedTask, on_delete=models.CASCADE, related_name="rejections")
    step_index = models.IntegerField(null=True, blank=True)
    claimed_participant = models.CharField(max_length=120, blank=True)
    submitted_by = models.CharField(max_length=160, blank=True)
    reason = models.CharField(max_length=40)
    message = models.CharField(max_length=500)
    envelope_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rejected update")


class ModelVersion(models.Model):
    """A complete global model produced by an aggregation: the registry's unit of lineage and inference."""

    task = models.ForeignKey(FederatedTask, on_delete=models.PROTECT, related_name="versions")
    step = models.OneToOneField(TaskStep, on_delete=models.PROTECT, related_name="version")
    number = models.PositiveIntegerField()
    model_kind = models.CharField(max_length=20, choices=ModelKind.choices)
    sha256 = models.CharField(max_length=64)
    spec = models.JSONField()
    weights = models.BinaryField()  # federation.core.envelope array container of [W, b, ...]
    feature_config = models.JSONField()
    class_names = models.JSONField()
    layer_sizes = models.JSONField()  # [{"layer", "inputs", "units", "parameters"}]
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    lineage = models.JSONField(default=dict)  # strategy, round, participants, parent hash
    metrics = models.JSONField(default=dict)  # sample-weighted over evaluators' hold-out sets
    contributions = models.JSONField(default=dict)  # {participant: {"accuracy_drop", "loss_increase", ...}}
    # Leave-one-out variants of this version (for contributions), same container format; cleared once evaluated.
    loo_weights = models.BinaryField(null=True, blank=True)
    expected_evaluators = models.JSONField(default=list)
    is_final = models.BooleanField(default=False)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["task", "number"], name="one_version_number_per_task"),
            models.UniqueConstraint(fields=["model_kind"], condition=Q(is_active=True),
                                    name="one_active_version_per_model_kind"),
        ]
        verbose_name = _("global model version")

    def __str__(self) -> str:
        return f"{self.get_model_kind_display()} v{self.task_id}.{self.number} ({self.sha256[:10]})"

    @property
    def organization(self):
        return self.task.initiator


class Evaluation(models.Model):
    """One evaluator's metrics of a model version (and its leave-one-out variants) on its hold-out set."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="evaluations")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    samples = models.PositiveIntegerField()
    metrics = models.JSONField()
    loo_metrics = models.JSONField(default=dict)
    seconds = models.FloatField(null=True, blank=True)  # the evaluator's compute time (data, models)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "organization"], name="one_evaluation_per_evaluator")]
        verbose_name = _("evaluation")


class Prediction(models.Model):
    """A model version's prediction for one channel of one sensor batch (a health run's data)."""

    class Source(models.TextChoices):
        ONLINE = "online", _("New health run")
        BATCH = "batch", _("History re-score")

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    press = models.ForeignKey("devices.Press", on_delete=models.CASCADE, related_name="federation_predictions")
    batch = models.ForeignKey("devices.SensorBatch", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=60)
    health_run_id = models.BigIntegerField(null=True, blank=True)
    predicted_class = models.PositiveSmallIntegerField()
    class_name = models.CharField(max_length=40)
    confidence = models.FloatField()  # probability of the predicted class, mean over the windows
    risk = models.FloatField()  # probability of any non-healthy class
    probabilities = models.JSONField()
    windows = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ONLINE)
    recorded_at = models.DateTimeField()  # the batch's recording time
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["version", "batch", "channel"],
                                               name="one_prediction_per_version_batch_channel")]
        verbose_name = _("prediction")


class AggregatorKey(models.Model):
    """The platform aggregator's X25519 key pair (participants encrypt their updates to it) and its
    AES-256 state key (encrypts persisted aggregator state). Private halves are wrapped at rest with the
    participant-key KEK (``PARTICIPANT_KEY_ENCRYPTION_KEY``) under the pseudo-organisation
    ``platform-aggregator``; they are only unwrapped in the aggregation steps and envelope checks."""

    version = models.PositiveIntegerField(unique=True)
    encryption_public_pem = models.TextField()
    encryption_private_encrypted = models.BinaryField()
    state_key_encrypted = models.BinaryField()
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("aggregator key")


from .tabular_models import *  # noqa: E402,F401,F403  (uploaded tabular data sets of tabular tasks)
